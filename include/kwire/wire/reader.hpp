// Reader: bounds-checked, allocation-free reading of protocol primitives.
//
// Lifetime rule: everything a Reader hands out that is not an integer
// (string_view, bytes_view, records_view, RawTaggedField::data) points into the
// buffer the Reader was constructed over. Decoded messages are therefore valid
// only while that buffer is alive and unchanged. Arrays are allocated from the
// std::pmr::memory_resource given to the Reader, which must outlive them too.
//
// Errors are sticky: the first failure is recorded with its byte offset, the
// cursor jumps to the end, and every later read returns a zero value. Callers
// check ok() once per element or message instead of per read.
//
// Two readers share this code. Reader keeps no field path: naming the field of
// every read costs stores on every field and element of a message that is
// almost always valid. TracingReader keeps the path (field names and array
// indices) and puts it in the error. kwire::decode() and kwire::decode_from()
// decode with a Reader and, only when that fails, decode the same bytes again
// with a TracingReader to name the field (see codec.hpp).
#pragma once

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "kwire/wire/error.hpp"
#include "kwire/wire/types.hpp"
#include "kwire/wire/varint.hpp"

namespace kwire {

/// Decoding allocates only arrays and kept unknown tagged fields; both are
/// charged to a budget before they are allocated. By default the budget is
/// `default_memory_ratio` times the input's size plus `default_memory_floor`:
/// the largest ratio between an element's in-memory size and its smallest
/// encoding in any schema is below it (tests/unit/decode_budget.cpp walks
/// them all), so every message the schemas allow decodes, while input made of
/// nothing but tiny elements cannot cost more than that multiple.
inline constexpr std::size_t default_memory_ratio = 48;
inline constexpr std::size_t default_memory_floor = std::size_t{64} << 10;
inline constexpr std::size_t default_memory_limit(std::size_t input_size) noexcept {
  return input_size > (SIZE_MAX - default_memory_floor) / default_memory_ratio
             ? SIZE_MAX
             : input_size * default_memory_ratio + default_memory_floor;
}

/// Loads for a run of fixed-width fields whose bytes BasicReader::take()
/// already checked: each reads at `p` and advances it.
namespace unchecked {
template <class T>
inline T load(const std::uint8_t*& p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return boost::endian::big_to_native(v);
}
inline std::int8_t i8(const std::uint8_t*& p) noexcept { return static_cast<std::int8_t>(*p++); }
inline bool boolean(const std::uint8_t*& p) noexcept { return *p++ != 0; }
inline std::int16_t i16(const std::uint8_t*& p) noexcept { return static_cast<std::int16_t>(load<std::uint16_t>(p)); }
inline std::uint16_t u16(const std::uint8_t*& p) noexcept { return load<std::uint16_t>(p); }
inline std::int32_t i32(const std::uint8_t*& p) noexcept { return static_cast<std::int32_t>(load<std::uint32_t>(p)); }
inline std::uint32_t u32(const std::uint8_t*& p) noexcept { return load<std::uint32_t>(p); }
inline std::int64_t i64(const std::uint8_t*& p) noexcept { return static_cast<std::int64_t>(load<std::uint64_t>(p)); }
inline double f64(const std::uint8_t*& p) noexcept { return std::bit_cast<double>(load<std::uint64_t>(p)); }
inline Uuid uuid(const std::uint8_t*& p) noexcept {
  Uuid u;
  std::memcpy(u.bytes.data(), p, 16);
  p += 16;
  return u;
}
}  // namespace unchecked

namespace reader_detail {
inline constexpr std::size_t max_depth = 32;

/// The field path of a TracingReader: the current field and a stack of the
/// arrays and structs entered to reach it.
struct PathStack {
  struct Frame {
    const char* field;
    std::int32_t index;
  };
  const char* field = nullptr;
  std::array<Frame, max_depth> frames;  // written before read; not zeroed per decode
  std::size_t depth = 0;
};
/// A Reader keeps no path.
struct NoPath {};
}  // namespace reader_detail

template <bool TracksPath>
class BasicReader {
 public:
  /// True for TracingReader: field(), enter() and leave() record the path.
  static constexpr bool tracks_path = TracksPath;
  /// Nesting a TracingReader accepts. Generated messages nest a few levels at
  /// most (their schemas are not recursive), so only hand-written callers of
  /// enter() can reach it.
  static constexpr std::size_t max_depth = reader_detail::max_depth;

  explicit BasicReader(bytes_view buf, std::pmr::memory_resource* mem = std::pmr::get_default_resource()) noexcept
      : begin_(buf.data()),
        cur_(buf.data()),
        end_(buf.data() + buf.size()),
        buf_end_(end_),
        mem_(mem),
        memory_left_(default_memory_limit(buf.size())) {}

  bool ok() const noexcept { return !error_.has_value(); }
  const std::optional<DecodeError>& error() const noexcept { return error_; }
  std::optional<DecodeError> take_error() noexcept { return std::move(error_); }
  /// Names the field of the recorded error (kwire::decode_from() sets the path
  /// that a TracingReader found for it).
  void set_error_path(std::string path) {
    if (error_) error_->path = std::move(path);
  }

  std::size_t offset() const noexcept { return static_cast<std::size_t>(cur_ - begin_); }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - cur_); }
  const std::uint8_t* position() const noexcept { return cur_; }
  std::pmr::memory_resource* memory() const noexcept { return mem_; }
  /// The bytes read so far and those that remain (offsets count from its start).
  /// (The whole buffer, also while begin_limit() confines reading to part of it.)
  bytes_view buffer() const noexcept { return {begin_, static_cast<std::size_t>(buf_end_ - begin_)}; }
  /// Moves the cursor to `offset` (at most the buffer's size); for a reader
  /// that must start where another one started.
  void seek(std::size_t offset) noexcept { cur_ = begin_ + std::min(offset, buffer().size()); }

  // ---- the allocation budget ----
  /// Replaces the budget: at most `bytes` more may be allocated.
  void set_memory_limit(std::size_t bytes) noexcept { memory_left_ = bytes; }
  std::size_t memory_left() const noexcept { return memory_left_; }
  /// Takes `count` × `size` bytes from the budget before they are allocated;
  /// false, with a limit_exceeded error at the current field, when they do
  /// not fit.
  bool charge(std::size_t count, std::size_t size) noexcept {
    if (size != 0 && count > memory_left_ / size) {
      fail(DecodeErrc::limit_exceeded);
      return false;
    }
    memory_left_ -= count * size;
    return true;
  }

  // ---- field path bookkeeping: a TracingReader stores pointers (the path
  // ---- string is built when an error happens); a Reader does nothing ----
  void field(const char* name) noexcept {
    if constexpr (TracksPath) path_.field = name;
  }
  /// Marks entry into element `index` of the current array field (or -1 for a
  /// single nested struct). Returns false, with an error, if nesting is too deep.
  bool enter(std::int32_t index = -1) noexcept {
    if constexpr (TracksPath) {
      if (path_.depth == max_depth) {
        fail(DecodeErrc::too_deep);
        return false;
      }
      path_.frames[path_.depth++] = {path_.field, index};
    }
    return true;
  }
  void leave() noexcept {
    if constexpr (TracksPath) path_.field = path_.frames[--path_.depth].field;
  }

  /// Records an error at the current offset (the first one wins).
  void fail(DecodeErrc code) { fail_at(code, offset()); }
  // Out of line: it builds strings, and inlined at every check it would crowd
  // the reading code it is almost never called from.
  [[gnu::cold]] [[gnu::noinline]] void fail_at(DecodeErrc code, std::size_t at) {
    if (error_) return;
    DecodeError e;
    e.code = code;
    e.offset = at;
    if constexpr (TracksPath) {
      for (std::size_t i = 0; i < path_.depth; ++i) {
        append_segment(e.path, path_.frames[i].field);
        if (path_.frames[i].index >= 0) {
          e.path += '[';
          e.path += std::to_string(path_.frames[i].index);
          e.path += ']';
        }
      }
      append_segment(e.path, path_.field);
    }
    error_ = std::move(e);
    cur_ = end_;
  }

  /// Takes the next `n` bytes when they are all there: their start, for the
  /// unchecked loads in kwire::unchecked (one bounds check for a run of
  /// fixed-width fields). Otherwise nullptr, reading nothing and recording no
  /// error: the caller reads the fields one by one to report which one is cut.
  const std::uint8_t* take(std::size_t n) noexcept {
    if (static_cast<std::size_t>(end_ - cur_) < n) return nullptr;
    const std::uint8_t* p = cur_;
    cur_ += n;
    return p;
  }

  // ---- fixed-width integers (big-endian) ----
  std::int8_t i8() noexcept { return static_cast<std::int8_t>(u8()); }
  std::uint8_t u8() noexcept {
    if (!need(1)) return 0;
    return *cur_++;
  }
  bool boolean() noexcept { return u8() != 0; }
  std::int16_t i16() noexcept { return static_cast<std::int16_t>(u16()); }
  std::uint16_t u16() noexcept { return fixed<std::uint16_t>(); }
  std::int32_t i32() noexcept { return static_cast<std::int32_t>(u32()); }
  std::uint32_t u32() noexcept { return fixed<std::uint32_t>(); }
  std::int64_t i64() noexcept { return static_cast<std::int64_t>(u64()); }
  std::uint64_t u64() noexcept { return fixed<std::uint64_t>(); }
  double f64() noexcept { return std::bit_cast<double>(u64()); }
  Uuid uuid() noexcept {
    Uuid u;
    if (!need(16)) return u;
    std::memcpy(u.bytes.data(), cur_, 16);
    cur_ += 16;
    return u;
  }

  // ---- varints ----
  std::uint32_t uvarint() noexcept {
    std::uint32_t v = 0;
    auto start = cur_;
    check(varint::get_u32(cur_, end_, v), start);
    return v;
  }
  std::int32_t varint() noexcept {
    std::int32_t v = 0;
    auto start = cur_;
    check(varint::get_i32(cur_, end_, v), start);
    return v;
  }
  std::int64_t varlong() noexcept {
    std::int64_t v = 0;
    auto start = cur_;
    check(varint::get_i64(cur_, end_, v), start);
    return v;
  }

  // ---- lengths ----
  /// Reads a length prefix: int16 (string) / int32 (bytes, arrays) when not
  /// flexible, or a compact unsigned varint N meaning N-1 when flexible. Returns
  /// -1 for null. Rejects anything below -1 and anything that cannot fit in the
  /// remaining input given `min_unit` bytes per unit, before any allocation.
  // Always inline: it is on every string, bytes and array field, and its
  // common paths take fewer instructions than a call does.
  [[gnu::always_inline]] std::int64_t length(bool compact, bool wide, std::size_t min_unit = 1) noexcept {
    // Inline for what nearly every length is: fitting, and either a compact
    // one of up to three bytes (a record set of up to 2 MiB takes three) or
    // the compact null (the byte 0). Everything else, errors included, takes
    // the general path, out of line.
    if (compact) {
      const std::size_t left = remaining();
      if (left != 0 && cur_[0] < 0x80) {
        const std::size_t n = cur_[0];  // the length plus one
        if (n == 0) {
          ++cur_;
          return -1;
        }
        if ((n - 1) * min_unit < left) {
          ++cur_;
          return static_cast<std::int64_t>(n - 1);
        }
      } else if (left >= 2 && cur_[1] - 1u < 0x7Fu) {  // a last byte of 1..0x7F: no leading zero
        const std::size_t n = (cur_[0] & 0x7Fu) | std::size_t{cur_[1]} << 7;
        if ((n - 1) * min_unit <= left - 2) {
          cur_ += 2;
          return static_cast<std::int64_t>(n - 1);
        }
      } else if (left >= 3 && cur_[1] >= 0x80 && cur_[2] - 1u < 0x7Fu) {
        const std::size_t n = (cur_[0] & 0x7Fu) | std::size_t{cur_[1] & 0x7Fu} << 7 | std::size_t{cur_[2]} << 14;
        if ((n - 1) * min_unit <= left - 3) {
          cur_ += 3;
          return static_cast<std::int64_t>(n - 1);
        }
      }
    } else if (remaining() >= (wide ? 4u : 2u)) {
      const std::uint8_t* p = cur_;
      const std::int64_t n = wide ? unchecked::i32(p) : unchecked::i16(p);
      if (n >= 0 && static_cast<std::uint64_t>(n) * min_unit <= remaining() - (wide ? 4u : 2u)) {
        cur_ = p;
        return n;
      }
    }
    return checked_length(compact, wide, min_unit);
  }

  // ---- strings and bytes ----
  // Errors are reported at the length prefix (`start`).
  nullable_string nullable_str(bool compact) noexcept {
    const std::uint8_t* start = cur_;
    std::int64_t n = length(compact, false);
    if (n < 0) return std::nullopt;
    if (n > 0x7fff) [[unlikely]] {
      fail_at(DecodeErrc::string_too_long, static_cast<std::size_t>(start - begin_));
      return std::nullopt;
    }
    auto p = reinterpret_cast<const char*>(cur_);
    cur_ += n;
    return std::string_view(p, static_cast<std::size_t>(n));
  }
  /// A nullable string in a version where null may not be allowed.
  nullable_string nullable_str(bool compact, bool null_allowed) noexcept {
    const std::uint8_t* start = cur_;
    auto s = nullable_str(compact);
    if (!s && !null_allowed) null_where_not_allowed(start);
    return s;
  }
  std::string_view str(bool compact) noexcept {
    const std::uint8_t* start = cur_;
    auto s = nullable_str(compact);
    if (!s) [[unlikely]] {
      null_where_not_allowed(start);
      return {};
    }
    return *s;
  }
  nullable_bytes nullable_byts(bool compact) noexcept {
    std::int64_t n = length(compact, true);
    if (n < 0) return std::nullopt;
    bytes_view v(cur_, static_cast<std::size_t>(n));
    cur_ += n;
    return v;
  }
  nullable_bytes nullable_byts(bool compact, bool null_allowed) noexcept {
    const std::uint8_t* start = cur_;
    auto b = nullable_byts(compact);
    if (!b && !null_allowed) null_where_not_allowed(start);
    return b;
  }
  bytes_view byts(bool compact) noexcept {
    const std::uint8_t* start = cur_;
    auto b = nullable_byts(compact);
    if (!b) [[unlikely]] {
      null_where_not_allowed(start);
      return {};
    }
    return *b;
  }
  /// Reads exactly n bytes as a view.
  bytes_view raw(std::size_t n) noexcept {
    if (!need(n)) return {};
    bytes_view v(cur_, n);
    cur_ += n;
    return v;
  }

  /// Array length: -1 for null; `nullable` false turns null into an error.
  // Always inline, as length() is: it is on every array field.
  [[gnu::always_inline]] std::int64_t array_length(bool compact, bool nullable, std::size_t min_elem = 1) noexcept {
    auto start = offset();
    std::int64_t n = length(compact, true, min_elem);
    if (n < 0 && ok() && !nullable) {
      fail_at(DecodeErrc::invalid_length, start);
    }
    return n;
  }

  // ---- tagged fields ----
  /// Consumes an empty tagged-field section (the single byte 0, which almost
  /// every struct of a flexible version ends with); false, consuming nothing,
  /// for any other section.
  bool empty_tags() noexcept {
    if (cur_ != end_ && *cur_ == 0) {
      ++cur_;
      return true;
    }
    return false;
  }
  /// Number of tagged fields that follow, checked against the remaining bytes
  /// (each takes at least two).
  std::uint32_t tag_count() noexcept {
    // Almost every tagged-field section is empty: one zero byte.
    if (cur_ != end_ && *cur_ == 0) {
      ++cur_;
      return 0;
    }
    auto start = offset();
    std::uint32_t n = uvarint();
    if (ok() && static_cast<std::uint64_t>(n) * 2 > remaining()) {
      fail_at(DecodeErrc::length_exceeds_input, start);
      return 0;
    }
    return n;
  }
  /// Reads a tag header; returns the field's size, checked against the input.
  std::uint32_t tag_header(std::uint32_t& tag) noexcept {
    tag = uvarint();
    auto start = offset();
    std::uint32_t size = uvarint();
    if (ok() && size > remaining()) {
      fail_at(DecodeErrc::length_exceeds_input, start);
      return 0;
    }
    return size;
  }
  /// Confines reading to the next `size` bytes (a known tagged field); restore
  /// with end_limit(), which checks the field was consumed exactly.
  const std::uint8_t* begin_limit(std::uint32_t size) noexcept {
    auto saved = end_;
    end_ = cur_ + size;
    return saved;
  }
  void end_limit(const std::uint8_t* saved) noexcept {
    if (ok() && cur_ != end_) fail(DecodeErrc::invalid_length);
    if (ok()) end_ = saved;
  }

 private:
  /// length() when its inline paths do not apply: longer compact lengths,
  /// null, and every error.
  [[gnu::noinline]] std::int64_t checked_length(bool compact, bool wide, std::size_t min_unit) noexcept {
    auto start = offset();
    std::int64_t n;
    if (compact) {
      n = static_cast<std::int64_t>(uvarint()) - 1;
    } else if (wide) {
      n = i32();
    } else {
      n = i16();
    }
    if (!ok()) return -1;
    if (n < -1) {
      fail_at(DecodeErrc::invalid_length, start);
      return -1;
    }
    if (n > 0 && static_cast<std::uint64_t>(n) * min_unit > remaining()) {
      fail_at(DecodeErrc::length_exceeds_input, start);
      return -1;
    }
    return n;
  }

  /// A null length (at `start`) where the version does not allow null: an
  /// error, unless reading had already failed.
  [[gnu::noinline]] void null_where_not_allowed(const std::uint8_t* start) {
    if (ok()) fail_at(DecodeErrc::invalid_length, static_cast<std::size_t>(start - begin_));
  }

  static void append_segment(std::string& path, const char* name) {
    if (!name) return;
    if (!path.empty()) path += '.';
    path += name;
  }

  bool need(std::size_t n) noexcept {
    if (static_cast<std::size_t>(end_ - cur_) < n) {
      fail(DecodeErrc::truncated);
      return false;
    }
    return true;
  }

  template <class T>
  T fixed() noexcept {
    if (!need(sizeof(T))) return 0;
    T v;
    std::memcpy(&v, cur_, sizeof(T));
    cur_ += sizeof(T);
    return boost::endian::big_to_native(v);
  }

  void check(varint::Parse r, const std::uint8_t* start) noexcept {
    if (r == varint::Parse::ok) return;
    fail_at(r == varint::Parse::truncated ? DecodeErrc::truncated : DecodeErrc::varint_overflow,
            static_cast<std::size_t>(start - begin_));
  }

  const std::uint8_t* begin_;
  const std::uint8_t* cur_;
  const std::uint8_t* end_;      // of the readable part: begin_limit() moves it
  const std::uint8_t* buf_end_;  // of the buffer
  std::pmr::memory_resource* mem_;
  std::size_t memory_left_;
  [[no_unique_address]] std::conditional_t<TracksPath, reader_detail::PathStack, reader_detail::NoPath> path_;
  std::optional<DecodeError> error_;
};

/// The reader of the decoding fast path: no field path in its errors.
using Reader = BasicReader<false>;
/// A reader whose errors name the field (e.g. "Topics[2].Partitions[0].Records").
using TracingReader = BasicReader<true>;

}  // namespace kwire
