#include "protocol/internal_topics.hpp"

#include <cstring>

#include "core/broker.hpp"
#include "core/cluster.hpp"

namespace kwire_broker::internal_topics {
namespace {

/// A topic id stable across restarts and gateways, and different per
/// namespace: the topic is not stored, so its id is derived from its name.
storage::TopicId derived_id(const storage::Namespace& ns, std::string_view topic) {
  std::uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};  // two FNV-1a lanes
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h[0] = (h[0] ^ c) * 0x100000001b3ull;
      h[1] = (h[1] ^ static_cast<unsigned char>(c + 0x5b)) * 0x100000001b3ull;
    }
    h[0] = (h[0] ^ 0x2f) * 0x100000001b3ull;
    h[1] = (h[1] ^ 0x2f) * 0x100000001b3ull;
  };
  mix(ns.tenant);
  mix(ns.ns);
  mix(topic);
  storage::TopicId id{};
  std::memcpy(id.data(), h, sizeof h);
  return id;
}

storage::TopicInfo offsets_info(Realm& realm) {
  storage::TopicInfo t;
  t.name = std::string(group_offsets);
  t.id = derived_id(realm.ns(), group_offsets);
  t.partitions = realm.store().groups().shard_count();
  // What Kafka sets on its offsets topic and a client may look at.
  t.configs = {{"cleanup.policy", "compact"}, {"compression.type", "producer"}};
  return t;
}

}  // namespace

std::optional<storage::TopicInfo> group_offsets_topic(Realm& realm, bool materialize) {
  if (materialize) realm.show_group_offsets_topic();
  if (!realm.group_offsets_topic_shown()) return std::nullopt;
  return offsets_info(realm);
}

std::optional<storage::TopicInfo> find(Realm& realm, std::string_view name) {
  if (name != group_offsets) return std::nullopt;
  return group_offsets_topic(realm);
}

std::optional<storage::TopicInfo> find_by_id(Realm& realm, const storage::TopicId& id) {
  if (id != derived_id(realm.ns(), group_offsets)) return std::nullopt;
  return group_offsets_topic(realm);
}

std::int32_t leader_shown(const ClusterView& view, std::string_view topic, std::int32_t p) {
  if (topic == group_offsets) return view.coordinator_of_shard(p);
  return view.leader_of({std::string(topic), p});
}

}  // namespace kwire_broker::internal_topics
