// The consumer group protocol's APIs (KIP-848): ConsumerGroupHeartbeat and
// ConsumerGroupDescribe, and what the classic group handlers need to know of
// consumer groups (consumer_groups.hpp). The state machine is in
// coordinator/consumer_group.hpp; it runs on the group coordinator's strand.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "handlers/consumer_groups.hpp"
#include "handlers/group_strand.hpp"
#include "handlers/share_groups.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>

#include "core/log.hpp"
#include "kwire/messages/consumer_group_describe_request.hpp"
#include "kwire/messages/consumer_group_describe_response.hpp"
#include "kwire/messages/consumer_group_heartbeat_request.hpp"
#include "kwire/messages/consumer_group_heartbeat_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/internal_topics.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

namespace {

using namespace kwire;

std::optional<std::string> opt(const nullable_string& s) {
  if (!s) return std::nullopt;
  return std::string(*s);
}

bool same_text(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

/// The topic's name for an assignment shown to an admin.
std::string topic_name(Ctx& ctx, const consumer::Group& g, const consumer::TopicId& id) {
  for (auto& [name, t] : g.subscribed)
    if (t.id == id) return name;
  auto t = ctx.realm().store().topics().find_topic(id);
  return t ? t->name : std::string();
}

/// The broker's topics as the consumer groups see them; without the list of
/// names. Internal topics that are shown count too: Kafka's coordinator
/// subscribes and assigns from every topic of its metadata image, internal
/// ones included (a consumer asking for `__consumer_offsets` by name or by a
/// regular expression gets its partitions).
consumer::TopicView topic_view(Ctx& ctx) {
  consumer::TopicView topics;
  topics.find = [&realm = ctx.realm()](const std::string& name) -> std::optional<consumer::TopicMeta> {
    auto t = internal_topics::is_internal(name) ? internal_topics::find(realm, name)
                                                : realm.store().topics().find_topic(name);
    if (!t) return std::nullopt;
    return consumer::TopicMeta{t->name, t->id, t->partitions};
  };
  return topics;
}

asio::awaitable<void> consumer_group_heartbeat(Broker& b, Ctx& ctx, ConsumerGroupHeartbeatRequest& req,
                                               ConsumerGroupHeartbeatResponse& resp) {
  auto& c = ctx.realm().groups();
  auto& catalog = ctx.realm().store().topics();
  const std::string group(req.group_id);
  if (group.empty()) {
    resp.error_code = ctx.note(ErrorCode::InvalidRequest);
    resp.error_message = "GroupId can't be empty.";
    co_return;
  }
  // READ on the group, and DESCRIBE on every topic subscribed to by name
  // (Kafka's checks). Topics a regular expression matches are not yet
  // narrowed to those the member may describe.
  if (!allowed_on_group(b, ctx, acl::Operation::read, group)) {
    resp.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  if (req.subscribed_topic_names) {
    for (auto topic : *req.subscribed_topic_names) {
      if (!allowed_on_topic(b, ctx, acl::Operation::describe, topic)) {
        resp.error_code = ctx.note(ErrorCode::TopicAuthorizationFailed);
        resp.error_message = ctx.keep("The member is not authorized to describe topic " + std::string(topic));
        co_return;
      }
    }
  }
  if (!ctx.realm().cluster().coordinates(group)) {
    resp.error_code = ctx.note(ErrorCode::NotCoordinator);
    co_return;
  }
  consumer::Heartbeat hb;
  hb.version = ctx.version;
  hb.member_id = std::string(req.member_id);
  hb.member_epoch = req.member_epoch;
  hb.instance_id = opt(req.instance_id);
  hb.rack_id = opt(req.rack_id);
  hb.regex = opt(req.subscribed_topic_regex);
  hb.server_assignor = opt(req.server_assignor);
  hb.rebalance_timeout_ms = req.rebalance_timeout_ms;
  if (req.subscribed_topic_names) {
    hb.topic_names.emplace();
    for (auto n : *req.subscribed_topic_names) hb.topic_names->emplace_back(n);
  }
  if (req.topic_partitions) {
    hb.owned.emplace();
    for (auto& tp : *req.topic_partitions)
      for (auto p : tp.partitions) (*hb.owned)[tp.topic_id.bytes].insert(p);
  }
  hb.client_id = std::string(ctx.client_id);
  hb.client_host = "/" + ctx.session.peer.substr(0, ctx.session.peer.rfind(':'));
  const bool request_regex = hb.regex && !hb.regex->empty();
  consumer::HeartbeatResult r;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (share_group_yields(c, group, ErrorCode::GroupIdNotFound) != ErrorCode::None) {
      r.error = ErrorCode::GroupIdNotFound;
      r.message = "Group " + group + " is not a consumer group.";
      co_return;
    }
    auto topics = topic_view(ctx);
    bool upgraded = false;
    if (auto* classic = c.find(group)) {
      // A member joining a classic group that has members upgrades it
      // online, as group.consumer.migration.policy allows (Kafka answers
      // GROUP_ID_NOT_FOUND otherwise).
      if (!classic->members.empty()) {
        // A request that would be refused converts nothing.
        if (auto bad = c.consumers().check_request(hb)) {
          r = std::move(*bad);
          co_return;
        }
        const auto upgrade =
            hb.member_epoch == 0 ? c.upgrade_to_consumer(group, topics) : GroupCoordinator::Upgrade::refused;
        if (upgrade == GroupCoordinator::Upgrade::full) {
          r.fail(ErrorCode::GroupMaxSizeReached, consumer::group_full_message(c.consumers().config()));
          co_return;
        }
        upgraded = upgrade == GroupCoordinator::Upgrade::done;
        if (!upgraded) {
          r.error = ErrorCode::GroupIdNotFound;
          r.message = "Group " + group + " is not a consumer group.";
          co_return;
        }
      } else {
        c.remove_group(group);  // an empty classic group: the id turns into a consumer group
      }
    }
    const auto* before = c.consumers().find(group);
    if (request_regex || (before && before->uses_regex())) {
      // Regexes are matched against every topic at each heartbeat of the
      // group's members, so topics created later join the subscription.
      auto listed = co_await catalog.list_topics();
      if (listed.ok()) {
        topics.names.emplace();
        for (auto& t : listed.value)
          if (!internal_topics::is_internal(t.name)) topics.names->push_back(t.name);
        if (auto offsets = internal_topics::group_offsets_topic(ctx.realm())) topics.names->push_back(offsets->name);
      }
    }
    auto& g = c.consumers().get_or_create(group);
    r = c.consumers().heartbeat(g, std::move(hb), topics, c.now());
    if (g.members.empty() && g.group_epoch == 0) {
      c.consumers().remove(group);  // a join that failed leaves nothing behind
      co_return;
    }
    if (r.changed || upgraded) co_await store_consumer_group(c, group);
  });
  resp.error_code = ctx.note(r.error);
  if (r.error != ErrorCode::None) {
    resp.error_message = ctx.keep(r.message);
    co_return;
  }
  resp.member_id = ctx.keep(r.member_id);
  resp.member_epoch = r.member_epoch;
  resp.heartbeat_interval_ms = r.heartbeat_interval_ms;
  if (r.assignment) {
    auto& a = resp.assignment.emplace();
    for (auto& [topic, ps] : *r.assignment) {
      if (ps.empty()) continue;
      auto& tp = a.topic_partitions.emplace_back();
      tp.topic_id.bytes = topic;
      tp.partitions.assign(ps.begin(), ps.end());
    }
  }
}

asio::awaitable<void> consumer_group_describe(Broker& b, Ctx& ctx, ConsumerGroupDescribeRequest& req,
                                              ConsumerGroupDescribeResponse& resp) {
  auto& c = ctx.realm().groups();
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    for (auto id : req.group_ids) {
      auto& dg = resp.groups.emplace_back();
      dg.group_id = id;
      const std::string gid(id);
      if (!allowed_on_group(b, ctx, acl::Operation::describe, gid)) {
        dg.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
        continue;
      }
      if (!ctx.realm().cluster().coordinates(gid)) {
        dg.error_code = ctx.note(ErrorCode::NotCoordinator);
        continue;
      }
      auto* g = c.consumers().find(gid);
      if (!g) {
        dg.error_code = ctx.note(ErrorCode::GroupIdNotFound);
        dg.error_message = ctx.keep(c.find(gid) ? "Group " + gid + " is not a consumer group."
                                                : "Group " + gid + " not found.");
        continue;
      }
      dg.group_state = ctx.keep(g->state_name());
      dg.group_epoch = g->group_epoch;
      dg.assignment_epoch = g->assignment_epoch;
      dg.assignor_name = ctx.keep(g->assignor.empty() ? c.consumers().config().assignors.front() : g->assignor);
      auto fill = [&](ConsumerGroupDescribeResponse::Assignment& out, const consumer::Assignment& a) {
        for (auto& [topic, ps] : a) {
          if (ps.empty()) continue;
          auto& tp = out.topic_partitions.emplace_back();
          tp.topic_id.bytes = topic;
          tp.topic_name = ctx.keep(topic_name(ctx, *g, topic));
          tp.partitions.assign(ps.begin(), ps.end());
        }
      };
      for (auto& [mid, m] : g->members) {
        auto& dm = dg.members.emplace_back();
        dm.member_id = ctx.keep(mid);
        if (m.instance_id) dm.instance_id = ctx.keep(*m.instance_id);
        if (m.rack_id) dm.rack_id = ctx.keep(*m.rack_id);
        dm.member_epoch = m.left_static ? -2 : m.epoch;
        dm.client_id = ctx.keep(m.client_id);
        dm.client_host = ctx.keep(m.client_host);
        for (auto& n : m.topic_names) dm.subscribed_topic_names.push_back(ctx.keep(n));
        if (m.regex) dm.subscribed_topic_regex = ctx.keep(*m.regex);
        fill(dm.assignment, m.assigned);
        auto t = g->target.find(mid);
        if (t != g->target.end()) fill(dm.target_assignment, t->second);
        if (ctx.version >= 1) dm.member_type = m.classic ? 0 : 1;  // of the classic or the consumer protocol
      }
      if (req.include_authorized_operations) dg.authorized_operations = 0b0000'0011'1010'1000;
    }
    co_return;
  });
}

}  // namespace

asio::awaitable<void> store_consumer_group(GroupCoordinator& c, std::string id, bool downgrade_rebalances) {
  auto* g = c.consumers().find(id);
  if (!g) co_return;
  auto record = c.consumers().downgradable(*g) ? c.downgrade_to_classic(id, downgrade_rebalances)
                                               : consumer::ConsumerGroups::record_of(*g);
  co_await c.persist(std::move(id), std::move(record));
}

asio::awaitable<std::optional<GroupCoordinator::JoinResult>> join_consumer_group(GroupCoordinator& c, Ctx& ctx,
                                                                                 std::string id,
                                                                                 GroupCoordinator::Member m,
                                                                                 bool require_known_member_id) {
  auto* g = c.consumers().find(id);
  if (!g) co_return std::nullopt;
  if (g->members.empty()) {
    c.consumers().remove(id);  // an empty consumer group: the id turns into a classic group
    co_return std::nullopt;
  }
  consumer::ClassicJoin join;
  join.member_id = std::move(m.id);
  join.instance_id = std::move(m.instance_id);
  join.client_id = std::move(m.client_id);
  join.client_host = "/" + m.client_host;
  join.protocol_type = std::move(m.protocol_type);
  join.session_timeout_ms = m.session_timeout_ms;
  join.rebalance_timeout_ms = m.rebalance_timeout_ms;
  join.protocols = std::move(m.protocols);
  join.require_known_member_id = require_known_member_id;
  auto r = c.consumers().classic_join(*g, std::move(join), topic_view(ctx), c.now());
  GroupCoordinator::JoinResult out{r.error};
  out.member_id = r.member_id;
  if (r.error == ErrorCode::None) {
    out.generation = r.generation;
    out.protocol_type = "consumer";
    out.protocol = r.protocol;
  }
  if (r.changed) co_await store_consumer_group(c, std::move(id), r.downgrade_rebalances);
  co_return out;
}

std::optional<GroupCoordinator::SyncResult> sync_consumer_group(GroupCoordinator& c, const std::string& id,
                                                                const std::string& member_id, std::int32_t generation,
                                                                const std::optional<std::string>& instance_id,
                                                                const std::optional<std::string>& protocol_type,
                                                                const std::optional<std::string>& protocol_name) {
  auto* g = c.consumers().find(id);
  if (!g) return std::nullopt;
  auto r = c.consumers().classic_sync(*g, member_id, generation, instance_id, protocol_type, protocol_name, c.now());
  if (r.error != ErrorCode::None) return GroupCoordinator::SyncResult{r.error};
  return GroupCoordinator::SyncResult{r.error, "consumer", r.protocol, std::move(r.assignment)};
}

std::optional<kwire::ErrorCode> heartbeat_consumer_group(GroupCoordinator& c, const std::string& id,
                                                         const std::string& member_id, std::int32_t generation,
                                                         const std::optional<std::string>& instance_id) {
  auto* g = c.consumers().find(id);
  if (!g) return std::nullopt;
  return c.consumers().classic_heartbeat(*g, member_id, generation, instance_id, c.now());
}

std::optional<kwire::ErrorCode> leave_consumer_group(GroupCoordinator& c, const std::string& id,
                                                     const std::string& member_id,
                                                     const std::optional<std::string>& instance_id) {
  auto* g = c.consumers().find(id);
  if (!g) return std::nullopt;
  return c.consumers().classic_leave(*g, member_id, instance_id);
}

std::optional<kwire::ErrorCode> check_consumer_offsets(GroupCoordinator& c, const std::string& id,
                                                       const std::string& member_id, std::int32_t epoch) {
  auto* g = c.consumers().find(id);
  if (!g) return std::nullopt;
  return c.consumers().check_offsets(*g, member_id, epoch);
}

bool lists_classic_groups(const kwire::ListGroupsRequest& req) {
  if (req.types_filter.empty()) return true;
  for (auto t : req.types_filter)
    if (same_text(t, "classic")) return true;
  return false;
}

void list_consumer_groups(GroupCoordinator& c, Ctx& ctx, const kwire::ListGroupsRequest& req,
                          kwire::ListGroupsResponse& resp) {
  if (!req.types_filter.empty()) {
    bool wanted = false;
    for (auto t : req.types_filter)
      if (same_text(t, "consumer")) wanted = true;
    if (!wanted) return;
  }
  for (auto* g : c.consumers().all()) {
    const auto state = g->state_name();
    if (!req.states_filter.empty()) {
      bool match = false;
      for (auto s : req.states_filter)
        if (same_text(s, state)) match = true;
      if (!match) continue;
    }
    auto& lg = resp.groups.emplace_back();
    lg.group_id = ctx.keep(g->id);
    lg.protocol_type = "consumer";
    lg.group_state = ctx.keep(state);
    lg.group_type = "consumer";
  }
}

bool describe_as_classic(GroupCoordinator& c, Ctx& ctx, const std::string& id,
                         kwire::DescribeGroupsResponse::DescribedGroup& out) {
  if (!c.consumers().find(id)) return false;
  // Kafka describes only classic groups (and members) with DescribeGroups.
  out.group_state = "Dead";
  if (ctx.version >= 6) {
    out.error_code = ctx.note(ErrorCode::GroupIdNotFound);
    out.error_message = ctx.keep("Group " + id + " is not a classic group.");
  }
  return true;
}

std::optional<kwire::ErrorCode> forget_consumer_group(GroupCoordinator& c, const std::string& id) {
  auto* g = c.consumers().find(id);
  if (!g) return std::nullopt;
  if (!g->members.empty()) return ErrorCode::NonEmptyGroup;
  c.consumers().remove(id);
  return ErrorCode::None;
}

std::optional<std::set<std::string>> consumer_group_topics(GroupCoordinator& c, const std::string& id) {
  auto* g = c.consumers().find(id);
  if (!g) return std::nullopt;
  return g->subscribed_names();
}

std::vector<HandlerEntry> consumer_group_handlers() {
  return {
      handler<ConsumerGroupHeartbeatRequest, consumer_group_heartbeat>(0, 1),
      handler<ConsumerGroupDescribeRequest, consumer_group_describe>(0, 1),
  };
}

}  // namespace kwire_broker
