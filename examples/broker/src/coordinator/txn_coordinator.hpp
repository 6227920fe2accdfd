// The transaction coordinator (KIP-98), Transactions V1 and V2 (KIP-890):
// one record per transactional id with its producer id and epoch, its state
// and the partitions its open transaction writes, kept in the storage seam's
// TxnStore. Committed offsets take part as Kafka's do: AddOffsetsToTxn adds
// the group's shard as a partition of `__consumer_offsets`, the group's
// coordinator holds the offsets (GroupStore::hold_txn_offsets), and the
// marker for that shard ends them. Markers go through a TxnMarkerSink:
// straight into this gateway's store, or to the gateway that leads a
// partition.
//
// Transactional ids are sharded as groups are (GroupStore::shard_of); with
// several gateways each coordinates the ids of the shards it owns
// (Config::owns_shard), loads a shard's records when it takes the shard
// over, and forgets them when it loses it.
//
// Every operation runs on the coordinator's strand, and changes memory and
// queues its record's write before it first suspends, so records reach the
// store in the order of the changes. The produce path reads the state from
// any thread (may_write) under a mutex that every change holds briefly.
//
// A transaction ends in two steps, as Kafka's: Prepare{Commit,Abort} is
// stored, then the markers go to every partition (and, on commit, the
// transaction's offsets to their groups), then Complete{Commit,Abort} is
// stored. A prepared transaction whose markers could not all be written is
// finished by the next sweep, and after a restart; meanwhile the producer
// gets CONCURRENT_TRANSACTIONS.
//
// Transactions V2 (a client that uses EndTxn v5, Produce v12 and
// TxnOffsetCommit v5, once ApiVersions finalizes transaction.version 2):
// the first transactional produce to a partition adds it to the transaction
// (no AddPartitionsToTxn), the first TxnOffsetCommit adds its group (no
// AddOffsetsToTxn), and every EndTxn bumps the producer epoch: the markers
// carry the bumped epoch, so a write of the ended transaction that arrives
// late is refused as from an older epoch. An epoch that can no longer be
// bumped rolls over to a new producer id (epoch 0) once the markers are
// written. EndTxn answers with the producer id and epoch to go on with.
//
// Transactional ids idle longer than transactional.id.expiration.ms, with
// no transaction open, are removed from the store (Kafka's expiration).
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/txn_markers.hpp"
#include "kwire/messages/error_code.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

namespace asio = boost::asio;

enum class TxnState : std::int8_t {
  empty,
  ongoing,
  prepare_commit,
  prepare_abort,
  complete_commit,
  complete_abort,
  dead,
  prepare_epoch_fence,
};

/// Kafka's name of a state ("Ongoing", ...), as DescribeTransactions and
/// ListTransactions report it.
std::string_view txn_state_name(TxnState s);
std::optional<TxnState> txn_state_of(std::string_view name);

/// What the coordinator keeps of one transactional id.
struct TxnMetadata {
  std::string id;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  // The producer id and epoch before the last bump: a producer retrying its
  // InitProducerId (KIP-360) is recognised by them.
  std::int64_t last_producer_id = -1;
  std::int16_t last_producer_epoch = -1;
  std::int32_t timeout_ms = 60000;
  TxnState state = TxnState::empty;
  /// Data partitions and, for committed offsets, shards of the offsets topic.
  std::set<storage::TopicPartition> partitions;
  // Records written before offsets were held by the groups' coordinators
  // carry the groups and their offsets here; load() moves them to the
  // group store and the shards into `partitions`. Empty otherwise.
  std::map<std::string, std::map<storage::TopicPartition, storage::CommittedOffset>> offsets;
  std::set<std::string> groups;
  std::int64_t start_ms = -1;    // when the open transaction began
  std::int64_t update_ms = -1;
  /// The transaction was begun or ended by a Transactions V2 client: its
  /// EndTxn retries are recognised by the bumped epoch (KIP-890).
  bool v2 = false;
  /// Set while a V2 transaction whose epoch is exhausted ends: the producer
  /// id the transactional id takes (epoch 0) once the markers are written.
  std::int64_t next_producer_id = -1;
};

/// The record's encoding in the TxnStore (versioned).
std::vector<std::uint8_t> encode_txn(const TxnMetadata& t);
std::optional<TxnMetadata> decode_txn(const std::string& id, const std::vector<std::uint8_t>& data);

class TxnCoordinator {
 public:
  struct Config {
    std::int32_t max_timeout_ms = 900000;  // transaction.max.timeout.ms
    /// How often timed-out transactions are aborted and unfinished ones
    /// retried (transaction.abort.timed.out.transaction.cleanup.interval.ms).
    std::chrono::milliseconds sweep_interval{10000};
    /// Wall-clock ms (system_clock by default): tests set it and call
    /// expire() instead of waiting.
    std::function<std::int64_t()> clock;
    /// Where markers go; unset: a LocalTxnMarkers on the store.
    TxnMarkerSink* markers = nullptr;
    /// Called after a marker is written to a partition by the local sink
    /// (wakes fetches waiting on its last stable offset).
    std::function<void(const storage::TopicPartition&)> on_marker;
    /// Whether this gateway coordinates the ids of a shard now; unset: one
    /// gateway, every shard (all loaded at start).
    std::function<bool(std::int32_t shard)> owns_shard;
    /// transactional.id.expiration.ms: an id with no open transaction and
    /// no change for this long is removed.
    std::int64_t id_expiration_ms = 7LL * 24 * 3600 * 1000;
    /// How often ids are looked at for expiration (Kafka's
    /// transactions.remove.expired.transaction.cleanup.interval.ms).
    std::chrono::milliseconds id_expiration_interval{3600000};
  };

  TxnCoordinator(Config config, storage::Storage& store, asio::io_context& io);
  ~TxnCoordinator();

  /// Loads the stored transactions (before serving) and starts the sweeps.
  /// Throws when they cannot be read.
  asio::awaitable<void> load();
  /// Loads the shards this gateway owns now (with several gateways, once
  /// it has joined them) and finishes their prepared transactions; the
  /// sweeps do the same from then on.
  void take_shards();
  void shutdown();

  asio::strand<asio::io_context::executor_type>& strand() { return strand_; }

  // ---- operations: each on the strand ----
  struct ProducerIdAndEpoch {
    kwire::ErrorCode error = kwire::ErrorCode::None;
    std::int64_t producer_id = -1;
    std::int16_t producer_epoch = -1;
  };
  /// InitProducerId with a transactional id; `producer_id`/`epoch` -1
  /// unless the producer bumps its own epoch (KIP-360).
  asio::awaitable<ProducerIdAndEpoch> init_producer_id(std::string id, std::int32_t timeout_ms,
                                                       std::int64_t producer_id, std::int16_t producer_epoch);
  /// AddPartitionsToTxn (client versions): one error for all, or the
  /// partitions that do not exist (UNKNOWN_TOPIC_OR_PARTITION, the rest
  /// OPERATION_NOT_ATTEMPTED).
  struct AddResult {
    kwire::ErrorCode error = kwire::ErrorCode::None;
    std::set<storage::TopicPartition> unknown;
  };
  /// `v2`: the add a Transactions V2 produce makes implicitly.
  asio::awaitable<AddResult> add_partitions(std::string id, std::int64_t producer_id, std::int16_t epoch,
                                            std::vector<storage::TopicPartition> partitions, bool v2 = false);
  asio::awaitable<kwire::ErrorCode> add_offsets(std::string id, std::int64_t producer_id, std::int16_t epoch,
                                                std::string group);
  /// A leader's (or a group coordinator's) check that the producer's open
  /// transaction holds `tp` (AddPartitionsToTxn's verify_only): may_write,
  /// once the id's shard is loaded here.
  asio::awaitable<kwire::ErrorCode> verify(std::string id, std::int64_t producer_id, std::int16_t epoch,
                                           storage::TopicPartition tp);
  /// EndTxn; `v2` (EndTxn v5+) bumps the epoch. The answer carries the
  /// producer id and epoch the producer goes on with.
  asio::awaitable<ProducerIdAndEpoch> end_txn(std::string id, std::int64_t producer_id, std::int16_t epoch,
                                              bool commit, bool v2 = false);

  /// Aborts transactions past their timeout (bumping the epoch, which
  /// fences their producer) and finishes prepared ones; the sweeps call it.
  asio::awaitable<void> expire();
  /// Removes transactional ids idle past transactional.id.expiration.ms
  /// (the sweeps call it every id_expiration_interval).
  asio::awaitable<void> expire_ids();

  /// NOT_COORDINATOR when another gateway coordinates `id`, else once its
  /// shard is loaded (COORDINATOR_LOAD_IN_PROGRESS if it cannot be now):
  /// what a read of it (describe) needs first.
  asio::awaitable<kwire::ErrorCode> ready_for(std::string id);

  // ---- reads, from any thread ----
  /// Whether this gateway coordinates `id` now (always, with one gateway).
  bool owns(const std::string& id) const;
  /// Produce's check of a transactional batch (KIP-890's verification):
  /// its producer's transaction is open and added the partition
  /// (INVALID_TXN_STATE otherwise), with this epoch (INVALID_PRODUCER_EPOCH
  /// for any other), and is not ending (CONCURRENT_TRANSACTIONS); an
  /// unknown producer id gives INVALID_PRODUCER_ID_MAPPING.
  kwire::ErrorCode may_write(std::int64_t producer_id, std::int16_t epoch, const storage::TopicPartition& tp) const;
  std::optional<TxnMetadata> describe(const std::string& id) const;
  std::vector<TxnMetadata> list() const;

 private:
  TxnMetadata* find(const std::string& id);
  /// Before an operation on `id`: NOT_COORDINATOR for an id of a shard
  /// another gateway owns; the shard's records loaded if they are not
  /// (COORDINATOR_LOAD_IN_PROGRESS if they cannot be read now).
  asio::awaitable<kwire::ErrorCode> ready(const std::string& id);
  /// Replaces what memory holds of the shard's ids with the stored records.
  asio::awaitable<bool> load_shard(std::int32_t shard);
  /// Forgets the shard's ids (under mu_), except those whose markers are
  /// being written.
  void drop_shard(std::int32_t shard);
  /// Loads the shards this gateway owns and forgets the others (the sweep).
  asio::awaitable<void> refresh_shards();
  /// Adds a record read from the store to memory, unless an operation or
  /// the markers of the id are under way (they keep what memory has).
  void adopt(TxnMetadata t);
  /// Moves an older record's groups and offsets to the group store; false
  /// if they could not be.
  asio::awaitable<bool> migrate(std::string id);
  std::int64_t now() const { return config_.clock(); }
  /// Stores the record as it is now (queued before the first suspension).
  asio::awaitable<bool> persist(const TxnMetadata& t);
  /// Validates a request's producer id and epoch against the record.
  static kwire::ErrorCode check_producer(const TxnMetadata* t, std::int64_t producer_id, std::int16_t epoch);
  /// How a transaction's end bumps the epoch first: not at all (EndTxn),
  /// for a new producer with the id (its predecessor is fenced), or on a
  /// timeout, where the producer may claim the bumped epoch (KIP-588).
  /// `end_v2`: a V2 EndTxn, which always bumps (and may roll the producer
  /// id over to `next_producer_id`).
  enum class Bump : std::uint8_t { none, new_producer, timeout, end_v2 };
  /// Prepares and completes the transaction (see the top of the file).
  asio::awaitable<kwire::ErrorCode> finish(std::string id, bool commit, Bump bump,
                                           std::int64_t next_producer_id = -1);
  /// Writes the markers and offsets of a prepared transaction and stores it
  /// complete; false if something must be retried.
  asio::awaitable<bool> complete(std::string id);
  asio::awaitable<void> sweep();

  Config config_;
  storage::Storage& store_;
  asio::strand<asio::io_context::executor_type> strand_;
  mutable std::mutex mu_;  // txns_ and by_producer_: changed on the strand, read anywhere
  std::map<std::string, TxnMetadata> txns_;
  std::map<std::int64_t, std::string> by_producer_;
  std::set<std::string> finishing_;  // ids whose markers are being written (strand only)
  std::set<std::int32_t> loaded_;    // shards whose records memory holds (strand only)
  /// Ids an operation is working on (strand only): a shard dropped or
  /// loaded meanwhile leaves their entries alone, which the operation
  /// holds pointers into across its suspensions.
  std::map<std::string, int> busy_;
  struct Busy {
    Busy(TxnCoordinator& c, std::string id) : c_(c), id_(std::move(id)) { ++c_.busy_[id_]; }
    ~Busy() {
      if (--c_.busy_[id_] == 0) c_.busy_.erase(id_);
    }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;
    TxnCoordinator& c_;
    std::string id_;
  };
  std::unique_ptr<TxnMarkerSink> local_markers_;
  std::shared_ptr<asio::steady_timer> sweep_timer_;
  std::chrono::steady_clock::time_point next_id_expiration_{};
  bool stopped_ = false;
};

}  // namespace kwire_broker
