// The group coordinator and the group APIs (see groups.hpp).
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "groups.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

#include "kwire/messages/consumer_protocol_subscription.hpp"
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
#include "kwire/messages/offset_commit_request.hpp"
#include "kwire/messages/offset_commit_response.hpp"
#include "kwire/messages/offset_delete_request.hpp"
#include "kwire/messages/offset_delete_response.hpp"
#include "kwire/messages/offset_fetch_request.hpp"
#include "kwire/messages/offset_fetch_response.hpp"
#include "kwire/messages/sync_group_request.hpp"
#include "kwire/messages/sync_group_response.hpp"
#include "log.hpp"

namespace kwire_broker {

using Clock = GroupCoordinator::Clock;
using Bytes = GroupCoordinator::Bytes;
using State = GroupCoordinator::State;

namespace {

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
    s += hex[rng() & 15];
  }
  return s;
}

Bytes to_bytes(kwire::bytes_view v) { return Bytes(v.begin(), v.end()); }

}  // namespace

std::string_view GroupCoordinator::state_name(State s) {
  switch (s) {
    case State::empty: return "Empty";
    case State::preparing_rebalance: return "PreparingRebalance";
    case State::completing_rebalance: return "CompletingRebalance";
    case State::stable: return "Stable";
    case State::dead: return "Dead";
  }
  return "Unknown";
}

GroupCoordinator::GroupCoordinator(Broker& broker, storage::Storage& store, asio::io_context& io)
    : broker_(broker), store_(store), strand_(asio::make_strand(io)) {}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::load() {
  auto& store = store_.groups();
  std::vector<storage::GroupBlob> blobs;
  std::vector<std::string> ids;
  store.load_groups([&](storage::Result<std::vector<storage::GroupBlob>> r) { blobs = std::move(r.value); });
  store.list_groups([&](storage::Result<std::vector<std::string>> r) { ids = std::move(r.value); });
  // Completions may come from another thread for remote stores: this runs
  // before serving, so wait for them briefly.
  for (auto& id : ids) get_or_create(id);
  for (auto& b : blobs) {
    auto& g = get_or_create(b.group_id);
    std::string text(b.data.begin(), b.data.end());
    auto a = text.find('\n'), c = text.find('\n', a + 1), d = text.find('\n', c + 1);
    if (a == std::string::npos || c == std::string::npos || d == std::string::npos) continue;
    g.protocol_type = text.substr(a + 1, c - a - 1);
    try {
      g.generation = std::stoi(text.substr(d + 1));
    } catch (...) {
    }
  }
  KB_INFO("group coordinator loaded {} group(s)", groups_.size());
  sweep_timer_ = std::make_shared<asio::steady_timer>(strand_);
  asio::co_spawn(strand_, sweep(), asio::detached);
}

void GroupCoordinator::shutdown() {
  asio::post(strand_, [this] {
    stopped_ = true;
    if (sweep_timer_) sweep_timer_->cancel();
    for (auto& [gid, g] : groups_) {
      for (auto& [mid, m] : g->members) {
        if (m.join) m.join->set(JoinResult{err::not_coordinator});
        if (m.sync) m.sync->set(SyncResult{err::not_coordinator});
      }
    }
  });
}

GroupCoordinator::Group* GroupCoordinator::find(const std::string& id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

GroupCoordinator::Group& GroupCoordinator::get_or_create(const std::string& id) {
  auto& p = groups_[id];
  if (!p) {
    p = std::make_unique<Group>();
    p->id = id;
    update_count();
  }
  return *p;
}

void GroupCoordinator::remove_group(const std::string& id) {
  groups_.erase(id);
  update_count();
}

std::vector<GroupCoordinator::Group*> GroupCoordinator::all() {
  std::vector<Group*> out;
  for (auto& [_, g] : groups_) out.push_back(g.get());
  return out;
}

Bytes GroupCoordinator::record_of(const Group& g) {
  std::string text = "classic\n" + g.protocol_type + "\n" + g.protocol + "\n" + std::to_string(g.generation);
  return Bytes(text.begin(), text.end());
}

asio::awaitable<void> GroupCoordinator::persist(std::string group_id, Bytes record) {
  auto r = co_await storage::call<storage::Done>(
      [&](auto done) { store_.groups().store_group(group_id, std::move(record), std::move(done)); });
  if (!r.ok()) KB_WARN("could not store group {}: {}", group_id, r.message);
}

void GroupCoordinator::remove_member(Group& g, const std::string& member_id, kwire::ErrorCode error) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  auto& m = it->second;
  if (m.join) m.join->set(JoinResult{error});
  if (m.sync) m.sync->set(SyncResult{error});
  if (m.instance_id) {
    auto s = g.static_ids.find(*m.instance_id);
    if (s != g.static_ids.end() && s->second == member_id) g.static_ids.erase(s);
  }
  if (g.leader == member_id) g.leader.clear();
  g.members.erase(it);
}

void GroupCoordinator::prepare_rebalance(Group& g, const char* why) {
  if (g.state == State::completing_rebalance) {
    for (auto& [_, m] : g.members) {
      if (m.sync) {
        m.sync->set(SyncResult{err::rebalance_in_progress});
        m.sync.reset();
      }
    }
  }
  bool initial = g.state == State::empty;
  g.state = State::preparing_rebalance;
  std::int32_t timeout = 0;
  for (auto& [_, m] : g.members) timeout = std::max(timeout, m.rebalance_timeout_ms);
  auto delay = broker_.settings().group_initial_rebalance_delay_ms;
  g.initial_delay = initial && delay > 0;
  g.rebalance_deadline = Clock::now() + std::chrono::milliseconds(g.initial_delay ? std::min(delay, timeout) : timeout);
  KB_INFO("group {}: rebalancing ({}), generation {}", g.id, why, g.generation);
}

void GroupCoordinator::maybe_complete_join(Group& g) {
  if (g.state != State::preparing_rebalance || g.initial_delay) return;
  for (auto& [_, m] : g.members)
    if (!m.join || m.join->value) return;
  complete_join(g);
}

void GroupCoordinator::complete_join(Group& g) {
  std::vector<std::string> gone;
  for (auto& [id, m] : g.members)
    if (!m.join || m.join->value) gone.push_back(id);
  for (auto& id : gone) {
    KB_INFO("group {}: member {} did not rejoin in time", g.id, id);
    remove_member(g, id, err::unknown_member_id);
  }
  g.generation++;
  g.initial_delay = false;
  if (g.members.empty()) {
    g.state = State::empty;
    g.protocol.clear();
    g.leader.clear();
    KB_INFO("group {}: empty at generation {}", g.id, g.generation);
    asio::co_spawn(strand_, persist(g.id, record_of(g)), asio::detached);
    return;
  }
  if (g.leader.empty() || !g.members.count(g.leader)) g.leader = g.members.begin()->first;
  // The protocol: the first of the leader's protocols that every member supports.
  auto& leader = g.members.at(g.leader);
  g.protocol.clear();
  for (auto& [name, _] : leader.protocols) {
    bool all = true;
    for (auto& [__, m] : g.members)
      if (!m.metadata_for(name)) all = false;
    if (all) {
      g.protocol = name;
      break;
    }
  }
  g.protocol_type = leader.protocol_type;
  g.state = State::completing_rebalance;
  auto now = Clock::now();
  // Members that have not sent SyncGroup by then are dropped (sweep()).
  std::int32_t timeout = 0;
  for (auto& [_, m] : g.members) timeout = std::max(timeout, m.rebalance_timeout_ms);
  g.rebalance_deadline = now + std::chrono::milliseconds(timeout);
  for (auto& [id, m] : g.members) {
    JoinResult r;
    r.generation = g.generation;
    r.protocol_type = g.protocol_type;
    r.protocol = g.protocol;
    r.leader = g.leader;
    r.member_id = id;
    if (id == g.leader) {
      for (auto& [oid, om] : g.members) {
        auto* md = om.metadata_for(g.protocol);
        r.members.push_back({oid, om.instance_id, md ? *md : Bytes{}});
      }
    }
    m.last_seen = now;
    m.join->set(std::move(r));
    m.join.reset();
  }
  KB_INFO("group {}: generation {} with {} member(s), protocol {}, leader {}", g.id, g.generation, g.members.size(),
          g.protocol, g.leader);
  asio::co_spawn(strand_, persist(g.id, record_of(g)), asio::detached);
}

asio::awaitable<GroupCoordinator::JoinResult> GroupCoordinator::join(Group& g, Member m, bool require_known,
                                                                      std::int16_t version) {
  auto now = Clock::now();
  if (m.protocols.empty() || m.protocol_type.empty()) co_return JoinResult{err::inconsistent_group_protocol};
  if (!g.members.empty()) {
    if (!g.protocol_type.empty() && m.protocol_type != g.protocol_type)
      co_return JoinResult{err::inconsistent_group_protocol};
    bool common = false;
    for (auto& [name, _] : m.protocols) {
      bool all = true;
      for (auto& [id, om] : g.members)
        if (id != m.id && !om.metadata_for(name)) all = false;
      if (all) common = true;
    }
    if (!common) co_return JoinResult{err::inconsistent_group_protocol};
  }

  if (m.id.empty()) {
    std::string fresh = (m.client_id.empty() ? std::string("member") : m.client_id) + "-" + random_suffix();
    if (m.instance_id) {
      auto s = g.static_ids.find(*m.instance_id);
      if (s != g.static_ids.end() && g.members.count(s->second)) {
        // A static member came back under a new member id: it replaces the
        // old one, and when nothing changed the group does not rebalance.
        Member old = std::move(g.members.at(s->second));
        g.members.erase(s->second);
        if (old.join) old.join->set(JoinResult{err::fenced_instance_id});
        if (old.sync) old.sync->set(SyncResult{err::fenced_instance_id});
        bool same = old.protocols == m.protocols;
        if (g.leader == old.id) g.leader = fresh;
        m.id = fresh;
        m.assignment = std::move(old.assignment);
        m.last_seen = now;
        s->second = fresh;
        KB_INFO("group {}: static member {} rejoined as {}", g.id, *m.instance_id, fresh);
        // A leader can skip the assignment only from JoinGroup v9 on; an
        // older one makes the group rebalance.
        if (g.state == State::stable && same && (g.leader != fresh || version >= 9)) {
          g.members.emplace(fresh, std::move(m));
          JoinResult r;
          r.generation = g.generation;
          r.protocol_type = g.protocol_type;
          r.protocol = g.protocol;
          r.leader = g.leader;
          r.member_id = fresh;
          if (g.leader == fresh) {
            r.skip_assignment = true;
            for (auto& [oid, om] : g.members) {
              auto* md = om.metadata_for(g.protocol);
              r.members.push_back({oid, om.instance_id, md ? *md : Bytes{}});
            }
          }
          co_return r;
        }
      } else {
        m.id = fresh;
      }
    } else if (require_known) {
      g.pending[fresh] = now;
      JoinResult r{err::member_id_required};
      r.member_id = fresh;
      co_return r;
    } else {
      m.id = fresh;
    }
  } else {
    bool known = g.members.count(m.id) || g.pending.count(m.id);
    if (m.instance_id) {
      auto s = g.static_ids.find(*m.instance_id);
      if (s != g.static_ids.end() && s->second != m.id) {
        JoinResult r{err::fenced_instance_id};
        r.member_id = m.id;
        co_return r;
      }
    }
    if (!known) {
      JoinResult r{err::unknown_member_id};
      r.member_id = m.id;
      co_return r;
    }
    g.pending.erase(m.id);
  }

  auto it = g.members.find(m.id);
  if (it != g.members.end()) {
    auto& cur = it->second;
    if (g.state == State::stable && cur.protocols == m.protocols && m.id != g.leader) {
      // A follower rejoining with nothing changed gets the current generation.
      cur.last_seen = now;
      JoinResult r;
      r.generation = g.generation;
      r.protocol_type = g.protocol_type;
      r.protocol = g.protocol;
      r.leader = g.leader;
      r.member_id = m.id;
      co_return r;
    }
    if (cur.join) cur.join->set(JoinResult{err::unknown_member_id});
    m.assignment = std::move(cur.assignment);
    cur = std::move(m);
  } else {
    it = g.members.emplace(m.id, std::move(m)).first;
  }
  Member& mem = it->second;
  std::string member_id = mem.id;
  if (mem.instance_id) g.static_ids[*mem.instance_id] = member_id;
  mem.last_seen = now;
  auto pending = std::make_shared<Pending<JoinResult>>(strand_);
  mem.join = pending;
  if (g.state != State::preparing_rebalance) prepare_rebalance(g, "member joined");
  maybe_complete_join(g);
  if (!pending->value) {
    pending->timer.expires_at(Clock::time_point::max());
    boost::system::error_code ec;
    co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!pending->value) {
    JoinResult r{err::unknown_server_error};
    r.member_id = member_id;
    co_return r;
  }
  auto r = *pending->value;
  if (r.member_id.empty()) r.member_id = member_id;
  co_return r;
}

asio::awaitable<GroupCoordinator::SyncResult> GroupCoordinator::sync(
    Group& g, const std::string& member_id, std::int32_t generation, const std::optional<std::string>& instance_id,
    std::vector<std::pair<std::string, Bytes>> assignments) {
  auto it = g.members.find(member_id);
  if (instance_id) {
    auto s = g.static_ids.find(*instance_id);
    if (s != g.static_ids.end() && s->second != member_id) co_return SyncResult{err::fenced_instance_id};
  }
  if (it == g.members.end()) co_return SyncResult{err::unknown_member_id};
  if (generation != g.generation) co_return SyncResult{err::illegal_generation};
  auto& m = it->second;
  m.last_seen = Clock::now();
  switch (g.state) {
    case State::empty:
    case State::dead: co_return SyncResult{err::unknown_member_id};
    case State::preparing_rebalance: co_return SyncResult{err::rebalance_in_progress};
    case State::stable: co_return SyncResult{err::none, g.protocol_type, g.protocol, m.assignment};
    case State::completing_rebalance: break;
  }
  auto pending = std::make_shared<Pending<SyncResult>>(strand_);
  m.sync = pending;
  if (member_id == g.leader) {
    for (auto& [id, om] : g.members) {
      om.assignment.clear();
      for (auto& [aid, a] : assignments)
        if (aid == id) om.assignment = a;
    }
    g.state = State::stable;
    for (auto& [id, om] : g.members) {
      if (om.sync) {
        om.sync->set(SyncResult{err::none, g.protocol_type, g.protocol, om.assignment});
        om.sync.reset();
      }
    }
    KB_INFO("group {}: stable at generation {}", g.id, g.generation);
  }
  if (!pending->value) {
    pending->timer.expires_at(Clock::time_point::max());
    boost::system::error_code ec;
    co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return pending->value ? *pending->value : SyncResult{err::unknown_server_error};
}

kwire::ErrorCode GroupCoordinator::heartbeat(Group& g, const std::string& member_id, std::int32_t generation,
                                             const std::optional<std::string>& instance_id) {
  if (instance_id) {
    auto s = g.static_ids.find(*instance_id);
    if (s != g.static_ids.end() && s->second != member_id) return err::fenced_instance_id;
  }
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return err::unknown_member_id;
  it->second.last_seen = Clock::now();
  if (generation != g.generation) return err::illegal_generation;
  if (g.state == State::preparing_rebalance) return err::rebalance_in_progress;
  if (g.state == State::empty || g.state == State::dead) return err::unknown_member_id;
  return err::none;
}

kwire::ErrorCode GroupCoordinator::leave(Group& g, const std::string& member_id,
                                         const std::optional<std::string>& instance_id) {
  std::string id = member_id;
  if (instance_id) {
    auto s = g.static_ids.find(*instance_id);
    if (s == g.static_ids.end()) return err::unknown_member_id;
    if (!member_id.empty() && s->second != member_id) return err::fenced_instance_id;
    id = s->second;
  }
  if (!g.members.count(id)) return err::unknown_member_id;
  remove_member(g, id, err::unknown_member_id);
  KB_INFO("group {}: member {} left", g.id, id);
  if (g.state == State::stable || g.state == State::completing_rebalance) prepare_rebalance(g, "member left");
  maybe_complete_join(g);
  return err::none;
}

kwire::ErrorCode GroupCoordinator::check_commit(Group* g, const std::string& member_id,
                                                std::int32_t generation,
                                                const std::optional<std::string>& instance_id) {
  if (generation < 0 && member_id.empty()) {
    // A commit outside any group membership (standalone consumer or admin).
    if (g && g->state != State::empty && g->state != State::dead) return err::unknown_member_id;
    return err::none;
  }
  if (!g) return err::unknown_member_id;
  if (instance_id) {
    auto s = g->static_ids.find(*instance_id);
    if (s != g->static_ids.end() && s->second != member_id) return err::fenced_instance_id;
  }
  auto it = g->members.find(member_id);
  if (it == g->members.end()) return err::unknown_member_id;
  it->second.last_seen = Clock::now();
  if (generation != g->generation) return err::illegal_generation;
  // Members of the current generation may still commit while the group
  // prepares a rebalance (that is when eager consumers commit what they
  // processed); only between JoinGroup and SyncGroup is it refused.
  if (g->state == State::completing_rebalance) return err::rebalance_in_progress;
  return err::none;
}

std::set<std::string> GroupCoordinator::subscribed_topics(const Group& g) {
  std::set<std::string> out;
  if (g.protocol_type != "consumer") return out;
  for (auto& [_, m] : g.members) {
    auto* md = m.metadata_for(g.protocol);
    if (!md || md->size() < 2) continue;
    auto version = static_cast<std::int16_t>(storage::batch::get_be(md->data(), 2));
    version = std::min<std::int16_t>(version, kwire::ConsumerProtocolSubscription::max_version);
    std::pmr::unsynchronized_pool_resource mem;
    kwire::Reader r(kwire::bytes_view(*md).subspan(2), &mem);
    kwire::ConsumerProtocolSubscription sub;
    kwire::decode_from(r, sub, version);
    if (!r.ok()) continue;
    for (auto t : sub.topics) out.insert(std::string(t));
  }
  return out;
}

asio::awaitable<void> GroupCoordinator::sweep() {
  while (!stopped_) {
    sweep_timer_->expires_after(std::chrono::milliseconds(200));
    boost::system::error_code ec;
    co_await sweep_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    auto now = Clock::now();
    for (auto& [_, gp] : groups_) {
      auto& g = *gp;
      std::vector<std::string> expired;
      for (auto& [id, m] : g.members) {
        bool waiting = m.join && !m.join->value;
        if (!waiting && now - m.last_seen > std::chrono::milliseconds(m.session_timeout_ms)) expired.push_back(id);
      }
      for (auto& id : expired) {
        KB_INFO("group {}: member {} session expired", g.id, id);
        remove_member(g, id, err::unknown_member_id);
      }
      for (auto it = g.pending.begin(); it != g.pending.end();) {
        if (now - it->second > std::chrono::minutes(5))
          it = g.pending.erase(it);
        else
          ++it;
      }
      if (!expired.empty() && (g.state == State::stable || g.state == State::completing_rebalance))
        prepare_rebalance(g, "session expired");
      if (g.state == State::completing_rebalance && now >= g.rebalance_deadline) {
        std::vector<std::string> unsynced;
        for (auto& [id, m] : g.members)
          if (!m.sync) unsynced.push_back(id);
        for (auto& id : unsynced) {
          KB_INFO("group {}: member {} did not sync in time", g.id, id);
          remove_member(g, id, err::unknown_member_id);
        }
        prepare_rebalance(g, "sync timeout");
      }
      if (g.state == State::preparing_rebalance) {
        if (now >= g.rebalance_deadline)
          complete_join(g);
        else
          maybe_complete_join(g);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Handlers

namespace {

using namespace kwire;

template <class F>
asio::awaitable<void> on_strand(Ctx& ctx, F f) {
  co_await asio::co_spawn(ctx.realm().groups().strand(), std::move(f), asio::use_awaitable);
}

std::optional<std::string> opt(const nullable_string& s) {
  if (!s) return std::nullopt;
  return std::string(*s);
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
  if (req.group_id.empty()) {
    resp.error_code = ctx.note(err::invalid_group_id);
    co_return;
  }
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(err::not_coordinator);
    co_return;
  }
  if (req.session_timeout_ms < st.group_min_session_ms || req.session_timeout_ms > st.group_max_session_ms) {
    resp.error_code = ctx.note(err::invalid_session_timeout);
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
    auto& g = c.get_or_create(std::string(req.group_id));
    r = co_await c.join(g, std::move(m), ctx.version >= 4, ctx.version);
  });
  resp.error_code = ctx.note(r.error);
  resp.member_id = ctx.keep(r.member_id);
  if (r.error != err::none) co_return;
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

asio::awaitable<void> sync_group(Broker&, Ctx& ctx, SyncGroupRequest& req, SyncGroupResponse& resp) {
  auto& c = ctx.realm().groups();
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(err::not_coordinator);
    co_return;
  }
  GroupCoordinator::SyncResult r;
  std::vector<std::pair<std::string, Bytes>> assignments;
  for (auto& a : req.assignments) assignments.emplace_back(std::string(a.member_id), to_bytes(a.assignment));
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    auto* g = c.find(std::string(req.group_id));
    if (!g) {
      r.error = err::unknown_member_id;
      co_return;
    }
    if ((req.protocol_type && !g->protocol_type.empty() && *req.protocol_type != g->protocol_type) ||
        (req.protocol_name && !g->protocol.empty() && *req.protocol_name != g->protocol)) {
      r.error = err::inconsistent_group_protocol;
      co_return;
    }
    std::string member(req.member_id);  // named: g++ 12 mishandles temporaries in co_await
    auto instance = opt(req.group_instance_id);
    r = co_await c.sync(*g, member, req.generation_id, instance, std::move(assignments));
  });
  resp.error_code = ctx.note(r.error);
  if (r.error == err::none) {
    resp.protocol_type = ctx.keep(r.protocol_type);
    resp.protocol_name = ctx.keep(r.protocol);
    resp.assignment = ctx.keep(std::move(r.assignment));
  }
}

asio::awaitable<void> heartbeat(Broker&, Ctx& ctx, HeartbeatRequest& req, HeartbeatResponse& resp) {
  auto& c = ctx.realm().groups();
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(err::not_coordinator);
    co_return;
  }
  kwire::ErrorCode e = err::none;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    auto* g = c.find(std::string(req.group_id));
    e = g ? c.heartbeat(*g, std::string(req.member_id), req.generation_id, opt(req.group_instance_id))
          : err::unknown_member_id;
    co_return;
  });
  resp.error_code = ctx.note(e);
}

asio::awaitable<void> leave_group(Broker&, Ctx& ctx, LeaveGroupRequest& req, LeaveGroupResponse& resp) {
  auto& c = ctx.realm().groups();
  if (!ctx.realm().cluster().coordinates(std::string(req.group_id))) {
    resp.error_code = ctx.note(err::not_coordinator);
    co_return;
  }
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    auto* g = c.find(std::string(req.group_id));
    if (ctx.version < 3) {
      resp.error_code = g ? c.leave(*g, std::string(req.member_id), std::nullopt) : err::unknown_member_id;
      co_return;
    }
    for (auto& mi : req.members) {
      LeaveGroupResponse::MemberResponse mr;
      mr.member_id = mi.member_id;
      mr.group_instance_id = mi.group_instance_id;
      mr.error_code = g ? c.leave(*g, std::string(mi.member_id), opt(mi.group_instance_id)) : err::unknown_member_id;
      ctx.note(mr.error_code);
      resp.members.push_back(mr);
    }
    co_return;
  });
  ctx.note(resp.error_code);
}

asio::awaitable<void> offset_commit(Broker&, Ctx& ctx, OffsetCommitRequest& req, OffsetCommitResponse& resp) {
  auto& c = ctx.realm().groups();
  auto& catalog = ctx.realm().store().topics();
  std::string group(req.group_id);
  kwire::ErrorCode group_error = err::none;
  if (group.empty()) group_error = err::invalid_group_id;
  else if (!ctx.realm().cluster().coordinates(group)) group_error = err::not_coordinator;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (group_error != err::none) co_return;
    auto* g = c.find(group);
    group_error = c.check_commit(g, std::string(req.member_id), req.generation_id_or_member_epoch,
                                 opt(req.group_instance_id));
    if (group_error == err::none && !g) c.get_or_create(group);
    co_return;
  });
  std::vector<std::pair<storage::TopicPartition, storage::CommittedOffset>> offsets;
  auto now = now_ms();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    tr.topic_id = t.topic_id;
    auto info = ctx.version >= 10 ? catalog.find_topic(t.topic_id.bytes) : catalog.find_topic(std::string(t.name));
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (group_error != err::none) {
        pr.error_code = group_error;
      } else if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = ctx.version >= 10 && !info ? err::unknown_topic_id : err::unknown_topic_or_partition;
      } else {
        storage::CommittedOffset o;
        o.offset = p.committed_offset;
        o.leader_epoch = ctx.version >= 6 ? p.committed_leader_epoch : -1;
        o.metadata = p.committed_metadata ? std::string(*p.committed_metadata) : std::string();
        o.commit_timestamp = ctx.version == 1 && p.commit_timestamp >= 0 ? p.commit_timestamp : now;
        offsets.emplace_back(storage::TopicPartition{info->name, p.partition_index}, std::move(o));
      }
      ctx.note(pr.error_code);
    }
  }
  if (!offsets.empty()) {
    auto r = co_await storage::call<storage::Done>(
        [&](auto done) { ctx.realm().store().groups().commit_offsets(group, std::move(offsets), std::move(done)); });
    if (!r.ok()) {
      for (auto& t : resp.topics)
        for (auto& p : t.partitions)
          if (p.error_code == err::none) p.error_code = ctx.note(err::coordinator_not_available);
    }
  }
}

asio::awaitable<void> offset_fetch(Broker&, Ctx& ctx, OffsetFetchRequest& req, OffsetFetchResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  using Committed = std::vector<std::pair<storage::TopicPartition, storage::CommittedOffset>>;
  // The group's error when its offsets cannot be answered here: another
  // gateway coordinates it, or the storage failed (an empty answer would send
  // the consumer to its reset policy).
  auto load = [&](const std::string& group, Committed& out) -> asio::awaitable<kwire::ErrorCode> {
    if (!ctx.realm().cluster().coordinates(group)) co_return err::not_coordinator;
    auto r = co_await storage::call<Committed>(
        [&](auto done) { ctx.realm().store().groups().fetch_offsets(group, std::move(done)); });
    if (!r.ok()) {
      KB_WARN("offsets of group {}: {}", group, r.message);
      co_return err::coordinator_not_available;
    }
    out = std::move(r.value);
    co_return err::none;
  };
  auto lookup = [](const Committed& all, const std::string& topic, std::int32_t p) -> const storage::CommittedOffset* {
    for (auto& [tp, o] : all)
      if (tp.topic == topic && tp.partition == p) return &o;
    return nullptr;
  };
  if (ctx.version < 8) {
    std::string gid(req.group_id);
    Committed all;
    if (auto e = co_await load(gid, all); e != err::none) {
      resp.error_code = ctx.note(e);  // v2+ carry it; older clients see no offsets
      co_return;
    }
    auto fill = [&](OffsetFetchResponse::OffsetFetchResponsePartition& pr, const storage::CommittedOffset* o) {
      pr.committed_offset = o ? o->offset : -1;
      pr.committed_leader_epoch = o ? o->leader_epoch : -1;
      pr.metadata = o ? ctx.keep(o->metadata) : std::string_view("");
    };
    if (!req.topics) {
      std::map<std::string, std::vector<const std::pair<storage::TopicPartition, storage::CommittedOffset>*>> by;
      for (auto& e : all) by[e.first.topic].push_back(&e);
      for (auto& [topic, list] : by) {
        auto& tr = resp.topics.emplace_back();
        tr.name = ctx.keep(topic);
        for (auto* e : list) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = e->first.partition;
          fill(pr, &e->second);
        }
      }
    } else {
      for (auto& t : *req.topics) {
        auto& tr = resp.topics.emplace_back();
        tr.name = t.name;
        for (auto p : t.partition_indexes) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = p;
          fill(pr, lookup(all, std::string(t.name), p));
        }
      }
    }
    co_return;
  }
  for (auto& rg : req.groups) {
    auto& gr = resp.groups.emplace_back();
    gr.group_id = rg.group_id;
    std::string gid(rg.group_id);
    Committed all;
    if (auto e = co_await load(gid, all); e != err::none) {
      gr.error_code = ctx.note(e);
      continue;
    }
    auto fill = [&](OffsetFetchResponse::OffsetFetchResponsePartitions& pr, const storage::CommittedOffset* o) {
      pr.committed_offset = o ? o->offset : -1;
      pr.committed_leader_epoch = o ? o->leader_epoch : -1;
      pr.metadata = o ? ctx.keep(o->metadata) : std::string_view("");
    };
    if (!rg.topics) {
      std::map<std::string, std::vector<const std::pair<storage::TopicPartition, storage::CommittedOffset>*>> by;
      for (auto& e : all) by[e.first.topic].push_back(&e);
      for (auto& [topic, list] : by) {
        auto& tr = gr.topics.emplace_back();
        tr.name = ctx.keep(topic);
        if (auto info = catalog.find_topic(topic)) tr.topic_id.bytes = info->id;
        for (auto* e : list) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = e->first.partition;
          fill(pr, &e->second);
        }
      }
    } else {
      for (auto& t : *rg.topics) {
        auto& tr = gr.topics.emplace_back();
        tr.name = t.name;
        tr.topic_id = t.topic_id;
        std::string name(t.name);
        if (ctx.version >= 10) {
          auto info = catalog.find_topic(t.topic_id.bytes);
          name = info ? info->name : std::string();
        }
        for (auto p : t.partition_indexes) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = p;
          if (name.empty()) {
            pr.error_code = ctx.note(err::unknown_topic_id);
            pr.committed_offset = -1;
            pr.committed_leader_epoch = -1;
            continue;
          }
          fill(pr, lookup(all, name, p));
        }
      }
    }
  }
}

asio::awaitable<void> offset_delete(Broker&, Ctx& ctx, OffsetDeleteRequest& req, OffsetDeleteResponse& resp) {
  auto& c = ctx.realm().groups();
  std::string group(req.group_id);
  bool exists = false;
  std::set<std::string> subscribed;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    auto* g = c.find(group);
    exists = g != nullptr;
    if (g && g->state != State::empty && g->state != State::dead) {
      subscribed = c.subscribed_topics(*g);
      if (g->protocol_type != "consumer") resp.error_code = err::non_empty_group;
    }
    co_return;
  });
  if (!exists) {
    resp.error_code = ctx.note(err::group_id_not_found);
    co_return;
  }
  if (resp.error_code != err::none) {
    ctx.note(resp.error_code);
    co_return;
  }
  std::vector<storage::TopicPartition> gone;
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    bool busy = subscribed.count(std::string(t.name)) != 0;
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (busy)
        pr.error_code = ctx.note(err::group_subscribed_to_topic);
      else
        gone.push_back({std::string(t.name), p.partition_index});
    }
  }
  if (!gone.empty()) {
    co_await storage::call<storage::Done>(
        [&](auto done) { ctx.realm().store().groups().delete_offsets(group, std::move(gone), std::move(done)); });
  }
}

asio::awaitable<void> describe_groups(Broker&, Ctx& ctx, DescribeGroupsRequest& req, DescribeGroupsResponse& resp) {
  auto& c = ctx.realm().groups();
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    for (auto id : req.groups) {
      auto& dg = resp.groups.emplace_back();
      dg.group_id = id;
      auto* g = c.find(std::string(id));
      if (!g) {
        dg.group_state = "Dead";
        if (ctx.version >= 6) {
          dg.error_code = ctx.note(err::group_id_not_found);
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
      if (req.include_authorized_operations) dg.authorized_operations = 0b0000'0011'1010'1000;
    }
    co_return;
  });
}

asio::awaitable<void> list_groups(Broker&, Ctx& ctx, ListGroupsRequest& req, ListGroupsResponse& resp) {
  auto& c = ctx.realm().groups();
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    for (auto* g : c.all()) {
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
      if (!req.types_filter.empty()) {
        bool match = false;
        for (auto t : req.types_filter)
          if (t == "classic" || t == "Classic" || t == "CLASSIC") match = true;
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
}

asio::awaitable<void> delete_groups(Broker&, Ctx& ctx, DeleteGroupsRequest& req, DeleteGroupsResponse& resp) {
  auto& c = ctx.realm().groups();
  for (auto id : req.groups_names) {
    auto& r = resp.results.emplace_back();
    r.group_id = id;
    std::string gid(id);
    co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
      auto* g = c.find(gid);
      if (!g) {
        r.error_code = err::group_id_not_found;
      } else if (g->state != State::empty && g->state != State::dead) {
        r.error_code = err::non_empty_group;
      } else {
        c.remove_group(gid);
        co_await storage::call<storage::Done>(
            [&](auto done) { ctx.realm().store().groups().delete_group(gid, std::move(done)); });
      }
    });
    ctx.note(r.error_code);
  }
}

}  // namespace

std::vector<HandlerEntry> group_handlers() {
  return {
      {11, 0, 9, &invoke<JoinGroupRequest, JoinGroupResponse, join_group>},
      {14, 0, 5, &invoke<SyncGroupRequest, SyncGroupResponse, sync_group>},
      {12, 0, 4, &invoke<HeartbeatRequest, HeartbeatResponse, heartbeat>},
      {13, 0, 5, &invoke<LeaveGroupRequest, LeaveGroupResponse, leave_group>},
      {8, 0, 10, &invoke<OffsetCommitRequest, OffsetCommitResponse, offset_commit>},
      {9, 0, 10, &invoke<OffsetFetchRequest, OffsetFetchResponse, offset_fetch>},
      {47, 0, 0, &invoke<OffsetDeleteRequest, OffsetDeleteResponse, offset_delete>},
      {15, 0, 6, &invoke<DescribeGroupsRequest, DescribeGroupsResponse, describe_groups>},
      {16, 0, 5, &invoke<ListGroupsRequest, ListGroupsResponse, list_groups>},
      {42, 0, 3, &invoke<DeleteGroupsRequest, DeleteGroupsResponse, delete_groups>},
  };
}

}  // namespace kwire_broker
