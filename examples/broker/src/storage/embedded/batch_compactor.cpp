#include "storage/embedded/batch_compactor.hpp"

#include <algorithm>

#include "kwire/records/compression.hpp"
#include "kwire/wire/varint.hpp"

namespace kwire_broker::storage::embedded {

namespace {

namespace layout = kwire::batch_layout;
using kwire::records_detail::store_be;

/// A record that stays: its bytes, and its own timestamp (not the batch's
/// LogAppendTime), which a new timestamp base must preserve.
struct Kept {
  kwire::bytes_view raw;
  std::int64_t create_time;
};

/// Copies the batch's header into `out` with what every rewrite changes.
void put_header(const kwire::RecordBatchView& b, std::vector<std::uint8_t>& out, std::uint16_t attributes,
                std::int64_t base_timestamp, std::int64_t max_timestamp, std::int32_t count) {
  out.assign(b.bytes().begin(), b.bytes().begin() + layout::header_size);
  store_be(out.data() + layout::attributes, attributes);
  store_be(out.data() + layout::base_timestamp, base_timestamp);
  store_be(out.data() + layout::max_timestamp, max_timestamp);
  store_be(out.data() + layout::record_count, count);
}

void finish(std::vector<std::uint8_t>& out) {
  store_be(out.data() + layout::batch_length, static_cast<std::int32_t>(out.size() - layout::log_overhead));
  kwire::refresh_crc(out);
}

/// The batch with no records that keeps a producer's place: Kafka writes it
/// uncompressed, both timestamps the batch's max timestamp, no horizon.
void empty_batch(const kwire::RecordBatchView& b, std::vector<std::uint8_t>& out) {
  auto attrs = static_cast<std::uint16_t>(b.attributes() & ~(kwire::batch_attr::compression_mask |
                                                              kwire::batch_attr::delete_horizon));
  put_header(b, out, attrs, b.max_timestamp(), b.max_timestamp(), 0);
  finish(out);
}

/// Appends record `raw` with its timestamp delta taken from `base` instead:
/// the bytes after the delta (offset delta, key, value, headers) are copied.
void reencode(kwire::bytes_view raw, std::int64_t create_time, std::int64_t base, std::vector<std::uint8_t>& out) {
  const std::uint8_t* p = raw.data();
  const std::uint8_t* end = p + raw.size();
  while (p < end && (*p & 0x80)) ++p;  // the record's length
  ++p;
  const std::uint8_t attributes = *p++;
  while (p < end && (*p & 0x80)) ++p;  // its old timestamp delta
  ++p;
  const std::int64_t delta = kwire::records_detail::wrapping_add(create_time, -base);
  const std::size_t rest = static_cast<std::size_t>(end - p);
  const std::size_t body = 1 + kwire::varint::size_i64(delta) + rest;
  const std::size_t at = out.size();
  out.resize(at + kwire::varint::size_i32(static_cast<std::int32_t>(body)) + body);
  std::uint8_t* w = out.data() + at;
  w = kwire::varint::put_u32(w, kwire::varint::zigzag32(static_cast<std::int32_t>(body)));
  *w++ = attributes;
  w = kwire::varint::put_u64(w, kwire::varint::zigzag64(delta));
  std::copy(p, end, w);
}

}  // namespace

BatchFate compact_batch(const kwire::RecordBatchView& b, const CompactionContext& ctx, std::vector<std::uint8_t>& out) {
  if (b.is_control()) return BatchFate::unchanged;
  const bool keeps_place = ctx.producers_last && b.producer_id() >= 0;
  if (ctx.aborted) {
    if (!keeps_place) return BatchFate::dropped;
    if (b.record_count() == 0) return BatchFate::unchanged;
    empty_batch(b, out);
    return BatchFate::rewritten;
  }

  std::vector<std::uint8_t> inflated;
  auto reader = b.records(inflated, &kwire::decompress);
  const auto horizon = b.delete_horizon_ms();
  std::vector<Kept> kept;
  std::size_t total = 0;
  bool needs_horizon = false;
  kwire::RecordView r;
  while (reader.next(r)) {
    ++total;
    if (r.key) {
      const auto latest = ctx.latest_offset(*r.key);
      if (latest && *latest > b.offset_of(r)) continue;  // a later record has its key
    }
    if (!r.value) {
      if (horizon && ctx.now_ms >= *horizon) continue;  // a tombstone past its horizon
      if (!horizon) needs_horizon = true;
    }
    kept.push_back({r.raw, kwire::records_detail::wrapping_add(b.base_timestamp(), r.timestamp_delta)});
  }
  if (!reader.ok()) return BatchFate::unchanged;
  if (kept.size() == total && !needs_horizon) return BatchFate::unchanged;
  if (kept.empty()) {
    if (!keeps_place) return BatchFate::dropped;
    if (b.record_count() == 0) return BatchFate::unchanged;
    empty_batch(b, out);
    return BatchFate::rewritten;
  }

  // The kept records, relative to the batch's timestamp base, which a new
  // delete horizon replaces.
  const std::int64_t base = needs_horizon ? ctx.now_ms + ctx.delete_retention_ms : b.base_timestamp();
  std::vector<std::uint8_t> records;
  std::int64_t max_ts = kwire::no_timestamp;
  for (const auto& k : kept) {
    if (needs_horizon)
      reencode(k.raw, k.create_time, base, records);
    else
      records.insert(records.end(), k.raw.begin(), k.raw.end());
    max_ts = std::max(max_ts, k.create_time);
  }
  if (b.timestamp_type() == kwire::TimestampType::log_append_time) max_ts = b.max_timestamp();
  auto attrs = b.attributes();
  if (needs_horizon) attrs = static_cast<std::uint16_t>(attrs | kwire::batch_attr::delete_horizon);
  put_header(b, out, attrs, base, max_ts, static_cast<std::int32_t>(kept.size()));
  if (b.compression() == kwire::Compression::none) {
    out.insert(out.end(), records.begin(), records.end());
  } else if (!kwire::compress(b.compression(), records, out)) {
    return BatchFate::unchanged;
  }
  finish(out);
  return BatchFate::rewritten;
}

}  // namespace kwire_broker::storage::embedded
