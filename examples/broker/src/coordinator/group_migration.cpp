// KIP-848's online upgrade and downgrade between a classic group and a
// consumer group (see group_coordinator.hpp). A ConsumerGroupHeartbeat that
// joins a non-empty classic group upgrades it: the classic members become
// classic members of a consumer group, and the new member's arrival starts
// a new epoch. When the last member of the consumer protocol leaves a group
// that still has classic members, it goes back to a classic group and
// rebalances. Committed offsets are kept by group id apart from either
// record, so both conversions leave them as they are.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <algorithm>

#include "coordinator/consumer_protocol.hpp"
#include "coordinator/group_coordinator.hpp"
#include "core/log.hpp"

namespace kwire_broker {

GroupCoordinator::Upgrade GroupCoordinator::upgrade_to_consumer(const std::string& id,
                                                                const consumer::TopicView& topics) {
  auto* classic = find(id);
  if (!classic) return Upgrade::refused;
  const auto& config = consumers_.config();
  auto refuse = [&](const char* why) {
    KB_INFO("group {}: not upgraded to a consumer group: {}", id, why);
    return Upgrade::refused;
  };
  if (!consumer::upgrade_allowed(config.migration)) return refuse("group.consumer.migration.policy forbids it");
  if (classic->protocol_type != "consumer") return refuse("it does not use the consumer's embedded protocol");
  if (static_cast<std::int64_t>(classic->members.size()) > config.max_size)
    return refuse("it has more members than group.consumer.max.size");
  // Kafka converts it, then finds no room for the member that asked: the
  // heartbeat fails and the group stays as it was.
  if (static_cast<std::int64_t>(classic->members.size()) == config.max_size) return Upgrade::full;

  consumer::Group g;
  g.id = id;
  g.group_epoch = g.assignment_epoch = classic->generation;
  const auto now = this->now();
  for (auto& [mid, m] : classic->members) {
    const Bytes* metadata = m.metadata_for(classic->protocol);
    if (!metadata && !m.protocols.empty()) metadata = &m.protocols.front().second;
    auto sub = metadata ? consumer::decode_subscription(*metadata) : std::nullopt;
    if (!sub) return refuse("a member's subscription does not decode");
    consumer::Member cm;
    cm.id = mid;
    cm.instance_id = m.instance_id;
    cm.rack_id = sub->rack_id;
    cm.client_id = m.client_id;
    cm.client_host = "/" + m.client_host;
    cm.topic_names = sub->topics;
    std::sort(cm.topic_names.begin(), cm.topic_names.end());
    cm.topic_names.erase(std::unique(cm.topic_names.begin(), cm.topic_names.end()), cm.topic_names.end());
    cm.rebalance_timeout_ms = m.rebalance_timeout_ms;
    cm.epoch = classic->generation;
    cm.classic = consumer::ClassicProtocol{m.session_timeout_ms, m.protocols};
    cm.last_seen = now;
    // What the member was given in the last SyncGroup is what it owns.
    if (auto assigned = consumer::decode_assignment(m.assignment))
      for (auto& [name, ps] : *assigned)
        if (auto t = topics.find(name)) cm.assigned[t->id].insert(ps.begin(), ps.end());
    g.target[mid] = cm.assigned;
    if (cm.instance_id) g.static_ids[*cm.instance_id] = mid;
    g.members.emplace(mid, std::move(cm));
  }
  for (auto& name : g.subscribed_names())
    if (auto t = topics.find(name)) g.subscribed.emplace(name, *t);
  g.assignor = config.assignors.empty() ? std::string("uniform") : config.assignors.front();

  // Members waiting in the classic group's JoinGroup or SyncGroup rejoin:
  // the consumer group has a new rebalance for them.
  for (auto& [_, m] : classic->members) {
    if (m.join) m.join->set(JoinResult{kwire::ErrorCode::RebalanceInProgress});
    if (m.sync) m.sync->set(SyncResult{kwire::ErrorCode::RebalanceInProgress});
  }
  KB_INFO("group {}: upgraded from a classic group at generation {} with {} member(s)", id, classic->generation,
          classic->members.size());
  remove_group(id);
  consumers_.get_or_create(id) = std::move(g);
  return Upgrade::done;
}

GroupCoordinator::Bytes GroupCoordinator::downgrade_to_classic(const std::string& id, bool rebalance) {
  auto* cg = consumers_.find(id);
  Group g;
  g.id = id;
  g.generation = cg->group_epoch;
  g.protocol_type = "consumer";
  const auto now = this->now();
  for (auto& [mid, m] : cg->members) {
    Member cm;
    cm.id = mid;
    cm.instance_id = m.instance_id;
    cm.client_id = m.client_id;
    cm.client_host = m.client_host.starts_with('/') ? m.client_host.substr(1) : m.client_host;
    cm.protocol_type = "consumer";
    cm.protocols = m.classic->protocols;
    cm.session_timeout_ms = m.classic->session_timeout_ms;
    cm.rebalance_timeout_ms = m.rebalance_timeout_ms;
    // Each member's target is its assignment in the classic group, as Kafka
    // converts it: a group that does not rebalance goes on with it.
    auto target = cg->target.find(mid);
    cm.assignment = consumer::encode_assignment(
        cg->names_of(target == cg->target.end() ? consumer::Assignment{} : target->second));
    cm.last_seen = now;
    if (cm.instance_id) g.static_ids[*cm.instance_id] = mid;
    g.members.emplace(mid, std::move(cm));
  }
  g.leader = g.members.begin()->first;
  g.protocol = common_protocol(g);
  g.state = State::stable;
  KB_INFO("group {}: downgraded to a classic group at generation {} with {} member(s)", id, g.generation,
          g.members.size());
  consumers_.remove(id);
  auto& classic = get_or_create(id);
  classic = std::move(g);
  // The members learn of the rebalance from their next Heartbeat.
  if (rebalance) prepare_rebalance(classic, "downgraded from the consumer protocol");
  return record_of(classic);
}

}  // namespace kwire_broker
