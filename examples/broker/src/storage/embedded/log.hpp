// A partition log of the embedded store: ledgers (segments) of record
// batches on disk, with their indexes, recovery of a torn tail, retention and
// the idempotent producers' state.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "storage/embedded/flusher.hpp"
#include "storage/embedded/options.hpp"
#include "storage/embedded/segment.hpp"
#include "storage/producer_state.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

class Log final : public PartitionLog, public Flushable, public std::enable_shared_from_this<Log> {
 public:
  Log(TopicPartition tp, std::filesystem::path dir, const Options& opts, const Configs& configs);
  ~Log() override;

  const TopicPartition& id() const noexcept override { return tp_; }

  Task<AppendResult> append(AppendBatch batch) override;
  Task<AppendResult> append_marker(TxnMarker marker) override;
  Task<std::vector<AbortedTxn>> aborted_transactions(std::int64_t from, std::int64_t to) override;
  Task<ReadResult> read(ReadOptions options) override;
  LogOffsets offsets() const override;
  /// Bytes of its ledger files (what Kafka reports as a log's size).
  std::int64_t stored_bytes() const;
  std::vector<ProducerSnapshot> producers() const override;
  bool in_open_txn(std::int64_t producer_id, std::int16_t epoch) const override;
  Task<TimestampLookup> offset_for_timestamp(std::int64_t timestamp) override;
  Task<TimestampLookup> max_timestamp() override;
  Task<std::int64_t> delete_records(std::int64_t offset) override;

  void set_configs(const Configs& c);
  /// Whether the topic's cleanup.policy includes compact.
  bool compacted() const;
  /// One compaction pass when one is due (log_compaction.cpp), on the
  /// cleaner's thread: returns the bytes it reclaimed, or -1 if none was due.
  std::int64_t clean(std::int64_t now, std::size_t dedupe_bytes);
  /// Opens the ledgers found on disk, recovering the last one. Throws.
  void open();
  /// Retention, and asks the flusher for the interval's flush.
  void maintain(std::int64_t now);
  /// Flusher: makes what was written so far durable.
  void sync() override;
  /// Flushes and closes the files; later calls fail with closed.
  void close();
  /// Stops the log for good (topic deletion): waits for the call in
  /// progress, closes the files and fails later calls with unknown_topic.
  /// The files stay; the caller removes the topic's directory.
  void retire();

 private:
  enum class State : std::uint8_t { open, retired, closed };

  std::unique_ptr<Segment> open_segment(std::int64_t base, bool active);
  void scan(Segment& s, bool recover);
  // Transactions (log_txn.cpp).
  void rebuild_producers();
  Result<AppendResult> append_marker_locked(const TxnMarker& m);
  void note_aborted_locked(const AbortedTxn& t);
  std::vector<AbortedTxn> aborted_between_locked(std::int64_t from, std::int64_t to) const;
  /// Syncs aborted.txnindex; called with txn_index_dirty_ taken under the mutex.
  void sync_txn_index();
  void save_txn_scan_start_locked();
  Task<AppendResult> acknowledge(Result<AppendResult> r, std::uint64_t seq);
  /// The error for a call on a log that is not open (ok while it is).
  Errc gone() const noexcept;
  LogOffsets offsets_locked() const;
  Result<AppendResult> append_locked(AppendBatch& batch);
  /// Writes a batch that passed its checks at the log end: offsets, indexes.
  Result<AppendResult> write_locked(std::vector<std::uint8_t>& bytes, BatchInfo& info);
  /// Completes once the append numbered `seq` is on disk: true, or false if
  /// fdatasync failed or the log closed first.
  boost::asio::awaitable<bool> until_durable(std::uint64_t seq);
  void request_sync_locked();
  void durable_locked(std::uint64_t upto, bool ok);
  Result<ReadResult> read_locked(const ReadOptions& o) const;
  Result<TimestampLookup> by_timestamp_locked(std::int64_t ts) const;
  Result<TimestampLookup> max_timestamp_locked() const;
  Result<std::int64_t> delete_records_locked(std::int64_t offset);
  void roll();
  void flush_locked();
  void drop_front();
  void drop_segments_below(std::int64_t offset);

  TopicPartition tp_;
  std::filesystem::path dir_;
  Options opts_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Segment>> segments_;
  std::int64_t log_start_ = 0;
  ProducerStateTable producers_;
  // The aborted-transactions index, by last offset, as `aborted.txnindex`
  // holds it; entries below the log start are dropped with their ledgers.
  std::vector<AbortedTxn> aborted_;
  bool txn_index_dirty_ = false;  // appended to since its last sync
  State state_ = State::open;
  // Appends are numbered as they are written; synced_ is the last one known
  // durable. Waiters are appends acknowledged only once durable.
  struct Waiter {
    std::uint64_t seq;
    std::shared_ptr<Completion> done;
  };
  std::uint64_t written_ = 0;
  std::uint64_t synced_ = 0;
  bool sync_queued_ = false;
  std::vector<Waiter> waiters_;
  std::int64_t last_flush_ms_ = 0;
  std::int64_t segment_bytes_ = 0, segment_ms_ = 0, retention_ms_ = 0, retention_bytes_ = -1;
  bool flush_every_ = false;
  // Compaction (log_compaction.cpp): the topic's settings; the first offset
  // not yet compacted (Kafka's cleaner checkpoint, kept in `cleaner-offset`);
  // the earliest delete horizon of a tombstone a cleaning kept (0 after
  // opening: unknown, so the first pass looks).
  bool compact_ = false;
  double min_dirty_ratio_ = 0.5;
  std::int64_t delete_retention_ms_ = 0, min_lag_ms_ = 0, max_lag_ms_ = -1;
  std::int64_t first_dirty_ = 0;
  std::int64_t next_horizon_ = 0;
  // Held by a compaction pass from start to end; retire() and close() set
  // the flag, which the pass checks between batches, and wait for it, so
  // that no pass writes into a topic's directory while it is removed.
  std::mutex clean_mu_;
  std::atomic<bool> clean_cancelled_{false};
  void load_cleaner_checkpoint();
  void cancel_cleaning();
};

}  // namespace kwire_broker::storage::embedded
