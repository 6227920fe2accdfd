// Value types that decoded messages are made of. Strings, bytes and record sets
// are views into the buffer the message was decoded from (see reader.hpp for the
// lifetime rule); arrays are std::pmr::vector so that the caller chooses where
// their storage comes from.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>
#include <algorithm>

namespace kwire {

/// A read-only view of raw bytes.
using bytes_view = std::span<const std::uint8_t>;

/// A nullable string or byte field: std::nullopt is the protocol's null.
using nullable_string = std::optional<std::string_view>;
using nullable_bytes = std::optional<bytes_view>;

/// A record set (the `records` schema type): the raw bytes of zero or more
/// record batches or legacy message sets. kwire/records reads them lazily.
using records_view = std::optional<bytes_view>;

/// Tag for kwire::allocator's construct(): default-initialise the element.
struct default_init_t {
  explicit default_init_t() = default;
};
inline constexpr default_init_t default_init{};

/// The allocator of message arrays: a std::pmr::memory_resource chosen by the
/// caller (an arena such as std::pmr::monotonic_buffer_resource, or the default
/// new/delete resource). Unlike std::pmr::polymorphic_allocator it propagates on
/// assignment, so a decoded array keeps the resource it was decoded with when it
/// is moved into a message.
template <class T>
class allocator {
 public:
  using value_type = T;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  // A null resource stands for the default one, looked up only when memory is
  // needed: most arrays of a message stay empty, and constructing them then
  // costs nothing.
  allocator() noexcept = default;
  allocator(std::pmr::memory_resource* mem) noexcept : mem_(mem) {}  // NOLINT: implicit by design
  template <class U>
  allocator(const allocator<U>& o) noexcept : mem_(o.raw_resource()) {}

  T* allocate(std::size_t n) { return static_cast<T*>(resource()->allocate(n * sizeof(T), alignof(T))); }
  /// emplace_back(default_init): the element is default-initialised, `new (p)
  /// U`, not value-initialised, `new (p) U()`, which zero-fills the whole
  /// object before its member initialisers run again. Decoding uses it for
  /// elements it is about to overwrite; a message struct's members all have
  /// initialisers, so nothing is left indeterminate.
  template <class U>
  void construct(U* p, default_init_t) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  void deallocate(T* p, std::size_t n) noexcept { resource()->deallocate(p, n * sizeof(T), alignof(T)); }
  std::pmr::memory_resource* resource() const noexcept { return mem_ ? mem_ : std::pmr::get_default_resource(); }
  std::pmr::memory_resource* raw_resource() const noexcept { return mem_; }

  template <class U>
  friend bool operator==(const allocator& a, const allocator<U>& b) noexcept {
    return a.raw_resource() == b.raw_resource() || a.resource()->is_equal(*b.resource());
  }

 private:
  std::pmr::memory_resource* mem_ = nullptr;
};

/// Arrays of a message; allocated from the memory resource given to decode.
template <class T>
using array = std::vector<T, allocator<T>>;

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

/// Equality of doubles as encoded: a message holding NaN equals itself, so
/// that messages are equal exactly when they encode to the same bytes.
inline bool same_bits(double a, double b) noexcept {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

/// Views a string's characters as bytes (for building messages from text).
inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace kwire
