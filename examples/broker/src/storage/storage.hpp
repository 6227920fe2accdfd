// The storage seam: everything the broker's protocol handlers need from the
// place where records, topics and groups live. Two implementations stand behind
// it: the embedded on-disk store (embedded/, the default) and Apache Pulsar
// (pulsar/). Handlers talk to nothing else.
//
// The model is Pulsar's, so that a Pulsar adapter is a second implementation
// and not a translation layer:
//
//   Namespace      tenant/namespace holding the Kafka topics (types.hpp)
//   TopicCatalog   partitioned-topic metadata: partition count, configs, id
//   PartitionLog   one partition = one managed log made of ledgers of entries;
//                  one entry = one Kafka record batch, stored as produced with
//                  its base offset assigned in place; a Position (ledger,
//                  entry) maps to the batch's Kafka offsets
//   GroupStore     consumer groups: an opaque metadata blob per group (the
//                  broker's encoding) and committed offsets, which in Pulsar
//                  are a durable cursor per group and partition
//
// Asynchrony: every call that may wait (for a disk, for Pulsar) is a
// coroutine, `Task<T>` = `asio::awaitable<Result<T>>`, that the broker awaits
// directly. Rules for implementations:
//   * a call may be awaited from any executor and resumes its caller there
//     (an implementation that keeps its state on its own strand or
//     io_context hops there and back, e.g. with co_spawn(strand, ...,
//     use_awaitable)); it never blocks the caller's thread on I/O;
//   * failures are Results, not exceptions; after close() every call fails
//     with Errc::closed;
//   * ordering of appends: an append takes its place in the log when its
//     coroutine starts, before it first suspends. Appends to one PartitionLog
//     started in some order (co_spawned, or awaited one after another) get
//     offsets and complete in that order, so a caller may start several and
//     await them later.
// Calls named *_at_startup run before the broker serves clients and may block.
//
// Synchronous calls (offsets(), find_topic(), gateways()) read state the
// implementation keeps in memory; they never block on I/O.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>

#include <cerrno>
#include <compare>
#include <chrono>
#include <functional>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "types.hpp"

namespace kwire_broker::storage {

/// What every call that may wait returns.
template <class T>
using Task = boost::asio::awaitable<Result<T>>;

// ---------------------------------------------------------------------------
// Partition logs

/// Offsets of one partition. With a single replica the high watermark is the
/// log end offset. The last stable offset is the first offset of the oldest
/// transaction still open in the partition, or the high watermark when none
/// is: read_committed consumers read no further.
struct LogOffsets {
  std::int64_t log_start = 0;       // first offset still readable
  std::int64_t high_watermark = 0;  // offset the next appended record gets
  std::int64_t last_stable = 0;
};

/// A transaction marker the transaction coordinator writes into a partition
/// to end a producer's transaction there: a control batch of one control
/// record (key: version 0 and the type, commit or abort; value: version 0
/// and the coordinator epoch), with the control and transactional
/// attributes and the producer's id and epoch.
struct TxnMarker {
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t coordinator_epoch = 0;
  bool commit = false;
  std::int64_t timestamp = -1;  // ms since the epoch; -1: now
  /// Transactions V2: the marker's epoch is one past the one the
  /// transaction wrote with (EndTxn bumped it), which the offsets it holds
  /// carry. Not part of the control batch.
  bool v2 = false;
};

/// The producer epoch of the writes (and held offsets) of the transaction
/// `m` commits or aborts.
inline std::int16_t txn_epoch(const TxnMarker& m) {
  return m.v2 && m.commit ? static_cast<std::int16_t>(m.producer_epoch - 1) : m.producer_epoch;
}

/// A transaction that was aborted in a partition: its first and last offsets
/// (the last is its abort marker's). read_committed consumers drop the
/// producer's batches in that range (Fetch's AbortedTransactions).
struct AbortedTxn {
  std::int64_t producer_id = -1;
  std::int64_t first_offset = -1;
  std::int64_t last_offset = -1;
  friend bool operator==(const AbortedTxn&, const AbortedTxn&) = default;
};

/// One record batch the broker has validated (protocol/batch_validator.hpp):
/// magic 2, CRC checked, sizes and producer fields sane, LogAppendTime
/// already stamped with the CRC refreshed. Storage trusts it: it assigns the
/// base offset (outside the CRC) and keeps the bytes as they are.
struct AppendBatch {
  std::vector<std::uint8_t> bytes;  // exactly one whole batch
  BatchInfo info;                   // read from `bytes` by the validator
};

struct AppendResult {
  std::int64_t base_offset = -1;
  std::int64_t last_offset = -1;
  std::int64_t log_append_time = -1;  // the batch's, when it has that type
  std::int64_t log_start_offset = 0;
  Position position;
};

struct ReadOptions {
  std::int64_t offset = 0;      // the batch containing this offset comes first
  std::int32_t max_bytes = 1 << 20;
  /// Return the first batch even if it alone exceeds max_bytes (Kafka does for
  /// the first partition of a fetch response, so consumers always progress).
  bool at_least_one = true;
  /// Stop before this offset (exclusive); -1 for the high watermark.
  std::int64_t end_offset = -1;
  /// isolation_level=1: stop at the last stable offset as well, and return
  /// the aborted transactions of the range read.
  bool read_committed = false;
};

struct ReadResult {
  /// Whole record batches, concatenated, each with its offsets in place:
  /// in memory (`bytes`), or as regions of the store's files (`regions`, in
  /// order; the embedded store's), never both. Regions cover only batches
  /// the store had committed when it was read, and the broker sends them as
  /// they are (sendfile), without reading them into memory.
  std::vector<std::uint8_t> bytes;
  std::vector<FileRegion> regions;
  LogOffsets offsets;
  /// Offset after the last returned batch (== requested offset if none).
  std::int64_t next_offset = 0;
  /// With read_committed: the aborted transactions that overlap the
  /// returned batches (last offset >= the requested offset, first offset
  /// below next_offset), by last offset.
  std::vector<AbortedTxn> aborted;

  /// Bytes of the batches, either way.
  std::size_t size() const noexcept {
    std::size_t n = bytes.size();
    for (const auto& r : regions) n += static_cast<std::size_t>(r.size);
    return n;
  }
};

/// The batches of a read in memory, for callers that need the bytes
/// themselves (tests, tools): its bytes, or its regions read. Throws
/// std::runtime_error when a region cannot be read whole.
inline std::vector<std::uint8_t> read_bytes(const ReadResult& r) {
  std::vector<std::uint8_t> out(r.bytes);
  for (const auto& region : r.regions) {
    std::size_t at = out.size();
    out.resize(at + static_cast<std::size_t>(region.size));
    std::uint64_t done = 0;
    while (done < region.size) {
      const ssize_t n = ::pread(region.file->fd(), out.data() + at + done, static_cast<std::size_t>(region.size - done),
                                static_cast<off_t>(region.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("cannot read a region of a log file");
      done += static_cast<std::uint64_t>(n);
    }
  }
  return out;
}

/// One producer's state in a partition (DescribeProducers).
struct ProducerSnapshot {
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t last_sequence = -1;
  std::int64_t last_timestamp = -1;
  std::int32_t coordinator_epoch = -1;
  std::int64_t txn_start_offset = -1;  // of its open transaction; -1 if none
};

struct TimestampLookup {
  /// The first batch whose max timestamp is >= the asked timestamp: its base
  /// offset and max timestamp; offset -1 when there is none. Storage only
  /// reads batch headers: the broker narrows it to a record if it wants.
  std::int64_t offset = -1;
  std::int64_t timestamp = -1;
};

class PartitionLog {
 public:
  virtual ~PartitionLog() = default;

  virtual const TopicPartition& id() const noexcept = 0;

  /// Appends one validated record batch. It gets base offset = the log end
  /// offset, written into its header in place; the rest of the bytes are
  /// kept unchanged (the base offset is outside the CRC). Idempotent
  /// producers (producer id >= 0) are checked against ProducerStateTable
  /// (producer_state.hpp) atomically with the offset assignment: a retried
  /// batch fails with duplicate_sequence and the original AppendResult in
  /// value; a gap with out_of_order_sequence. Transactional batches are
  /// checked the same way, and open the producer's transaction here (which
  /// holds back the last stable offset) until a marker ends it; a
  /// non-transactional batch from a producer with an open transaction fails
  /// with invalid_txn_state. A batch above Storage::max_batch_bytes() fails
  /// with batch_too_large.
  virtual Task<AppendResult> append(AppendBatch batch) = 0;

  /// Ends the producer's transaction in this partition with a commit or
  /// abort marker (appended like a batch, ordered with appends). A marker
  /// with an older producer epoch than the partition has seen fails with
  /// invalid_producer_epoch, one from an older coordinator epoch with
  /// coordinator_fenced. An abort enters the aborted-transactions index.
  /// Backends without transactions fail with unsupported.
  virtual Task<AppendResult> append_marker(TxnMarker marker) {
    (void)marker;
    co_return Result<AppendResult>::failure(Errc::unsupported);
  }

  /// The aborted transactions with last offset >= `from` and first offset
  /// < `to`, by last offset (what read() returns with read_committed).
  virtual Task<std::vector<AbortedTxn>> aborted_transactions(std::int64_t from, std::int64_t to) {
    (void)from;
    (void)to;
    co_return Result<std::vector<AbortedTxn>>::success({});
  }

  /// Reads whole batches from `offset`. Reading at the high watermark returns
  /// nothing (not an error); outside [log_start, high_watermark] fails with
  /// offset_out_of_range, its value still carrying the offsets (the fetch
  /// answers them, and clients reset to them).
  virtual Task<ReadResult> read(ReadOptions options) = 0;

  /// Current offsets, from memory.
  virtual LogOffsets offsets() const = 0;

  /// The producers the partition keeps state for, from memory.
  virtual std::vector<ProducerSnapshot> producers() const { return {}; }
  /// Whether a transaction of the producer at this epoch is open in the
  /// partition (its batches are in, its marker is not), from memory.
  virtual bool in_open_txn(std::int64_t /*producer_id*/, std::int16_t /*epoch*/) const { return false; }

  /// The first batch with max timestamp >= `timestamp`.
  virtual Task<TimestampLookup> offset_for_timestamp(std::int64_t timestamp) = 0;

  /// Largest max-timestamp in the log and the offset of that batch's last
  /// record (ListOffsets with MAX_TIMESTAMP); offset -1 for an empty log.
  virtual Task<TimestampLookup> max_timestamp() = 0;

  /// Makes offsets below `offset` unreadable (DeleteRecords): the log start
  /// offset becomes `offset` (-1 means the high watermark). Returns the new
  /// log start offset. Whole ledgers below it may be dropped.
  virtual Task<std::int64_t> delete_records(std::int64_t offset) = 0;

  /// Stops writing here so that another gateway can take the partition (it
  /// now leads it); a later append takes it back. Backends with one gateway
  /// have nothing to do.
  virtual void release() {}
};

// ---------------------------------------------------------------------------
// Topic metadata

struct NewTopic {
  std::string name;
  std::int32_t partitions = 1;
  Configs configs;
};

class TopicCatalog {
 public:
  virtual ~TopicCatalog() = default;

  virtual Task<TopicInfo> create_topic(NewTopic topic) = 0;
  /// Deletes the topic, its partition logs and its data.
  virtual Task<Done> delete_topic(std::string name) = 0;
  /// Grows the partition count to `total` (never shrinks: invalid_partitions).
  virtual Task<TopicInfo> add_partitions(std::string name, std::int32_t total) = 0;
  /// Applies config changes to a topic (all or none) and returns the result.
  virtual Task<TopicInfo> alter_configs(std::string name, std::vector<ConfigChange> changes) = 0;
  virtual Task<std::vector<TopicInfo>> list_topics() = 0;

  /// From memory; nullopt if unknown.
  virtual std::optional<TopicInfo> find_topic(const std::string& name) const = 0;
  virtual std::optional<TopicInfo> find_topic(const TopicId& id) const = 0;
};

// ---------------------------------------------------------------------------
// Groups and committed offsets

struct CommittedOffset {
  std::int64_t offset = -1;
  std::int32_t leader_epoch = -1;
  std::string metadata;
  std::int64_t commit_timestamp = -1;  // ms since the epoch
};

struct GroupBlob {
  std::string group_id;
  std::vector<std::uint8_t> data;  // the broker's encoding; storage never reads it
};

class GroupStore {
 public:
  virtual ~GroupStore() = default;

  using Offsets = std::vector<std::pair<TopicPartition, CommittedOffset>>;

  /// Replaces the group's metadata blob.
  virtual Task<Done> store_group(std::string group_id, std::vector<std::uint8_t> blob) = 0;
  /// Removes the group's blob, all its committed offsets and the offsets
  /// transactions hold for it.
  virtual Task<Done> delete_group(std::string group_id) = 0;
  /// Every stored group (at startup, to rebuild the coordinator's state).
  virtual Task<std::vector<GroupBlob>> load_groups() = 0;

  /// Stores offsets for the group, durably (all or none).
  virtual Task<Done> commit_offsets(std::string group_id, Offsets offsets) = 0;
  /// All committed offsets of the group (empty if none).
  virtual Task<Offsets> fetch_offsets(std::string group_id) = 0;
  virtual Task<Done> delete_offsets(std::string group_id, std::vector<TopicPartition> partitions) = 0;
  /// Ids of groups that have committed offsets or a blob.
  virtual Task<std::vector<std::string>> list_groups() = 0;

  /// TxnOffsetCommit: offsets the transaction of `producer_id` at `epoch`
  /// commits to the group, held (durably, beside the group's records) until
  /// it ends, as Kafka keeps them in its offsets topic until the marker. A
  /// later hold at the same epoch adds to (and overrides) them, one at a
  /// newer epoch replaces them (they were a fenced producer's), one at an
  /// older epoch is refused with invalid_producer_epoch.
  virtual Task<Done> hold_txn_offsets(std::string group_id, std::int64_t producer_id, std::int16_t epoch,
                                      Offsets offsets) = 0;
  /// The producer's transaction at `epoch` ended (the marker for the shard,
  /// the offsets topic's partition): on commit the offsets it held at that
  /// epoch for each group of `shard` become the group's committed offsets
  /// (per group all or none, the hold gone with them); holds of older
  /// epochs (a fenced producer's, written after its end) and, on abort, the
  /// transaction's own are dropped.
  virtual Task<Done> end_txn_offsets(std::int32_t shard, std::int64_t producer_id, std::int16_t epoch,
                                     bool commit) = 0;
  /// The partitions of the group that a transaction holds offsets for
  /// (OffsetFetch's require_stable).
  virtual Task<std::vector<TopicPartition>> held_txn_offsets(std::string group_id) = 0;

  /// Groups are stored in shards; one gateway at a time coordinates a shard's
  /// groups. Backends with one gateway have one shard.
  virtual std::int32_t shard_of(const std::string& /*group*/) const { return 0; }
  virtual std::int32_t shard_count() const { return 1; }
  /// Stops writing the shard here (another gateway coordinates it now); the
  /// next write takes it back after reading what others wrote.
  virtual void release_shard(std::int32_t /*shard*/) {}
  /// The epoch of this gateway's hold on the shard (taking it if need be),
  /// which grows each time a gateway takes the shard over: the coordinator
  /// epoch of the markers of the shard's transactions, so that a partition
  /// refuses one from a coordinator that has lost the shard since
  /// (coordinator_fenced). 0 where one gateway holds every shard.
  virtual Task<std::int32_t> shard_epoch(std::int32_t /*shard*/) { co_return Result<std::int32_t>::success(0); }
};

// ---------------------------------------------------------------------------
// Transaction state

struct TxnBlob {
  std::string transactional_id;
  std::vector<std::uint8_t> data;  // the broker's encoding; storage never reads it
};

/// One share partition (KIP-932): a share group's view of a topic partition.
struct SharePartitionKey {
  std::string group_id;
  TopicId topic_id{};
  std::int32_t partition = 0;
  friend auto operator<=>(const SharePartitionKey&, const SharePartitionKey&) = default;
};

struct ShareStateBlob {
  SharePartitionKey key;
  std::vector<std::uint8_t> data;  // the broker's encoding; storage never reads it
};

/// The durable state of share partitions (what Kafka's share coordinator
/// keeps with WriteShareGroupState: the share-partition start offset and the
/// state of the records above it), one opaque record per share partition.
class ShareStateStore {
 public:
  virtual ~ShareStateStore() = default;
  /// Replaces the partition's record; completes once it is durable.
  virtual Task<Done> store_share_state(SharePartitionKey key, std::vector<std::uint8_t> blob) = 0;
  virtual Task<Done> delete_share_state(SharePartitionKey key) = 0;
  /// Every record, at startup.
  virtual Task<std::vector<ShareStateBlob>> load_share_states() = 0;
};

/// One entry a share queue handed to the broker: a Kafka batch with its
/// offsets set, and what the store knows of its earlier deliveries.
struct QueuedBatch {
  std::uint64_t handle = 0;  // names the entry in settle() and give_back()
  std::int64_t base = 0, last = 0;
  std::vector<std::uint8_t> bytes;  // one Kafka record batch
  bool control = false;             // a transaction marker: nothing to deliver
  /// Records of the batch already acknowledged in the store (by anyone):
  /// not to be delivered again. Empty: none.
  std::vector<std::int64_t> settled;
  /// How often the store delivered this entry before (to any consumer).
  std::int32_t redeliveries = 0;
};

/// A share partition whose records the store itself hands out, as a queue
/// that other consumers of the store may share (Pulsar: a Shared
/// subscription named after the group). The broker keeps the records it
/// took until its members are done with them: it settles a record when a
/// member accepts or rejects it (or its delivery limit is reached), and
/// gives an entry back when a member released the records it still held.
/// A queue's calls are awaited one at a time, on the coordinator's strand.
class ShareQueue {
 public:
  virtual ~ShareQueue() = default;
  /// Whole entries already delivered to the broker, holding together at
  /// most `max_records` records (at least one entry when any is there);
  /// never waits. Asks the store for up to `max_records` more, whose
  /// arrival is announced through Storage::watch() on the partition.
  virtual Task<std::vector<QueuedBatch>> take(std::int32_t max_records) = 0;
  /// The records at `offsets` of the entry are done for good; `whole`: all
  /// of them are. Completes once the store holds the acknowledgement.
  virtual Task<Done> settle(std::uint64_t handle, std::vector<std::int64_t> offsets, bool whole) = 0;
  /// The entry goes back to the queue (its records not settled) for any
  /// consumer, with its delivery count one higher.
  virtual Task<Done> give_back(std::uint64_t handle) = 0;
  /// Changes each time the store took back every entry the broker held
  /// (a lost connection): the broker then forgets what it held.
  virtual std::uint64_t generation() const noexcept = 0;
  /// The queue's start offset: every record below it is settled; nullopt
  /// when the queue has not started.
  virtual Task<std::optional<std::int64_t>> start_offset() = 0;
  /// Moves the queue's start to `offset` (AlterShareGroupOffsets).
  virtual Task<Done> seek(std::int64_t offset) = 0;
  /// Removes the queue from the store (DeleteShareGroupOffsets): the next
  /// open starts over. Fails while other consumers use it.
  virtual Task<Done> remove() = 0;
  /// Stops taking: entries delivered and not settled go back to the queue.
  virtual Task<Done> close() = 0;
};

class ShareQueues {
 public:
  virtual ~ShareQueues() = default;
  /// The queue of a share partition of partition `tp`, created when missing
  /// at the log's start (`earliest`) or end.
  virtual Task<std::shared_ptr<ShareQueue>> open_share_queue(SharePartitionKey key, TopicPartition tp,
                                                             bool earliest) = 0;
};

/// The transaction coordinator's record of each transactional id, durable.
class TxnStore {
 public:
  virtual ~TxnStore() = default;
  /// Replaces the id's record; completes once it is durable. Changes reach
  /// the store in the order the calls started.
  virtual Task<Done> store_txn(std::string transactional_id, std::vector<std::uint8_t> blob) = 0;
  virtual Task<Done> delete_txn(std::string transactional_id) = 0;
  /// Every stored record (at startup, to rebuild the coordinator's state).
  virtual Task<std::vector<TxnBlob>> load_txns() = 0;
  /// The records of the ids on one shard of the group store (ids are
  /// sharded as groups are, GroupStore::shard_of), read afresh: a gateway
  /// that takes the shard over from another loads them with this.
  virtual Task<std::vector<TxnBlob>> load_shard_txns(std::int32_t shard) = 0;
};

// ---------------------------------------------------------------------------
// Gateways: kwire-broker processes in front of the same storage

struct Endpoint {
  std::string listener;  // the listener name (PLAINTEXT, SASL_PLAINTEXT, ...)
  std::string host;
  std::int32_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct Gateway {
  std::int32_t node_id = -1;
  std::vector<Endpoint> endpoints;  // advertised
  friend bool operator==(const Gateway&, const Gateway&) = default;
};

/// Who else serves this storage. Gateways announce themselves through the
/// backend; one that stops announcing (killed, cut off) drops out after a
/// few seconds, and the others take over its partitions and groups.
class Membership {
 public:
  virtual ~Membership() = default;
  /// Starts announcing this gateway (until Storage::close()); returns once
  /// the others have had time to be heard. Blocks: call it before serving
  /// clients.
  virtual void join_at_startup(Gateway self) = 0;
  /// The live gateways, this one included, ordered by node id. From memory.
  virtual std::vector<Gateway> gateways() const = 0;
};

// ---------------------------------------------------------------------------
// Credentials: SASL/SCRAM users (AlterUserScramCredentials)

/// One user's SCRAM credential for one mechanism (RFC 5802): the salt and
/// iterations a client needs, and the keys the server checks proofs with.
/// The password is never stored.
struct ScramCredential {
  std::string user;
  std::int8_t mechanism = 0;  // 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 (KIP-554)
  std::int32_t iterations = 0;
  std::vector<std::uint8_t> salt;
  std::vector<std::uint8_t> stored_key;
  std::vector<std::uint8_t> server_key;
};

class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  /// Adds or replaces the user's credential for its mechanism, durably.
  virtual Task<Done> put_scram(ScramCredential credential) = 0;
  /// Removes the user's credential for `mechanism`, durably (nothing to do
  /// when there is none).
  virtual Task<Done> delete_scram(std::string user, std::int8_t mechanism) = 0;
  /// From memory.
  virtual std::optional<ScramCredential> find_scram(const std::string& user, std::int8_t mechanism) const = 0;
  virtual std::vector<ScramCredential> scram_credentials() const = 0;
};

// ---------------------------------------------------------------------------
// ACLs: the authorizer's bindings (CreateAcls, DeleteAcls)

/// One ACL binding as Kafka's CreateAcls carries it. The codes are Kafka's
/// (ResourceType, PatternType, AclOperation, AclPermissionType); storage keeps
/// them as they are and never interprets them (core/acl.hpp does).
struct AclBinding {
  std::int8_t resource_type = 0;
  std::string resource_name;
  std::int8_t pattern_type = 0;
  std::string principal;
  std::string host;
  std::int8_t operation = 0;
  std::int8_t permission = 0;
  friend auto operator<=>(const AclBinding&, const AclBinding&) = default;
};

class AclStore {
 public:
  virtual ~AclStore() = default;
  /// Adds the bindings, durably (a binding already there stays once).
  virtual Task<Done> add_acls(std::vector<AclBinding> bindings) = 0;
  /// Removes the bindings, durably (those not there are ignored).
  virtual Task<Done> remove_acls(std::vector<AclBinding> bindings) = 0;
  /// Every binding, from memory: a snapshot that later changes leave alone,
  /// cheap to take on every authorization.
  virtual std::shared_ptr<const std::vector<AclBinding>> acls() const = 0;
};

// ---------------------------------------------------------------------------
// Client quotas: the quota values of users, client ids and IPs
// (AlterClientQuotas, KIP-546)

/// One part of a quota entity: its type as Kafka names it ("user",
/// "client-id", "ip") and its name; no name stands for the type's default
/// entity. Storage keeps them as they are and never interprets them.
struct QuotaEntityPart {
  std::string type;
  std::optional<std::string> name;
  friend auto operator<=>(const QuotaEntityPart&, const QuotaEntityPart&) = default;
};
/// A quota entity: its parts ordered by type, each type at most once.
using QuotaEntity = std::vector<QuotaEntityPart>;

/// One quota value: `key` (producer_byte_rate, ...) of an entity.
struct ClientQuota {
  QuotaEntity entity;
  std::string key;
  double value = 0;
  friend bool operator==(const ClientQuota&, const ClientQuota&) = default;
};

/// Sets a quota value, or with no value removes it.
struct QuotaChange {
  QuotaEntity entity;
  std::string key;
  std::optional<double> value;
};

class QuotaStore {
 public:
  virtual ~QuotaStore() = default;
  /// Applies the changes, durably (all or none); removing a value that is
  /// not there changes nothing.
  virtual Task<Done> alter_quotas(std::vector<QuotaChange> changes) = 0;
  /// Every value, by entity and key, from memory: a snapshot that later
  /// changes leave alone, replaced (a new pointer) on each change.
  virtual std::shared_ptr<const std::vector<ClientQuota>> quotas() const = 0;
};

// ---------------------------------------------------------------------------
// Tokens: a client's OAUTHBEARER token checked by the storage's own
// authentication (kwire.sasl.oauthbearer.pulsar.passthrough)

class TokenAuthenticator {
 public:
  virtual ~TokenAuthenticator() = default;
  /// Whether the storage takes `token` as a credential of its own: success,
  /// or a failure saying why not (refused, or the storage not reached).
  virtual Task<Done> authenticate(std::string token) = 0;
};

// ---------------------------------------------------------------------------
// Where the data is kept (DescribeLogDirs)

/// The place a store keeps its partitions' data, as Kafka's DescribeLogDirs
/// shows a log directory: its name, and the space of the volume holding it.
struct DataLocation {
  std::string name;
  std::int64_t total_bytes = -1;   // -1: unknown
  std::int64_t usable_bytes = -1;  // free for the store's use; -1: unknown
};

// ---------------------------------------------------------------------------
// The root

class Storage {
 public:
  virtual ~Storage() = default;

  virtual const Namespace& ns() const noexcept = 0;
  virtual TopicCatalog& topics() = 0;
  virtual GroupStore& groups() = 0;
  /// SCRAM credentials; nullptr when the backend does not store them.
  virtual CredentialStore* credentials() { return nullptr; }
  /// ACL bindings; nullptr when the backend does not store them.
  virtual AclStore* acls() { return nullptr; }
  /// Client quotas; nullptr when the backend does not store them.
  virtual QuotaStore* quotas() { return nullptr; }
  /// Checks clients' tokens; nullptr when the backend has no authentication
  /// of its own to ask.
  virtual TokenAuthenticator* token_authenticator() { return nullptr; }
  /// The gateways sharing this storage; nullptr when the backend serves one
  /// gateway only (the embedded store).
  virtual Membership* membership() { return nullptr; }
  /// The largest record batch the backend stores, in bytes: the broker
  /// refuses larger ones (MESSAGE_TOO_LARGE) and reports max.message.bytes
  /// no higher than this. An append of a larger batch fails with
  /// batch_too_large and stores nothing.
  virtual std::int64_t max_batch_bytes() const noexcept { return std::numeric_limits<std::int64_t>::max(); }

  /// Whether partition logs keep transactions (markers, last stable offset,
  /// aborted-transactions index) and the store keeps transaction state: the
  /// broker offers the transaction APIs only then.
  virtual bool supports_transactions() const noexcept { return false; }
  /// The transaction coordinator's records; nullptr without transactions.
  virtual TxnStore* transactions() { return nullptr; }

  /// Whether the store keeps share groups (KIP-932): the broker offers the
  /// share group APIs only then.
  virtual bool supports_share_groups() const noexcept { return false; }
  /// The share partitions' records; nullptr without share groups.
  virtual ShareStateStore* share_states() { return nullptr; }
  /// Share partitions served from the store's own queues (shared with the
  /// store's native consumers); nullptr: the broker hands out records from
  /// the partition log itself.
  virtual ShareQueues* share_queues() { return nullptr; }

  /// `on_data(tp)` is called (on any thread) when records this gateway did
  /// not append reach a partition it reads (native Pulsar producers, another
  /// gateway), as the backend delivers them: long-polling fetches wake on it
  /// instead of waiting out their time. Backends that see every append need
  /// not call it.
  virtual void watch(std::function<void(const TopicPartition&)> /*on_data*/) {}

  /// Where partition data is kept: the embedded store's data directory,
  /// with its file system's space; the Pulsar namespace.
  virtual DataLocation data_location() const = 0;
  /// The bytes the store holds for each partition of `topic` (element p for
  /// partition p: what its log occupies in the store), -1 for a partition
  /// whose size the store cannot tell; unknown_topic when there is no such
  /// topic.
  virtual Task<std::vector<std::int64_t>> partition_sizes(std::string topic) = 0;

  /// Opens (or returns the already open) log of an existing partition;
  /// unknown_topic if the topic or partition does not exist. The log stays
  /// valid while a shared_ptr to it is held, even after the topic is deleted
  /// (later calls then fail with unknown_topic).
  virtual Task<std::shared_ptr<PartitionLog>> open_log(TopicPartition tp) = 0;

  /// A block of `count` producer ids unique for the life of the data
  /// (InitProducerId); returns the first.
  virtual Task<std::int64_t> allocate_producer_ids(std::int32_t count) = 0;

  /// Periodic housekeeping: retention by time and size, flush by interval.
  /// The broker calls it every few seconds; cheap when there is nothing to do.
  virtual void maintain(std::chrono::system_clock::time_point now) = 0;

  /// Finishes in-flight calls, flushes and releases everything; later calls
  /// fail with closed.
  virtual Task<Done> close() = 0;
};

}  // namespace kwire_broker::storage
