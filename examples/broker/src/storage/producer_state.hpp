// Idempotent-producer bookkeeping for one partition, as Kafka keeps it: per
// producer id, its epoch, the last five batches (sequence range and
// offsets) and the first offset of its open transaction. Storage
// implementations run check() and record() under the same lock that assigns
// offsets, so a retry cannot race with its original. The table is rebuilt
// from batch headers (and markers) when a log is opened.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

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
    std::int64_t txn_first_offset = -1;  // of the open transaction; -1 if none
    std::int32_t coordinator_epoch = -1;  // of the last marker
    std::int64_t last_timestamp = -1;     // max timestamp of its last batch
  };

  /// A transaction a marker ended: from its first batch to the marker.
  struct CompletedTxn {
    std::int64_t producer_id = -1;
    std::int64_t first_offset = -1;
    std::int64_t last_offset = -1;
    bool aborted = false;
  };

  /// Decides whether a batch may be appended. On duplicate_sequence `dup`
  /// receives the original append's offsets.
  Errc check(const BatchInfo& h, AppendResult* dup = nullptr) const {
    if (!h.idempotent()) return Errc::ok;
    if (h.base_sequence < 0) return Errc::out_of_order_sequence;
    auto it = producers_.find(h.producer_id);
    // Kafka's rule: while a producer's transaction is open in the partition
    // its writes must be transactional.
    if (!h.transactional && it != producers_.end() && it->second.txn_first_offset >= 0 &&
        h.producer_epoch >= it->second.epoch)
      return Errc::invalid_txn_state;
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
    e.last_timestamp = h.max_timestamp;
    if (h.transactional && e.txn_first_offset < 0) {
      e.txn_first_offset = h.base_offset;
      open_.insert({h.base_offset, h.producer_id});
    }
  }

  /// Decides whether a marker may end the producer's transaction: not from
  /// an older producer epoch (a zombie's coordinator), nor from an older
  /// coordinator.
  Errc check_marker(std::int64_t producer_id, std::int16_t producer_epoch, std::int32_t coordinator_epoch) const {
    auto it = producers_.find(producer_id);
    if (it == producers_.end()) return Errc::ok;
    if (producer_epoch < it->second.epoch) return Errc::invalid_producer_epoch;
    if (coordinator_epoch < it->second.coordinator_epoch) return Errc::coordinator_fenced;
    return Errc::ok;
  }

  /// Records a marker appended at `offset`; returns the transaction it
  /// ended (Kafka's rule for a producer with nothing open: the marker's
  /// own offset is the first).
  CompletedTxn record_marker(std::int64_t producer_id, std::int16_t producer_epoch, std::int32_t coordinator_epoch,
                             bool commit, std::int64_t offset) {
    Entry& e = producers_[producer_id];
    if (producer_epoch != e.epoch) {
      // A bumped epoch (the coordinator fencing a zombie): the next epoch's
      // sequences start over.
      e.epoch = producer_epoch;
      e.batches.clear();
    }
    e.coordinator_epoch = coordinator_epoch;
    CompletedTxn done{producer_id, e.txn_first_offset >= 0 ? e.txn_first_offset : offset, offset, !commit};
    if (e.txn_first_offset >= 0) open_.erase({e.txn_first_offset, producer_id});
    e.txn_first_offset = -1;
    return done;
  }

  /// The first offset of the oldest open transaction, if any.
  std::optional<std::int64_t> first_unstable_offset() const {
    if (open_.empty()) return std::nullopt;
    return open_.begin()->first;
  }

  /// Open transactions: (first offset, producer id), oldest first.
  const std::set<std::pair<std::int64_t, std::int64_t>>& open_transactions() const noexcept { return open_; }

  const Entry* find(std::int64_t producer_id) const {
    auto it = producers_.find(producer_id);
    return it == producers_.end() ? nullptr : &it->second;
  }
  const std::unordered_map<std::int64_t, Entry>& entries() const noexcept { return producers_; }

  std::vector<ProducerSnapshot> snapshot() const {
    std::vector<ProducerSnapshot> out;
    for (const auto& [pid, e] : producers_) {
      out.push_back({pid, e.epoch, e.batches.empty() ? -1 : e.batches.back().last_seq, e.last_timestamp,
                     e.coordinator_epoch, e.txn_first_offset});
    }
    return out;
  }

  /// Forgets everything (before a rebuild).
  void clear() {
    producers_.clear();
    open_.clear();
  }
  std::size_t size() const noexcept { return producers_.size(); }

 private:
  std::unordered_map<std::int64_t, Entry> producers_;
  std::set<std::pair<std::int64_t, std::int64_t>> open_;
};

}  // namespace kwire_broker::storage
