// Share groups (KIP-932), the heartbeat and the assignor: see share_group.hpp.
// The durable record is in share_group_record.cpp.
#include "coordinator/share_group.hpp"

#include <algorithm>
#include <charconv>

#include "core/log.hpp"

namespace kwire_broker::share {

using kwire::ErrorCode;

std::set<std::string> Group::subscribed_names() const {
  std::set<std::string> out;
  for (auto& [_, m] : members) out.insert(m.topic_names.begin(), m.topic_names.end());
  return out;
}

Group* ShareGroups::find(const std::string& id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

const Group* ShareGroups::find(const std::string& id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

Group& ShareGroups::get_or_create(const std::string& id) {
  auto& p = groups_[id];
  if (!p) {
    p = std::make_unique<Group>();
    p->id = id;
  }
  return *p;
}

std::vector<Group*> ShareGroups::all() {
  std::vector<Group*> out;
  for (auto& [_, g] : groups_) out.push_back(g.get());
  return out;
}

bool ShareGroups::refresh_subscriptions(Group& g, const TopicView& topics) {
  std::map<std::string, TopicMeta> now;
  for (auto& n : g.subscribed_names())
    if (auto t = topics.find(n)) now.emplace(n, *t);
  if (now == g.subscribed) return false;
  g.subscribed = std::move(now);
  return true;
}

void ShareGroups::reassign(Group& g) {
  ++g.group_epoch;
  std::map<std::string, std::set<std::string>> subs;
  for (auto& [id, m] : g.members) {
    auto& s = subs[id];
    for (auto& n : m.topic_names)
      if (g.subscribed.count(n)) s.insert(n);
  }
  g.target = assign_shared(subs, g.subscribed);
  g.assignment_epoch = g.group_epoch;
}

std::int32_t Group::config_int(std::string_view name, std::int32_t fallback) const {
  auto it = configs.find(name);
  if (it == configs.end()) return fallback;
  std::int32_t v = fallback;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return ec == std::errc{} && end == it->second.data() + it->second.size() ? v : fallback;
}

HeartbeatResult ShareGroups::heartbeat(Group& g, Heartbeat hb, const TopicView& topics, Clock::time_point now) {
  HeartbeatResult r;
  r.heartbeat_interval_ms = g.config_int("share.heartbeat.interval.ms", config_.heartbeat_interval_ms);
  r.member_id = hb.member_id;
  auto fail = [&r](ErrorCode e, std::string why) {
    r.error = e;
    r.message = std::move(why);
    return r;
  };
  if (hb.member_id.empty()) return fail(ErrorCode::InvalidRequest, "MemberId can't be empty.");
  if (hb.member_epoch < -1) return fail(ErrorCode::InvalidRequest, "MemberEpoch is invalid.");
  if (hb.member_epoch == 0 && (!hb.topic_names || hb.topic_names->empty()))
    return fail(ErrorCode::InvalidRequest, "SubscribedTopicNames must be set in first request.");

  auto it = g.members.find(hb.member_id);
  if (hb.member_epoch == -1) {
    if (it == g.members.end()) return fail(ErrorCode::UnknownMemberId, "Unknown member " + hb.member_id + ".");
    KB_INFO("share group {}: member {} left", g.id, hb.member_id);
    g.members.erase(it);
    g.target.erase(hb.member_id);
    refresh_subscriptions(g, topics);
    reassign(g);
    r.member_epoch = -1;
    r.changed = true;
    return r;
  }
  if (hb.member_epoch == 0) {
    if (it == g.members.end() && g.members.size() >= static_cast<std::size_t>(config_.max_size))
      return fail(ErrorCode::GroupMaxSizeReached,
                  "The share group has reached its maximum capacity of " + std::to_string(config_.max_size) + " members.");
    if (it == g.members.end()) {
      KB_INFO("share group {}: member {} joined", g.id, hb.member_id);
      it = g.members.emplace(hb.member_id, Member{}).first;
      it->second.id = hb.member_id;
    }
  } else if (it == g.members.end()) {
    return fail(ErrorCode::UnknownMemberId, "Unknown member " + hb.member_id + ".");
  } else if (hb.member_epoch != it->second.epoch) {
    return fail(ErrorCode::FencedMemberEpoch, "The share group member has a stale member epoch " +
                                                  std::to_string(hb.member_epoch) + " (current " +
                                                  std::to_string(it->second.epoch) + ").");
  }
  Member& m = it->second;
  const std::int32_t epoch_before = hb.member_epoch;
  m.last_seen = now;
  m.client_id = hb.client_id;
  m.client_host = hb.client_host;
  bool changed = hb.member_epoch == 0;
  if (hb.rack_id && hb.rack_id != m.rack_id) {
    m.rack_id = hb.rack_id;
    changed = true;
  }
  bool subscription_changed = hb.member_epoch == 0;
  if (hb.topic_names) {
    auto names = std::move(*hb.topic_names);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names != m.topic_names) {
      m.topic_names = std::move(names);
      subscription_changed = true;
    }
  }
  // Topics created, deleted or grown since the last assignment count as a
  // change of subscription too.
  if (refresh_subscriptions(g, topics)) subscription_changed = true;
  if (subscription_changed) {
    reassign(g);
    changed = true;
  }
  // Nothing is revoked first: a share partition's records are handed out
  // one by one, so two members may read a partition for a while.
  if (m.epoch != g.assignment_epoch) {
    m.epoch = g.assignment_epoch;
    m.assigned = g.target[m.id];
    changed = true;
  }
  r.member_epoch = m.epoch;
  r.changed = changed;
  // A member learns its assignment when it joins and whenever its epoch
  // moves; otherwise the answer's null assignment means "unchanged".
  if (m.epoch != epoch_before || hb.topic_names) r.assignment = m.assigned;
  return r;
}

std::vector<std::string> ShareGroups::expire(Clock::time_point now) {
  std::vector<std::string> changed;
  for (auto& [gid, g] : groups_) {
    std::vector<std::string> gone;
    const auto session = std::chrono::milliseconds(g->config_int("share.session.timeout.ms", config_.session_timeout_ms));
    for (auto& [mid, m] : g->members)
      if (now - m.last_seen > session) gone.push_back(mid);
    if (gone.empty()) continue;
    for (auto& mid : gone) {
      KB_INFO("share group {}: member {} session expired", gid, mid);
      g->members.erase(mid);
      g->target.erase(mid);
    }
    reassign(*g);
    changed.push_back(gid);
  }
  return changed;
}

std::map<std::string, Assignment> assign_shared(const std::map<std::string, std::set<std::string>>& members,
                                               const std::map<std::string, TopicMeta>& topics) {
  std::map<std::string, Assignment> out;
  for (auto& [id, _] : members) out[id];
  for (auto& [name, t] : topics) {
    std::vector<std::string> subscribers;  // in id order: the same input gives the same answer
    for (auto& [id, names] : members)
      if (names.count(name)) subscribers.push_back(id);
    if (subscribers.empty() || t.partitions <= 0) continue;
    const auto n = static_cast<std::int64_t>(subscribers.size());
    if (n <= t.partitions) {
      for (std::int32_t p = 0; p < t.partitions; ++p) out[subscribers[static_cast<std::size_t>(p % n)]][t.id].insert(p);
    } else {
      // More members than partitions: each member reads one partition, and
      // each partition is read by several members.
      for (std::int64_t i = 0; i < n; ++i)
        out[subscribers[static_cast<std::size_t>(i)]][t.id].insert(static_cast<std::int32_t>(i % t.partitions));
    }
  }
  return out;
}

}  // namespace kwire_broker::share
