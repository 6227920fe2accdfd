// Magic-2 record batches: a read-only view over one batch, lazy iteration of
// its records, iteration over the batches of a record set, control records,
// and in-place header updates for brokers.
//
// Nothing here allocates while reading an uncompressed batch: keys, values and
// header values are views into the batch. Compressed batches are inflated into
// a buffer the caller owns, through a decompression function supplied by
// kwire/records/compression.hpp (this header does not depend on any codec).
//
// Layout of a batch (all integers big-endian):
//   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8
//   | crc uint32 | attributes int16 | lastOffsetDelta int32 | baseTimestamp int64
//   | maxTimestamp int64 | producerId int64 | producerEpoch int16
//   | baseSequence int32 | recordCount int32 | records...
// batchLength counts the bytes after itself; the CRC-32C covers attributes to
// the end of the batch, so the base offset and leader epoch can be rewritten
// without recomputing it.
#pragma once

#include <boost/endian/conversion.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kwire/records/crc32c.hpp"
#include "kwire/wire/error.hpp"
#include "kwire/wire/types.hpp"
#include "kwire/wire/varint.hpp"

namespace kwire {

/// Compression codec ids of the attributes field (bits 0-2).
enum class Compression : std::uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

constexpr std::string_view to_string(Compression c) noexcept {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::snappy: return "snappy";
    case Compression::lz4: return "lz4";
    case Compression::zstd: return "zstd";
  }
  return "unknown";
}

enum class TimestampType : std::uint8_t { create_time = 0, log_append_time = 1 };

/// Inflates `in` (a batch's compressed records) into `out`, replacing its
/// contents, and fails with limit_exceeded rather than growing `out` past
/// `limit` bytes. Error offsets are relative to `in`. Implemented by
/// kwire::decompress in kwire/records/compression.hpp.
using decompress_fn = std::optional<DecodeError> (*)(Compression codec, bytes_view in, std::vector<std::uint8_t>& out,
                                                     std::size_t limit);
/// Appends the compressed form of `in` to `out`; false if the codec failed.
/// Implemented by kwire::compress in kwire/records/compression.hpp.
using compress_fn = bool (*)(Compression codec, bytes_view in, std::vector<std::uint8_t>& out);

namespace batch_layout {
inline constexpr std::size_t base_offset = 0;
inline constexpr std::size_t batch_length = 8;
inline constexpr std::size_t partition_leader_epoch = 12;
inline constexpr std::size_t magic = 16;
inline constexpr std::size_t crc = 17;
inline constexpr std::size_t attributes = 21;
inline constexpr std::size_t last_offset_delta = 23;
inline constexpr std::size_t base_timestamp = 27;
inline constexpr std::size_t max_timestamp = 35;
inline constexpr std::size_t producer_id = 43;
inline constexpr std::size_t producer_epoch = 51;
inline constexpr std::size_t base_sequence = 53;
inline constexpr std::size_t record_count = 57;
inline constexpr std::size_t header_size = 61;
/// baseOffset + batchLength: the part of every log entry (batch or legacy
/// message) that precedes the length-counted bytes.
inline constexpr std::size_t log_overhead = 12;
}  // namespace batch_layout

namespace batch_attr {
inline constexpr std::uint16_t compression_mask = 0x07;
inline constexpr std::uint16_t log_append_time = 0x08;
inline constexpr std::uint16_t transactional = 0x10;
inline constexpr std::uint16_t control = 0x20;
inline constexpr std::uint16_t delete_horizon = 0x40;
}  // namespace batch_attr

inline constexpr std::int64_t no_timestamp = -1;
inline constexpr std::int64_t no_producer_id = -1;
inline constexpr std::int16_t no_producer_epoch = -1;
inline constexpr std::int32_t no_sequence = -1;
inline constexpr std::int32_t no_partition_leader_epoch = -1;

/// The smallest possible record: a one-byte length then attributes,
/// timestampDelta, offsetDelta, key length, value length and header count of
/// one byte each. Used to bound record counts before trusting them.
inline constexpr std::size_t min_record_size = 7;

namespace records_detail {

/// a + b as Java's long arithmetic computes it (two's complement, wrapping):
/// offsets and timestamps built from wire values never overflow into
/// undefined behaviour, and agree with what Kafka's own code computes.
inline constexpr std::int64_t wrapping_add(std::int64_t a, std::int64_t b) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
inline constexpr std::int64_t wrapping_sub(std::int64_t a, std::int64_t b) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

template <class T>
inline T load_be(const std::uint8_t* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return boost::endian::big_to_native(v);
}
template <class T>
inline void store_be(std::uint8_t* p, T v) noexcept {
  v = boost::endian::native_to_big(v);
  std::memcpy(p, &v, sizeof(T));
}

// Most varints in records take one or two bytes (small deltas, lengths below
// 8 KiB); these paths skip the general loop for them, inline in the record
// parser (which calls them six times per record). The one-byte path needs
// only that byte: a record's last varint, its header count, ends the record.
[[gnu::always_inline]] inline varint::Parse get_i32(const std::uint8_t*& p, const std::uint8_t* end, std::int32_t& out) noexcept {
  if (p != end && p[0] < 0x80) {
    out = varint::unzigzag32(p[0]);
    p += 1;
    return varint::Parse::ok;
  }
  if (end - p >= 2 && p[1] < 0x80) {
    out = varint::unzigzag32((std::uint32_t{p[0]} & 0x7F) | std::uint32_t{p[1]} << 7);
    p += 2;
    return varint::Parse::ok;
  }
  // The general parser takes its cursor by reference; handing it a copy keeps
  // the caller's cursor out of memory (its address never escapes).
  const std::uint8_t* q = p;
  const auto r = varint::get_i32(q, end, out);
  p = q;
  return r;
}
[[gnu::always_inline]] inline varint::Parse get_i64(const std::uint8_t*& p, const std::uint8_t* end,
                                                   std::int64_t& out) noexcept {
  if (p != end && p[0] < 0x80) {
    out = varint::unzigzag64(p[0]);
    p += 1;
    return varint::Parse::ok;
  }
  if (end - p >= 2 && p[1] < 0x80) {
    out = varint::unzigzag64((std::uint64_t{p[0]} & 0x7F) | std::uint64_t{p[1]} << 7);
    p += 2;
    return varint::Parse::ok;
  }
  const std::uint8_t* q = p;
  const auto r = varint::get_i64(q, end, out);
  p = q;
  return r;
}

inline DecodeError error_at(DecodeErrc code, std::size_t offset, std::string path) {
  DecodeError e;
  e.code = code;
  e.offset = offset;
  e.path = std::move(path);
  return e;
}

inline std::string indexed(std::string_view prefix, std::string_view field, std::size_t index) {
  std::string s(prefix);
  if (!s.empty()) s += '.';
  s += field;
  s += '[';
  s += std::to_string(index);
  s += ']';
  return s;
}

}  // namespace records_detail

/// One record header: the key is a string, the value nullable bytes.
struct RecordHeaderView {
  std::string_view key;
  nullable_bytes value;
};

/// Iterates the headers of a record that has already been validated.
class RecordHeaderIterator {
 public:
  using value_type = RecordHeaderView;
  using difference_type = std::ptrdiff_t;

  RecordHeaderIterator() = default;
  RecordHeaderIterator(const std::uint8_t* p, const std::uint8_t* end, std::uint32_t left) noexcept
      : p_(p), end_(end), left_(left) {
    load();
  }
  const RecordHeaderView& operator*() const noexcept { return current_; }
  const RecordHeaderView* operator->() const noexcept { return &current_; }
  RecordHeaderIterator& operator++() noexcept {
    --left_;
    load();
    return *this;
  }
  void operator++(int) noexcept { ++*this; }
  friend bool operator==(const RecordHeaderIterator& a, std::default_sentinel_t) noexcept { return a.left_ == 0; }

 private:
  void load() noexcept {
    if (left_ == 0) return;
    std::int32_t klen = 0, vlen = 0;
    varint::get_i32(p_, end_, klen);
    current_.key = std::string_view(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(klen));
    p_ += klen;
    varint::get_i32(p_, end_, vlen);
    if (vlen < 0) {
      current_.value = std::nullopt;
    } else {
      current_.value = bytes_view(p_, static_cast<std::size_t>(vlen));
      p_ += vlen;
    }
  }

  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  std::uint32_t left_ = 0;
  RecordHeaderView current_{};
};

struct RecordHeaderRange {
  const std::uint8_t* begin_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  std::uint32_t count = 0;
  RecordHeaderIterator begin() const noexcept { return {begin_, end_, count}; }
  std::default_sentinel_t end() const noexcept { return {}; }
  std::size_t size() const noexcept { return count; }
};

/// One record of a magic-2 batch, validated field by field when it was read.
struct RecordView {
  bytes_view raw;               // from the length varint to the record's end
  std::int8_t attributes = 0;   // unused by Kafka so far; kept as sent
  std::int64_t timestamp_delta = 0;
  std::int32_t offset_delta = 0;
  nullable_bytes key;
  nullable_bytes value;
  std::uint32_t header_count = 0;
  bytes_view header_bytes;      // the encoded headers after their count

  RecordHeaderRange headers() const noexcept {
    return {header_bytes.data(), header_bytes.data() + header_bytes.size(), header_count};
  }
};

namespace records_detail {

/// Why and where a record failed to parse. The DecodeError, with its field
/// path as a string, is built from it only when a record is bad.
/// No member initialisers: the parser fills every field when it fails, and a
/// fault declared for each record it reads then costs nothing.
struct RecordFault {
  DecodeErrc code;
  const std::uint8_t* at;
  const char* field;
  std::int32_t header;  // the header the fault is in, or -1
};

/// Parses one record at `pos` (not past `end`) and advances `pos` past it; on
/// failure fills `fault` and returns false.
[[gnu::always_inline]] inline bool scan_record(const std::uint8_t*& pos, const std::uint8_t* end, RecordView& out,
                        RecordFault& fault) noexcept {
  // The cursor is a local: were it the caller's reference, every store into
  // `out` could alias it, and the compiler would reload and store it around
  // each field.
  const std::uint8_t* p = pos;
  auto bad = [&](DecodeErrc code, const std::uint8_t* at, const char* field, std::int32_t header = -1) {
    fault = RecordFault{code, at, field, header};
    pos = p;
    return false;
  };
  auto bad_varint = [&](varint::Parse r, const std::uint8_t* at, const char* field, std::int32_t header = -1) {
    return bad(r == varint::Parse::truncated ? DecodeErrc::truncated : DecodeErrc::varint_overflow, at, field,
               header);
  };
  const std::uint8_t* start = p;
  std::int32_t length = 0;
  if (auto r = get_i32(p, end, length); r != varint::Parse::ok) [[unlikely]]
    return bad_varint(r, start, "length");
  if (length < static_cast<std::int32_t>(min_record_size - 1)) [[unlikely]]
    return bad(DecodeErrc::invalid_record, start, "length");
  if (static_cast<std::size_t>(length) > static_cast<std::size_t>(end - p)) [[unlikely]]
    return bad(DecodeErrc::length_exceeds_input, start, "length");
  const std::uint8_t* body_end = p + length;

  out.attributes = static_cast<std::int8_t>(*p++);
  const std::uint8_t* at = p;
  if (auto r = get_i64(p, body_end, out.timestamp_delta); r != varint::Parse::ok) [[unlikely]]
    return bad_varint(r, at, "timestampDelta");
  at = p;
  if (auto r = get_i32(p, body_end, out.offset_delta); r != varint::Parse::ok) [[unlikely]]
    return bad_varint(r, at, "offsetDelta");

  // The key, then the value: a length (-1 for null) and that many bytes.
  auto nullable = [&](nullable_bytes& field, const char* name) __attribute__((always_inline)) {
    at = p;
    std::int32_t n = 0;
    if (auto r = get_i32(p, body_end, n); r != varint::Parse::ok) [[unlikely]]
      return bad_varint(r, at, name);
    if (n < 0) {
      if (n != -1) [[unlikely]]
        return bad(DecodeErrc::invalid_length, at, name);
      field = std::nullopt;
      return true;
    }
    if (static_cast<std::size_t>(n) > static_cast<std::size_t>(body_end - p)) [[unlikely]]
      return bad(DecodeErrc::length_exceeds_input, at, name);
    field = bytes_view(p, static_cast<std::size_t>(n));
    p += n;
    return true;
  };
  if (!nullable(out.key, "key") || !nullable(out.value, "value")) return false;

  at = p;
  std::int32_t count = 0;
  if (auto r = get_i32(p, body_end, count); r != varint::Parse::ok) [[unlikely]]
    return bad_varint(r, at, "headers");
  const std::uint8_t* headers_begin = p;
  // Most records have no headers: one test for them.
  if (count != 0) [[unlikely]] {
    if (count < 0) return bad(DecodeErrc::invalid_length, at, "headers");
    // Each header needs at least its two length bytes.
    if (static_cast<std::uint64_t>(count) * 2 > static_cast<std::uint64_t>(body_end - p))
      return bad(DecodeErrc::length_exceeds_input, at, "headers");
  }
  for (std::int32_t i = 0; i < count; ++i) {
    at = p;
    std::int32_t klen = 0;
    if (auto r = get_i32(p, body_end, klen); r != varint::Parse::ok) return bad_varint(r, at, "key", i);
    if (klen < 0) return bad(DecodeErrc::invalid_length, at, "key", i);
    if (static_cast<std::size_t>(klen) > static_cast<std::size_t>(body_end - p))
      return bad(DecodeErrc::length_exceeds_input, at, "key", i);
    p += klen;
    at = p;
    std::int32_t vlen = 0;
    if (auto r = get_i32(p, body_end, vlen); r != varint::Parse::ok) return bad_varint(r, at, "value", i);
    if (vlen < -1) return bad(DecodeErrc::invalid_length, at, "value", i);
    if (vlen > 0) {
      if (static_cast<std::size_t>(vlen) > static_cast<std::size_t>(body_end - p))
        return bad(DecodeErrc::length_exceeds_input, at, "value", i);
      p += vlen;
    }
  }
  if (p != body_end) [[unlikely]]
    return bad(DecodeErrc::invalid_record, p, "length");
  out.header_count = static_cast<std::uint32_t>(count);
  out.header_bytes = bytes_view(headers_begin, static_cast<std::size_t>(body_end - headers_begin));
  out.raw = bytes_view(start, static_cast<std::size_t>(body_end - start));
  pos = p;
  return true;
}

/// The DecodeError of a fault in record `index` of the field `records_field`:
/// offset relative to `origin`, path such as "records[3].headers[0].key".
[[gnu::cold]] inline DecodeError record_error(const RecordFault& f, const std::uint8_t* origin,
                                              std::string_view records_field, std::size_t index) {
  std::string path = indexed("", records_field, index);
  if (f.header >= 0) path += indexed("", ".headers", static_cast<std::size_t>(f.header));
  path += '.';
  path += f.field;
  return error_at(f.code, static_cast<std::size_t>(f.at - origin), std::move(path));
}

}  // namespace records_detail

/// Parses one record at `p` (not past `end`) and advances `p` past it. On
/// failure returns the error with its offset relative to `origin`.
inline std::optional<DecodeError> parse_record(const std::uint8_t* origin, const std::uint8_t*& p,
                                               const std::uint8_t* end, RecordView& out,
                                               std::string_view records_field = "records", std::size_t index = 0) {
  records_detail::RecordFault fault;
  if (records_detail::scan_record(p, end, out, fault)) [[likely]]
    return std::nullopt;
  return records_detail::record_error(fault, origin, records_field, index);
}

/// Reads the records of one batch in order. next() validates each record; the
/// reader also checks that exactly recordCount records fill the data.
class RecordReader {
 public:
  RecordReader() = default;
  /// `data`: the records; `count`: the batch's recordCount; error offsets are
  /// data's position `data_offset` plus the position inside data.
  RecordReader(bytes_view data, std::int32_t count, std::size_t data_offset, std::string path = "records")
      : p_(data.data()),
        end_(data.data() + data.size()),
        origin_(data.data()),
        data_offset_(data_offset),
        left_(count),
        path_(std::move(path)) {}
  /// A reader that yields nothing and reports `e`.
  explicit RecordReader(DecodeError e) : error_(std::move(e)) {}

  /// Reads the next record into `r`; false at the end or on error (then
  /// error() says which).
  bool next(RecordView& r) {
    if (error_) return false;
    if (left_ <= 0) {
      if (p_ != end_) {
        fail(records_detail::error_at(DecodeErrc::invalid_record, offset(p_), path_ + ": bytes after the last record"));
      }
      p_ = end_;
      return false;
    }
    records_detail::RecordFault fault;
    const std::uint8_t* p = p_;  // a local the parser can keep in a register
    const bool parsed = records_detail::scan_record(p, end_, r, fault);
    p_ = p;
    if (!parsed) [[unlikely]] {
      DecodeError e = records_detail::record_error(fault, origin_, path_, index_);
      e.offset += data_offset_;
      fail(std::move(e));
      return false;
    }
    --left_;
    ++index_;
    return true;
  }

  bool ok() const noexcept { return !error_.has_value(); }
  const std::optional<DecodeError>& error() const noexcept { return error_; }
  /// Records not yet read.
  std::int32_t remaining() const noexcept { return left_; }

  // Range-for support: iteration stops at the end or at the first error;
  // check ok() afterwards.
  class iterator {
   public:
    using value_type = RecordView;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(RecordReader* r) : r_(r) { advance(); }
    const RecordView& operator*() const noexcept { return current_; }
    const RecordView* operator->() const noexcept { return &current_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const iterator& a, std::default_sentinel_t) noexcept { return a.r_ == nullptr; }

   private:
    void advance() {
      if (r_ && !r_->next(current_)) r_ = nullptr;
    }
    RecordReader* r_ = nullptr;
    RecordView current_{};
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::size_t offset(const std::uint8_t* at) const noexcept {
    return data_offset_ + static_cast<std::size_t>(at - origin_);
  }
  void fail(DecodeError e) {
    error_ = std::move(e);
    p_ = end_;
    left_ = 0;
  }

  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  const std::uint8_t* origin_ = nullptr;
  std::size_t data_offset_ = 0;
  std::int32_t left_ = 0;
  std::size_t index_ = 0;
  std::string path_;
  std::optional<DecodeError> error_;
};

/// Control record types (the key's type field).
enum class ControlType : std::int16_t {
  abort = 0,
  commit = 1,
  leader_change = 2,
  snapshot_header = 3,
  snapshot_footer = 4,
  kraft_version = 5,
  kraft_voters = 6,
};

/// The key of a control record: version int16, type int16.
struct ControlRecordKey {
  std::int16_t version = 0;
  std::int16_t type = 0;
  ControlType control_type() const noexcept { return static_cast<ControlType>(type); }
};

/// The value of a transaction marker (abort/commit control record): a version,
/// then the body that the EndTxnMarker schema describes.
struct TxnMarker {
  std::int16_t version = 0;
  std::int32_t coordinator_epoch = 0;
};

/// Parses a control record's key. Readers of newer key versions accept
/// trailing bytes, as the format allows them to be extended.
inline std::optional<ControlRecordKey> parse_control_key(const nullable_bytes& key) noexcept {
  if (!key || key->size() < 4) return std::nullopt;
  ControlRecordKey k;
  k.version = records_detail::load_be<std::int16_t>(key->data());
  k.type = records_detail::load_be<std::int16_t>(key->data() + 2);
  if (k.version < 0) return std::nullopt;
  return k;
}

/// Parses the value of an abort/commit marker.
inline std::optional<TxnMarker> parse_end_txn_marker(const nullable_bytes& value) noexcept {
  if (!value || value->size() < 6) return std::nullopt;
  TxnMarker m;
  m.version = records_detail::load_be<std::int16_t>(value->data());
  m.coordinator_epoch = records_detail::load_be<std::int32_t>(value->data() + 2);
  if (m.version < 0) return std::nullopt;
  return m;
}

/// A read-only view of one magic-2 batch. Construct with parse(), which checks
/// the framing (sizes and magic); validate() adds the header's consistency and
/// the CRC; records() iterates and validates the records themselves.
class RecordBatchView {
 public:
  RecordBatchView() = default;

  /// Views the batch at the start of `in` (which may hold more after it).
  /// `origin_offset` is added to error offsets (the batch's position in a
  /// larger buffer).
  static std::optional<RecordBatchView> parse(bytes_view in, DecodeError* error = nullptr,
                                              std::size_t origin_offset = 0) {
    namespace L = batch_layout;
    auto fail = [&](DecodeErrc c, std::size_t at, const char* field) -> std::optional<RecordBatchView> {
      if (error) *error = records_detail::error_at(c, origin_offset + at, field);
      return std::nullopt;
    };
    if (in.size() < L::header_size) return fail(DecodeErrc::truncated, in.size(), "batch");
    std::int32_t length = records_detail::load_be<std::int32_t>(in.data() + L::batch_length);
    if (length < static_cast<std::int32_t>(L::header_size - L::log_overhead))
      return fail(DecodeErrc::invalid_length, L::batch_length, "batchLength");
    if (static_cast<std::size_t>(length) > in.size() - L::log_overhead)
      return fail(DecodeErrc::length_exceeds_input, L::batch_length, "batchLength");
    if (in[L::magic] != 2) return fail(DecodeErrc::invalid_record, L::magic, "magic");
    RecordBatchView v;
    v.bytes_ = in.first(batch_layout::log_overhead + static_cast<std::size_t>(length));
    v.origin_offset_ = origin_offset;
    return v;
  }

  /// The whole batch.
  bytes_view bytes() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }

  std::int64_t base_offset() const noexcept { return get<std::int64_t>(batch_layout::base_offset); }
  std::int32_t batch_length() const noexcept { return get<std::int32_t>(batch_layout::batch_length); }
  std::int32_t partition_leader_epoch() const noexcept { return get<std::int32_t>(batch_layout::partition_leader_epoch); }
  std::int8_t magic() const noexcept { return static_cast<std::int8_t>(bytes_[batch_layout::magic]); }
  std::uint32_t crc() const noexcept { return get<std::uint32_t>(batch_layout::crc); }
  std::uint16_t attributes() const noexcept { return get<std::uint16_t>(batch_layout::attributes); }
  std::int32_t last_offset_delta() const noexcept { return get<std::int32_t>(batch_layout::last_offset_delta); }
  std::int64_t base_timestamp() const noexcept { return get<std::int64_t>(batch_layout::base_timestamp); }
  std::int64_t max_timestamp() const noexcept { return get<std::int64_t>(batch_layout::max_timestamp); }
  std::int64_t producer_id() const noexcept { return get<std::int64_t>(batch_layout::producer_id); }
  std::int16_t producer_epoch() const noexcept { return get<std::int16_t>(batch_layout::producer_epoch); }
  std::int32_t base_sequence() const noexcept { return get<std::int32_t>(batch_layout::base_sequence); }
  std::int32_t record_count() const noexcept { return get<std::int32_t>(batch_layout::record_count); }

  /// Raw codec id (0-7); values above 4 are invalid and reported by validate().
  std::uint8_t compression_id() const noexcept { return attributes() & batch_attr::compression_mask; }
  Compression compression() const noexcept { return static_cast<Compression>(compression_id()); }
  TimestampType timestamp_type() const noexcept {
    return (attributes() & batch_attr::log_append_time) ? TimestampType::log_append_time : TimestampType::create_time;
  }
  bool is_transactional() const noexcept { return attributes() & batch_attr::transactional; }
  bool is_control() const noexcept { return attributes() & batch_attr::control; }
  bool has_delete_horizon() const noexcept { return attributes() & batch_attr::delete_horizon; }
  /// The delete horizon (stored in baseTimestamp when the flag is set).
  std::optional<std::int64_t> delete_horizon_ms() const noexcept {
    if (!has_delete_horizon()) return std::nullopt;
    return base_timestamp();
  }
  /// baseOffset + lastOffsetDelta, wrapping as Java's arithmetic does (wire
  /// values may be anything a valid CRC covers; the baseOffset is not even
  /// under the CRC).
  std::int64_t last_offset() const noexcept {
    return records_detail::wrapping_add(base_offset(), last_offset_delta());
  }
  /// Offset after the batch, as a fetch position.
  std::int64_t next_offset() const noexcept { return records_detail::wrapping_add(last_offset(), 1); }
  /// The sequence number of the last record, wrapping as Kafka does.
  std::int32_t last_sequence() const noexcept {
    if (base_sequence() == no_sequence) return no_sequence;
    std::int64_t s = static_cast<std::int64_t>(base_sequence()) + last_offset_delta();
    return static_cast<std::int32_t>(s > INT32_MAX ? s - INT32_MAX - 1 : s);
  }

  /// The bytes after the header: the records, compressed or not.
  bytes_view records_data() const noexcept { return bytes_.subspan(batch_layout::header_size); }

  /// CRC-32C over attributes..end, as it should be stored in crc().
  std::uint32_t compute_crc() const noexcept {
    return crc32c::value(bytes_.subspan(batch_layout::attributes));
  }
  bool crc_valid() const noexcept { return compute_crc() == crc(); }

  /// Checks the CRC and the header fields that do not need the records: a
  /// known codec, a non-negative lastOffsetDelta, and a non-negative record
  /// count that the data could hold (for uncompressed batches).
  std::optional<DecodeError> validate() const {
    using records_detail::error_at;
    if (!crc_valid()) return error_at(DecodeErrc::crc_mismatch, origin_offset_ + batch_layout::crc, "crc");
    return validate_header();
  }

  /// Header checks without the CRC (for callers that verified it already).
  std::optional<DecodeError> validate_header() const {
    using records_detail::error_at;
    if (compression_id() > 4)
      return error_at(DecodeErrc::invalid_record, origin_offset_ + batch_layout::attributes, "attributes");
    if (record_count() < 0)
      return error_at(DecodeErrc::invalid_length, origin_offset_ + batch_layout::record_count, "recordCount");
    if (last_offset_delta() < 0)
      return error_at(DecodeErrc::invalid_record, origin_offset_ + batch_layout::last_offset_delta, "lastOffsetDelta");
    if (compression() == Compression::none &&
        static_cast<std::uint64_t>(record_count()) * min_record_size > records_data().size())
      return error_at(DecodeErrc::length_exceeds_input, origin_offset_ + batch_layout::record_count, "recordCount");
    return std::nullopt;
  }

  /// Records of an uncompressed batch, read in place. For a compressed batch
  /// the reader reports decompression_failed: use the overload below.
  RecordReader records() const {
    if (compression() != Compression::none)
      return RecordReader(records_detail::error_at(DecodeErrc::decompression_failed,
                                                   origin_offset_ + batch_layout::attributes,
                                                   "records: compressed batch needs a decompressor"));
    if (auto e = validate_header()) return RecordReader(std::move(*e));
    return RecordReader(records_data(), record_count(), origin_offset_ + batch_layout::header_size);
  }

  /// Records of any batch. Compressed records are inflated into `scratch`
  /// (replacing its contents; the records then point into it) through
  /// `decompress`, with at most `limit` bytes of output. Error offsets inside
  /// inflated data are relative to the inflated data.
  RecordReader records(std::vector<std::uint8_t>& scratch, decompress_fn decompress,
                       std::size_t limit = default_inflate_limit) const {
    if (compression() == Compression::none) return records();
    if (auto e = validate_header()) return RecordReader(std::move(*e));
    if (!decompress)
      return RecordReader(records_detail::error_at(DecodeErrc::decompression_failed,
                                                   origin_offset_ + batch_layout::header_size, "records"));
    if (auto e = decompress(compression(), records_data(), scratch, limit)) {
      e->offset += origin_offset_ + batch_layout::header_size;
      e->path = e->path.empty() ? "records" : "records." + e->path;
      return RecordReader(std::move(*e));
    }
    if (static_cast<std::uint64_t>(record_count()) * min_record_size > scratch.size())
      return RecordReader(records_detail::error_at(DecodeErrc::length_exceeds_input,
                                                   origin_offset_ + batch_layout::record_count, "recordCount"));
    return RecordReader(bytes_view(scratch), record_count(), 0, "records(inflated)");
  }

  /// Default bound on inflated records: Kafka's default max.message.bytes is
  /// about 1 MiB of compressed data; 64 MiB of inflated data is generous for it
  /// while still far from exhausting memory.
  static constexpr std::size_t default_inflate_limit = std::size_t{64} << 20;

  /// The absolute offset of a record of this batch.
  std::int64_t offset_of(const RecordView& r) const noexcept {
    return records_detail::wrapping_add(base_offset(), r.offset_delta);
  }
  /// The timestamp of a record: the batch's maxTimestamp under
  /// LogAppendTime, baseTimestamp + delta otherwise.
  std::int64_t timestamp_of(const RecordView& r) const noexcept {
    if (timestamp_type() == TimestampType::log_append_time) return max_timestamp();
    return records_detail::wrapping_add(base_timestamp(), r.timestamp_delta);
  }

 private:
  template <class T>
  T get(std::size_t at) const noexcept {
    return records_detail::load_be<T>(bytes_.data() + at);
  }

  bytes_view bytes_;
  std::size_t origin_offset_ = 0;
};

/// One entry of a record set: a magic-2 batch or a legacy (magic 0/1) message
/// with its offset/size prefix. Both formats keep the magic byte at offset 16.
struct LogEntry {
  bytes_view bytes;           // the whole entry, from its offset field
  std::size_t position = 0;   // where it starts in the record set
  std::int8_t magic = 0;
};

/// The bytes of a record set field; a null one reads as empty.
inline bytes_view records_bytes(const records_view& set) noexcept { return set ? *set : bytes_view{}; }

/// Splits a record set (the `records` field of Produce and Fetch) into its
/// entries without copying.
class RecordSetReader {
 public:
  struct Options {
    /// A fetch response may end in a partial batch (the broker cuts at the
    /// size limit); when true, such a tail ends iteration without an error and
    /// truncated_tail() says so. Produce requests must not have one.
    bool allow_partial_tail = false;
  };

  explicit RecordSetReader(bytes_view set) : set_(set) {}
  RecordSetReader(bytes_view set, Options options) : set_(set), options_(options) {}

  /// The next entry of any magic; false at the end or on error.
  bool next_entry(LogEntry& e) {
    using namespace batch_layout;
    if (error_ || pos_ >= set_.size()) return false;
    std::size_t left = set_.size() - pos_;
    const std::uint8_t* p = set_.data() + pos_;
    if (left < log_overhead + 5) return tail(pos_ + left);
    std::int32_t length = records_detail::load_be<std::int32_t>(p + batch_length);
    std::int8_t magic_byte = static_cast<std::int8_t>(p[magic]);
    // The smallest legacy message is crc + magic + attributes + two lengths.
    std::int32_t min_length = magic_byte >= 2 ? static_cast<std::int32_t>(header_size - log_overhead) : 14;
    if (length < min_length) {
      error_ = records_detail::error_at(DecodeErrc::invalid_length, pos_ + batch_length, "batchLength");
      return false;
    }
    if (static_cast<std::size_t>(length) > left - log_overhead) return tail(pos_ + batch_length);
    if (magic_byte < 0 || magic_byte > 2) {
      error_ = records_detail::error_at(DecodeErrc::invalid_record, pos_ + magic, "magic");
      return false;
    }
    e.bytes = bytes_view(p, log_overhead + static_cast<std::size_t>(length));
    e.position = pos_;
    e.magic = magic_byte;
    pos_ += e.bytes.size();
    return true;
  }

  /// The next magic-2 batch; a legacy entry is an error here (use
  /// next_entry() for record sets that may hold old messages).
  bool next(RecordBatchView& b) {
    LogEntry e;
    if (!next_entry(e)) return false;
    if (e.magic != 2) {
      error_ = records_detail::error_at(DecodeErrc::invalid_record, e.position + batch_layout::magic,
                                        "magic: legacy message where a v2 batch was expected");
      return false;
    }
    DecodeError err;
    auto v = RecordBatchView::parse(e.bytes, &err, e.position);
    if (!v) {
      error_ = std::move(err);
      return false;
    }
    b = *v;
    return true;
  }

  bool ok() const noexcept { return !error_.has_value(); }
  const std::optional<DecodeError>& error() const noexcept { return error_; }
  bool truncated_tail() const noexcept { return truncated_; }
  /// Bytes consumed so far (the end of the last complete entry).
  std::size_t position() const noexcept { return pos_; }

 private:
  bool tail(std::size_t at) {
    if (options_.allow_partial_tail) {
      truncated_ = true;
    } else {
      error_ = records_detail::error_at(DecodeErrc::truncated, at, "batch");
    }
    pos_ = set_.size();
    return false;
  }

  bytes_view set_;
  Options options_;
  std::size_t pos_ = 0;
  bool truncated_ = false;
  std::optional<DecodeError> error_;
};

// ---- in-place updates (brokers) ----
//
// Each takes the bytes of one complete batch (at least the header) and returns
// false, changing nothing, if they are too short or not magic 2.

namespace records_detail {
inline bool is_v2_batch(std::span<std::uint8_t> b) noexcept {
  return b.size() >= batch_layout::header_size && b[batch_layout::magic] == 2;
}
}  // namespace records_detail

/// Sets baseOffset (outside the CRC; nothing else changes).
inline bool set_base_offset(std::span<std::uint8_t> batch, std::int64_t offset) noexcept {
  if (!records_detail::is_v2_batch(batch)) return false;
  records_detail::store_be(batch.data() + batch_layout::base_offset, offset);
  return true;
}

/// Sets partitionLeaderEpoch (outside the CRC; nothing else changes).
inline bool set_partition_leader_epoch(std::span<std::uint8_t> batch, std::int32_t epoch) noexcept {
  if (!records_detail::is_v2_batch(batch)) return false;
  records_detail::store_be(batch.data() + batch_layout::partition_leader_epoch, epoch);
  return true;
}

/// Recomputes and stores the CRC over attributes..end.
inline bool refresh_crc(std::span<std::uint8_t> batch) noexcept {
  if (!records_detail::is_v2_batch(batch)) return false;
  std::uint32_t c = crc32c::value(bytes_view(batch).subspan(batch_layout::attributes));
  records_detail::store_be(batch.data() + batch_layout::crc, c);
  return true;
}

/// Sets the timestamp type bit and maxTimestamp, then refreshes the CRC;
/// leaves the batch untouched when both already hold these values.
inline bool set_max_timestamp(std::span<std::uint8_t> batch, TimestampType type, std::int64_t max_timestamp) noexcept {
  if (!records_detail::is_v2_batch(batch)) return false;
  auto attrs = records_detail::load_be<std::uint16_t>(batch.data() + batch_layout::attributes);
  auto new_attrs = type == TimestampType::log_append_time
                       ? static_cast<std::uint16_t>(attrs | batch_attr::log_append_time)
                       : static_cast<std::uint16_t>(attrs & ~batch_attr::log_append_time);
  if (new_attrs == attrs &&
      records_detail::load_be<std::int64_t>(batch.data() + batch_layout::max_timestamp) == max_timestamp)
    return true;
  records_detail::store_be(batch.data() + batch_layout::attributes, new_attrs);
  records_detail::store_be(batch.data() + batch_layout::max_timestamp, max_timestamp);
  return refresh_crc(batch);
}

/// A broker assigning LogAppendTime: every record's timestamp becomes `time`.
/// As in Kafka, baseTimestamp and the records' deltas stay as the producer
/// wrote them (readers ignore them under LogAppendTime), so a compressed batch
/// needs no rewrite; the result is byte for byte what RecordBatchBuilder
/// writes for the same records built with TimestampType::log_append_time.
inline bool set_log_append_time(std::span<std::uint8_t> batch, std::int64_t time) noexcept {
  return set_max_timestamp(batch, TimestampType::log_append_time, time);
}

/// A leader appending a produce request's record set: gives every magic-2
/// batch consecutive offsets starting at `first_offset` and stamps the leader
/// epoch, in place (outside the CRC, so nothing else changes). Returns the
/// offset after the last batch, or the framing error (nothing is changed
/// unless the whole set frames correctly and holds only magic-2 batches).
struct AssignedOffsets {
  std::int64_t next_offset = 0;
  std::optional<DecodeError> error;
};
inline AssignedOffsets assign_offsets(std::span<std::uint8_t> set, std::int64_t first_offset,
                                      std::int32_t partition_leader_epoch) {
  AssignedOffsets result{first_offset, std::nullopt};
  {
    RecordSetReader check{bytes_view(set)};
    RecordBatchView b;
    while (check.next(b)) {
    }
    if (!check.ok()) {
      result.error = check.error();
      return result;
    }
  }
  RecordSetReader rs{bytes_view(set)};
  RecordBatchView b;
  while (rs.next(b)) {
    auto at = static_cast<std::size_t>(b.bytes().data() - set.data());
    auto batch = set.subspan(at, b.size());
    std::int32_t delta = b.last_offset_delta();
    set_base_offset(batch, result.next_offset);
    set_partition_leader_epoch(batch, partition_leader_epoch);
    result.next_offset += static_cast<std::int64_t>(delta < 0 ? 0 : delta) + 1;
  }
  return result;
}

}  // namespace kwire
