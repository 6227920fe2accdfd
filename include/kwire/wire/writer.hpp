// Encoding goes in two passes over the same generated code: a Sizer computes
// the exact size (and checks that the message fits the version), then a Writer
// writes into a buffer of exactly that size. Both expose the same operations so
// a message's encode function is written once as a template over the output.
#pragma once

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kwire/wire/error.hpp"
#include "kwire/wire/types.hpp"
#include "kwire/wire/varint.hpp"

namespace kwire {

/// Stores for a run of fixed-width fields whose bytes Writer::take() reserved:
/// each writes big-endian at `p` and advances it.
namespace unchecked {
template <class T>
inline void store(std::uint8_t*& p, T v) noexcept {
  v = boost::endian::native_to_big(v);
  std::memcpy(p, &v, sizeof(T));
  p += sizeof(T);
}
inline void put_i8(std::uint8_t*& p, std::int8_t v) noexcept { *p++ = static_cast<std::uint8_t>(v); }
inline void put_boolean(std::uint8_t*& p, bool v) noexcept { *p++ = v ? 1 : 0; }
inline void put_i16(std::uint8_t*& p, std::int16_t v) noexcept { store(p, static_cast<std::uint16_t>(v)); }
inline void put_u16(std::uint8_t*& p, std::uint16_t v) noexcept { store(p, v); }
inline void put_i32(std::uint8_t*& p, std::int32_t v) noexcept { store(p, static_cast<std::uint32_t>(v)); }
inline void put_u32(std::uint8_t*& p, std::uint32_t v) noexcept { store(p, v); }
inline void put_i64(std::uint8_t*& p, std::int64_t v) noexcept { store(p, static_cast<std::uint64_t>(v)); }
inline void put_f64(std::uint8_t*& p, double v) noexcept { store(p, std::bit_cast<std::uint64_t>(v)); }
inline void put_uuid(std::uint8_t*& p, const Uuid& u) noexcept {
  std::memcpy(p, u.bytes.data(), 16);
  p += 16;
}
}  // namespace unchecked

/// Byte fields of at least this many bytes are appended to an AppendWriter's
/// vector directly, and counted apart by a Sizer (Sizer::large_bytes()).
inline constexpr std::size_t large_field_bytes = 512;

/// Size pass: counts bytes and records the first encode error.
class Sizer {
 public:
  static constexpr bool checks = true;

  std::size_t size() const noexcept { return n_; }
  bool ok() const noexcept { return !error_.has_value(); }
  const std::optional<EncodeError>& error() const noexcept { return error_; }

  [[gnu::cold]] [[gnu::noinline]] void fail(EncodeErrc code, std::string_view field) {
    if (!error_) error_ = EncodeError{code, std::string(field)};
  }

  void i8(std::int8_t) noexcept { n_ += 1; }
  void u8(std::uint8_t) noexcept { n_ += 1; }
  void boolean(bool) noexcept { n_ += 1; }
  void i16(std::int16_t) noexcept { n_ += 2; }
  void u16(std::uint16_t) noexcept { n_ += 2; }
  void i32(std::int32_t) noexcept { n_ += 4; }
  void u32(std::uint32_t) noexcept { n_ += 4; }
  void i64(std::int64_t) noexcept { n_ += 8; }
  void u64(std::uint64_t) noexcept { n_ += 8; }
  void f64(double) noexcept { n_ += 8; }
  void uuid(const Uuid&) noexcept { n_ += 16; }
  void uvarint(std::uint32_t v) noexcept { n_ += varint::size_u32(v); }
  void varint(std::int32_t v) noexcept { n_ += varint::size_i32(v); }
  void varlong(std::int64_t v) noexcept { n_ += varint::size_i64(v); }
  /// A length prefix for n units (-1 = null).
  void length(bool compact, bool wide, std::int64_t n) noexcept {
    if (compact)
      n_ += varint::size_u32(static_cast<std::uint32_t>(n + 1));
    else
      n_ += wide ? 4 : 2;
  }
  void raw(bytes_view b) noexcept {
    n_ += b.size();
    if (b.size() >= large_field_bytes) large_ += b.size();
  }
  void raw(std::string_view s) noexcept { raw(as_bytes(s)); }
  /// Of size(), the bytes in byte fields of at least large_field_bytes.
  std::size_t large_bytes() const noexcept { return large_; }
  /// An array of fixed-width numbers, without its length prefix.
  template <class T>
  void fixed_array(const T*, std::size_t count) noexcept {
    n_ += count * sizeof(T);
  }

 private:
  std::size_t n_ = 0;
  std::size_t large_ = 0;
  std::optional<EncodeError> error_;
};

/// Write pass: writes into a buffer sized by a Sizer. Bounds are asserted in
/// debug builds only; the size pass guarantees them.
class Writer {
 public:
  static constexpr bool checks = false;

  Writer(std::uint8_t* begin, std::uint8_t* end) noexcept : p_(begin), end_(end) { (void)end_; }
  std::uint8_t* position() const noexcept { return p_; }
  void fail(EncodeErrc, std::string_view) noexcept {}

  void i8(std::int8_t v) noexcept { u8(static_cast<std::uint8_t>(v)); }
  void u8(std::uint8_t v) noexcept {
    assert(p_ < end_);
    *p_++ = v;
  }
  void boolean(bool v) noexcept { u8(v ? 1 : 0); }
  void i16(std::int16_t v) noexcept { fixed(static_cast<std::uint16_t>(v)); }
  void u16(std::uint16_t v) noexcept { fixed(v); }
  void i32(std::int32_t v) noexcept { fixed(static_cast<std::uint32_t>(v)); }
  void u32(std::uint32_t v) noexcept { fixed(v); }
  void i64(std::int64_t v) noexcept { fixed(static_cast<std::uint64_t>(v)); }
  void u64(std::uint64_t v) noexcept { fixed(v); }
  void f64(double v) noexcept { fixed(std::bit_cast<std::uint64_t>(v)); }
  void uuid(const Uuid& u) noexcept { raw(bytes_view(u.bytes)); }
  void uvarint(std::uint32_t v) noexcept {
    assert(p_ + varint::size_u32(v) <= end_);
    p_ = varint::put_u32(p_, v);
  }
  void varint(std::int32_t v) noexcept { uvarint(varint::zigzag32(v)); }
  void varlong(std::int64_t v) noexcept {
    assert(p_ + varint::size_i64(v) <= end_);
    p_ = varint::put_u64(p_, varint::zigzag64(v));
  }
  void length(bool compact, bool wide, std::int64_t n) noexcept {
    if (compact)
      uvarint(static_cast<std::uint32_t>(n + 1));
    else if (wide)
      i32(static_cast<std::int32_t>(n));
    else
      i16(static_cast<std::int16_t>(n));
  }
  void raw(bytes_view b) noexcept {
    assert(p_ + b.size() <= end_);
    if (!b.empty()) std::memcpy(p_, b.data(), b.size());
    p_ += b.size();
  }
  void raw(std::string_view s) noexcept { raw(as_bytes(s)); }

  /// Reserves the next `n` bytes, a run of fixed-width fields, for the stores
  /// in kwire::unchecked. Every store through a byte pointer may alias the
  /// writer's own cursor, so field-by-field writes reload and store it after
  /// each field; a run written from a local pointer moves it once.
  std::uint8_t* take(std::size_t n) noexcept {
    assert(p_ + n <= end_);
    std::uint8_t* p = p_;
    p_ += n;
    return p;
  }
  /// An array of fixed-width numbers, without its length prefix: converted to
  /// big-endian in one loop.
  template <class T>
  void fixed_array(const T* values, std::size_t count) noexcept {
    using U = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                                 std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                                    std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
    static_assert(sizeof(U) == sizeof(T));
    std::uint8_t* p = take(count * sizeof(T));
    for (std::size_t i = 0; i < count; ++i) {
      U u;
      std::memcpy(&u, values + i, sizeof(U));
      u = boost::endian::native_to_big(u);
      std::memcpy(p + i * sizeof(U), &u, sizeof(U));
    }
  }

 private:
  template <class T>
  void fixed(T v) noexcept {
    assert(p_ + sizeof(T) <= end_);
    v = boost::endian::native_to_big(v);
    std::memcpy(p_, &v, sizeof(T));
    p_ += sizeof(T);
  }

  std::uint8_t* p_;
  std::uint8_t* end_;
};

/// Write pass that appends to a std::vector without zero-filling the bytes it
/// then overwrites, for a message made mostly of large byte fields (record
/// sets): resize() value-initialises, so growing the vector to the whole size
/// first writes the message's size in zeros. This writer grows the vector a
/// little at a time for the fields it writes itself and appends each large
/// byte field with insert(), a plain copy. The vector holds the size pass's
/// total already reserved, so nothing is reallocated. Each write checks for
/// room, which the plain Writer does not: encode_into() picks this one only
/// when large fields make up most of the message.
class AppendWriter {
 public:
  static constexpr bool checks = false;

  explicit AppendWriter(std::vector<std::uint8_t>& out) noexcept
      : out_(out), p_(out.data() + out.size()), end_(p_) {}
  void fail(EncodeErrc, std::string_view) noexcept {}

  void i8(std::int8_t v) noexcept { u8(static_cast<std::uint8_t>(v)); }
  void u8(std::uint8_t v) {
    room(1);
    *p_++ = v;
  }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void i16(std::int16_t v) {
    room(2);
    unchecked::put_i16(p_, v);
  }
  void u16(std::uint16_t v) {
    room(2);
    unchecked::put_u16(p_, v);
  }
  void i32(std::int32_t v) {
    room(4);
    unchecked::put_i32(p_, v);
  }
  void u32(std::uint32_t v) {
    room(4);
    unchecked::put_u32(p_, v);
  }
  void i64(std::int64_t v) {
    room(8);
    unchecked::put_i64(p_, v);
  }
  void u64(std::uint64_t v) {
    room(8);
    unchecked::store(p_, v);
  }
  void f64(double v) {
    room(8);
    unchecked::put_f64(p_, v);
  }
  void uuid(const Uuid& u) {
    room(16);
    unchecked::put_uuid(p_, u);
  }
  void uvarint(std::uint32_t v) {
    // Room for the longest form, or, near the end, for this one exactly: the
    // reserved capacity has room for what the size pass counted.
    if (static_cast<std::size_t>(end_ - p_) < 5) [[unlikely]]
      room(varint::size_u32(v));
    p_ = varint::put_u32(p_, v);
  }
  void varint(std::int32_t v) { uvarint(varint::zigzag32(v)); }
  void varlong(std::int64_t v) {
    if (static_cast<std::size_t>(end_ - p_) < 10) [[unlikely]]
      room(varint::size_i64(v));
    p_ = varint::put_u64(p_, varint::zigzag64(v));
  }
  void length(bool compact, bool wide, std::int64_t n) {
    if (compact)
      uvarint(static_cast<std::uint32_t>(n + 1));
    else if (wide)
      i32(static_cast<std::int32_t>(n));
    else
      i16(static_cast<std::int16_t>(n));
  }
  void raw(bytes_view b) {
    if (b.size() >= large_field_bytes) {
      finish();
      out_.insert(out_.end(), b.begin(), b.end());
      p_ = end_ = out_.data() + out_.size();
      return;
    }
    room(b.size());
    if (!b.empty()) std::memcpy(p_, b.data(), b.size());
    p_ += b.size();
  }
  void raw(std::string_view s) { raw(as_bytes(s)); }
  std::uint8_t* take(std::size_t n) {
    room(n);
    std::uint8_t* p = p_;
    p_ += n;
    return p;
  }
  template <class T>
  void fixed_array(const T* values, std::size_t count) {
    room(count * sizeof(T));
    Writer w(p_, end_);
    w.fixed_array(values, count);
    p_ = w.position();
  }
  /// Ends the vector at the last byte written.
  void finish() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }

 private:
  /// Bytes added to the vector per growth step: small enough that what is
  /// zero-filled and not written before the next large field costs little.
  static constexpr std::size_t step = 512;

  void room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) [[unlikely]]
      grow(n);
  }
  [[gnu::noinline]] void grow(std::size_t n) {
    const std::size_t at = static_cast<std::size_t>(p_ - out_.data());
    out_.resize(std::max(at + n, std::min(at + step, out_.capacity())));
    p_ = out_.data() + at;
    end_ = out_.data() + out_.size();
  }
  std::vector<std::uint8_t>& out_;
  std::uint8_t* p_;
  std::uint8_t* end_;
};

}  // namespace kwire
