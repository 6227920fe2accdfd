// The classic group APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// DescribeGroups, ListGroups and DeleteGroups (committed offsets are in
// group_offsets.cpp). Each runs its body on the coordinator's strand
// (coordinator/group_coordinator.hpp).
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coordinator/group_coordinator.hpp"
#include "handlers/group_strand.hpp"
#include "core/log.hpp"
#include "handlers/consumer_groups.hpp"
#include "handlers/share_groups.hpp"
#include "kwire/messages/delete_groups_request.hpp"
#include "kwire/messages/delete_groups_response.hpp"
#include "kwire/messages/describe_groups_request.hpp"
#include "kwire/messages/describe_groups_response.hpp"
#include "kwire/messages/heartbeat_request.hpp"
#include "kwire/messages/heartbeat_response.hpp"
#include "kwire/messages/join_group_request.hpp"
#include "kwire/messages/join_group_response.hpp"
#include "kwire/messages/leave_group_request.hpp"
#include "kwire/messages/leave_group_response.hpp"
#include "kwire/messages/list_groups_request.hpp"
#include "kwire/messages/list_groups_response.hpp"
#include "kwire/messages/sync_group_request.hpp"
#include "kwire/messages/sync_group_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

using Clock = GroupCoordinator::Clock;
using Bytes = GroupCoordinator::Bytes;
using State = GroupCoordinator::State;

namespace {
Bytes to_bytes(kwire::bytes_view v) { return Bytes(v.begin(), v.end()); }
}  // namespace

namespace {

using namespace kwire;

std::optional<std::string> opt(const nullable_string& s) {
  if (!s) return std::nullopt;
  return std::string(*s);
}

/// The group APIs' check: READ on the group to take part in it or commit
/// for it, DESCRIBE to describe it, DELETE to delete it.
bool group_denied(Broker& b, const Ctx& ctx, acl::Operation op, std::string_view group) {
  return !allowed_on_group(b, ctx, op, group);
}

asio::awaitable<void> join_group(Broker& b, Ctx& ctx, JoinGroupRequest& req, JoinGroupResponse& resp) {
  auto& c = ctx.realm().groups();
  resp.generation_id = -1;
  resp.member_id = req.member_id;
  if (ctx.version >= 7) {
    resp.protocol_type = std::nullopt;
    resp.protocol_name = std::nullopt;
  } else {
    resp.protocol_name = "";
  }
  const auto& st = b.settings();
  if (group_denied(b, ctx, acl::Operation::read, req.group_id)) {
    resp.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  if (req.group_id.empty()) {
    resp.error_code = ctx.note(kwire::ErrorCode::InvalidGroupId);
    co_return;
  }
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(kwire::ErrorCode::NotCoordinator);
    co_return;
  }
  if (req.session_timeout_ms < st.group_min_session_ms || req.session_timeout_ms > st.group_max_session_ms) {
    resp.error_code = ctx.note(kwire::ErrorCode::InvalidSessionTimeout);
    co_return;
  }
  GroupCoordinator::Member m;
  m.id = std::string(req.member_id);
  m.instance_id = opt(req.group_instance_id);
  m.client_id = std::string(ctx.client_id);
  m.client_host = ctx.session.peer.substr(0, ctx.session.peer.rfind(':'));
  m.protocol_type = std::string(req.protocol_type);
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = ctx.version >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  for (auto& p : req.protocols) m.protocols.emplace_back(std::string(p.name), to_bytes(p.metadata));
  GroupCoordinator::JoinResult r;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (auto e = share_group_yields(c, std::string(req.group_id), kwire::ErrorCode::InconsistentGroupProtocol);
        e != kwire::ErrorCode::None) {
      r.error = e;
      co_return;
    }
    const bool require_known = ctx.version >= 4;
    if (auto joined = co_await join_consumer_group(c, ctx, std::string(req.group_id), m, require_known)) {
      r = std::move(*joined);
      co_return;
    }
    auto& g = c.get_or_create(std::string(req.group_id));
    r = co_await c.join(g, std::move(m), ctx.version >= 4, ctx.version);
  });
  resp.error_code = ctx.note(r.error);
  resp.member_id = ctx.keep(r.member_id);
  if (r.error != kwire::ErrorCode::None) co_return;
  resp.generation_id = r.generation;
  resp.protocol_type = ctx.keep(r.protocol_type);
  resp.protocol_name = ctx.keep(r.protocol);
  resp.leader = ctx.keep(r.leader);
  if (ctx.version >= 9) resp.skip_assignment = r.skip_assignment;
  for (auto& mem : r.members) {
    JoinGroupResponse::JoinGroupResponseMember jm;
    jm.member_id = ctx.keep(mem.id);
    if (mem.instance_id) jm.group_instance_id = ctx.keep(*mem.instance_id);
    jm.metadata = ctx.keep(std::move(mem.metadata));
    resp.members.push_back(jm);
  }
}

asio::awaitable<void> sync_group(Broker& b, Ctx& ctx, SyncGroupRequest& req, SyncGroupResponse& resp) {
  auto& c = ctx.realm().groups();
  if (group_denied(b, ctx, acl::Operation::read, req.group_id)) {
    resp.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(kwire::ErrorCode::NotCoordinator);
    co_return;
  }
  GroupCoordinator::SyncResult r;
  std::vector<std::pair<std::string, Bytes>> assignments;
  for (auto& a : req.assignments) assignments.emplace_back(std::string(a.member_id), to_bytes(a.assignment));
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (auto synced = sync_consumer_group(c, std::string(req.group_id), std::string(req.member_id), req.generation_id,
                                          opt(req.group_instance_id), opt(req.protocol_type), opt(req.protocol_name))) {
      r = std::move(*synced);
      co_return;
    }
    auto* g = c.find(std::string(req.group_id));
    if (!g) {
      r.error = kwire::ErrorCode::UnknownMemberId;
      co_return;
    }
    if ((req.protocol_type && !g->protocol_type.empty() && *req.protocol_type != g->protocol_type) ||
        (req.protocol_name && !g->protocol.empty() && *req.protocol_name != g->protocol)) {
      r.error = kwire::ErrorCode::InconsistentGroupProtocol;
      co_return;
    }
    std::string member(req.member_id);  // named: g++ 12 mishandles temporaries in co_await
    auto instance = opt(req.group_instance_id);
    r = co_await c.sync(*g, member, req.generation_id, instance, std::move(assignments));
  });
  resp.error_code = ctx.note(r.error);
  if (r.error == kwire::ErrorCode::None) {
    resp.protocol_type = ctx.keep(r.protocol_type);
    resp.protocol_name = ctx.keep(r.protocol);
    resp.assignment = ctx.keep(std::move(r.assignment));
  }
}

asio::awaitable<void> heartbeat(Broker& b, Ctx& ctx, HeartbeatRequest& req, HeartbeatResponse& resp) {
  auto& c = ctx.realm().groups();
  if (group_denied(b, ctx, acl::Operation::read, req.group_id)) {
    resp.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(kwire::ErrorCode::NotCoordinator);
    co_return;
  }
  kwire::ErrorCode e = kwire::ErrorCode::None;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (auto answered = heartbeat_consumer_group(c, std::string(req.group_id), std::string(req.member_id),
                                                 req.generation_id, opt(req.group_instance_id))) {
      e = *answered;
      co_return;
    }
    auto* g = c.find(std::string(req.group_id));
    e = g ? c.heartbeat(*g, std::string(req.member_id), req.generation_id, opt(req.group_instance_id))
          : kwire::ErrorCode::UnknownMemberId;
    co_return;
  });
  resp.error_code = ctx.note(e);
}

asio::awaitable<void> leave_group(Broker& b, Ctx& ctx, LeaveGroupRequest& req, LeaveGroupResponse& resp) {
  auto& c = ctx.realm().groups();
  if (group_denied(b, ctx, acl::Operation::read, req.group_id)) {
    resp.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(kwire::ErrorCode::NotCoordinator);
    co_return;
  }
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    const std::string gid(req.group_id);
    auto* g = c.find(gid);
    // One member leaving, of a classic group or of a consumer group.
    auto leave = [&](const std::string& member, const std::optional<std::string>& instance) {
      if (auto e = leave_consumer_group(c, gid, member, instance)) return *e;
      return g ? c.leave(*g, member, instance) : kwire::ErrorCode::UnknownMemberId;
    };
    if (ctx.version < 3) {
      resp.error_code = leave(std::string(req.member_id), std::nullopt);
    } else {
      for (auto& mi : req.members) {
        LeaveGroupResponse::MemberResponse mr;
        mr.member_id = mi.member_id;
        mr.group_instance_id = mi.group_instance_id;
        mr.error_code = leave(std::string(mi.member_id), opt(mi.group_instance_id));
        ctx.note(mr.error_code);
        resp.members.push_back(mr);
      }
    }
    if (c.consumers().find(gid)) co_await store_consumer_group(c, gid);
  });
  ctx.note(resp.error_code);
}

asio::awaitable<void> describe_groups(Broker& b, Ctx& ctx, DescribeGroupsRequest& req, DescribeGroupsResponse& resp) {
  auto& c = ctx.realm().groups();
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    for (auto id : req.groups) {
      auto& dg = resp.groups.emplace_back();
      dg.group_id = id;
      if (group_denied(b, ctx, acl::Operation::describe, id)) {
        dg.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
        continue;
      }
      if (describe_as_classic(c, ctx, std::string(id), dg)) continue;
      if (describe_share_as_classic(c, ctx, std::string(id), dg)) continue;
      auto* g = c.find(std::string(id));
      if (!g) {
        dg.group_state = "Dead";
        if (ctx.version >= 6) {
          dg.error_code = ctx.note(kwire::ErrorCode::GroupIdNotFound);
          dg.error_message = ctx.keep("Group " + std::string(id) + " not found.");
        }
        continue;
      }
      dg.group_state = GroupCoordinator::state_name(g->state);
      dg.protocol_type = ctx.keep(g->protocol_type);
      dg.protocol_data = ctx.keep(g->state == State::stable || g->state == State::completing_rebalance ? g->protocol
                                                                                                        : std::string());
      for (auto& [mid, m] : g->members) {
        DescribeGroupsResponse::DescribedGroupMember dm;
        dm.member_id = ctx.keep(mid);
        if (m.instance_id) dm.group_instance_id = ctx.keep(*m.instance_id);
        dm.client_id = ctx.keep(m.client_id);
        dm.client_host = ctx.keep("/" + m.client_host);
        if (g->state == State::stable) {
          if (auto* md = m.metadata_for(g->protocol)) dm.member_metadata = ctx.keep(Bytes(*md));
          dm.member_assignment = ctx.keep(Bytes(m.assignment));
        }
        dg.members.push_back(dm);
      }
      if (req.include_authorized_operations)
        dg.authorized_operations = authorized_operations(b, ctx, acl::ResourceType::group, id, 0b0000'0011'1010'1000);
    }
    co_return;
  });
}

asio::awaitable<void> list_groups(Broker& b, Ctx& ctx, ListGroupsRequest& req, ListGroupsResponse& resp) {
  auto& c = ctx.realm().groups();
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    list_consumer_groups(c, ctx, req, resp);
    list_share_groups(c, ctx, req, resp);
    for (auto* g : c.all()) {
      if (!lists_classic_groups(req)) break;
      auto state = GroupCoordinator::state_name(g->state);
      if (!req.states_filter.empty()) {
        bool match = false;
        for (auto s : req.states_filter)
          if (s.size() == state.size() && std::equal(s.begin(), s.end(), state.begin(), [](char a, char bb) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(bb));
              }))
            match = true;
        if (!match) continue;
      }
      ListGroupsResponse::ListedGroup lg;
      lg.group_id = ctx.keep(g->id);
      lg.protocol_type = ctx.keep(g->protocol_type);
      lg.group_state = state;
      lg.group_type = "classic";
      resp.groups.push_back(lg);
    }
    co_return;
  });
  // DESCRIBE on the cluster lists every group; otherwise those the
  // principal may DESCRIBE.
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe))
    std::erase_if(resp.groups, [&](const ListGroupsResponse::ListedGroup& g) {
      return group_denied(b, ctx, acl::Operation::describe, g.group_id);
    });
}

asio::awaitable<void> delete_groups(Broker& b, Ctx& ctx, DeleteGroupsRequest& req, DeleteGroupsResponse& resp) {
  auto& c = ctx.realm().groups();
  for (auto id : req.groups_names) {
    auto& r = resp.results.emplace_back();
    r.group_id = id;
    if (group_denied(b, ctx, acl::Operation::del, id)) {
      r.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
      continue;
    }
    std::string gid(id);
    co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
      auto forgotten = forget_consumer_group(c, gid);
      if (!forgotten) forgotten = forget_share_group(c, gid);
      if (auto e = forgotten) {
        r.error_code = *e;
        if (*e != kwire::ErrorCode::None) co_return;
        auto d = co_await ctx.realm().store().groups().delete_group(gid);
        if (!d.ok()) KB_WARN("deleting group {}: {}", gid, d.message);
        co_return;
      }
      auto* g = c.find(gid);
      if (!g) {
        r.error_code = kwire::ErrorCode::GroupIdNotFound;
      } else if (g->state != State::empty && g->state != State::dead) {
        r.error_code = kwire::ErrorCode::NonEmptyGroup;
      } else {
        c.remove_group(gid);
        auto d = co_await ctx.realm().store().groups().delete_group(gid);
        if (!d.ok()) KB_WARN("deleting group {}: {}", gid, d.message);
      }
    });
    ctx.note(r.error_code);
  }
}

}  // namespace

std::vector<HandlerEntry> group_handlers() {
  return {
      handler<JoinGroupRequest, join_group>(0, 9),
      handler<SyncGroupRequest, sync_group>(0, 5),
      handler<HeartbeatRequest, heartbeat>(0, 4),
      handler<LeaveGroupRequest, leave_group>(0, 5),
      handler<DescribeGroupsRequest, describe_groups>(0, 6),
      handler<ListGroupsRequest, list_groups>(0, 5),
      handler<DeleteGroupsRequest, delete_groups>(0, 3),
  };
}

}  // namespace kwire_broker
