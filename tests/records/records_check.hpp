// Shared by the peer tests: read every record of a record set with kwire,
// checking CRCs, and rebuild each batch from what was read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

namespace kwire_test {

/// A record as read back, with absolute offset and timestamp.
struct ReadRecord {
  std::int64_t offset = 0;
  std::int64_t timestamp = 0;
  std::optional<std::vector<std::uint8_t>> key, value;
  std::vector<std::pair<std::string, std::optional<std::vector<std::uint8_t>>>> headers;
};

inline std::optional<std::vector<std::uint8_t>> copy(const kwire::nullable_bytes& b) {
  if (!b) return std::nullopt;
  return std::vector<std::uint8_t>(b->begin(), b->end());
}

/// Reads the records of one batch (validating the CRC first).
inline std::optional<std::string> read_batch(const kwire::RecordBatchView& b, std::vector<ReadRecord>& out,
                                             std::vector<std::uint8_t>& scratch) {
  if (auto e = b.validate()) return e->message();
  auto rr = b.records(scratch, &kwire::decompress);
  kwire::RecordView r;
  while (rr.next(r)) {
    ReadRecord x;
    x.offset = b.offset_of(r);
    x.timestamp = b.timestamp_of(r);
    x.key = copy(r.key);
    x.value = copy(r.value);
    for (const auto& h : r.headers()) x.headers.emplace_back(std::string(h.key), copy(h.value));
    out.push_back(std::move(x));
  }
  if (!rr.ok()) return rr.error()->message();
  return std::nullopt;
}

/// Rebuilds a batch from its header fields and its records as read by kwire.
inline std::vector<std::uint8_t> rebuild(const kwire::RecordBatchView& b, const std::vector<ReadRecord>& recs) {
  kwire::RecordBatchOptions o;
  o.base_offset = b.base_offset();
  o.partition_leader_epoch = b.partition_leader_epoch();
  o.compression = b.compression();
  o.timestamp_type = b.timestamp_type();
  o.log_append_time = b.max_timestamp();
  o.producer_id = b.producer_id();
  o.producer_epoch = b.producer_epoch();
  o.base_sequence = b.base_sequence();
  o.transactional = b.is_transactional();
  o.control = b.is_control();
  if (b.has_delete_horizon()) o.delete_horizon_ms = b.base_timestamp();
  kwire::RecordBatchBuilder builder(o);
  // Timestamps are rebuilt from the stored deltas: under LogAppendTime the
  // records' own timestamps are not what the batch reports for them.
  std::vector<std::uint8_t> scratch;
  auto rr = b.records(scratch, &kwire::decompress);
  kwire::RecordView r;
  std::size_t i = 0;
  while (rr.next(r)) {
    std::vector<kwire::RecordHeader> hs;
    for (const auto& h : r.headers()) hs.push_back({h.key, h.value});
    std::int64_t ts = b.base_timestamp() + r.timestamp_delta;
    builder.append_with_offset(recs[i].offset, ts, r.key, r.value, hs);
    ++i;
  }
  return builder.build(&kwire::compress);
}

/// The records section of a batch, inflated.
inline std::vector<std::uint8_t> inflated_records(const kwire::RecordBatchView& b) {
  std::vector<std::uint8_t> out;
  if (auto e = kwire::decompress(b.compression(), b.records_data(), out, std::size_t{1} << 30)) return {};
  return out;
}

}  // namespace kwire_test
