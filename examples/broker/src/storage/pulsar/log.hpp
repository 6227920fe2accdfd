// PartitionLog on Pulsar: one Kafka partition is the Pulsar topic
// T-partition-p, written by this gateway through an exclusive producer and
// read through readers. It holds the offset bookkeeping (derived on append,
// read back from the broker index), the idempotent-producer table with the
// partition's Kafka transactions, and the search for the entry of an offset
// or a timestamp.
//
// Every call hops to the storage's I/O thread, where all of the log's state
// lives (offsets() reads a copy under a mutex), and resumes its caller on
// the caller's executor. Appends pass a TicketLock: each takes its ticket
// when its coroutine starts, so appends get offsets in the order they were
// started, whichever thread started them. The append path is in log.cpp,
// reading and seeking in log_read.cpp, markers and the aborted-transactions
// index in log_txn.cpp.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "../producer_state.hpp"
#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;

class Log final : public PartitionLog, public std::enable_shared_from_this<Log> {
 public:
  Log(PulsarStorage& s, TopicPartition tp, std::string topic);

  const TopicPartition& id() const noexcept override { return tp_; }
  Task<AppendResult> append(AppendBatch batch) override;
  Task<AppendResult> append_marker(TxnMarker marker) override;
  Task<std::vector<AbortedTxn>> aborted_transactions(std::int64_t from, std::int64_t to) override;
  Task<ReadResult> read(ReadOptions options) override;
  LogOffsets offsets() const override {
    std::lock_guard g(mu_);
    return offsets_;
  }
  std::vector<ProducerSnapshot> producers() const override;
  bool in_open_txn(std::int64_t producer_id, std::int16_t epoch) const override;
  Task<TimestampLookup> offset_for_timestamp(std::int64_t timestamp) override;
  Task<TimestampLookup> max_timestamp() override;
  Task<std::int64_t> delete_records(std::int64_t offset) override;
  void release() override;

  // On the I/O thread:
  awaitable<void> open();
  /// The entry holding `offset` (offset < high watermark).
  awaitable<kp::MessageId> locate(std::int64_t offset);
  /// The entry at `at` and its offsets; nullopt when none arrives in time.
  awaitable<std::optional<std::pair<kp::Entry, EntryInfo>>> probe(kp::MessageId at);
  /// The high watermark as Pulsar has it now, also when another gateway
  /// writes the partition.
  awaitable<std::int64_t> current_end();
  const std::string& topic() const noexcept { return topic_; }
  void close_now();
  /// The topic was deleted: the log stops writing, and every later call
  /// fails with unknown_topic (a holder must not write the topic again).
  void forget();

  std::atomic<std::uint64_t> probes{0};

 private:
  /// An append of a batch, or of a marker (`marker` set, `batch` its
  /// control batch).
  awaitable<Result<AppendResult>> append_here(TicketLock::Ticket ticket, AppendBatch batch,
                                              std::optional<TxnMarker> marker = std::nullopt);
  /// The first offset of the oldest transaction open once an entry at
  /// `base` is in (-1: none): what the entry says for the next opener.
  std::int64_t open_txns_from(const BatchInfo& batch, const std::optional<TxnMarker>& marker, std::int64_t base) const;
  /// Where a rebuild of the producer table starts: the tail, or the oldest
  /// transaction the last entry says is open, if older.
  std::int64_t replay_from() const;
  /// The last stable offset (on the I/O thread).
  std::int64_t last_stable() const;
  /// The aborted transactions with last offset >= from and first offset <
  /// to: markers below what the index covers are read from the log first.
  awaitable<std::vector<AbortedTxn>> aborted_between(std::int64_t from, std::int64_t to);
  awaitable<Result<std::vector<AbortedTxn>>> aborted_here(std::int64_t from, std::int64_t to);
  /// Entries that others wrote reached `end`: the index no longer knows every
  /// marker above aborted_from_, so it starts over above `end`.
  void others_wrote_up_to(std::int64_t end);
  /// Gives the batch the next offsets (base offset written in place).
  AppendResult assign(AppendBatch& batch);
  /// Pulsar stored the entry of `r`: the high watermark moves past it. The
  /// first entry in a ledger is read back to check the derived offsets. A
  /// receipt without a position is checked against the log (throws when the
  /// log does not hold the entry).
  awaitable<void> confirmed(AppendResult& r, const kp::SendReceipt& receipt, const std::string& writer);
  /// An append between being queued and Pulsar's answer. The producer table
  /// records a batch when it is queued, so a Kafka retry of it (the client's
  /// request timed out first) is a duplicate in the table before Pulsar has
  /// stored anything: the retry waits here for the first send's outcome.
  struct Landing {
    explicit Landing(asio::any_io_executor ex) : wake(ex, forever) {}
    asio::steady_timer wake;
    bool settled = false;
    std::optional<AppendResult> stored;  // set when Pulsar stored it
  };
  void settle(std::int64_t base_offset, const std::shared_ptr<Landing>& l, std::optional<AppendResult> stored);
  awaitable<Result<AppendResult>> await_first_send(std::shared_ptr<Landing> first);
  awaitable<Result<ReadResult>> read_here(ReadOptions options);
  awaitable<ReadResult> do_read(ReadOptions options);
  awaitable<Result<TimestampLookup>> offset_for_timestamp_here(std::int64_t timestamp);
  awaitable<Result<TimestampLookup>> max_timestamp_here();
  awaitable<Result<std::int64_t>> delete_records_here(std::int64_t offset);
  awaitable<void> sync_end();
  awaitable<void> resync();
  /// Feeds the batches from `from` to the end into the producer state table.
  awaitable<void> replay_producers(std::int64_t from);
  awaitable<std::vector<kp::MessageId>> all_positions();
  /// A writer for the partition; a new one first reads the end from Pulsar
  /// (and with `rebuild`, the producer table from the log's tail).
  awaitable<void> ensure_producer(bool rebuild = false);
  void remember(const EntryInfo& i, kp::MessageId id);
  void publish_offsets();

  PulsarStorage& s_;
  TopicPartition tp_;
  std::string topic_;
  mutable std::mutex mu_;
  LogOffsets offsets_;
  // Whoever writes the partition's state (appends, current_end, release)
  // holds a ticket of this lock.
  std::shared_ptr<TicketLock> write_lock_;
  // Only on the storage's I/O thread:
  AsyncLock read_lock_;
  // next_offset_: after the last entry Pulsar confirmed (the high
  // watermark); assigned_end_: after the last entry this gateway queued.
  std::int64_t next_offset_ = 0, log_start_ = 0, assigned_end_ = 0;
  // The producer table accounts for every batch below this offset.
  std::int64_t table_end_ = 0;
  // The ledger in which derived offsets were last checked against the
  // broker's index. Within a ledger the index has no holes, so one check per
  // ledger (and per writer) proves the derivation; across a Pulsar restart
  // the index can skip numbers (the broker counts a write it then lost).
  std::uint64_t verified_ledger_ = ~std::uint64_t{0};
  // The producer name and highest sequence id of the last entry (sync_end).
  std::string last_writer_;
  std::int64_t last_sequence_ = -1;
  bool resync_ = false;
  bool deleted_ = false;
  // The largest timestamp among the offsets below max_ts_end_, and the last
  // offset of its batch: each max_timestamp() reads only the entries after.
  TimestampLookup max_ts_;
  std::int64_t max_ts_end_ = 0;
  std::shared_ptr<kp::Producer> producer_;
  std::map<std::int64_t, std::pair<std::int64_t, kp::MessageId>> index_;  // last offset → (base, id)
  std::map<std::int64_t, std::shared_ptr<Landing>> landings_;              // assigned base offset → append
  // Changed on the I/O thread under mu_ (producers() reads it anywhere).
  ProducerStateTable producers_;
  // The aborted-transactions index: every abort marker at or above
  // aborted_from_ (by last offset). Built when reads ask for it, by reading
  // the markers of the range, and kept up to date by this gateway's
  // appends; see the storage README for why it is not stored.
  std::map<std::int64_t, AbortedTxn> aborted_;
  std::int64_t aborted_from_ = 0;
  // What the last entry says of open transactions (open_txn_property):
  // where a rebuild of the producer table starts; -1 when none was open.
  std::int64_t open_txns_hint_ = -1;
  std::shared_ptr<kp::Consumer> reader_;
  std::int64_t reader_next_ = -1;
  std::optional<kp::Entry> lookahead_;
};

}  // namespace kwire_broker::storage::pulsar
