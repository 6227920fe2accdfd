#include "protocol/fetch_sessions.hpp"

#include <algorithm>
#include <climits>

namespace kwire_broker {

namespace {

using kwire::ErrorCode;

/// Kafka's epochs after a session's first (1): up to INT32_MAX, then 1 again.
std::int32_t next_epoch(std::int32_t e) noexcept { return e == INT32_MAX ? 1 : e + 1; }

}  // namespace

struct FetchSessionCache::Session {
  std::int32_t id = 0;
  const void* owner = nullptr;
  bool by_id = false;
  std::int32_t epoch = 1;  // what the next request must carry
  std::int64_t created_ms = 0;
  std::int64_t used_ms = 0;
  /// The partitions in the order they are read and answered, and where
  /// each one is in that order.
  std::list<FetchWant> order;
  std::map<FetchKey, std::list<FetchWant>::iterator> index;

  /// Adds a partition or updates what it asks; false when it was there.
  bool put(const FetchWant& w) {
    auto [at, added] = index.try_emplace(w.key);
    if (added) {
      at->second = order.insert(order.end(), w);
      return true;
    }
    at->second->fetch_offset = w.fetch_offset;
    at->second->max_bytes = w.max_bytes;
    return false;
  }
};

FetchSessionCache::FetchSessionCache(Options o) : options_(o), ids_(std::random_device{}()) {}
FetchSessionCache::~FetchSessionCache() = default;

FetchSessionCache::Plan FetchSessionCache::begin(const void* owner, std::int32_t session_id, std::int32_t epoch,
                                                 bool by_id, std::vector<FetchWant> wanted,
                                                 const std::vector<FetchKey>& forgotten, std::int64_t now_ms) {
  Plan p;
  std::lock_guard lk(mu_);
  if (epoch == 0 || epoch == -1) {
    // A full fetch: any session it names is closed; epoch 0 asks for a new one.
    if (session_id != 0) {
      auto it = sessions_.find(session_id);
      if (it != sessions_.end() && it->second->owner == owner) remove(it);
    }
    p.kind = epoch == 0 ? Plan::Kind::full : Plan::Kind::sessionless;
    p.partitions = std::move(wanted);
    return p;
  }
  auto it = sessions_.find(session_id);
  p.kind = Plan::Kind::error;
  if (it == sessions_.end() || it->second->owner != owner) {
    p.error = ErrorCode::FetchSessionIdNotFound;
    return p;
  }
  Session& s = *it->second;
  if (s.epoch != epoch) {
    p.error = ErrorCode::InvalidFetchSessionEpoch;
    return p;
  }
  if (s.by_id != by_id) {
    p.error = ErrorCode::FetchSessionTopicIdError;
    return p;
  }
  for (const auto& w : wanted)
    if (s.put(w)) ++partitions_;
  for (const auto& k : forgotten) {
    auto at = s.index.find(k);
    if (at == s.index.end()) continue;
    s.order.erase(at->second);
    s.index.erase(at);
    --partitions_;
  }
  if (partitions_ > options_.max_partitions) {
    // Grown past what all sessions may hold: the client starts over with a
    // full fetch, which gets a session only if there is room.
    remove(it);
    p.error = ErrorCode::FetchSessionIdNotFound;
    return p;
  }
  if (s.order.empty()) {
    // Nothing left to fetch: as Kafka, drop the session and answer the
    // request as a fetch without one.
    remove(it);
    p.kind = Plan::Kind::sessionless;
    p.partitions = std::move(wanted);
    return p;
  }
  s.epoch = next_epoch(epoch);
  s.used_ms = now_ms;
  p.kind = Plan::Kind::incremental;
  p.session_id = s.id;
  p.partitions.assign(s.order.begin(), s.order.end());
  return p;
}

std::int32_t FetchSessionCache::create(const void* owner, bool by_id, const std::vector<FetchWant>& partitions,
                                       const std::vector<FetchSent>& sent, std::int64_t now_ms) {
  if (partitions.empty()) return 0;
  auto s = std::make_unique<Session>();
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    FetchWant w = partitions[i];
    const bool ok = i < sent.size() && sent[i].error == ErrorCode::None;
    w.sent_high_watermark = ok ? sent[i].high_watermark : -1;
    w.sent_log_start = i < sent.size() ? sent[i].log_start : -1;
    w.sent_last_stable = i < sent.size() ? sent[i].last_stable : -1;
    if (!s->put(w)) {  // the same partition twice: the last one asks
      auto& kept = *s->index.at(w.key);
      kept.sent_high_watermark = w.sent_high_watermark;
      kept.sent_log_start = w.sent_log_start;
      kept.sent_last_stable = w.sent_last_stable;
    }
  }
  std::lock_guard lk(mu_);
  const std::size_t size = s->order.size();
  if (sessions_.size() >= options_.slots && !make_room(size, now_ms)) return 0;
  if (partitions_ + size > options_.max_partitions) return 0;
  s->id = new_id();
  s->owner = owner;
  s->by_id = by_id;
  s->epoch = 1;
  s->created_ms = s->used_ms = now_ms;
  const auto id = s->id;
  partitions_ += size;
  sessions_.emplace(id, std::move(s));
  return id;
}

std::vector<bool> FetchSessionCache::respond(const Plan& plan, const std::vector<FetchSent>& sent) {
  std::vector<bool> carry(plan.partitions.size(), true);
  for (std::size_t i = 0; i < plan.partitions.size() && i < sent.size(); ++i) {
    const auto& w = plan.partitions[i];
    const auto& r = sent[i];
    carry[i] = r.records || r.error != ErrorCode::None || r.high_watermark != w.sent_high_watermark ||
               r.log_start != w.sent_log_start || r.last_stable != w.sent_last_stable;
  }
  std::lock_guard lk(mu_);
  auto it = sessions_.find(plan.session_id);
  if (it == sessions_.end()) return carry;  // closed or evicted meanwhile
  Session& s = *it->second;
  for (std::size_t i = 0; i < plan.partitions.size() && i < sent.size(); ++i) {
    auto at = s.index.find(plan.partitions[i].key);
    if (at == s.index.end()) continue;
    const auto& r = sent[i];
    auto& w = *at->second;
    // After an error the partition is sent again once it clears.
    w.sent_high_watermark = r.error == ErrorCode::None ? r.high_watermark : -1;
    w.sent_log_start = r.log_start;
    w.sent_last_stable = r.last_stable;
    if (r.records) s.order.splice(s.order.end(), s.order, at->second);
  }
  return carry;
}

bool FetchSessionCache::make_room(std::size_t size, std::int64_t now_ms) {
  // Linear scans: the cache holds at most `slots` sessions (1000), and this
  // runs only when it is full.
  const std::int64_t eviction = options_.eviction.count();
  auto lru = sessions_.end();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
    if (lru == sessions_.end() || it->second->used_ms < lru->second->used_ms) lru = it;
  if (lru == sessions_.end()) return false;
  if (now_ms - lru->second->used_ms > eviction) {
    remove(lru);
    ++evictions_;
    return true;
  }
  // No stale session: the smallest one old enough to be evicted gives way
  // to a larger newcomer.
  auto smallest = sessions_.end();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (now_ms - it->second->created_ms <= eviction) continue;
    if (smallest == sessions_.end() || it->second->order.size() < smallest->second->order.size()) smallest = it;
  }
  if (smallest == sessions_.end() || size <= smallest->second->order.size()) return false;
  remove(smallest);
  ++evictions_;
  return true;
}

void FetchSessionCache::remove(Sessions::iterator it) {
  partitions_ -= it->second->order.size();
  sessions_.erase(it);
}

std::int32_t FetchSessionCache::new_id() {
  std::uniform_int_distribution<std::int32_t> pick(1, INT32_MAX);
  for (;;) {
    const std::int32_t id = pick(ids_);
    if (!sessions_.count(id)) return id;
  }
}

void FetchSessionCache::reseed(std::uint32_t seed) {
  std::lock_guard lk(mu_);
  ids_.seed(seed);
}

std::size_t FetchSessionCache::sessions() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

std::size_t FetchSessionCache::partitions() const {
  std::lock_guard lk(mu_);
  return partitions_;
}

std::uint64_t FetchSessionCache::evictions() const {
  std::lock_guard lk(mu_);
  return evictions_;
}

}  // namespace kwire_broker
