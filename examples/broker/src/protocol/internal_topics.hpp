// Kafka's internal topics as kwire-broker shows them to clients.
//
// Kafka keeps committed offsets and group metadata in `__consumer_offsets`, a
// compacted topic whose partition p is led by the coordinator of the groups
// that hash to p. kwire keeps them in the storage's GroupStore instead, so
// the topic is a view with the same meaning: one partition per group shard,
// each led by the gateway that coordinates that shard, marked internal. It
// holds no records clients can read (a fetch sees an empty log) and clients
// cannot write to it; tools that list topics see it as they see Kafka's.
//
// Like Kafka, which creates the topic when the first group coordinator is
// looked up, the view appears once groups are used in the namespace (a
// FindCoordinator for a group, or groups already stored).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "storage/types.hpp"

namespace kwire_broker {

class Realm;
class ClusterView;

namespace internal_topics {

inline constexpr std::string_view group_offsets = "__consumer_offsets";
inline constexpr std::string_view transaction_state = "__transaction_state";

/// Names Kafka reserves for its own topics.
inline bool is_internal(std::string_view topic) noexcept {
  return topic == group_offsets || topic == transaction_state;
}

/// The group-offsets topic of `realm` if it is shown (or `materialize`: the
/// client asked for it by name, as Kafka creates it then), else nullopt.
std::optional<storage::TopicInfo> group_offsets_topic(Realm& realm, bool materialize = false);

/// The internal topic named `name`, if shown in `realm`: it answers reads
/// as an empty log and refuses clients' writes.
std::optional<storage::TopicInfo> find(Realm& realm, std::string_view name);

/// Looks an internal topic up by id (Metadata, Fetch by topic id).
std::optional<storage::TopicInfo> find_by_id(Realm& realm, const storage::TopicId& id);

/// The node Metadata and DescribeTopicPartitions name as the leader of
/// partition `p` of `topic`: the gateway that writes it, or for the
/// group-offsets view the coordinator of group shard `p`.
std::int32_t leader_shown(const ClusterView& view, std::string_view topic, std::int32_t p);

}  // namespace internal_topics
}  // namespace kwire_broker
