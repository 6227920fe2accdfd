// Consumer groups (KIP-848), the heartbeat and reconciliation: see
// consumer_group.hpp. The assignors and regular expressions are in
// consumer_assignors.cpp, the durable record in consumer_group_record.cpp,
// classic members and the migration policy in consumer_group_classic.cpp.
#include "coordinator/consumer_group.hpp"

#include <algorithm>
#include <random>
#include <tuple>

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

namespace {

bool intersects(const Assignment& a, const Assignment& b) {
  for (auto& [t, ps] : a) {
    auto it = b.find(t);
    if (it == b.end()) continue;
    for (auto p : ps)
      if (it->second.count(p)) return true;
  }
  return false;
}

bool contains(const Assignment& a, const TopicId& t, std::int32_t p) {
  auto it = a.find(t);
  return it != a.end() && it->second.count(p) != 0;
}

bool subset(const Assignment& small, const Assignment& big) {
  for (auto& [t, ps] : small)
    for (auto p : ps)
      if (!contains(big, t, p)) return false;
  return true;
}

void add(Assignment& a, const TopicId& t, std::int32_t p) { a[t].insert(p); }

/// What of a member's state is stored: a heartbeat that changes none of it
/// needs no write.
auto durable(const Member& m) {
  return std::make_tuple(m.instance_id, m.rack_id, m.server_assignor, m.regex, m.topic_names, m.rebalance_timeout_ms, m.epoch,
                  m.previous_epoch, m.state, m.assigned, m.revoking, m.left_static, m.classic);
}

}  // namespace

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

bool ConsumerGroups::refresh_subscriptions(Group& g, const TopicView& topics) {
  if (topics.names) {
    std::map<std::string, std::vector<std::string>> matches;
    for (auto& [_, m] : g.members) {
      if (!m.regex || matches.count(*m.regex)) continue;
      auto& out = matches[*m.regex];
      for (auto& n : *topics.names)
        if (regex_matches(*m.regex, n)) out.push_back(n);
    }
    g.regex_matches = std::move(matches);
  }
  std::map<std::string, TopicMeta> now;
  for (auto& n : g.subscribed_names())
    if (auto t = topics.find(n)) now.emplace(n, *t);
  if (now == g.subscribed) return false;
  g.subscribed = std::move(now);
  return true;
}

std::string ConsumerGroups::choose_assignor(const Group& g) const {
  // The assignor most members ask for; the configured default otherwise.
  std::map<std::string, int> votes;
  for (auto& [_, m] : g.members)
    if (m.server_assignor) votes[*m.server_assignor]++;
  std::string best = config_.assignors.empty() ? std::string("uniform") : config_.assignors.front();
  int most = 0;
  for (auto& [name, n] : votes)
    if (n > most) {
      most = n;
      best = name;
    }
  return best;
}

void ConsumerGroups::update_target(Group& g) {
  Subscriptions subs;
  for (auto& [id, m] : g.members) {
    auto& s = subs[id];
    for (auto& n : m.topic_names)
      if (g.subscribed.count(n)) s.insert(n);
    if (m.regex) {
      auto it = g.regex_matches.find(*m.regex);
      if (it != g.regex_matches.end())
        for (auto& n : it->second)
          if (g.subscribed.count(n)) s.insert(n);
    }
  }
  g.assignor = choose_assignor(g);
  g.target = g.assignor == "range" ? assign_range(subs, g.subscribed) : assign_uniform(subs, g.subscribed, g.target);
  g.assignment_epoch = g.group_epoch;
}

void ConsumerGroups::reconcile(Group& g, Member& m, const std::optional<Assignment>& owned, Clock::time_point now) {
  if (m.state == MemberState::unrevoked_partitions) {
    // The member moves on only once it says it no longer owns them.
    if (!owned || intersects(*owned, m.revoking)) return;
    m.revoking.clear();
    m.state = MemberState::stable;
  }
  if (m.epoch == g.assignment_epoch && m.state == MemberState::stable) return;
  static const Assignment none;
  auto t = g.target.find(m.id);
  const Assignment& target = t == g.target.end() ? none : t->second;
  Assignment keep, lose;
  for (auto& [topic, ps] : m.assigned)
    for (auto p : ps) add(contains(target, topic, p) ? keep : lose, topic, p);
  if (!lose.empty()) {
    // Revoke first, at the current epoch; nothing new until that is done.
    m.assigned = std::move(keep);
    m.revoking = std::move(lose);
    m.state = MemberState::unrevoked_partitions;
    m.revoke_deadline = now + std::chrono::milliseconds(m.rebalance_timeout_ms);
    return;
  }
  // Nothing to revoke: the member reaches the target epoch and takes the
  // partitions no other member holds; the rest follow once released.
  bool waiting = false;
  for (auto& [topic, ps] : target) {
    for (auto p : ps) {
      if (contains(keep, topic, p)) continue;
      bool held = false;
      for (auto& [oid, o] : g.members)
        if (oid != m.id && (contains(o.assigned, topic, p) || contains(o.revoking, topic, p))) held = true;
      if (held)
        waiting = true;
      else
        add(keep, topic, p);
    }
  }
  m.assigned = std::move(keep);
  if (m.epoch != g.assignment_epoch) {
    m.previous_epoch = m.epoch;
    m.epoch = g.assignment_epoch;
  }
  m.state = waiting ? MemberState::unreleased_partitions : MemberState::stable;
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
  g.members.erase(old);
  auto t = g.target.find(old_id);
  if (t != g.target.end()) {
    g.target[new_id] = std::move(t->second);
    g.target.erase(old_id);
  }
  if (moved.instance_id) g.static_ids[*moved.instance_id] = new_id;
  return g.members.emplace(new_id, std::move(moved)).first->second;
}

void ConsumerGroups::maybe_bump(Group& g, const TopicView& topics, bool subscription_changed) {
  // The assignment depends on the subscriptions and on the topics: a change
  // to either starts a new group epoch.
  if (refresh_subscriptions(g, topics) || subscription_changed) g.group_epoch++;
  if (g.group_epoch > g.assignment_epoch) update_target(g);
}

HeartbeatResult ConsumerGroups::answer_to(const Heartbeat& hb) const {
  HeartbeatResult r;
  r.heartbeat_interval_ms = config_.heartbeat_interval_ms;
  r.member_id = hb.member_id;
  r.member_epoch = hb.member_epoch;
  return r;
}

std::optional<HeartbeatResult> ConsumerGroups::check_request(const Heartbeat& hb) const {
  HeartbeatResult r = answer_to(hb);
  auto fail = [&](ErrorCode e, std::string message) { return r.fail(e, std::move(message)); };
  const bool joining = hb.member_epoch == 0;
  if (hb.member_id.empty() && (!joining || hb.version >= 1))
    return fail(ErrorCode::InvalidRequest, "MemberId can't be empty.");
  if (hb.member_epoch < -2) return fail(ErrorCode::InvalidRequest, "MemberEpoch is invalid.");
  if (hb.member_epoch == -2 && !hb.instance_id)
    return fail(ErrorCode::InvalidRequest, "InstanceId can't be null when leaving as a static member.");
  if (joining) {
    if (hb.rebalance_timeout_ms == -1)
      return fail(ErrorCode::InvalidRequest, "RebalanceTimeoutMs must be provided in first request.");
    if (!hb.owned || !hb.owned->empty())
      return fail(ErrorCode::InvalidRequest, "TopicPartitions must be empty when (re-)joining.");
    if (!hb.topic_names && !hb.regex)
      return fail(ErrorCode::InvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
  }
  if (hb.server_assignor && !hb.server_assignor->empty() &&
      std::find(config_.assignors.begin(), config_.assignors.end(), *hb.server_assignor) == config_.assignors.end())
    return fail(ErrorCode::UnsupportedAssignor, "ServerAssignor " + *hb.server_assignor + " is not supported.");
  if (hb.regex && !hb.regex->empty()) {
    if (hb.regex->size() > config_.max_regex_size)
      return fail(ErrorCode::InvalidRegularExpression, "SubscribedTopicRegex is longer than " +
                                                           std::to_string(config_.max_regex_size) + " bytes.");
    if (!valid_regex(*hb.regex))
      return fail(ErrorCode::InvalidRegularExpression, "SubscribedTopicRegex " + *hb.regex + " is not a valid regular expression.");
  }
  return std::nullopt;
}

HeartbeatResult ConsumerGroups::heartbeat(Group& g, Heartbeat hb, const TopicView& topics, Clock::time_point now) {
  if (auto bad = check_request(hb)) return std::move(*bad);
  HeartbeatResult r = answer_to(hb);
  auto fail = [&](ErrorCode e, std::string message) { return r.fail(e, std::move(message)); };
  const bool joining = hb.member_epoch == 0;

  // Leaving.
  if (hb.member_epoch < 0) {
    std::string id = hb.member_id;
    if (hb.instance_id) {
      auto s = g.static_ids.find(*hb.instance_id);
      if (s == g.static_ids.end()) return fail(ErrorCode::UnknownMemberId, "Unknown static member.");
      if (s->second != id) return fail(ErrorCode::FencedInstanceId, "The static member was replaced.");
    }
    auto it = g.members.find(id);
    if (it == g.members.end()) return fail(ErrorCode::UnknownMemberId, "Unknown member " + id + ".");
    if (hb.member_epoch == -2) {
      // A static member going away for a while: its partitions wait for it
      // (or for its replacement) until its session times out.
      it->second.left_static = true;
      it->second.last_seen = now;
    } else {
      KB_INFO("consumer group {}: member {} left", g.id, id);
      depart(g, id, &topics);
      r.downgrade = downgradable(g);
    }
    r.changed = true;
    return r;
  }

  Member* m = nullptr;
  bool created = false;
  if (joining) {
    if (hb.instance_id) {
      auto s = g.static_ids.find(*hb.instance_id);
      if (s != g.static_ids.end() && s->second != hb.member_id) {
        auto old = g.members.find(s->second);
        if (old != g.members.end() && !old->second.left_static)
          return fail(ErrorCode::UnreleasedInstanceId,
                      "Static member with instance id " + *hb.instance_id + " is still in the group.");
        if (old != g.members.end()) {
          // The replacement takes over the old member's place and assignment.
          if (hb.member_id.empty()) hb.member_id = random_member_id();
          m = &replace_static(g, s->second, hb.member_id);
          m->classic.reset();  // it speaks the consumer protocol now
        }
      }
    }
    if (!m) {
      if (hb.member_id.empty()) hb.member_id = random_member_id();
      auto it = g.members.find(hb.member_id);
      if (it == g.members.end()) {
        if (static_cast<std::int64_t>(g.members.size()) >= config_.max_size)
          return fail(ErrorCode::GroupMaxSizeReached, "The group is full.");
        it = g.members.emplace(hb.member_id, Member{}).first;
        it->second.id = hb.member_id;
        created = true;
        KB_INFO("consumer group {}: member {} joined", g.id, hb.member_id);
      }
      m = &it->second;
      m->left_static = false;
    }
  } else {
    auto it = g.members.find(hb.member_id);
    if (it == g.members.end()) return fail(ErrorCode::UnknownMemberId, "Unknown member " + hb.member_id + ".");
    m = &it->second;
    if (hb.instance_id) {
      auto s = g.static_ids.find(*hb.instance_id);
      if (s == g.static_ids.end()) return fail(ErrorCode::UnknownMemberId, "Unknown static member.");
      if (s->second != hb.member_id) return fail(ErrorCode::FencedInstanceId, "The static member was replaced.");
    }
    // An older epoch is fine only when the member missed the answer that
    // moved it on and owns nothing it should not.
    if (hb.member_epoch > m->epoch ||
        (hb.member_epoch < m->epoch &&
         (hb.member_epoch != m->previous_epoch || !hb.owned || !subset(*hb.owned, m->assigned))))
      return fail(ErrorCode::FencedMemberEpoch, "The member epoch is fenced: the member must rejoin.");
  }

  r.member_id = hb.member_id;
  const auto group_epochs = std::make_pair(g.group_epoch, g.assignment_epoch);
  const auto before = durable(*m);
  const Assignment assigned_before = m->assigned;

  m->last_seen = now;
  if (!hb.client_id.empty()) m->client_id = hb.client_id;
  if (!hb.client_host.empty()) m->client_host = hb.client_host;
  if (hb.rack_id) m->rack_id = *hb.rack_id;
  if (hb.rebalance_timeout_ms > 0) m->rebalance_timeout_ms = hb.rebalance_timeout_ms;
  if (hb.instance_id) {
    m->instance_id = hb.instance_id;
    g.static_ids[*hb.instance_id] = m->id;
  }
  bool subscription_changed = created;
  if (hb.topic_names) {
    auto names = *hb.topic_names;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names != m->topic_names) {
      m->topic_names = std::move(names);
      subscription_changed = true;
    }
  }
  if (hb.regex) {
    std::optional<std::string> regex;
    if (!hb.regex->empty()) regex = *hb.regex;
    if (regex != m->regex) {
      m->regex = std::move(regex);
      subscription_changed = true;
    }
  }
  if (hb.server_assignor) {
    std::optional<std::string> assignor;
    if (!hb.server_assignor->empty()) assignor = *hb.server_assignor;
    if (assignor != m->server_assignor) {
      m->server_assignor = std::move(assignor);
      subscription_changed = true;
    }
  }
  maybe_bump(g, topics, subscription_changed);
  reconcile(g, *m, hb.owned, now);

  r.member_epoch = m->epoch;
  if (joining || m->assigned != assigned_before || (hb.owned && *hb.owned != m->assigned)) r.assignment = m->assigned;
  r.changed = created || before != durable(*m) || group_epochs != std::make_pair(g.group_epoch, g.assignment_epoch);
  return r;
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

std::vector<std::string> ConsumerGroups::expire(Clock::time_point now) {
  std::vector<std::string> changed;
  for (auto& [id, gp] : groups_) {
    auto& g = *gp;
    std::vector<std::string> gone;
    for (auto& [mid, m] : g.members) {
      const auto session = m.classic ? m.classic->session_timeout_ms : config_.session_timeout_ms;
      const bool session_over = now - m.last_seen > std::chrono::milliseconds(session);
      const bool revocation_over = m.state == MemberState::unrevoked_partitions && now > m.revoke_deadline;
      if (session_over || revocation_over) gone.push_back(mid);
    }
    if (gone.empty()) continue;
    for (auto& mid : gone) {
      KB_INFO("consumer group {}: member {} fenced ({})", id, mid,
              g.members.at(mid).state == MemberState::unrevoked_partitions && now > g.members.at(mid).revoke_deadline
                  ? "rebalance timeout"
                  : "session timeout");
      remove_member(g, mid);
    }
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
