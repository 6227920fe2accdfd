// GroupStore on Pulsar: groups and committed offsets are messages on a
// compacted, partitioned system topic, TENANT/__kafka/__consumer_offsets
// (suffixed _NS for namespaces other than "default"), keyed
// "blob/<group>" and "offset/<group>/<partition>/<topic>"; a null value
// deletes. A group lives on one partition of that topic (its shard), and
// the gateway holding the exclusive producer on that partition coordinates
// its groups. The transaction coordinator's records share the topic
// (txn_store.hpp), keyed "txn/<transactional id>" on the id's partition.
// Committed offsets are also mirrored, shortly after the commit
// is acknowledged, to a subscription named after the group on each Kafka
// partition, so that Pulsar's tools show a group's backlog.
//
// All state lives on the storage's I/O thread; every call hops there and
// resumes its caller on the caller's executor.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;

class Groups final : public GroupStore {
 public:
  explicit Groups(PulsarStorage& s);

  Task<Done> store_group(std::string group_id, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_group(std::string group_id) override;
  Task<std::vector<GroupBlob>> load_groups() override;
  Task<Done> commit_offsets(std::string group_id, Offsets offsets) override;
  Task<Offsets> fetch_offsets(std::string group_id) override;
  Task<Done> delete_offsets(std::string group_id, std::vector<TopicPartition> partitions) override;
  Task<std::vector<std::string>> list_groups() override;
  Task<Done> hold_txn_offsets(std::string group_id, std::int64_t producer_id, std::int16_t epoch,
                              Offsets offsets) override;
  Task<Done> end_txn_offsets(std::int32_t shard, std::int64_t producer_id, std::int16_t epoch, bool commit) override;
  Task<std::vector<TopicPartition>> held_txn_offsets(std::string group_id) override;

  std::int32_t shard_of(const std::string& group) const override { return partition_of(group); }
  std::int32_t shard_count() const override;
  void release_shard(std::int32_t shard) override;
  /// The topic epoch Pulsar gave this gateway's exclusive producer of the
  /// shard (Pulsar raises it for each new exclusive producer).
  Task<std::int32_t> shard_epoch(std::int32_t shard) override;

  std::string offsets_topic() const;
  int partition_of(const std::string& group) const;
  /// Waits (at most `limit`) for queued mirrors to be applied: on shutdown,
  /// on the I/O thread.
  awaitable<void> flush_mirrors(std::chrono::milliseconds limit);

  /// Records of another kind kept in the groups' shards, under keys that
  /// start with `prefix`: `apply` gets each such message read from a shard,
  /// and `forget(shard)` comes before a shard is read again (after another
  /// gateway coordinated it). Registered before the first call.
  struct Records {
    std::string prefix;
    std::function<void(const kp::Message&)> apply;
    std::function<void(int shard)> forget;
  };
  void keep_records(Records records) { others_.push_back(std::move(records)); }

  // On the I/O thread:
  /// Reads every shard, once.
  awaitable<void> ensure_loaded();
  /// Writes the messages as one entry (all or none) on the group's shard,
  /// as the coordinator of its groups.
  awaitable<void> write(const std::string& group, std::vector<kp::OutgoingMessage> messages);
  /// Writes one record keyed `key` on the group's shard: `value`, or a
  /// null value (a delete) when there is none.
  awaitable<void> write_record(const std::string& group, std::string key,
                               const std::optional<std::vector<std::uint8_t>>& value);

 private:
  friend class Txns;
  struct Group {
    std::optional<std::vector<std::uint8_t>> blob;
    std::map<TopicPartition, CommittedOffset> offsets;
    /// Offsets transactions hold for the group, per producer id
    /// (group_txn_offsets.cpp).
    struct Held {
      std::int16_t epoch = -1;
      std::map<TopicPartition, CommittedOffset> offsets;
    };
    std::map<std::int64_t, Held> held;
  };
  awaitable<Result<Done>> store_here(std::string group_id, std::vector<std::uint8_t> blob);
  awaitable<Result<Done>> delete_here(std::string group_id);
  awaitable<Result<std::vector<GroupBlob>>> load_here();
  awaitable<Result<Done>> commit_here(std::string group_id, Offsets offsets);
  awaitable<Result<Offsets>> fetch_here(std::string group_id);
  awaitable<Result<Done>> delete_offsets_here(std::string group_id, std::vector<TopicPartition> partitions);
  awaitable<Result<std::vector<std::string>>> list_here();
  awaitable<Result<Done>> hold_here(std::string group_id, std::int64_t producer_id, std::int16_t epoch,
                                    Offsets offsets);
  awaitable<Result<Done>> end_held_here(std::int32_t shard, std::int64_t producer_id, std::int16_t epoch, bool commit);
  awaitable<Result<std::vector<TopicPartition>>> held_here(std::string group_id);
  awaitable<Result<std::int32_t>> shard_epoch_here(std::int32_t shard);
  /// A "txnoffset/<producer id>/<group>" message read from a shard.
  void apply_held(const std::string& rest, const kp::Message& m);
  /// The null-valued messages dropping every hold of the group.
  std::vector<kp::OutgoingMessage> drop_holds(const std::string& group) const;
  /// The "offset/..." message of one committed offset.
  static kp::OutgoingMessage offset_message(const std::string& group, const TopicPartition& tp,
                                            const CommittedOffset& c);

  awaitable<void> load_partition(int p);
  /// Coordinates partition p's groups from now on (see write()).
  awaitable<void> take(int p);
  /// Queues committed offsets for the group's Pulsar subscriptions and
  /// returns at once: the mirror is informational, and a commit must not
  /// wait on admin calls per partition. One worker applies the newest
  /// offset per group and partition, skipping ones already in place.
  void mirror(const std::string& group, const Offsets& offsets);
  /// Queues the removal of the group's subscriptions on these partitions
  /// (offsets deleted, or the group).
  void unmirror(const std::string& group, const std::vector<TopicPartition>& partitions);
  void start_mirroring();
  awaitable<void> drain_mirrors();
  awaitable<void> mirror_one(const std::string& group, const TopicPartition& tp, std::int64_t offset);
  void apply(const kp::Message& m);

  PulsarStorage& s_;
  bool loaded_ = false;
  std::unique_ptr<AsyncLock> load_lock_, take_lock_;
  std::map<std::string, Group> groups_;
  std::map<std::string, std::vector<std::uint8_t>> txns_;  // transactional id → record
  std::map<int, std::shared_ptr<kp::Producer>> producers_;
  using MirrorKey = std::pair<std::string, TopicPartition>;
  std::map<MirrorKey, std::optional<std::int64_t>> mirror_queue_;  // nullopt: remove
  std::map<MirrorKey, std::int64_t> mirrored_;
  bool mirroring_ = false;
  std::vector<Records> others_;
};

}  // namespace kwire_broker::storage::pulsar
