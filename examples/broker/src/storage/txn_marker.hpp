// A transaction marker as Kafka stores it: a transactional control batch of
// one control record (key: version 0 and commit or abort; value: version 0
// and the coordinator epoch), with the producer's id and epoch and no
// sequence. Every store writes the same bytes; the Pulsar store also builds
// them again when it reads a marker entry back. Only the codec is needed
// here, so that the entry readers build without the rest of the seam.
#pragma once

#include <cstdint>
#include <vector>

#include "kwire/records/builder.hpp"

namespace kwire_broker::storage {

struct MarkerFields {
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t coordinator_epoch = 0;
  bool commit = false;
  std::int64_t timestamp = 0;  // ms since the epoch
};

/// The control batch of a marker at `base_offset`.
inline std::vector<std::uint8_t> marker_batch(const MarkerFields& m, std::int64_t base_offset = 0) {
  kwire::RecordBatchOptions o;
  o.base_offset = base_offset;
  o.producer_id = m.producer_id;
  o.producer_epoch = m.producer_epoch;
  o.transactional = true;
  o.control = true;
  kwire::RecordBatchBuilder builder(o);
  builder.append_end_txn_marker(m.timestamp, m.commit ? kwire::ControlType::commit : kwire::ControlType::abort,
                                m.coordinator_epoch);
  return builder.build();
}

}  // namespace kwire_broker::storage
