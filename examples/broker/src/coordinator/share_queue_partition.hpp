// A share partition served from the store's own queue (storage::ShareQueue;
// on Pulsar a Shared subscription that native consumers may share). The
// store decides which entries reach the broker; the broker holds the records
// of those entries while its members have them, exactly as a SharePartition
// does for a window of the log: each record available or acquired by one
// member until its lock passes, with its delivery count. The difference is
// what "done" means:
//
//   accept, reject, delivery limit   the record is settled: acknowledged in
//                                    the store, never delivered again
//   release, lock expiry             the record is available again; once no
//                                    record of its entry is acquired or new
//                                    (never handed out), the entry goes back
//                                    to the queue, for any consumer of it (a
//                                    store redelivers whole entries: an entry
//                                    with a record acquired cannot go back
//                                    yet, and one with new records would come
//                                    back counted as delivered again)
//
// The store's own redelivery count resets when part of an entry is
// acknowledged (Pulsar forgets it then), so the broker keeps the delivery
// count of every record it handed out and gave back, and takes the larger
// of its count and the store's when an entry comes again. Those counts are
// the durable state of the partition; the queue's position is the store's.
//
// The partition is synchronous, with no clock of its own: what must reach
// the store (settles and give-backs) collects as actions, which the
// coordinator takes to the queue with carry_out() (below).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/share_partition.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::share {

/// Something the store must be told about one entry.
struct QueueAction {
  std::uint64_t handle = 0;
  std::vector<std::int64_t> settled;  // records done for good
  bool whole = false;                 // every record of the entry is done
  bool give_back = false;             // then the entry goes back to the queue
};

class QueuedPartition {
 public:
  /// The store's queue, once opened, and its generation when the held
  /// records were taken.
  std::shared_ptr<storage::ShareQueue> queue;
  std::uint64_t generation = 0;

  /// An entry the queue delivered: its records become available, except
  /// those already settled and those delivered delivery_count_limit times
  /// (archived: settled at once). A marker holds nothing and is settled.
  void offer(storage::QueuedBatch batch, const PartitionLimits& limits);

  std::size_t held() const noexcept { return records_.size(); }
  std::size_t available() const noexcept;

  struct Acquisition {
    std::vector<AcquiredRange> ranges;
    std::vector<std::uint64_t> entries;  // the entries acquired from, by offset
  };
  /// Acquires up to `max_records` available records for `member`, lowest
  /// offsets first, locked until now + lock_duration_ms.
  Acquisition acquire(const std::string& member, std::int32_t max_records, PartitionClock::time_point now,
                      const PartitionLimits& limits);
  /// The Kafka batch of an entry held.
  const std::vector<std::uint8_t>& bytes(std::uint64_t handle) const { return entries_.at(handle).bytes; }

  /// As SharePartition::acknowledge: all or nothing, INVALID_RECORD_STATE
  /// when a record of the range is not acquired by `member`.
  kwire::ErrorCode acknowledge(const std::string& member, std::int64_t first, std::int64_t last,
                               const std::vector<AckType>& types, PartitionClock::time_point now,
                               const PartitionLimits& limits);
  bool expire_locks(PartitionClock::time_point now, const PartitionLimits& limits);
  bool release_member(const std::string& member, const PartitionLimits& limits);
  /// The store took back every entry (its generation changed): the records
  /// held are forgotten, their delivery counts kept.
  void drop_all();
  /// Every entry held goes back to the queue (the group has no members
  /// left): as give-backs, so that the store counts them as delivered again.
  void give_back_all(const PartitionLimits& limits);
  /// The actions collected since the last call.
  std::vector<QueueAction> take_actions() { return std::exchange(actions_, {}); }

  /// A held record's state and delivery count; nullopt when not held.
  std::optional<std::pair<RecordState, std::int16_t>> record(std::int64_t offset) const;

  /// The durable form: the delivery counts of the records handed out and
  /// not settled. decode: nullopt when the blob is not this form.
  std::vector<std::uint8_t> encode() const;
  static std::optional<QueuedPartition> decode(const std::vector<std::uint8_t>& blob);

 private:
  struct Record {
    RecordState state = RecordState::available;
    std::int16_t deliveries = 0;
    std::string owner;
    PartitionClock::time_point lock_until{};
    std::uint64_t entry = 0;
    bool handed_out = false;  // acquired here at least once
  };
  struct Entry {
    std::int64_t base = 0, last = 0;
    std::vector<std::uint8_t> bytes;
    std::size_t held = 0;                // records of it still held
    std::vector<std::int64_t> settled;  // settled since the store last heard
  };
  /// The record is done for good: it leaves the held records.
  void settle(std::map<std::int64_t, Record>::iterator it);
  /// A delivery ended without acceptance: available again, or archived
  /// (settled) at the limit.
  void give_back(std::map<std::int64_t, Record>::iterator it, const PartitionLimits& limits);
  /// Turns what changed in these entries into actions.
  void review(const std::vector<std::uint64_t>& entries, const PartitionLimits& limits);
  void remember_count(std::int64_t offset, std::int16_t deliveries, const PartitionLimits& limits);

  std::map<std::int64_t, Record> records_;  // held, by offset
  std::map<std::uint64_t, Entry> entries_;  // by handle
  std::map<std::int64_t, std::int16_t> counts_;  // delivery counts of records given back
  std::vector<QueueAction> actions_;
};

/// What a fetch acquired from a queued share partition.
struct QueueTake {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::vector<AcquiredRange> ranges;
  std::vector<std::uint8_t> bytes;  // the batches holding them, by offset
  std::int32_t records = 0;
};

/// Tells the queue what the actions say, in order; a failure is logged
/// (the record is then delivered again: at least once).
boost::asio::awaitable<void> carry_out(std::shared_ptr<storage::ShareQueue> queue, std::vector<QueueAction> actions);
/// Closes a queue the broker no longer takes from, once `owed` is carried out.
boost::asio::awaitable<void> close_queue(std::shared_ptr<storage::ShareQueue> queue, std::vector<QueueAction> owed = {});

}  // namespace kwire_broker::share
