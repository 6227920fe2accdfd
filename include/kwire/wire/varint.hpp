// Variable-length integers as Kafka writes them: unsigned LEB128 ("varint"),
// and zig-zag signed varints/varlongs used inside records.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kwire::varint {

/// Bytes needed to write v as an unsigned varint (1..5).
constexpr std::size_t size_u32(std::uint32_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

/// Bytes needed to write v as an unsigned varlong (1..10).
constexpr std::size_t size_u64(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

constexpr std::uint32_t zigzag32(std::int32_t v) noexcept {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}
constexpr std::uint64_t zigzag64(std::int64_t v) noexcept {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int32_t unzigzag32(std::uint32_t v) noexcept {
  return static_cast<std::int32_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr std::int64_t unzigzag64(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

constexpr std::size_t size_i32(std::int32_t v) noexcept { return size_u32(zigzag32(v)); }
constexpr std::size_t size_i64(std::int64_t v) noexcept { return size_u64(zigzag64(v)); }

/// Writes v at p (which must have room for size_u32(v) bytes); returns the end.
inline std::uint8_t* put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}
inline std::uint8_t* put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

/// Outcome of parsing a varint from a bounded buffer.
enum class Parse : std::uint8_t { ok, truncated, overflow };

/// Reads an unsigned 32-bit varint from [p, end). At most 5 bytes; the fifth may
/// carry only the top 4 bits, so every accepted encoding fits in 32 bits.
inline Parse get_u32(const std::uint8_t*& p, const std::uint8_t* end, std::uint32_t& out) noexcept {
  // With 5 bytes left no byte of the varint can be past the end: one check
  // for the whole varint instead of one per byte.
  if (end - p >= 5) {
    const std::uint8_t* q = p;
    std::uint32_t b = *q++;
    std::uint32_t v = b & 0x7F;
    if (b & 0x80) {
      b = *q++;
      v |= (b & 0x7F) << 7;
      if (b & 0x80) {
        b = *q++;
        v |= (b & 0x7F) << 14;
        if (b & 0x80) {
          b = *q++;
          v |= (b & 0x7F) << 21;
          if (b & 0x80) {
            b = *q++;
            if (b > 0x0F) {
              p = q;
              return Parse::overflow;
            }
            v |= b << 28;
          }
        }
      }
    }
    p = q;
    out = v;
    return Parse::ok;
  }
  std::uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (p == end) return Parse::truncated;
    std::uint8_t b = *p++;
    if (shift == 28 && b > 0x0F) return Parse::overflow;
    v |= static_cast<std::uint32_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      out = v;
      return Parse::ok;
    }
  }
  return Parse::overflow;
}

/// Reads an unsigned 64-bit varlong: at most 10 bytes, the tenth at most 0x01.
inline Parse get_u64(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& out) noexcept {
  std::uint64_t v = 0;
  // With 10 bytes left the varlong cannot run past the end: no check per byte.
  if (end - p >= 10) {
    const std::uint8_t* q = p;
    for (int shift = 0; shift < 63; shift += 7) {
      std::uint64_t b = *q++;
      v |= (b & 0x7F) << shift;
      if (!(b & 0x80)) {
        p = q;
        out = v;
        return Parse::ok;
      }
    }
    std::uint64_t b = *q++;
    p = q;
    if (b > 0x01) return Parse::overflow;
    out = v | b << 63;
    return Parse::ok;
  }
  for (int shift = 0; shift < 70; shift += 7) {
    if (p == end) return Parse::truncated;
    std::uint8_t b = *p++;
    if (shift == 63 && b > 0x01) return Parse::overflow;
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      out = v;
      return Parse::ok;
    }
  }
  return Parse::overflow;
}

inline Parse get_i32(const std::uint8_t*& p, const std::uint8_t* end, std::int32_t& out) noexcept {
  std::uint32_t u = 0;
  Parse r = get_u32(p, end, u);
  out = unzigzag32(u);
  return r;
}
inline Parse get_i64(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& out) noexcept {
  std::uint64_t u = 0;
  Parse r = get_u64(p, end, u);
  out = unzigzag64(u);
  return r;
}

}  // namespace kwire::varint
