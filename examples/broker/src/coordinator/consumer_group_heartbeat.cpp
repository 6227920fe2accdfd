// Consumer groups (KIP-848), ConsumerGroupHeartbeat: the request's checks,
// joining, leaving (for good or, static, for a while), epoch fencing and the
// answer; see consumer_group.hpp.
#include <algorithm>
#include <tuple>

#include "coordinator/consumer_group.hpp"
#include "core/log.hpp"

namespace kwire_broker::consumer {

using kwire::ErrorCode;

namespace {

/// Whether every partition of `small` is in `big`.
bool subset(const Assignment& small, const Assignment& big) {
  for (auto& [t, ps] : small) {
    auto it = big.find(t);
    for (auto p : ps)
      if (it == big.end() || !it->second.count(p)) return false;
  }
  return true;
}

/// What of a member's state is stored: a heartbeat that changes none of it
/// needs no write.
auto durable(const Member& m) {
  return std::make_tuple(m.instance_id, m.rack_id, m.server_assignor, m.regex, m.topic_names, m.rebalance_timeout_ms, m.epoch,
                  m.previous_epoch, m.state, m.assigned, m.revoking, m.left_static, m.classic);
}

}  // namespace

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
          return fail(ErrorCode::GroupMaxSizeReached, group_full_message(config_));
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

}  // namespace kwire_broker::consumer
