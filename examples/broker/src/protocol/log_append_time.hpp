// LogAppendTime (topic config message.timestamp.type=LogAppendTime): the
// broker, not the producer, gives a batch its timestamp as it appends it.
#pragma once

#include <cstdint>
#include <span>

#include "kwire/records/batch.hpp"

namespace kwire_broker {

/// Stamps `time` (ms since the epoch) on a whole magic-2 batch as its
/// LogAppendTime: sets the timestamp-type attribute and the max timestamp,
/// then refreshes the CRC, which covers both.
inline void stamp_log_append_time(std::span<std::uint8_t> batch, std::int64_t time) noexcept {
  kwire::set_log_append_time(batch, time);
}

}  // namespace kwire_broker
