// Share groups' membership APIs (KIP-932): ShareGroupHeartbeat and
// ShareGroupDescribe, and what the other group handlers need to know of
// share groups (share_groups.hpp). The state machine is in
// coordinator/share_group.hpp; it runs on the group coordinator's strand.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "handlers/share_groups.hpp"
#include "handlers/group_strand.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>

#include "kwire/messages/share_group_describe_request.hpp"
#include "kwire/messages/share_group_describe_response.hpp"
#include "kwire/messages/share_group_heartbeat_request.hpp"
#include "kwire/messages/share_group_heartbeat_response.hpp"
#include "protocol/internal_topics.hpp"
#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

namespace {

using namespace kwire;

bool same_text(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

/// The topic's name for an assignment shown to an admin.
std::string topic_name(Ctx& ctx, const share::Group& g, const storage::TopicId& id) {
  for (auto& [name, t] : g.subscribed)
    if (t.id == id) return name;
  auto t = ctx.realm().store().topics().find_topic(id);
  return t ? t->name : std::string();
}

/// Removes an empty classic or consumer group of id `group` so that the id
/// can become a share group; false when one with members holds it.
bool take_over_id(GroupCoordinator& c, const std::string& group) {
  if (auto* classic = c.find(group)) {
    if (!classic->members.empty()) return false;
    c.remove_group(group);
  }
  if (auto* cg = c.consumers().find(group)) {
    if (!cg->members.empty()) return false;
    c.consumers().remove(group);
  }
  return true;
}

asio::awaitable<void> share_group_heartbeat(Broker& b, Ctx& ctx, ShareGroupHeartbeatRequest& req,
                                            ShareGroupHeartbeatResponse& resp) {
  auto& c = ctx.realm().groups();
  auto& catalog = ctx.realm().store().topics();
  const std::string group(req.group_id);
  if (group.empty()) {
    resp.error_code = ctx.note(ErrorCode::InvalidRequest);
    resp.error_message = "GroupId can't be empty.";
    co_return;
  }
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
  share::Heartbeat hb;
  hb.member_id = std::string(req.member_id);
  hb.member_epoch = req.member_epoch;
  if (req.rack_id) hb.rack_id = std::string(*req.rack_id);
  if (req.subscribed_topic_names) {
    hb.topic_names.emplace();
    for (auto n : *req.subscribed_topic_names) hb.topic_names->emplace_back(n);
  }
  hb.client_id = std::string(ctx.client_id);
  hb.client_host = "/" + ctx.session.peer.substr(0, ctx.session.peer.rfind(':'));
  share::HeartbeatResult r;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (!c.shares().find(group) && !take_over_id(c, group)) {
      r.error = ErrorCode::GroupIdNotFound;
      r.message = "Group " + group + " is not a share group.";
      co_return;
    }
    consumer::TopicView topics;
    topics.find = [&catalog](const std::string& name) -> std::optional<consumer::TopicMeta> {
      if (internal_topics::is_internal(name)) return std::nullopt;
      auto t = catalog.find_topic(name);
      if (!t) return std::nullopt;
      return consumer::TopicMeta{t->name, t->id, t->partitions};
    };
    auto& g = c.shares().get_or_create(group);
    r = c.shares().heartbeat(g, std::move(hb), topics, c.now());
    if (g.members.empty() && g.group_epoch == 0) {
      c.shares().remove(group);  // a join that failed leaves nothing behind
      co_return;
    }
    if (r.member_epoch == -1) c.end_share_sessions_of_departed();
    if (!r.changed) co_return;
    auto record = share::ShareGroups::record_of(g);
    std::string id = group;  // named: g++ 12 mishandles temporaries in co_await
    co_await c.persist(std::move(id), std::move(record));
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

asio::awaitable<void> share_group_describe(Broker& b, Ctx& ctx, ShareGroupDescribeRequest& req,
                                           ShareGroupDescribeResponse& resp) {
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
      auto* g = c.shares().find(gid);
      if (!g) {
        dg.error_code = ctx.note(ErrorCode::GroupIdNotFound);
        dg.error_message = ctx.keep(c.find(gid) || c.consumers().find(gid) ? "Group " + gid + " is not a share group."
                                                                           : "Group " + gid + " not found.");
        continue;
      }
      dg.group_state = ctx.keep(g->state_name());
      dg.group_epoch = g->group_epoch;
      dg.assignment_epoch = g->assignment_epoch;
      dg.assignor_name = "simple";  // Kafka's name for the share groups' assignor
      for (auto& [mid, m] : g->members) {
        auto& dm = dg.members.emplace_back();
        dm.member_id = ctx.keep(mid);
        if (m.rack_id) dm.rack_id = ctx.keep(*m.rack_id);
        dm.member_epoch = m.epoch;
        dm.client_id = ctx.keep(m.client_id);
        dm.client_host = ctx.keep(m.client_host);
        for (auto& n : m.topic_names) dm.subscribed_topic_names.push_back(ctx.keep(n));
        for (auto& [topic, ps] : m.assigned) {
          if (ps.empty()) continue;
          auto& tp = dm.assignment.topic_partitions.emplace_back();
          tp.topic_id.bytes = topic;
          tp.topic_name = ctx.keep(topic_name(ctx, *g, topic));
          tp.partitions.assign(ps.begin(), ps.end());
        }
      }
      if (req.include_authorized_operations) dg.authorized_operations = 0b0000'0011'1010'1000;
    }
    co_return;
  });
}

}  // namespace

kwire::ErrorCode share_group_yields(GroupCoordinator& c, const std::string& id, kwire::ErrorCode busy) {
  auto* g = c.shares().find(id);
  if (!g) return ErrorCode::None;
  if (!g->members.empty()) return busy;
  c.shares().remove(id);
  return ErrorCode::None;
}

void list_share_groups(GroupCoordinator& c, Ctx& ctx, const kwire::ListGroupsRequest& req,
                       kwire::ListGroupsResponse& resp) {
  if (!req.types_filter.empty()) {
    bool wanted = false;
    for (auto t : req.types_filter)
      if (same_text(t, "share")) wanted = true;
    if (!wanted) return;
  }
  for (auto* g : c.shares().all()) {
    const auto state = g->state_name();
    if (!req.states_filter.empty()) {
      bool match = false;
      for (auto s : req.states_filter)
        if (same_text(s, state)) match = true;
      if (!match) continue;
    }
    auto& lg = resp.groups.emplace_back();
    lg.group_id = ctx.keep(g->id);
    lg.protocol_type = "share";
    lg.group_state = ctx.keep(state);
    lg.group_type = "share";
  }
}

bool describe_share_as_classic(GroupCoordinator& c, Ctx& ctx, const std::string& id,
                               kwire::DescribeGroupsResponse::DescribedGroup& out) {
  if (!c.shares().find(id)) return false;
  // Kafka describes only classic groups (and members) with DescribeGroups.
  out.group_state = "Dead";
  if (ctx.version >= 6) {
    out.error_code = ctx.note(ErrorCode::GroupIdNotFound);
    out.error_message = ctx.keep("Group " + id + " is not a classic group.");
  }
  return true;
}

static asio::awaitable<void> drop_queue(GroupCoordinator& c, storage::SharePartitionKey key, storage::TopicPartition tp) {
  co_await c.remove_share_queue(std::move(key), std::move(tp));
}

std::optional<kwire::ErrorCode> forget_share_group(GroupCoordinator& c, const std::string& id) {
  auto* g = c.shares().find(id);
  if (!g) return std::nullopt;
  if (!g->members.empty()) return ErrorCode::NonEmptyGroup;
  c.shares().remove(id);
  // Its share partitions go with it, in memory now and in the store soon.
  std::vector<storage::SharePartitionKey> gone;
  for (auto& [key, _] : c.share_state().partitions)
    if (key.group_id == id) gone.push_back(key);
  std::vector<storage::SharePartitionKey> queues;
  for (auto& [key, _] : c.share_state().queued)
    if (key.group_id == id) queues.push_back(key);
  c.share_state().forget_group(id);
  for (auto& key : gone) asio::co_spawn(c.strand(), c.persist_share(key), asio::detached);
  // The store's queues go too (a queue others still use stays, with a warning).
  for (auto& key : queues)
    if (auto t = c.store().topics().find_topic(key.topic_id))
      asio::co_spawn(c.strand(), drop_queue(c, key, storage::TopicPartition{t->name, key.partition}), asio::detached);
  return ErrorCode::None;
}

asio::awaitable<std::pair<kwire::ErrorCode, std::string>> alter_group_configs(Ctx& ctx, std::string group,
                                                                             std::vector<GroupConfigChange> changes,
                                                                             bool validate_only) {
  using Answer = std::pair<kwire::ErrorCode, std::string>;
  if (group.empty()) co_return Answer{ErrorCode::InvalidRequest, "The group id must not be empty"};
  for (auto& c : changes) {
    if (!group_configs::known(c.key))
      co_return Answer{ErrorCode::InvalidConfig, "Unknown group config name: " + c.key};
    if (c.operation == 0) {
      if (auto bad = group_configs::check(c.key, c.value)) co_return Answer{ErrorCode::InvalidConfig, *bad};
    } else if (c.operation != 1) {
      co_return Answer{ErrorCode::InvalidConfig, "Config " + c.key + " is not a list"};
    }
  }
  auto& c = ctx.realm().groups();
  Answer answer{ErrorCode::None, {}};
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (!c.shares().find(group) && (c.find(group) || c.consumers().find(group))) {
      answer = {ErrorCode::InvalidRequest, "Group " + group + " is not a share group"};
      co_return;
    }
    // The group's configs after the changes, checked together: a heartbeat
    // interval must stay below the session timeout.
    const auto* now = c.shares().find(group);
    auto configs = now ? now->configs : decltype(share::Group::configs){};
    for (auto& ch : changes) {
      if (ch.operation == 0) configs[ch.key] = ch.value;
      else configs.erase(ch.key);
    }
    share::Group after;
    after.configs = configs;
    const auto& defaults = c.config().share;
    if (after.config_int("share.heartbeat.interval.ms", defaults.heartbeat_interval_ms) >=
        after.config_int("share.session.timeout.ms", defaults.session_timeout_ms)) {
      answer = {ErrorCode::InvalidConfig, "share.heartbeat.interval.ms must be less than share.session.timeout.ms"};
      co_return;
    }
    if (validate_only || changes.empty()) co_return;
    auto& g = c.shares().get_or_create(group);
    auto reset = configs.find("share.auto.offset.reset");
    g.auto_offset_reset = reset != configs.end() ? reset->second : std::string("latest");
    g.configs = std::move(configs);
    auto record = share::ShareGroups::record_of(g);
    std::string id = group;  // named: g++ 12 mishandles temporaries in co_await
    co_await c.persist(std::move(id), std::move(record));
  });
  co_return answer;
}

asio::awaitable<std::vector<group_configs::Entry>> describe_group_configs(Ctx& ctx, std::string group) {
  auto& c = ctx.realm().groups();
  std::vector<group_configs::Entry> out;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    out = group_configs::describe(c.shares().find(group), c.config().share);
    co_return;
  });
  co_return out;
}

asio::awaitable<std::vector<std::string>> groups_with_configs(Ctx& ctx) {
  auto& c = ctx.realm().groups();
  std::vector<std::string> out;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    for (const auto* g : c.shares().all()) {
      const auto configs = group_configs::describe(g, c.config().share);
      if (std::any_of(configs.begin(), configs.end(), [](const auto& e) { return e.set_for_group; }))
        out.push_back(g->id);
    }
    co_return;
  });
  co_return out;
}

std::vector<HandlerEntry> share_group_handlers() {
  auto shared = [](HandlerEntry e) {
    e.share = true;
    return e;
  };
  return {
      shared(handler<ShareGroupHeartbeatRequest, share_group_heartbeat>(1, 1)),
      shared(handler<ShareGroupDescribeRequest, share_group_describe>(1, 1)),
  };
}

}  // namespace kwire_broker
