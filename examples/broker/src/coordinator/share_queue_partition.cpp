// A share partition served from the store's queue: see share_queue_partition.hpp.
#include "coordinator/share_queue_partition.hpp"
#include "coordinator/stored_json.hpp"

#include <nlohmann/json.hpp>

#include "core/log.hpp"

#include <algorithm>
#include <set>

namespace kwire_broker::share {

using kwire::ErrorCode;

void QueuedPartition::offer(storage::QueuedBatch batch, const PartitionLimits& limits) {
  if (batch.control || batch.last < batch.base) {
    actions_.push_back({batch.handle, {}, true, false});
    return;
  }
  // The same entry twice (the store delivered again what the broker still
  // holds) is taken once; its records are already here.
  if (entries_.count(batch.handle) ||
      records_.lower_bound(batch.base) != records_.upper_bound(batch.last))
    return;
  const std::set<std::int64_t> done(batch.settled.begin(), batch.settled.end());
  Entry e{batch.base, batch.last, std::move(batch.bytes), 0, {}};
  for (auto o = batch.base; o <= batch.last; ++o) {
    if (done.count(o)) continue;
    std::int16_t deliveries = static_cast<std::int16_t>(std::clamp(batch.redeliveries, 0, 0x7fff));
    if (auto c = counts_.find(o); c != counts_.end()) deliveries = std::max(deliveries, c->second);
    if (deliveries >= limits.delivery_count_limit) {
      e.settled.push_back(o);  // archived: delivered as often as allowed
      counts_.erase(o);
      continue;
    }
    records_[o] = Record{RecordState::available, deliveries, {}, {}, batch.handle};
    ++e.held;
  }
  if (e.held == 0) {
    actions_.push_back({batch.handle, std::move(e.settled), true, false});
    return;
  }
  if (!e.settled.empty()) actions_.push_back({batch.handle, std::exchange(e.settled, {}), false, false});
  entries_.emplace(batch.handle, std::move(e));
}

std::size_t QueuedPartition::available() const noexcept {
  return static_cast<std::size_t>(std::count_if(records_.begin(), records_.end(), [](auto& r) {
    return r.second.state == RecordState::available;
  }));
}

QueuedPartition::Acquisition QueuedPartition::acquire(const std::string& member, std::int32_t max_records,
                                                      PartitionClock::time_point now, const PartitionLimits& limits) {
  Acquisition out;
  const auto lock_until = now + std::chrono::milliseconds(limits.lock_duration_ms);
  std::int32_t taken = 0;
  for (auto& [offset, r] : records_) {
    if (taken >= max_records) break;
    if (r.state != RecordState::available) continue;
    r.state = RecordState::acquired;
    r.owner = member;
    r.lock_until = lock_until;
    r.handed_out = true;
    ++r.deliveries;
    ++taken;
    if (!out.ranges.empty() && out.ranges.back().last + 1 == offset && out.ranges.back().delivery_count == r.deliveries)
      out.ranges.back().last = offset;
    else
      out.ranges.push_back({offset, offset, r.deliveries});
    if (out.entries.empty() || out.entries.back() != r.entry) out.entries.push_back(r.entry);
  }
  return out;
}

void QueuedPartition::settle(std::map<std::int64_t, Record>::iterator it) {
  auto& e = entries_.at(it->second.entry);
  e.settled.push_back(it->first);
  --e.held;
  counts_.erase(it->first);
  records_.erase(it);
}

void QueuedPartition::give_back(std::map<std::int64_t, Record>::iterator it, const PartitionLimits& limits) {
  it->second.owner.clear();
  if (it->second.deliveries >= limits.delivery_count_limit) settle(it);
  else it->second.state = RecordState::available;
}

void QueuedPartition::remember_count(std::int64_t offset, std::int16_t deliveries, const PartitionLimits& limits) {
  if (deliveries <= 0) return;
  counts_[offset] = deliveries;
  // Records given back may be settled by another consumer of the queue,
  // which the broker never hears of: the oldest counts go first.
  const auto bound = static_cast<std::size_t>(std::max(1, limits.max_record_locks)) * 2;
  while (counts_.size() > bound) counts_.erase(counts_.begin());
}

void QueuedPartition::review(const std::vector<std::uint64_t>& entries, const PartitionLimits& limits) {
  for (auto handle : std::set<std::uint64_t>(entries.begin(), entries.end())) {
    auto e = entries_.find(handle);
    if (e == entries_.end()) continue;
    auto& entry = e->second;
    if (entry.held == 0) {
      actions_.push_back({handle, std::move(entry.settled), true, false});
      entries_.erase(e);
      continue;
    }
    const auto from = records_.lower_bound(entry.base), to = records_.upper_bound(entry.last);
    const bool in_use = std::any_of(from, to, [](auto& r) {
      return r.second.state == RecordState::acquired || !r.second.handed_out;
    });
    if (!in_use) {
      // Nothing of it is with a member, and all of it was handed out: the
      // rest goes back to the queue.
      for (auto it = from; it != to;) {
        remember_count(it->first, it->second.deliveries, limits);
        it = records_.erase(it);
      }
      actions_.push_back({handle, std::move(entry.settled), false, true});
      entries_.erase(e);
    } else if (!entry.settled.empty()) {
      // Still in use (or new records to hand out first): only the settles.
      actions_.push_back({handle, std::exchange(entry.settled, {}), false, false});
    }
  }
}

ErrorCode QueuedPartition::acknowledge(const std::string& member, std::int64_t first, std::int64_t last,
                                       const std::vector<AckType>& types, PartitionClock::time_point now,
                                       const PartitionLimits& limits) {
  if (!well_formed_ack(first, last, types)) return ErrorCode::InvalidRequest;
  const std::int64_t count = last - first + 1;
  // Every offset of the range must be a record this member holds: counted
  // among the held records first, so that a bogus range costs nothing.
  const auto from = records_.lower_bound(first), to = records_.upper_bound(last);
  if (std::distance(from, to) != count) return ErrorCode::InvalidRecordState;
  for (auto it = from; it != to; ++it) {
    auto& r = it->second;
    if (r.state != RecordState::acquired || r.owner != member || r.lock_until <= now) return ErrorCode::InvalidRecordState;
  }
  std::vector<std::uint64_t> touched;
  for (auto it = from; it != to;) {
    auto here = it++;
    touched.push_back(here->second.entry);
    switch (types.size() == 1 ? types[0] : types[static_cast<std::size_t>(here->first - first)]) {
      case AckType::accept:
      case AckType::gap:
      case AckType::reject: settle(here); break;
      case AckType::release: give_back(here, limits); break;
      case AckType::renew: here->second.lock_until = now + std::chrono::milliseconds(limits.lock_duration_ms); break;
    }
  }
  review(touched, limits);
  return ErrorCode::None;
}

bool QueuedPartition::expire_locks(PartitionClock::time_point now, const PartitionLimits& limits) {
  std::vector<std::uint64_t> touched;
  for (auto it = records_.begin(); it != records_.end();) {
    auto here = it++;
    if (here->second.state != RecordState::acquired || here->second.lock_until > now) continue;
    touched.push_back(here->second.entry);
    give_back(here, limits);
  }
  review(touched, limits);
  return !touched.empty();
}

bool QueuedPartition::release_member(const std::string& member, const PartitionLimits& limits) {
  std::vector<std::uint64_t> touched;
  for (auto it = records_.begin(); it != records_.end();) {
    auto here = it++;
    if (here->second.state != RecordState::acquired || here->second.owner != member) continue;
    touched.push_back(here->second.entry);
    give_back(here, limits);
  }
  review(touched, limits);
  return !touched.empty();
}

void QueuedPartition::drop_all() {
  for (auto& [offset, r] : records_)
    if (r.deliveries > 0) counts_[offset] = r.deliveries;
  records_.clear();
  entries_.clear();
  // Settles not yet carried out stay: they name records by their place in
  // the store, which a lost connection does not change. Give-backs do not:
  // the store took those entries back already.
  std::erase_if(actions_, [](const QueueAction& a) { return a.give_back && a.settled.empty(); });
  for (auto& a : actions_) a.give_back = false;
}

void QueuedPartition::give_back_all(const PartitionLimits& limits) {
  for (auto& [handle, e] : entries_) {
    for (auto it = records_.lower_bound(e.base); it != records_.end() && it->first <= e.last; ++it)
      remember_count(it->first, it->second.deliveries, limits);
    actions_.push_back({handle, std::move(e.settled), false, true});
  }
  records_.clear();
  entries_.clear();
}

std::optional<std::pair<RecordState, std::int16_t>> QueuedPartition::record(std::int64_t offset) const {
  auto it = records_.find(offset);
  if (it == records_.end()) return std::nullopt;
  return std::pair{it->second.state, it->second.deliveries};
}

std::vector<std::uint8_t> QueuedPartition::encode() const {
  using json = nlohmann::json;
  std::map<std::int64_t, std::int16_t> counts = counts_;
  for (auto& [offset, r] : records_)
    if (r.deliveries > 0) counts[offset] = r.deliveries;
  json runs = json::array();
  for (auto& [offset, c] : counts) runs.push_back({offset, c});
  auto text = json{{"queue", true}, {"counts", std::move(runs)}}.dump();
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

std::optional<QueuedPartition> QueuedPartition::decode(const std::vector<std::uint8_t>& blob) {
  using json = nlohmann::json;
  auto j = json::parse(blob.begin(), blob.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("queue")) return std::nullopt;
  try {
    QueuedPartition p;
    const auto& counts = j.at("counts");
    // The counts never outgrow twice max.record.locks; a record claiming
    // vastly more is not ours.
    if (!counts.is_array() || counts.size() > (std::size_t{1} << 20)) return std::nullopt;
    for (auto& c : counts) {
      const auto offset = stored::integer<std::int64_t>(c.at(0));
      const auto deliveries = stored::integer<std::int16_t>(c.at(1));
      if (offset < 0 || deliveries < 0) return std::nullopt;
      p.counts_[offset] = deliveries;
    }
    return p;
  } catch (const std::exception&) {  // json::exception, or stored::integer's refusal
    return std::nullopt;
  }
}

boost::asio::awaitable<void> carry_out(std::shared_ptr<storage::ShareQueue> queue, std::vector<QueueAction> actions) {
  for (auto& a : actions) {
    if (a.whole || !a.settled.empty()) {
      auto r = co_await queue->settle(a.handle, std::move(a.settled), a.whole);
      if (!r.ok()) KB_WARN("share queue: an acknowledgement did not reach the store: {}", r.message);
    }
    if (a.give_back) {
      auto r = co_await queue->give_back(a.handle);
      if (!r.ok()) KB_WARN("share queue: records could not go back to the store: {}", r.message);
    }
  }
}

boost::asio::awaitable<void> close_queue(std::shared_ptr<storage::ShareQueue> queue, std::vector<QueueAction> owed) {
  if (!queue) co_return;
  co_await carry_out(queue, std::move(owed));
  auto r = co_await queue->close();
  if (!r.ok()) KB_WARN("share queue: close: {}", r.message);
}

}  // namespace kwire_broker::share
