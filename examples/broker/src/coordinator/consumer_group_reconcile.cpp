// Consumer groups (KIP-848), the target assignment and reconciliation: a
// new group epoch when subscriptions or topics change, the assignor's target
// for it, and each member moved towards its target one step at a time (it
// revokes first; it takes a partition only once no one else holds it). See
// consumer_group.hpp.
#include <map>
#include <string>
#include <vector>

#include "coordinator/consumer_group.hpp"

namespace kwire_broker::consumer {

namespace {

/// Whether `a` and `b` share a partition.
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

void add(Assignment& a, const TopicId& t, std::int32_t p) { a[t].insert(p); }

}  // namespace

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

void ConsumerGroups::maybe_bump(Group& g, const TopicView& topics, bool subscription_changed) {
  // The assignment depends on the subscriptions and on the topics: a change
  // to either starts a new group epoch.
  if (refresh_subscriptions(g, topics) || subscription_changed) g.group_epoch++;
  if (g.group_epoch > g.assignment_epoch) update_target(g);
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

}  // namespace kwire_broker::consumer
