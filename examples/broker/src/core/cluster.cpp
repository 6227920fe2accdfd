#include "core/cluster.hpp"

#include <algorithm>

#include "core/log.hpp"

namespace kwire_broker {

namespace {

// FNV-1a then a 64-bit finaliser: stable across processes and platforms.
std::uint64_t score(std::string_view key, std::int32_t node) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](unsigned char c) { h = (h ^ c) * 1099511628211ULL; };
  for (unsigned char c : key) mix(c);
  mix('#');
  for (int i = 0; i < 4; ++i) mix(static_cast<unsigned char>(static_cast<std::uint32_t>(node) >> (8 * i)));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::int32_t ClusterView::owner(std::string_view key) const {
  std::int32_t best = self_;
  std::uint64_t best_score = 0;
  bool any = false;
  for (const auto& g : gateways_) {
    const auto s = score(key, g.node_id);
    if (!any || s > best_score || (s == best_score && g.node_id < best)) {
      best = g.node_id;
      best_score = s;
      any = true;
    }
  }
  return best;
}

std::int32_t ClusterView::leader_of(const storage::TopicPartition& tp) const {
  if (gateways_.size() <= 1) return self_;
  return owner("partition/" + tp.topic + "/" + std::to_string(tp.partition));
}

std::int32_t ClusterView::coordinator_of_shard(std::int32_t shard) const {
  if (gateways_.size() <= 1) return self_;
  return owner("groups/" + std::to_string(shard));
}

std::optional<storage::Endpoint> ClusterView::endpoint(std::int32_t node, const std::string& listener) const {
  for (const auto& g : gateways_) {
    if (g.node_id != node) continue;
    for (const auto& e : g.endpoints)
      if (e.listener == listener) return e;
  }
  return std::nullopt;
}

Cluster::Cluster(const Settings& settings, storage::Storage& store) : settings_(settings), store_(store) {}

void Cluster::join() {
  auto* m = store_.membership();
  if (!m) return;
  storage::Gateway self;
  self.node_id = settings_.node_id;
  for (const auto& a : settings_.advertised) self.endpoints.push_back({a.name, a.host, a.port});
  m->join_at_startup(std::move(self));
}

ClusterView Cluster::view() const {
  std::vector<storage::Gateway> gs;
  if (auto* m = store_.membership()) gs = m->gateways();
  if (gs.empty()) {
    storage::Gateway self;
    self.node_id = settings_.node_id;
    for (const auto& a : settings_.advertised) self.endpoints.push_back({a.name, a.host, a.port});
    gs.push_back(std::move(self));
  }
  return ClusterView(std::move(gs), settings_.node_id);
}

std::int32_t Cluster::coordinator_of(const std::string& group) const {
  return view().coordinator_of_shard(store_.groups().shard_of(group));
}

void Cluster::release_lost(const std::vector<std::shared_ptr<storage::PartitionLog>>& logs) {
  if (!store_.membership()) return;
  const auto v = view();
  // A shard another gateway owns is let go on every call, not only when the
  // members change: a write still under way when this gateway lost it (a
  // transaction finishing, say) may have taken it back, and the owner could
  // not take it while this one held it.
  for (std::int32_t shard = 0; shard < store_.groups().shard_count(); ++shard)
    if (v.coordinator_of_shard(shard) != settings_.node_id) store_.groups().release_shard(shard);
  std::vector<std::int32_t> members;
  for (const auto& g : v.gateways()) members.push_back(g.node_id);
  if (members == last_members_) return;
  KB_INFO("gateways now: {}", [&] {
    std::string s;
    for (auto n : members) s += (s.empty() ? "" : ", ") + std::to_string(n);
    return s;
  }());
  last_members_ = members;
  for (const auto& log : logs)
    if (v.leader_of(log->id()) != settings_.node_id) log->release();
}

}  // namespace kwire_broker
