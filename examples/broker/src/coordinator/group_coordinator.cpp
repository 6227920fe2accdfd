// The group coordinator (see group_coordinator.hpp).
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "coordinator/group_coordinator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>
#include <stdexcept>

#include "coordinator/consumer_protocol.hpp"
#include "core/log.hpp"

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

GroupCoordinator::GroupCoordinator(Config config, storage::Storage& store, asio::io_context& io)
    : config_(std::move(config)), store_(store), strand_(asio::make_strand(io)), consumers_(config_.consumer), shares_(config_.share) {
  if (!config_.clock) config_.clock = [] { return Clock::now(); };
}

GroupCoordinator::~GroupCoordinator() = default;

asio::awaitable<void> GroupCoordinator::load() {
  auto& store = store_.groups();
  auto blobs = co_await store.load_groups();
  if (!blobs.ok()) throw std::runtime_error("cannot load the stored groups: " + blobs.message);
  auto ids = co_await store.list_groups();
  if (!ids.ok()) throw std::runtime_error("cannot list the stored groups: " + ids.message);
  std::set<std::string> consumer_groups;
  std::set<std::string> share_groups;
  for (auto& b : blobs.value) {
    if (consumers_.load(b.group_id, b.data, now())) consumer_groups.insert(b.group_id);
    if (shares_.load(b.group_id, b.data, now())) share_groups.insert(b.group_id);
  }
  for (auto& id : ids.value)
    if (!consumer_groups.count(id) && !share_groups.count(id)) get_or_create(id);
  for (auto& b : blobs.value) {
    if (consumer_groups.count(b.group_id) || consumer::ConsumerGroups::is_record(b.data) ||
        share_groups.count(b.group_id) || share::ShareGroups::is_record(b.data))
      continue;
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
  if (auto* states = store_.share_states()) {
    auto loaded = co_await states->load_share_states();
    if (!loaded.ok()) throw std::runtime_error("cannot load the share partitions: " + loaded.message);
    for (auto& b : loaded.value) {
      if (auto q = share::QueuedPartition::decode(b.data)) {
        share_state_.queued[b.key] = std::move(*q);
        continue;
      }
      auto p = share::SharePartition::decode(b.data);
      if (!p) {
        KB_WARN("share group {}: cannot read the state of a share partition", b.key.group_id);
        continue;
      }
      share_state_.partitions[b.key] = std::move(*p);
    }
  }
  KB_INFO("group coordinator loaded {} classic, {} consumer and {} share group(s), {} share partition(s)",
          groups_.size(), consumer_groups.size(), share_groups.size(),
          share_state_.partitions.size() + share_state_.queued.size());
  sweep_timer_ = std::make_shared<asio::steady_timer>(strand_);
  asio::co_spawn(strand_, sweep(), asio::detached);
}

void GroupCoordinator::shutdown() {
  asio::post(strand_, [this] {
    stopped_ = true;
    if (sweep_timer_) sweep_timer_->cancel();
    for (auto& [gid, g] : groups_) {
      for (auto& [mid, m] : g->members) {
        if (m.join) m.join->set(JoinResult{kwire::ErrorCode::NotCoordinator});
        if (m.sync) m.sync->set(SyncResult{kwire::ErrorCode::NotCoordinator});
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
  auto r = co_await store_.groups().store_group(group_id, std::move(record));
  if (!r.ok()) KB_WARN("could not store group {}: {}", group_id, r.message);
}

share::PartitionLimits GroupCoordinator::share_limits(std::string_view group) const {
  const auto& d = config_.share;
  const auto* g = shares_.find(std::string(group));
  if (!g) return {d.lock_duration_ms, d.delivery_count_limit, d.max_record_locks};
  return {g->config_int("share.record.lock.duration.ms", d.lock_duration_ms),
          g->config_int("share.delivery.count.limit", d.delivery_count_limit),
          g->config_int("share.partition.max.record.locks", d.max_record_locks)};
}

void GroupCoordinator::end_share_sessions_of_departed() {
  std::vector<std::pair<std::string, std::string>> departed;
  for (auto& [key, _] : share_state_.sessions) {
    auto* g = shares_.find(key.first);
    if (!g || !g->members.count(key.second)) departed.push_back(key);
  }
  for (auto& [group, member] : departed)
    for (auto& key : share_state_.close(group, member, share_limits(group)))
      asio::co_spawn(strand_, persist_share(key), asio::detached);
}

asio::awaitable<void> GroupCoordinator::persist_share(storage::SharePartitionKey key) {
  auto* states = store_.share_states();
  if (!states) co_return;
  if (auto q = share_state_.queued.find(key); q != share_state_.queued.end()) {
    // What the members did reaches the store's queue first: a record is
    // acknowledged there before the member hears that it is.
    if (q->second.queue) {
      auto queue = q->second.queue;  // named: g++ 12 mishandles temporaries in co_await
      auto actions = q->second.take_actions();
      co_await share::carry_out(std::move(queue), std::move(actions));
    }
    q = share_state_.queued.find(key);  // looked up again after the wait
    if (q != share_state_.queued.end()) {
      std::string group = key.group_id;  // the key moves into the call
      auto r = co_await states->store_share_state(std::move(key), q->second.encode());
      if (!r.ok()) KB_WARN("could not store a share partition of group {}: {}", group, r.message);
      co_return;
    }
  }
  auto it = share_state_.partitions.find(key);
  if (it == share_state_.partitions.end()) {
    auto r = co_await states->delete_share_state(key);
    if (!r.ok()) KB_WARN("could not delete a share partition of group {}: {}", key.group_id, r.message);
    co_return;
  }
  std::string group = key.group_id;  // the key moves into the call
  auto r = co_await states->store_share_state(std::move(key), it->second.encode());
  if (!r.ok()) KB_WARN("could not store a share partition of group {}: {}", group, r.message);
}

bool GroupCoordinator::accepts_joining(const Group& g, const std::string& member_id) const {
  auto it = g.members.find(member_id);
  switch (g.state) {
    case State::empty:
    case State::dead: return true;
    case State::preparing_rebalance: {
      // Those already rejoining count, not the members: the group may be
      // over the limit (it was lowered), and the last to rejoin are left out.
      if (it != g.members.end() && it->second.join && !it->second.join->value) return true;
      std::int64_t rejoining = 0;
      for (auto& [_, m] : g.members) rejoining += m.join && !m.join->value ? 1 : 0;
      return rejoining < config_.max_size;
    }
    case State::completing_rebalance:
    case State::stable: return it != g.members.end() || static_cast<std::int64_t>(g.members.size()) < config_.max_size;
  }
  return true;
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
        m.sync->set(SyncResult{kwire::ErrorCode::RebalanceInProgress});
        m.sync.reset();
      }
    }
  }
  bool initial = g.state == State::empty;
  g.state = State::preparing_rebalance;
  std::int32_t timeout = 0;
  for (auto& [_, m] : g.members) timeout = std::max(timeout, m.rebalance_timeout_ms);
  auto delay = config_.initial_rebalance_delay_ms;
  g.initial_delay = initial && delay > 0;
  g.rebalance_deadline = now() + std::chrono::milliseconds(g.initial_delay ? std::min(delay, timeout) : timeout);
  KB_INFO("group {}: rebalancing ({}), generation {}", g.id, why, g.generation);
}

void GroupCoordinator::maybe_complete_join(Group& g) {
  if (g.state != State::preparing_rebalance || g.initial_delay) return;
  for (auto& [_, m] : g.members)
    if (!m.join || m.join->value) return;
  complete_join(g);
}

std::string GroupCoordinator::common_protocol(const Group& g) {
  auto leader = g.members.find(g.leader);
  if (leader == g.members.end()) return {};
  for (auto& [name, _] : leader->second.protocols) {
    bool all = true;
    for (auto& [__, m] : g.members)
      if (!m.metadata_for(name)) all = false;
    if (all) return name;
  }
  return {};
}

void GroupCoordinator::complete_join(Group& g) {
  std::vector<std::string> gone;
  for (auto& [id, m] : g.members)
    if (!m.join || m.join->value) gone.push_back(id);
  for (auto& id : gone) {
    KB_INFO("group {}: member {} did not rejoin in time", g.id, id);
    remove_member(g, id, kwire::ErrorCode::UnknownMemberId);
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
  g.protocol = common_protocol(g);
  g.protocol_type = g.members.at(g.leader).protocol_type;
  g.state = State::completing_rebalance;
  const auto now = this->now();
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
  const auto now = this->now();
  if (!accepts_joining(g, m.id)) {
    // group.max.size: Kafka refuses the member before anything else, and
    // drops it when it is one of the group's (it was not rejoining).
    const bool member = g.members.count(m.id) != 0;
    remove_member(g, m.id, kwire::ErrorCode::UnknownMemberId);
    if (member) maybe_complete_join(g);
    KB_INFO("group {}: member {} refused: the group has reached group.max.size ({})", g.id,
            m.id.empty() ? std::string("(new)") : m.id, config_.max_size);
    co_return JoinResult{kwire::ErrorCode::GroupMaxSizeReached};  // and no member id
  }
  if (m.protocols.empty() || m.protocol_type.empty()) co_return JoinResult{kwire::ErrorCode::InconsistentGroupProtocol};
  if (!g.members.empty()) {
    if (!g.protocol_type.empty() && m.protocol_type != g.protocol_type)
      co_return JoinResult{kwire::ErrorCode::InconsistentGroupProtocol};
    bool common = false;
    for (auto& [name, _] : m.protocols) {
      bool all = true;
      for (auto& [id, om] : g.members)
        if (id != m.id && !om.metadata_for(name)) all = false;
      if (all) common = true;
    }
    if (!common) co_return JoinResult{kwire::ErrorCode::InconsistentGroupProtocol};
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
        if (old.join) old.join->set(JoinResult{kwire::ErrorCode::FencedInstanceId});
        if (old.sync) old.sync->set(SyncResult{kwire::ErrorCode::FencedInstanceId});
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
      JoinResult r{kwire::ErrorCode::MemberIdRequired};
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
        JoinResult r{kwire::ErrorCode::FencedInstanceId};
        r.member_id = m.id;
        co_return r;
      }
    }
    if (!known) {
      JoinResult r{kwire::ErrorCode::UnknownMemberId};
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
    if (cur.join) cur.join->set(JoinResult{kwire::ErrorCode::UnknownMemberId});
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
    JoinResult r{kwire::ErrorCode::UnknownServerError};
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
    if (s != g.static_ids.end() && s->second != member_id) co_return SyncResult{kwire::ErrorCode::FencedInstanceId};
  }
  if (it == g.members.end()) co_return SyncResult{kwire::ErrorCode::UnknownMemberId};
  if (generation != g.generation) co_return SyncResult{kwire::ErrorCode::IllegalGeneration};
  auto& m = it->second;
  m.last_seen = now();
  switch (g.state) {
    case State::empty:
    case State::dead: co_return SyncResult{kwire::ErrorCode::UnknownMemberId};
    case State::preparing_rebalance: co_return SyncResult{kwire::ErrorCode::RebalanceInProgress};
    case State::stable: co_return SyncResult{kwire::ErrorCode::None, g.protocol_type, g.protocol, m.assignment};
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
        om.sync->set(SyncResult{kwire::ErrorCode::None, g.protocol_type, g.protocol, om.assignment});
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
  co_return pending->value ? *pending->value : SyncResult{kwire::ErrorCode::UnknownServerError};
}

kwire::ErrorCode GroupCoordinator::heartbeat(Group& g, const std::string& member_id, std::int32_t generation,
                                         const std::optional<std::string>& instance_id) {
  if (instance_id) {
    auto s = g.static_ids.find(*instance_id);
    if (s != g.static_ids.end() && s->second != member_id) return kwire::ErrorCode::FencedInstanceId;
  }
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return kwire::ErrorCode::UnknownMemberId;
  it->second.last_seen = now();
  if (generation != g.generation) return kwire::ErrorCode::IllegalGeneration;
  if (g.state == State::preparing_rebalance) return kwire::ErrorCode::RebalanceInProgress;
  if (g.state == State::empty || g.state == State::dead) return kwire::ErrorCode::UnknownMemberId;
  return kwire::ErrorCode::None;
}

kwire::ErrorCode GroupCoordinator::leave(Group& g, const std::string& member_id,
                                     const std::optional<std::string>& instance_id) {
  std::string id = member_id;
  if (instance_id) {
    auto s = g.static_ids.find(*instance_id);
    if (s == g.static_ids.end()) return kwire::ErrorCode::UnknownMemberId;
    if (!member_id.empty() && s->second != member_id) return kwire::ErrorCode::FencedInstanceId;
    id = s->second;
  }
  if (!g.members.count(id)) return kwire::ErrorCode::UnknownMemberId;
  remove_member(g, id, kwire::ErrorCode::UnknownMemberId);
  KB_INFO("group {}: member {} left", g.id, id);
  if (g.state == State::stable || g.state == State::completing_rebalance) prepare_rebalance(g, "member left");
  maybe_complete_join(g);
  return kwire::ErrorCode::None;
}

kwire::ErrorCode GroupCoordinator::check_commit(Group* g, const std::string& member_id, std::int32_t generation,
                                            const std::optional<std::string>& instance_id) {
  if (generation < 0 && member_id.empty()) {
    // A commit outside any group membership (standalone consumer or admin).
    if (g && g->state != State::empty && g->state != State::dead) return kwire::ErrorCode::UnknownMemberId;
    return kwire::ErrorCode::None;
  }
  if (!g) return kwire::ErrorCode::UnknownMemberId;
  if (instance_id) {
    auto s = g->static_ids.find(*instance_id);
    if (s != g->static_ids.end() && s->second != member_id) return kwire::ErrorCode::FencedInstanceId;
  }
  auto it = g->members.find(member_id);
  if (it == g->members.end()) return kwire::ErrorCode::UnknownMemberId;
  it->second.last_seen = now();
  if (generation != g->generation) return kwire::ErrorCode::IllegalGeneration;
  // Members of the current generation may still commit while the group
  // prepares a rebalance (that is when eager consumers commit what they
  // processed); only between JoinGroup and SyncGroup is it refused.
  if (g->state == State::completing_rebalance) return kwire::ErrorCode::RebalanceInProgress;
  return kwire::ErrorCode::None;
}

std::set<std::string> GroupCoordinator::subscribed_topics(const Group& g) {
  std::set<std::string> out;
  if (g.protocol_type != "consumer") return out;
  for (auto& [_, m] : g.members) {
    auto* md = m.metadata_for(g.protocol);
    if (!md) continue;
    if (auto sub = consumer::decode_subscription(*md)) out.insert(sub->topics.begin(), sub->topics.end());
  }
  return out;
}

asio::awaitable<void> GroupCoordinator::sweep() {
  while (!stopped_) {
    sweep_timer_->expires_after(config_.sweep_interval);
    boost::system::error_code ec;
    co_await sweep_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    expire(now());
  }
}

void GroupCoordinator::expire(Clock::time_point now) {
  for (auto& id : consumers_.expire(now)) {
    auto* g = consumers_.find(id);
    if (!g) continue;
    auto record = consumers_.downgradable(*g) ? downgrade_to_classic(id) : consumer::ConsumerGroups::record_of(*g);
    asio::co_spawn(strand_, persist(id, std::move(record)), asio::detached);
  }
  for (auto& id : shares_.expire(now))
    if (auto* g = shares_.find(id)) asio::co_spawn(strand_, persist(id, share::ShareGroups::record_of(*g)), asio::detached);
  end_share_sessions_of_departed();
  expire_share_queues();
  for (auto& [_, gp] : groups_) {
    auto& g = *gp;
    std::vector<std::string> expired;
    for (auto& [id, m] : g.members) {
      bool waiting = m.join && !m.join->value;
      if (!waiting && now - m.last_seen > std::chrono::milliseconds(m.session_timeout_ms)) expired.push_back(id);
    }
    for (auto& id : expired) {
      KB_INFO("group {}: member {} session expired", g.id, id);
      remove_member(g, id, kwire::ErrorCode::UnknownMemberId);
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
        remove_member(g, id, kwire::ErrorCode::UnknownMemberId);
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

}  // namespace kwire_broker
