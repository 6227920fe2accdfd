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
// Asynchrony: every call that may cross a network takes a Handler<T>
// (a std::function receiving Result<T>) and returns at once. Rules for
// implementations:
//   * each handler is called exactly once, also on failure and at close();
//   * it may be called on any thread, and possibly before the call returns
//     (the embedded store completes most calls inline);
//   * appends to one PartitionLog take offsets in the order append() was
//     called and complete in that order, so a caller may pipeline them.
// Rules for callers: never hold a lock while calling in, and treat the
// handler as a foreign thread. The broker wraps calls into Asio awaitables
// with storage/await.hpp, which resumes the coroutine on its own executor.
//
// Synchronous calls (offsets(), find_topic()) read state the implementation
// keeps in memory; they never block on I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "types.hpp"

namespace kwire_broker::storage {

// ---------------------------------------------------------------------------
// Partition logs

/// Offsets of one partition. With a single replica the high watermark is the
/// log end offset; the last stable offset equals it (no transactions).
struct LogOffsets {
  std::int64_t log_start = 0;       // first offset still readable
  std::int64_t high_watermark = 0;  // offset the next appended record gets
  std::int64_t last_stable = 0;
};

struct AppendOptions {
  /// Overwrite the batch's max timestamp with the broker's clock and set the
  /// log-append-time attribute (topic config message.timestamp.type).
  /// Implementations that set it must fix the CRC (it covers the timestamps).
  bool log_append_time = false;
};

struct AppendResult {
  std::int64_t base_offset = -1;
  std::int64_t last_offset = -1;
  std::int64_t log_append_time = -1;  // -1 unless log_append_time was asked
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
};

struct ReadResult {
  /// Whole record batches, concatenated, each with its offsets in place.
  std::vector<std::uint8_t> bytes;
  LogOffsets offsets;
  /// Offset after the last returned batch (== requested offset if none).
  std::int64_t next_offset = 0;
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

  /// Appends one record batch (magic 2, CRC already checked by the caller or
  /// not: implementations check header sanity and may check the CRC). The
  /// batch gets base offset = the log end offset, written into its header in
  /// place; the rest of the bytes are kept unchanged (the base offset is
  /// outside the CRC). Idempotent producers (producer id >= 0) are checked
  /// against ProducerStateTable (producer_state.hpp) atomically with the
  /// offset assignment: a retried batch fails with duplicate_sequence and the
  /// original AppendResult in value; a gap with out_of_order_sequence.
  virtual void append(std::vector<std::uint8_t> batch, AppendOptions options,
                      Handler<AppendResult> done) = 0;

  /// Reads whole batches from `offset`. Reading at the high watermark returns
  /// nothing (not an error); outside [log_start, high_watermark] fails with
  /// offset_out_of_range.
  virtual void read(ReadOptions options, Handler<ReadResult> done) = 0;

  /// Current offsets, from memory.
  virtual LogOffsets offsets() const = 0;

  /// The first batch with max timestamp >= `timestamp`.
  virtual void offset_for_timestamp(std::int64_t timestamp, Handler<TimestampLookup> done) = 0;

  /// Largest max-timestamp in the log and the offset of that batch's last
  /// record (ListOffsets with MAX_TIMESTAMP); offset -1 for an empty log.
  virtual void max_timestamp(Handler<TimestampLookup> done) = 0;

  /// Makes offsets below `offset` unreadable (DeleteRecords): the log start
  /// offset becomes `offset` (-1 means the high watermark). Returns the new
  /// log start offset. Whole ledgers below it may be dropped.
  virtual void delete_records(std::int64_t offset, Handler<std::int64_t> done) = 0;

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

  virtual void create_topic(NewTopic topic, Handler<TopicInfo> done) = 0;
  /// Deletes the topic, its partition logs and its data.
  virtual void delete_topic(std::string name, Handler<Done> done) = 0;
  /// Grows the partition count to `total` (never shrinks: invalid_partitions).
  virtual void add_partitions(std::string name, std::int32_t total, Handler<TopicInfo> done) = 0;
  /// Applies config changes to a topic (all or none) and returns the result.
  virtual void alter_configs(std::string name, std::vector<ConfigChange> changes,
                             Handler<TopicInfo> done) = 0;
  virtual void list_topics(Handler<std::vector<TopicInfo>> done) = 0;

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

  /// Replaces the group's metadata blob.
  virtual void store_group(std::string group_id, std::vector<std::uint8_t> blob, Handler<Done> done) = 0;
  /// Removes the group's blob and all its committed offsets.
  virtual void delete_group(std::string group_id, Handler<Done> done) = 0;
  /// Every stored group (at startup, to rebuild the coordinator's state).
  virtual void load_groups(Handler<std::vector<GroupBlob>> done) = 0;

  /// Stores offsets for the group, durably (all or none).
  virtual void commit_offsets(std::string group_id,
                              std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
                              Handler<Done> done) = 0;
  /// All committed offsets of the group (empty if none).
  virtual void fetch_offsets(std::string group_id,
                             Handler<std::vector<std::pair<TopicPartition, CommittedOffset>>> done) = 0;
  virtual void delete_offsets(std::string group_id, std::vector<TopicPartition> partitions,
                              Handler<Done> done) = 0;
  /// Ids of groups that have committed offsets or a blob.
  virtual void list_groups(Handler<std::vector<std::string>> done) = 0;

  /// Groups are stored in shards; one gateway at a time coordinates a shard's
  /// groups. Backends with one gateway have one shard.
  virtual std::int32_t shard_of(const std::string& /*group*/) const { return 0; }
  virtual std::int32_t shard_count() const { return 1; }
  /// Stops writing the shard here (another gateway coordinates it now); the
  /// next write takes it back after reading what others wrote.
  virtual void release_shard(std::int32_t /*shard*/) {}
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
  /// the others have had time to be heard. Call it before serving clients.
  virtual void join(Gateway self) = 0;
  /// The live gateways, this one included, ordered by node id. From memory.
  virtual std::vector<Gateway> gateways() const = 0;
};

// ---------------------------------------------------------------------------
// The root

class Storage {
 public:
  virtual ~Storage() = default;

  virtual const Namespace& ns() const noexcept = 0;
  virtual TopicCatalog& topics() = 0;
  virtual GroupStore& groups() = 0;
  /// The gateways sharing this storage; nullptr when the backend serves one
  /// gateway only (the embedded store).
  virtual Membership* membership() { return nullptr; }
  /// The largest record batch the backend stores, in bytes: the broker
  /// refuses larger ones (MESSAGE_TOO_LARGE) and reports max.message.bytes
  /// no higher than this. An append of a larger batch fails with
  /// batch_too_large and stores nothing.
  virtual std::int64_t max_batch_bytes() const noexcept { return std::numeric_limits<std::int64_t>::max(); }

  /// `on_data(tp)` is called (on any thread) when records this gateway did
  /// not append reach a partition it reads (native Pulsar producers, another
  /// gateway), as the backend delivers them: long-polling fetches wake on it
  /// instead of waiting out their time. Backends that see every append need
  /// not call it.
  virtual void watch(std::function<void(const TopicPartition&)> /*on_data*/) {}

  /// Opens (or returns the already open) log of an existing partition;
  /// unknown_topic if the topic or partition does not exist. The log stays
  /// valid while a shared_ptr to it is held, even after the topic is deleted
  /// (later calls then fail with unknown_topic).
  virtual void open_log(TopicPartition tp, Handler<std::shared_ptr<PartitionLog>> done) = 0;

  /// A block of `count` producer ids unique for the life of the data
  /// (InitProducerId); returns the first.
  virtual void allocate_producer_ids(std::int32_t count, Handler<std::int64_t> done) = 0;

  /// Periodic housekeeping: retention by time and size, flush by interval.
  /// The broker calls it every few seconds; cheap when there is nothing to do.
  virtual void maintain(std::chrono::system_clock::time_point now) = 0;

  /// Finishes in-flight calls, flushes and releases everything; later calls
  /// fail with closed.
  virtual void close(Handler<Done> done) = 0;
};

}  // namespace kwire_broker::storage
