// Idempotent-producer bookkeeping for one partition, as Kafka keeps it: per
// producer id, its epoch and the last five batches (sequence range and
// offsets). Storage implementations run check() and record() under the same
// lock that assigns offsets, so a retry cannot race with its original. The
// table is rebuilt from batch headers when a log is opened.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>

#include "storage.hpp"

namespace kwire_broker::storage {

class ProducerStateTable {
 public:
  static constexpr std::size_t cached_batches = 5;

  struct BatchMeta {
    std::int32_t first_seq = -1;
    std::int32_t last_seq = -1;
    std::int64_t first_offset = -1;
    std::int64_t last_offset = -1;
    std::int64_t append_time = -1;
  };
  struct Entry {
    std::int16_t epoch = -1;
    std::deque<BatchMeta> batches;  // oldest first
  };

  /// Decides whether a batch may be appended. On duplicate_sequence `dup`
  /// receives the original append's offsets.
  Errc check(const BatchInfo& h, AppendResult* dup = nullptr) const {
    if (!h.idempotent() || h.transactional) {
      return h.idempotent() && h.base_sequence < 0 ? Errc::out_of_order_sequence : Errc::ok;
    }
    if (h.base_sequence < 0) return Errc::out_of_order_sequence;
    auto it = producers_.find(h.producer_id);
    if (it == producers_.end() || it->second.batches.empty()) {
      // A producer we have no state for must start at sequence 0 (a producer
      // whose state was removed by retention restarts at 0 after
      // UNKNOWN_PRODUCER_ID).
      if (it != producers_.end() && h.producer_epoch < it->second.epoch) return Errc::invalid_producer_epoch;
      return h.base_sequence == 0 ? Errc::ok : Errc::unknown_producer_id;
    }
    const Entry& e = it->second;
    if (h.producer_epoch < e.epoch) return Errc::invalid_producer_epoch;
    if (h.producer_epoch > e.epoch) {
      return h.base_sequence == 0 ? Errc::ok : Errc::out_of_order_sequence;
    }
    for (const auto& b : e.batches) {
      if (b.first_seq == h.base_sequence && b.last_seq == h.last_sequence()) {
        if (dup) {
          dup->base_offset = b.first_offset;
          dup->last_offset = b.last_offset;
          dup->log_append_time = b.append_time;
        }
        return Errc::duplicate_sequence;
      }
    }
    std::int32_t last = e.batches.back().last_seq;
    std::int32_t expected = last == 0x7fffffff ? 0 : last + 1;
    return h.base_sequence == expected ? Errc::ok : Errc::out_of_order_sequence;
  }

  /// Records a batch that was appended (its header has the final offsets).
  void record(const BatchInfo& h, std::int64_t append_time = -1) {
    if (!h.idempotent() || h.base_sequence < 0) return;
    Entry& e = producers_[h.producer_id];
    if (h.producer_epoch != e.epoch) {
      e.epoch = h.producer_epoch;
      e.batches.clear();
    }
    e.batches.push_back({h.base_sequence, h.last_sequence(), h.base_offset, h.last_offset(), append_time});
    while (e.batches.size() > cached_batches) e.batches.pop_front();
  }

  /// Forgets everything (before a rebuild).
  void clear() { producers_.clear(); }
  std::size_t size() const noexcept { return producers_.size(); }

 private:
  std::unordered_map<std::int64_t, Entry> producers_;
};

}  // namespace kwire_broker::storage
