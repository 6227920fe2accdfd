// One share partition (KIP-932): a share group's view of a topic partition.
// Records below the share-partition start offset (SPSO) are done with; the
// records from the SPSO up to the end offset are in flight, each available,
// acquired by one member until its acquisition lock passes, acknowledged or
// archived, with the number of times it was delivered. Records at and past
// the end offset have never been handed out.
//
// The SPSO moves up past every record that is acknowledged or archived. The
// in-flight window is bounded (group.share.partition.max.record.locks): no
// record past it is acquired until the SPSO moves, so memory stays bounded
// whatever the members do.
//
// Synchronous, no clock of its own: every call that looks at locks is given
// the time. The coordinator keeps these on its strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kwire/messages/error_code.hpp"

namespace kwire_broker::share {

using PartitionClock = std::chrono::steady_clock;

/// Kafka's record states, with their codes in DescribeShareGroupOffsets and
/// the persisted state.
enum class RecordState : std::uint8_t { available = 0, acquired = 1, acknowledged = 2, archived = 4 };

/// Acknowledgement types as ShareFetch and ShareAcknowledge carry them.
enum class AckType : std::int8_t { gap = 0, accept = 1, release = 2, reject = 3, renew = 4 };

/// Whether an acknowledgement batch is well formed: a range of offsets from
/// 0 up, and one type for all of it or one per offset, each a known one.
bool well_formed_ack(std::int64_t first, std::int64_t last, const std::vector<AckType>& types);

struct PartitionLimits {
  std::int32_t lock_duration_ms = 30000;  // group.share.record.lock.duration.ms
  std::int32_t delivery_count_limit = 5;  // group.share.delivery.count.limit
  std::int32_t max_record_locks = 2000;   // group.share.partition.max.record.locks
};

/// Consecutive offsets handed out together, delivered the same number of times.
struct AcquiredRange {
  std::int64_t first = 0, last = 0;
  std::int16_t delivery_count = 0;
  friend bool operator==(const AcquiredRange&, const AcquiredRange&) = default;
};

class SharePartition {
 public:
  /// Whether the SPSO is known: a partition never fetched by the group gets
  /// it from share.auto.offset.reset at its first fetch.
  bool initialized() const noexcept { return start_ >= 0; }
  /// Sets the SPSO (and forgets everything in flight): a first fetch, or
  /// AlterShareGroupOffsets.
  void reset(std::int64_t start_offset);

  std::int64_t start_offset() const noexcept { return start_; }
  std::int64_t end_offset() const noexcept { return end_; }
  std::size_t in_flight() const noexcept { return records_.size(); }

  /// Records below `log_start` are gone from the log: the SPSO moves past them.
  void follow_log_start(std::int64_t log_start);

  /// Acquisition locks that passed by `now` end: their records are available
  /// again, or archived once delivered delivery_count_limit times. Whether
  /// anything changed.
  bool expire_locks(PartitionClock::time_point now, const PartitionLimits& limits);

  /// The offset a fetch should read from: the first available in-flight
  /// record, or the end offset while the window has room and the log has
  /// records there (below `high_watermark`); nullopt: nothing to hand out.
  std::optional<std::int64_t> next_to_read(std::int64_t high_watermark, const PartitionLimits& limits) const;

  /// Acquires for `member`, within [first, last] (a batch read from the log,
  /// below `high_watermark`), up to `max_records` available records, locked
  /// until now + lock_duration_ms. Returns what it acquired.
  std::vector<AcquiredRange> acquire(const std::string& member, std::int64_t first, std::int64_t last,
                                     std::int64_t high_watermark, std::int32_t max_records,
                                     PartitionClock::time_point now, const PartitionLimits& limits);

  /// Acknowledges [first, last] for `member`: `types` holds one type for the
  /// whole range or one per offset. All or nothing: INVALID_RECORD_STATE when
  /// any record is not acquired by `member` (its lock passed, another member
  /// holds it, it was never handed out), INVALID_REQUEST for a bad range or
  /// type.
  kwire::ErrorCode acknowledge(const std::string& member, std::int64_t first, std::int64_t last,
                               const std::vector<AckType>& types, PartitionClock::time_point now,
                               const PartitionLimits& limits);

  /// Releases every record `member` holds (its share session closed or it
  /// left the group). Whether anything changed.
  bool release_member(const std::string& member, const PartitionLimits& limits);

  /// A record's state and delivery count (tests, describe); nullopt outside
  /// the in-flight window.
  std::optional<std::pair<RecordState, std::int16_t>> record(std::int64_t offset) const;

  /// The durable form: SPSO, end offset and every in-flight record's state
  /// and delivery count, runs of equal records together. An acquired record
  /// is stored as available: its lock does not outlive the broker.
  std::vector<std::uint8_t> encode() const;
  static std::optional<SharePartition> decode(const std::vector<std::uint8_t>& blob);

 private:
  struct Record {
    RecordState state = RecordState::available;
    std::int16_t deliveries = 0;
    std::string owner;
    PartitionClock::time_point lock_until{};
  };
  /// A delivery attempt ended without acceptance: available again, or
  /// archived at the limit.
  static void give_back(Record& r, const PartitionLimits& limits);
  /// Moves the SPSO past acknowledged and archived records.
  void advance();

  std::int64_t start_ = -1, end_ = -1;
  std::map<std::int64_t, Record> records_;  // exactly the offsets in [start_, end_)
};

}  // namespace kwire_broker::share
