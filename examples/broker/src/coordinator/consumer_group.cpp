// Consumer groups (KIP-848): see consumer_group.hpp. Here: the groups and
// their members, leaving and static replacement, offset commit checks and
// the expiry of sessions and deadlines. The heartbeat is in
// consumer_group_heartbeat.cpp, the target assignment and reconciliation in
// consumer_group_reconcile.cpp, the assignors and regular expressions in
// consumer_assignors.cpp, the durable record in consumer_group_record.cpp,
// classic members and the migration policy in consumer_group_classic.cpp.
#include "coordinator/consumer_group.hpp"

#include <random>

#include "core/log.hpp"

namespace kwire_broker::consumer {

using kwire::ErrorCode;

std::string random_member_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string s;
  for (int i = 0; i < 22; ++i) s += alphabet[rng() & 63];
  return s;
}

std::string group_full_message(const Config& config) {
  return "The consumer group has reached its maximum capacity of " + std::to_string(config.max_size) + " members.";
}

std::string Group::state_name() const {
  if (members.empty()) return "Empty";
  if (group_epoch > assignment_epoch) return "Assigning";
  for (auto& [_, m] : members)
    if (m.epoch != assignment_epoch || m.state != MemberState::stable) return "Reconciling";
  return "Stable";
}

bool Group::uses_regex() const {
  for (auto& [_, m] : members)
    if (m.regex) return true;
  return false;
}

std::set<std::string> Group::subscribed_names() const {
  std::set<std::string> out;
  for (auto& [_, m] : members) {
    out.insert(m.topic_names.begin(), m.topic_names.end());
    if (m.regex) {
      auto it = regex_matches.find(*m.regex);
      if (it != regex_matches.end()) out.insert(it->second.begin(), it->second.end());
    }
  }
  return out;
}

Group* ConsumerGroups::find(const std::string& id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

Group& ConsumerGroups::get_or_create(const std::string& id) {
  auto& p = groups_[id];
  if (!p) {
    p = std::make_unique<Group>();
    p->id = id;
  }
  return *p;
}

std::vector<Group*> ConsumerGroups::all() {
  std::vector<Group*> out;
  for (auto& [_, g] : groups_) out.push_back(g.get());
  return out;
}

void ConsumerGroups::remove_member(Group& g, const std::string& member_id) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  if (it->second.instance_id) {
    auto s = g.static_ids.find(*it->second.instance_id);
    if (s != g.static_ids.end() && s->second == member_id) g.static_ids.erase(s);
  }
  g.members.erase(it);
  g.target.erase(member_id);
}

void ConsumerGroups::depart(Group& g, const std::string& member_id, const TopicView* topics) {
  remove_member(g, member_id);
  if (downgradable(g)) return;
  if (topics) refresh_subscriptions(g, *topics);
  g.group_epoch++;
  update_target(g);
}

Member& ConsumerGroups::replace_static(Group& g, const std::string& old_id, const std::string& new_id) {
  auto old = g.members.find(old_id);
  Member moved = std::move(old->second);
  moved.id = new_id;
  moved.left_static = false;
  // The old instance's deadlines end with it (Kafka cancels its timers).
  moved.sync_deadline.reset();
  moved.join_deadline.reset();
  g.members.erase(old);
  auto t = g.target.find(old_id);
  if (t != g.target.end()) {
    g.target[new_id] = std::move(t->second);
    g.target.erase(old_id);
  }
  if (moved.instance_id) g.static_ids[*moved.instance_id] = new_id;
  return g.members.emplace(new_id, std::move(moved)).first->second;
}

kwire::ErrorCode ConsumerGroups::check_offsets(const Group& g, const std::string& member_id, std::int32_t epoch) const {
  if (epoch < 0 && member_id.empty())
    return g.members.empty() ? ErrorCode::None : ErrorCode::UnknownMemberId;
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return ErrorCode::UnknownMemberId;
  // The epoch the member just left is still fine: a commit sent before the
  // heartbeat answer that moved it on arrives after it (clients commit
  // before they revoke, so nothing it names has moved yet). Kafka 4.3 allows
  // this too, partition by partition.
  const auto& m = it->second;
  // A classic member commits with its generation, which is its epoch; it
  // knows ILLEGAL_GENERATION, not the consumer protocol's errors.
  if (m.classic) return epoch == m.epoch ? ErrorCode::None : ErrorCode::IllegalGeneration;
  if (epoch != m.epoch && (epoch != m.previous_epoch || m.previous_epoch <= 0)) return ErrorCode::StaleMemberEpoch;
  return ErrorCode::None;
}

const char* ConsumerGroups::overdue(const Member& m, Clock::time_point now) const {
  const auto session = m.classic ? m.classic->session_timeout_ms : config_.session_timeout_ms;
  if (now - m.last_seen > std::chrono::milliseconds(session)) return "session timeout";
  if (m.state == MemberState::unrevoked_partitions && now > m.revoke_deadline) return "rebalance timeout";
  if (m.sync_deadline && now > *m.sync_deadline) return "no SyncGroup within the rebalance timeout";
  if (m.join_deadline && now > *m.join_deadline) return "no JoinGroup within the rebalance timeout";
  return nullptr;
}

std::vector<std::string> ConsumerGroups::expire(Clock::time_point now) {
  std::vector<std::string> changed;
  for (auto& [id, gp] : groups_) {
    auto& g = *gp;
    std::vector<std::string> gone;
    for (auto& [mid, m] : g.members)
      if (auto why = overdue(m, now)) {
        KB_INFO("consumer group {}: member {} fenced ({})", id, mid, why);
        gone.push_back(mid);
      }
    if (gone.empty()) continue;
    for (auto& mid : gone) remove_member(g, mid);
    // The topics are as they were at the last heartbeat: only members
    // changed. A group left with classic members only keeps its epoch for
    // the downgrade the caller makes.
    if (!downgradable(g)) {
      g.group_epoch++;
      update_target(g);
    }
    changed.push_back(id);
  }
  return changed;
}

}  // namespace kwire_broker::consumer
