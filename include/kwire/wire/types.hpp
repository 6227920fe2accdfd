// Value types that decoded messages are made of. Strings, bytes and record sets
// are views into the buffer the message was decoded from (see reader.hpp for the
// lifetime rule); arrays are std::pmr::vector so that the caller chooses where
// their storage comes from.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace kwire {

/// A read-only view of raw bytes.
using bytes_view = std::span<const std::uint8_t>;

/// A nullable string or byte field: std::nullopt is the protocol's null.
using nullable_string = std::optional<std::string_view>;
using nullable_bytes = std::optional<bytes_view>;

/// A record set (the `records` schema type): the raw bytes of zero or more
/// record batches or legacy message sets. kwire/records reads them lazily.
using records_view = std::optional<bytes_view>;

/// Arrays of a message; allocated from the memory resource given to decode.
template <class T>
using array = std::pmr::vector<T>;

/// A 128-bit UUID as the protocol sends it (16 bytes, most significant first).
struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  constexpr bool is_zero() const noexcept {
    for (auto b : bytes)
      if (b != 0) return false;
    return true;
  }
  friend constexpr bool operator==(const Uuid&, const Uuid&) = default;
};

/// A tagged field that the decoder did not interpret: either a tag this
/// version of kwire does not know, or a known tag outside its taggedVersions.
/// Its bytes are kept as they arrived and written back unchanged.
struct RawTaggedField {
  std::uint32_t tag = 0;
  bytes_view data;

  friend bool operator==(const RawTaggedField& a, const RawTaggedField& b) noexcept {
    return a.tag == b.tag && std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
  }
};

using unknown_tagged_fields = array<RawTaggedField>;

/// Byte-wise equality for views, used by the generated operator==.
inline bool same_bytes(bytes_view a, bytes_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}
inline bool same_bytes(const nullable_bytes& a, const nullable_bytes& b) noexcept {
  if (a.has_value() != b.has_value()) return false;
  return !a || same_bytes(*a, *b);
}

/// Views a string's characters as bytes (for building messages from text).
inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace kwire
