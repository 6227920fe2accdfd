// Legacy message sets (magic 0 and 1), as old clients and old log segments
// hold them: decoding with CRC-32 checks, compressed wrapper messages and
// their inner messages, encoding, and conversion to magic-2 batches.
//
// A log entry of magic 0/1:
//   offset int64 | messageSize int32 | crc uint32 | magic int8 | attributes int8
//   | timestamp int64 (magic 1 only) | key bytes (int32 length, -1 null)
//   | value bytes
// The CRC-32 (IEEE) covers magic to the end. A compressed entry ("wrapper")
// has a null key and, as value, the compressed bytes of a message set of
// uncompressed inner messages of the same magic. In magic 1 the inner offsets
// are relative (0, 1, ...) and the wrapper carries the absolute offset of the
// last inner message; in magic 0 inner offsets are absolute.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kwire/records/batch.hpp"
#include "kwire/records/builder.hpp"
#include "kwire/records/crc32c.hpp"

namespace kwire {

namespace legacy_attr {
inline constexpr std::uint8_t compression_mask = 0x07;
inline constexpr std::uint8_t log_append_time = 0x08;  // magic 1 only
}  // namespace legacy_attr

/// Bytes of a message after the log overhead with empty key and value.
constexpr std::size_t legacy_record_overhead(std::int8_t magic) noexcept { return magic == 0 ? 14 : 22; }

/// One message of magic 0 or 1.
struct LegacyMessage {
  bytes_view bytes;  // the whole entry, from its offset field
  std::int64_t offset = 0;
  std::uint32_t crc = 0;
  std::int8_t magic = 0;
  std::uint8_t attributes = 0;
  std::int64_t timestamp = no_timestamp;  // magic 0 has none
  nullable_bytes key;
  nullable_bytes value;

  Compression compression() const noexcept { return static_cast<Compression>(attributes & legacy_attr::compression_mask); }
  TimestampType timestamp_type() const noexcept {
    return magic > 0 && (attributes & legacy_attr::log_append_time) ? TimestampType::log_append_time
                                                                    : TimestampType::create_time;
  }
  /// CRC-32 over magic..end, as crc should hold.
  std::uint32_t compute_crc() const noexcept { return crc32::value(bytes.subspan(16)); }
};

/// Parses one legacy entry that spans exactly `entry` (as a RecordSetReader
/// yields it). Checks the framing, the lengths and, unless told not to, the
/// CRC. Error offsets are `origin_offset` + the position inside `entry`.
inline std::optional<LegacyMessage> parse_legacy_message(bytes_view entry, DecodeError* error = nullptr,
                                                         std::size_t origin_offset = 0, bool check_crc = true) {
  using records_detail::load_be;
  auto fail = [&](DecodeErrc c, std::size_t at, const char* field) -> std::optional<LegacyMessage> {
    if (error) *error = records_detail::error_at(c, origin_offset + at, field);
    return std::nullopt;
  };
  if (entry.size() < batch_layout::log_overhead + 6) return fail(DecodeErrc::truncated, entry.size(), "message");
  LegacyMessage m;
  m.bytes = entry;
  m.offset = load_be<std::int64_t>(entry.data());
  std::int32_t size = load_be<std::int32_t>(entry.data() + 8);
  m.magic = static_cast<std::int8_t>(entry[16]);
  if (m.magic != 0 && m.magic != 1) return fail(DecodeErrc::invalid_record, 16, "magic");
  if (size < static_cast<std::int32_t>(legacy_record_overhead(m.magic)))
    return fail(DecodeErrc::invalid_length, 8, "messageSize");
  if (static_cast<std::size_t>(size) != entry.size() - batch_layout::log_overhead)
    return fail(DecodeErrc::length_exceeds_input, 8, "messageSize");
  m.crc = load_be<std::uint32_t>(entry.data() + 12);
  m.attributes = entry[17];
  std::size_t pos = 18;
  if (m.magic == 1) {
    m.timestamp = load_be<std::int64_t>(entry.data() + pos);
    pos += 8;
  }
  for (auto [field, name] : {std::pair{&m.key, "key"}, std::pair{&m.value, "value"}}) {
    if (entry.size() - pos < 4) return fail(DecodeErrc::truncated, pos, name);
    std::int32_t n = load_be<std::int32_t>(entry.data() + pos);
    if (n < -1) return fail(DecodeErrc::invalid_length, pos, name);
    if (n >= 0 && static_cast<std::size_t>(n) > entry.size() - pos - 4)
      return fail(DecodeErrc::length_exceeds_input, pos, name);
    pos += 4;
    if (n >= 0) {
      *field = entry.subspan(pos, static_cast<std::size_t>(n));
      pos += static_cast<std::size_t>(n);
    } else {
      *field = std::nullopt;
    }
  }
  if (pos != entry.size()) return fail(DecodeErrc::invalid_record, pos, "messageSize");
  if (m.compression() > Compression::zstd || (m.magic == 0 && m.compression() == Compression::zstd))
    return fail(DecodeErrc::invalid_record, 17, "attributes");
  if (check_crc && m.compute_crc() != m.crc) return fail(DecodeErrc::crc_mismatch, 12, "crc");
  return m;
}

/// The messages a legacy entry stands for: itself when uncompressed, its inner
/// messages (with absolute offsets and, under LogAppendTime, the wrapper's
/// timestamp) when compressed. Inner messages point into `scratch`, which
/// receives the inflated bytes (at most `limit`). `out` is replaced; its size
/// is bounded by the inflated bytes over the smallest message size.
inline std::optional<DecodeError> read_legacy_entry(bytes_view entry, std::vector<LegacyMessage>& out,
                                                    std::vector<std::uint8_t>& scratch, decompress_fn decompress,
                                                    std::size_t limit = RecordBatchView::default_inflate_limit,
                                                    std::size_t origin_offset = 0) {
  out.clear();
  DecodeError err;
  auto wrapper = parse_legacy_message(entry, &err, origin_offset);
  if (!wrapper) return err;
  if (wrapper->compression() == Compression::none) {
    out.push_back(*wrapper);
    return std::nullopt;
  }
  std::size_t value_at = origin_offset + entry.size() - (wrapper->value ? wrapper->value->size() : 0);
  if (!wrapper->value)
    return records_detail::error_at(DecodeErrc::invalid_record, origin_offset + entry.size() - 4, "value");
  if (!decompress)
    return records_detail::error_at(DecodeErrc::decompression_failed, value_at, "value: no decompressor");
  if (auto e = decompress(wrapper->compression(), *wrapper->value, scratch, limit)) {
    e->offset += value_at;
    e->path = "value." + e->path;
    return e;
  }
  // Inner offsets are relative to the inflated data from here on.
  RecordSetReader inner{bytes_view(scratch)};
  LogEntry e;
  out.reserve(std::min<std::size_t>(scratch.size() / (batch_layout::log_overhead + 14), 1u << 16));
  while (inner.next_entry(e)) {
    DecodeError ierr;
    auto m = parse_legacy_message(e.bytes, &ierr, e.position);
    if (!m) {
      ierr.path = "value(inflated)." + ierr.path;
      return ierr;
    }
    if (m->magic != wrapper->magic)
      return records_detail::error_at(DecodeErrc::invalid_record, e.position + 16,
                                      "value(inflated).magic: differs from the wrapper's");
    if (m->compression() != Compression::none)
      return records_detail::error_at(DecodeErrc::invalid_record, e.position + 17,
                                      "value(inflated).attributes: nested compression");
    out.push_back(*m);
  }
  if (!inner.ok()) {
    auto ierr = *inner.error();
    ierr.path = "value(inflated)." + ierr.path;
    return ierr;
  }
  if (out.empty()) return records_detail::error_at(DecodeErrc::invalid_record, value_at, "value: empty wrapper");
  if (wrapper->magic == 1) {
    // The wrapper holds the absolute offset of the last inner message.
    // Wire values: wrapping as Java's long arithmetic does, never overflowing.
    const std::int64_t base = records_detail::wrapping_sub(wrapper->offset, out.back().offset);
    for (auto& m : out) m.offset = records_detail::wrapping_add(m.offset, base);
    if (wrapper->timestamp_type() == TimestampType::log_append_time) {
      for (auto& m : out) {
        m.timestamp = wrapper->timestamp;
        m.attributes |= legacy_attr::log_append_time;
      }
    }
  }
  return std::nullopt;
}

/// A record to encode into a legacy message set.
struct LegacyRecordInput {
  std::int64_t timestamp = no_timestamp;
  nullable_bytes key;
  nullable_bytes value;
};

namespace legacy_detail {

inline void append_message(std::vector<std::uint8_t>& out, std::int64_t offset, std::int8_t magic,
                           std::uint8_t attributes, std::int64_t timestamp, const nullable_bytes& key,
                           const nullable_bytes& value) {
  using records_detail::store_be;
  std::size_t size = legacy_record_overhead(magic) + (key ? key->size() : 0) + (value ? value->size() : 0);
  std::size_t start = out.size();
  out.resize(start + batch_layout::log_overhead + size);
  std::uint8_t* p = out.data() + start;
  store_be<std::int64_t>(p, offset);
  store_be<std::int32_t>(p + 8, static_cast<std::int32_t>(size));
  p[16] = static_cast<std::uint8_t>(magic);
  p[17] = attributes;
  std::size_t pos = 18;
  if (magic == 1) {
    store_be<std::int64_t>(p + pos, timestamp);
    pos += 8;
  }
  for (const nullable_bytes* b : {&key, &value}) {
    store_be<std::int32_t>(p + pos, *b ? static_cast<std::int32_t>((*b)->size()) : -1);
    pos += 4;
    if (*b && !(*b)->empty()) {
      std::memcpy(p + pos, (*b)->data(), (*b)->size());
      pos += (*b)->size();
    }
  }
  store_be<std::uint32_t>(p + 12, crc32::value({p + 16, size - 4}));
}

}  // namespace legacy_detail

/// Encodes records as a magic-0 or magic-1 message set the way Kafka's Java
/// client does (MemoryRecordsBuilder): consecutive offsets from
/// `base_offset`; under LogAppendTime every timestamp becomes
/// `log_append_time`; compressed sets are one wrapper message whose offset is
/// the last inner offset (inner offsets relative in magic 1) and whose
/// timestamp is the largest inner one (or the log append time). LZ4 in magic
/// 0 gets the old frame header checksum that magic-0 readers expect.
/// Appends to `out`; false on invalid input or a failed codec.
inline bool build_legacy_message_set(std::vector<std::uint8_t>& out, std::int8_t magic, Compression compression,
                                     TimestampType timestamp_type, std::int64_t base_offset,
                                     std::int64_t log_append_time, std::span<const LegacyRecordInput> records,
                                     compress_fn compress = nullptr) {
  if (magic != 0 && magic != 1) return false;
  if (records.empty()) return true;
  if (magic == 0 && compression == Compression::zstd) return false;
  const bool append_time = magic == 1 && timestamp_type == TimestampType::log_append_time;
  const std::uint8_t ts_bit = append_time ? legacy_attr::log_append_time : 0;
  std::int64_t max_ts = no_timestamp;
  auto ts_of = [&](const LegacyRecordInput& r) { return magic == 0 ? no_timestamp : append_time ? log_append_time : r.timestamp; };
  if (compression == Compression::none) {
    for (std::size_t i = 0; i < records.size(); ++i)
      legacy_detail::append_message(out, base_offset + static_cast<std::int64_t>(i), magic, ts_bit, ts_of(records[i]),
                                    records[i].key, records[i].value);
    return true;
  }
  if (!compress) return false;
  std::vector<std::uint8_t> inner;
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::int64_t off = magic == 1 ? static_cast<std::int64_t>(i) : base_offset + static_cast<std::int64_t>(i);
    std::int64_t ts = ts_of(records[i]);
    if (ts > max_ts) max_ts = ts;
    legacy_detail::append_message(inner, off, magic, ts_bit, ts, records[i].key,
                                  records[i].value);
  }
  std::vector<std::uint8_t> packed;
  if (!compress(compression, inner, packed)) return false;
  if (magic == 0 && compression == Compression::lz4 && packed.size() >= 7) {
    // Magic-0 readers check the frame header checksum over the frame magic
    // too (a historical Kafka quirk kept for compatibility).
    std::uint8_t flg = packed[4];
    std::size_t desc = 2 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
    if (packed.size() > 4 + desc) packed[4 + desc] = static_cast<std::uint8_t>(xxh32(packed.data(), 4 + desc, 0) >> 8);
  }
  std::int64_t wrapper_ts = append_time ? log_append_time : max_ts;
  legacy_detail::append_message(out, base_offset + static_cast<std::int64_t>(records.size()) - 1, magic,
                                static_cast<std::uint8_t>(static_cast<std::uint8_t>(compression) | ts_bit), wrapper_ts,
                                std::nullopt, bytes_view(packed));
  return true;
}

/// Converts the messages of legacy entries (as read_legacy_entry yields them,
/// offsets increasing) into one magic-2 batch, keeping offsets, keys, values
/// and timestamps; magic-0 messages have no timestamp (-1). The batch takes
/// the timestamp type of the messages. Appends to `out`.
inline bool legacy_to_batch(std::span<const LegacyMessage> messages, std::vector<std::uint8_t>& out,
                            Compression compression = Compression::none, compress_fn compress = nullptr) {
  if (messages.empty()) return true;
  RecordBatchOptions o;
  o.base_offset = messages.front().offset;
  o.compression = compression;
  o.timestamp_type = messages.front().timestamp_type();
  if (o.timestamp_type == TimestampType::log_append_time) o.log_append_time = messages.front().timestamp;
  RecordBatchBuilder b(o);
  try {
    for (const auto& m : messages) b.append_with_offset(m.offset, m.timestamp, m.key, m.value);
  } catch (const std::exception&) {
    return false;
  }
  return b.build(out, compress);
}

}  // namespace kwire
