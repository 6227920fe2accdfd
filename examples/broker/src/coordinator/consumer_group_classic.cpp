// Members of the classic protocol inside a consumer group (KIP-848's online
// upgrade and downgrade; see consumer_group.hpp). They keep their protocol:
// JoinGroup tells the coordinator what they subscribe to and still own (the
// ConsumerProtocolSubscription of their first protocol) and answers at once
// with the member's epoch as generation; SyncGroup hands them what they may
// consume now, a ConsumerProtocolAssignment; Heartbeat says
// REBALANCE_IN_PROGRESS when the target moved on, so that they rejoin.
#include <algorithm>

#include "coordinator/consumer_group.hpp"
#include "core/log.hpp"

namespace kwire_broker::consumer {

using kwire::ErrorCode;

namespace {

/// The partitions of `a` that are also in `owned`.
Assignment owned_part(const Assignment& a, const Assignment& owned) {
  Assignment out;
  for (auto& [topic, ps] : a) {
    auto it = owned.find(topic);
    if (it == owned.end()) continue;
    for (auto p : ps)
      if (it->second.count(p)) out[topic].insert(p);
  }
  return out;
}

/// Whether a partition the member waits for (in its target, not assigned)
/// is now held by no one: it rejoins to take it.
bool can_take_more(const Group& g, const Member& m) {
  auto t = g.target.find(m.id);
  if (t == g.target.end()) return false;
  for (auto& [topic, ps] : t->second) {
    for (auto p : ps) {
      auto mine = m.assigned.find(topic);
      if (mine != m.assigned.end() && mine->second.count(p)) continue;
      bool held = false;
      for (auto& [_, o] : g.members) {
        auto a = o.assigned.find(topic), r = o.revoking.find(topic);
        if ((a != o.assigned.end() && a->second.count(p)) || (r != o.revoking.end() && r->second.count(p))) held = true;
      }
      if (!held) return true;
    }
  }
  return false;
}

/// A classic member told to rejoin must do so within its rebalance timeout
/// (Kafka's join timeout, started by the first such answer only).
void expect_rejoin(Member& m, Clock::time_point now) {
  if (!m.join_deadline) m.join_deadline = now + std::chrono::milliseconds(m.rebalance_timeout_ms);
}

/// The classic member `member_id` (or the static member `instance_id`
/// stands for); an error when there is none or it was replaced.
ErrorCode find_classic(Group& g, const std::string& member_id, const std::optional<std::string>& instance_id,
                       Member*& out) {
  if (instance_id) {
    auto s = g.static_ids.find(*instance_id);
    if (s != g.static_ids.end() && s->second != member_id) return ErrorCode::FencedInstanceId;
  }
  auto it = g.members.find(member_id);
  if (it == g.members.end() || !it->second.classic) return ErrorCode::UnknownMemberId;
  out = &it->second;
  return ErrorCode::None;
}

}  // namespace

std::optional<MigrationPolicy> migration_policy_of(std::string_view name) {
  if (name == "bidirectional") return MigrationPolicy::bidirectional;
  if (name == "upgrade") return MigrationPolicy::upgrade;
  if (name == "downgrade") return MigrationPolicy::downgrade;
  if (name == "disabled") return MigrationPolicy::disabled;
  return std::nullopt;
}

NamedPartitions Group::names_of(const Assignment& a) const {
  NamedPartitions out;
  for (auto& [topic, ps] : a) {
    if (ps.empty()) continue;
    for (auto& [name, t] : subscribed)
      if (t.id == topic) out[name].insert(ps.begin(), ps.end());
  }
  return out;
}

bool ConsumerGroups::downgradable(const Group& g) const {
  if (g.members.empty() || !downgrade_allowed(config_.migration)) return false;
  // Kafka keeps a group too big for a classic group as it is.
  if (static_cast<std::int64_t>(g.members.size()) > config_.classic_max_size) return false;
  for (auto& [_, m] : g.members)
    if (!m.classic) return false;
  return true;
}

ClassicJoinResult ConsumerGroups::classic_join(Group& g, ClassicJoin join, const TopicView& topics,
                                               Clock::time_point now) {
  ClassicJoinResult r;
  r.member_id = join.member_id;
  // Only the consumer's embedded protocol maps onto a consumer group.
  std::optional<Subscription> sub;
  if (join.protocol_type == "consumer" && !join.protocols.empty()) sub = decode_subscription(join.protocols.front().second);
  // And it must share a protocol (an assignor's name) with every other
  // classic member, as it would in a classic group.
  auto shared = [&](const std::string& name) {
    for (auto& [id, o] : g.members) {
      if (!o.classic || id == join.member_id) continue;
      bool has = false;
      for (auto& [n, _] : o.classic->protocols) has = has || n == name;
      if (!has) return false;
    }
    return true;
  };
  bool common = false;
  for (auto& [name, _] : join.protocols) common = common || shared(name);
  if (!sub || !common) {
    r.error = ErrorCode::InconsistentGroupProtocol;
    return r;
  }
  const bool unknown = join.member_id.empty();
  if (unknown) r.member_id = join.member_id = random_member_id();
  if (unknown && join.require_known_member_id && !join.instance_id) {
    r.error = ErrorCode::MemberIdRequired;
    return r;
  }
  Member* m = nullptr;
  bool created = false, replaced = false;
  if (join.instance_id) {
    auto s = g.static_ids.find(*join.instance_id);
    if (s != g.static_ids.end() && s->second != join.member_id) {
      // A static member restarted under a new member id takes its old
      // place; a known member id that is not the static member's is fenced.
      if (!unknown) {
        r.error = ErrorCode::FencedInstanceId;
        return r;
      }
      m = &replace_static(g, s->second, join.member_id);
      replaced = true;
    }
  }
  if (!m) {
    auto it = g.members.find(join.member_id);
    if (it == g.members.end()) {
      if (static_cast<std::int64_t>(g.members.size()) >= config_.max_size) {
        r.error = ErrorCode::GroupMaxSizeReached;
        return r;
      }
      it = g.members.emplace(join.member_id, Member{}).first;
      it->second.id = join.member_id;
      created = true;
      KB_INFO("consumer group {}: classic member {} joined", g.id, join.member_id);
    }
    m = &it->second;
    // A member of the consumer protocol does not speak JoinGroup.
    if (!created && !m->classic) {
      r.error = ErrorCode::UnknownMemberId;
      return r;
    }
  }
  m->left_static = false;
  m->last_seen = now;
  m->client_id = join.client_id;
  m->client_host = join.client_host;
  if (join.rebalance_timeout_ms > 0) m->rebalance_timeout_ms = join.rebalance_timeout_ms;
  r.protocol = join.protocols.front().first;
  m->classic = ClassicProtocol{join.session_timeout_ms, std::move(join.protocols)};
  if (join.instance_id) {
    m->instance_id = join.instance_id;
    g.static_ids[*join.instance_id] = m->id;
  }
  m->rack_id = sub->rack_id;
  auto names = sub->topics;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // The topics make the subscription; the server-side assignor a member of
  // the consumer protocol chose stays (Kafka leaves it as it was).
  const bool subscription_changed = created || names != m->topic_names || m->regex;
  m->topic_names = std::move(names);
  m->regex.reset();
  const auto epoch_before = g.group_epoch;
  maybe_bump(g, topics, subscription_changed);

  // The member owns what its subscription lists (a cooperative consumer
  // keeps partitions across a rejoin; an eager one gave up everything).
  Assignment owned;
  for (auto& [name, ps] : sub->owned)
    if (auto t = topics.find(name)) owned[t->id].insert(ps.begin(), ps.end());
  m->assigned = owned_part(m->assigned, owned);
  // A rejoin is the classic member's only chance to take partitions: it is
  // reconciled even when it is at the target epoch already.
  if (m->state == MemberState::stable) m->state = MemberState::unreleased_partitions;
  reconcile(g, *m, owned, now);
  r.generation = m->epoch;
  r.changed = true;
  // A static member's replacement that started no new epoch leaves the
  // assignment as it is: a downgrade it causes needs no rebalance (Kafka 4
  // rebalances then only for a stale assignment, a new epoch).
  r.downgrade_rebalances = !replaced || g.group_epoch != epoch_before;
  // The rejoin it was asked for is done; its SyncGroup is due within the
  // rebalance timeout (Kafka's sync timeout).
  m->join_deadline.reset();
  m->sync_deadline = now + std::chrono::milliseconds(m->rebalance_timeout_ms);
  return r;
}

ClassicSyncResult ConsumerGroups::classic_sync(Group& g, const std::string& member_id, std::int32_t generation,
                                               const std::optional<std::string>& instance_id,
                                               const std::optional<std::string>& protocol_type,
                                               const std::optional<std::string>& protocol_name, Clock::time_point now) {
  ClassicSyncResult r;
  Member* m = nullptr;
  if (r.error = find_classic(g, member_id, instance_id, m); r.error != ErrorCode::None) return r;
  if (generation != m->epoch) {
    r.error = ErrorCode::IllegalGeneration;
    return r;
  }
  r.protocol = m->classic->protocols.front().first;
  if ((protocol_type && *protocol_type != "consumer") || (protocol_name && *protocol_name != r.protocol)) {
    r.error = ErrorCode::InconsistentGroupProtocol;
    return r;
  }
  // A new epoch started since its JoinGroup: it rejoins first, unless it is
  // still revoking (its next rejoin then catches up), as Kafka has it.
  if (g.group_epoch > m->epoch && m->state != MemberState::unrevoked_partitions) {
    expect_rejoin(*m, now);
    r.error = ErrorCode::RebalanceInProgress;
    return r;
  }
  m->last_seen = now;
  m->sync_deadline.reset();
  r.assignment = encode_assignment(g.names_of(m->assigned));
  return r;
}

ErrorCode ConsumerGroups::classic_heartbeat(Group& g, const std::string& member_id, std::int32_t generation,
                                            const std::optional<std::string>& instance_id, Clock::time_point now) {
  Member* m = nullptr;
  if (auto e = find_classic(g, member_id, instance_id, m); e != ErrorCode::None) return e;
  m->last_seen = now;
  if (generation != m->epoch) return ErrorCode::IllegalGeneration;
  // A new target, partitions to give up, or partitions now free to take:
  // the member rejoins to be reconciled.
  if (m->epoch < g.assignment_epoch || m->state == MemberState::unrevoked_partitions ||
      (m->state == MemberState::unreleased_partitions && can_take_more(g, *m))) {
    expect_rejoin(*m, now);
    return ErrorCode::RebalanceInProgress;
  }
  return ErrorCode::None;
}

ErrorCode ConsumerGroups::classic_leave(Group& g, const std::string& member_id,
                                        const std::optional<std::string>& instance_id) {
  std::string id = member_id;
  if (instance_id) {
    auto s = g.static_ids.find(*instance_id);
    if (s == g.static_ids.end()) return ErrorCode::UnknownMemberId;
    if (!member_id.empty() && s->second != member_id) return ErrorCode::FencedInstanceId;
    id = s->second;
  }
  if (!g.members.count(id)) return ErrorCode::UnknownMemberId;
  KB_INFO("consumer group {}: member {} left (LeaveGroup)", g.id, id);
  depart(g, id, nullptr);
  return ErrorCode::None;
}

}  // namespace kwire_broker::consumer
