// One share partition's records and their states: see share_partition.hpp.
#include "coordinator/share_partition.hpp"
#include "coordinator/stored_json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace kwire_broker::share {

using kwire::ErrorCode;

void SharePartition::reset(std::int64_t start_offset) {
  start_ = end_ = std::max<std::int64_t>(0, start_offset);
  records_.clear();
}

void SharePartition::follow_log_start(std::int64_t log_start) {
  if (!initialized() || log_start <= start_) return;
  if (log_start >= end_) {
    reset(log_start);
    return;
  }
  records_.erase(records_.begin(), records_.lower_bound(log_start));
  start_ = log_start;
  advance();
}

void SharePartition::give_back(Record& r, const PartitionLimits& limits) {
  r.state = r.deliveries >= limits.delivery_count_limit ? RecordState::archived : RecordState::available;
  r.owner.clear();
}

void SharePartition::advance() {
  while (!records_.empty()) {
    auto it = records_.begin();
    if (it->second.state != RecordState::acknowledged && it->second.state != RecordState::archived) break;
    records_.erase(it);
    ++start_;
  }
  if (records_.empty()) start_ = end_;
}

bool SharePartition::expire_locks(PartitionClock::time_point now, const PartitionLimits& limits) {
  bool changed = false;
  for (auto& [_, r] : records_)
    if (r.state == RecordState::acquired && r.lock_until <= now) {
      give_back(r, limits);
      changed = true;
    }
  if (changed) advance();
  return changed;
}

std::optional<std::int64_t> SharePartition::next_to_read(std::int64_t high_watermark,
                                                         const PartitionLimits& limits) const {
  if (!initialized()) return std::nullopt;
  for (auto& [offset, r] : records_)
    if (r.state == RecordState::available) return offset;
  if (end_ < high_watermark && static_cast<std::int64_t>(records_.size()) < limits.max_record_locks) return end_;
  return std::nullopt;
}

std::vector<AcquiredRange> SharePartition::acquire(const std::string& member, std::int64_t first, std::int64_t last,
                                                   std::int64_t high_watermark, std::int32_t max_records,
                                                   PartitionClock::time_point now, const PartitionLimits& limits) {
  std::vector<AcquiredRange> out;
  if (!initialized() || max_records <= 0) return out;
  last = std::min(last, high_watermark - 1);
  const auto lock_until = now + std::chrono::milliseconds(limits.lock_duration_ms);
  std::int32_t taken = 0;
  auto note = [&out](std::int64_t offset, std::int16_t deliveries) {
    if (!out.empty() && out.back().last + 1 == offset && out.back().delivery_count == deliveries)
      out.back().last = offset;
    else
      out.push_back({offset, offset, deliveries});
  };
  for (std::int64_t o = std::max(first, start_); o <= last && taken < max_records; ++o) {
    if (o >= end_) {
      // A record never handed out: the window grows by one, within its bound.
      if (static_cast<std::int64_t>(records_.size()) >= limits.max_record_locks) break;
      // Offsets the log skipped (below a batch that starts later) hold no
      // record: nothing will ever be delivered there.
      for (; end_ < o; ++end_) records_[end_] = Record{RecordState::archived, 0, {}, {}};
      records_[o] = Record{};
      end_ = o + 1;
    }
    auto& r = records_.at(o);
    if (r.state != RecordState::available) continue;
    r.state = RecordState::acquired;
    r.owner = member;
    r.lock_until = lock_until;
    ++r.deliveries;
    ++taken;
    note(o, r.deliveries);
  }
  advance();
  return out;
}

bool well_formed_ack(std::int64_t first, std::int64_t last, const std::vector<AckType>& types) {
  if (first < 0 || last < first) return false;
  if (types.size() != 1 && static_cast<std::int64_t>(types.size()) != last - first + 1) return false;
  for (auto t : types)
    if (static_cast<std::int8_t>(t) < 0 || static_cast<std::int8_t>(t) > 4) return false;
  return true;
}

ErrorCode SharePartition::acknowledge(const std::string& member, std::int64_t first, std::int64_t last,
                                      const std::vector<AckType>& types, PartitionClock::time_point now,
                                      const PartitionLimits& limits) {
  if (!well_formed_ack(first, last, types)) return ErrorCode::InvalidRequest;
  // Every record first: a batch is applied whole or not at all. The range
  // is checked against the window before it is walked, so its length costs
  // nothing when it is bogus.
  if (!initialized() || first < start_ || last >= end_) return ErrorCode::InvalidRecordState;
  for (std::int64_t o = first; o <= last; ++o) {
    auto& r = records_.at(o);
    if (r.state != RecordState::acquired || r.owner != member || r.lock_until <= now) return ErrorCode::InvalidRecordState;
  }
  for (std::int64_t o = first; o <= last; ++o) {
    auto& r = records_.at(o);
    switch (types.size() == 1 ? types[0] : types[static_cast<std::size_t>(o - first)]) {
      case AckType::accept: r.state = RecordState::acknowledged; break;
      case AckType::gap:  // no record at this offset: nothing to deliver again
      case AckType::reject: r.state = RecordState::archived; break;
      case AckType::release: give_back(r, limits); break;
      case AckType::renew: r.lock_until = now + std::chrono::milliseconds(limits.lock_duration_ms); continue;
    }
    if (r.state != RecordState::acquired) r.owner.clear();
  }
  advance();
  return ErrorCode::None;
}

bool SharePartition::release_member(const std::string& member, const PartitionLimits& limits) {
  bool changed = false;
  for (auto& [_, r] : records_)
    if (r.state == RecordState::acquired && r.owner == member) {
      give_back(r, limits);
      changed = true;
    }
  if (changed) advance();
  return changed;
}

std::optional<std::pair<RecordState, std::int16_t>> SharePartition::record(std::int64_t offset) const {
  auto it = records_.find(offset);
  if (it == records_.end()) return std::nullopt;
  return std::pair{it->second.state, it->second.deliveries};
}

std::vector<std::uint8_t> SharePartition::encode() const {
  using json = nlohmann::json;
  json runs = json::array();
  for (auto& [offset, r] : records_) {
    const int state = static_cast<int>(r.state == RecordState::acquired ? RecordState::available : r.state);
    if (!runs.empty()) {
      auto& back = runs.back();
      if (back[1].get<std::int64_t>() + 1 == offset && back[2].get<int>() == state && back[3].get<int>() == r.deliveries) {
        back[1] = offset;
        continue;
      }
    }
    runs.push_back({offset, offset, state, r.deliveries});
  }
  json j{{"start", start_}, {"end", end_}, {"runs", std::move(runs)}};
  auto text = j.dump();
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

std::optional<SharePartition> SharePartition::decode(const std::vector<std::uint8_t>& blob) {
  using json = nlohmann::json;
  auto j = json::parse(blob.begin(), blob.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    SharePartition p;
    p.start_ = stored::integer<std::int64_t>(j.at("start"));
    p.end_ = stored::integer<std::int64_t>(j.at("end"));
    // The window holds max.record.locks records (Kafka allows at most
    // 10000) and the offsets skipped between them; a record claiming a vast
    // one is not ours, and reading it would fill memory.
    if (p.start_ < -1 || p.end_ < p.start_ || p.end_ - p.start_ > (std::int64_t{1} << 20)) return std::nullopt;
    for (auto& run : j.at("runs")) {
      const auto first = stored::integer<std::int64_t>(run.at(0)), last = stored::integer<std::int64_t>(run.at(1));
      const auto state = stored::integer<int>(run.at(2));
      const auto deliveries = stored::integer<std::int16_t>(run.at(3));
      if (first < p.start_ || last >= p.end_ || last < first) return std::nullopt;
      if (state != 0 && state != 2 && state != 4) return std::nullopt;
      for (auto o = first; o <= last; ++o) p.records_[o] = Record{static_cast<RecordState>(state), deliveries, {}, {}};
    }
    // Dense, as the window always is; a record missing is one still available.
    for (auto o = p.start_; o >= 0 && o < p.end_; ++o) p.records_.try_emplace(o);
    p.advance();
    return p;
  } catch (const std::exception&) {  // json::exception, or stored::integer's refusal
    return std::nullopt;
  }
}

}  // namespace kwire_broker::share
