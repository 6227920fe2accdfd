// The server-side assignors of consumer groups (`uniform`, `range`) and the
// regular expressions of topic subscriptions (RE2 syntax, as Kafka's RE2/J).
#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "coordinator/consumer_group.hpp"

namespace kwire_broker::consumer {

namespace {

struct Slot {
  const TopicMeta* topic;
  std::int32_t partition;
};

/// The compiled expressions, kept for the next heartbeat (bounded: cleared
/// when full; the coordinator runs on one strand, but stay safe anyway).
const RE2& compiled(const std::string& regex) {
  static thread_local std::map<std::string, std::unique_ptr<RE2>> cache;
  auto it = cache.find(regex);
  if (it != cache.end()) return *it->second;
  if (cache.size() >= 256) cache.clear();
  RE2::Options o;
  o.set_log_errors(false);
  return *cache.emplace(regex, std::make_unique<RE2>(regex, o)).first->second;
}

}  // namespace

bool valid_regex(const std::string& regex) { return compiled(regex).ok(); }

bool regex_matches(const std::string& regex, const std::string& name) {
  const auto& re = compiled(regex);
  return re.ok() && RE2::FullMatch(name, re);
}

std::map<std::string, Assignment> assign_uniform(const Subscriptions& members,
                                                 const std::map<std::string, TopicMeta>& topics,
                                                 const std::map<std::string, Assignment>& previous) {
  std::map<std::string, Assignment> out;
  std::map<std::string, std::size_t> count;
  for (auto& [id, _] : members) {
    out[id];
    count[id] = 0;
  }
  std::vector<Slot> slots;
  for (auto& [name, t] : topics)
    for (std::int32_t p = 0; p < t.partitions; ++p) slots.push_back({&t, p});
  std::size_t subscribers = 0;
  for (auto& [_, s] : members)
    if (!s.empty()) ++subscribers;
  if (slots.empty() || subscribers == 0) return out;
  const std::size_t cap = (slots.size() + subscribers - 1) / subscribers;
  auto eligible = [&](const std::string& member, const TopicMeta& t) {
    auto it = members.find(member);
    return it != members.end() && it->second.count(t.name) != 0;
  };
  std::map<std::pair<TopicId, std::int32_t>, std::string> owner;
  // Sticky first: a partition stays with its previous owner while that
  // owner still wants it and holds no more than a fair share.
  for (auto& [id, a] : previous) {
    if (!members.count(id)) continue;
    for (auto& s : slots) {
      auto it = a.find(s.topic->id);
      if (it == a.end() || !it->second.count(s.partition) || !eligible(id, *s.topic) || count[id] >= cap) continue;
      owner[{s.topic->id, s.partition}] = id;
      ++count[id];
    }
  }
  // The rest to whoever eligible holds the fewest.
  for (auto& s : slots) {
    if (owner.count({s.topic->id, s.partition})) continue;
    const std::string* best = nullptr;
    for (auto& [id, _] : members)
      if (eligible(id, *s.topic) && (!best || count[id] < count[*best])) best = &id;
    if (!best) continue;
    owner[{s.topic->id, s.partition}] = *best;
    ++count[*best];
  }
  // Then even out: move a partition while some eligible member holds two
  // fewer than its owner.
  for (bool moved = true; moved;) {
    moved = false;
    for (auto& s : slots) {
      auto it = owner.find({s.topic->id, s.partition});
      if (it == owner.end()) continue;
      for (auto& [id, _] : members) {
        if (id == it->second || !eligible(id, *s.topic) || count[id] + 1 >= count[it->second]) continue;
        --count[it->second];
        ++count[id];
        it->second = id;
        moved = true;
        break;
      }
    }
  }
  for (auto& [tp, id] : owner) out[id][tp.first].insert(tp.second);
  return out;
}

std::map<std::string, Assignment> assign_range(const Subscriptions& members,
                                               const std::map<std::string, TopicMeta>& topics) {
  std::map<std::string, Assignment> out;
  for (auto& [id, _] : members) out[id];
  for (auto& [name, t] : topics) {
    std::vector<const std::string*> subscribers;  // in member id order
    for (auto& [id, s] : members)
      if (s.count(name)) subscribers.push_back(&id);
    if (subscribers.empty()) continue;
    const auto k = static_cast<std::int32_t>(subscribers.size());
    const std::int32_t each = t.partitions / k, extra = t.partitions % k;
    std::int32_t next = 0;
    for (std::int32_t i = 0; i < k; ++i) {
      const std::int32_t n = each + (i < extra ? 1 : 0);
      for (std::int32_t p = next; p < next + n; ++p) out[*subscribers[i]][t.id].insert(p);
      next += n;
    }
  }
  return out;
}

}  // namespace kwire_broker::consumer
