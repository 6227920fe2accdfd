// Field-level helpers shared by the generated messages: strings, bytes, arrays,
// nullable structs and the tagged-field section, for reading (Reader) and for
// both encoding passes (Sizer, Writer).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <type_traits>
#include <string_view>
#include <utility>

#include "kwire/wire/reader.hpp"
#include "kwire/wire/writer.hpp"

namespace kwire {

/// Static description of a field, handed to visitors (JSON rendering, tests).
/// Version bounds are inclusive; `max` -1 means "and later", `min` -1 "never".
struct FieldInfo {
  std::string_view name;
  std::int16_t min = 0, max = -1;                    // versions
  std::int16_t nullable_min = -1, nullable_max = -1; // nullableVersions
  std::int32_t tag = -1;                             // -1: not tagged
  std::int16_t tagged_min = -1, tagged_max = -1;     // taggedVersions
  bool ignorable = false;

  constexpr bool in(std::int16_t v, std::int16_t lo, std::int16_t hi) const noexcept {
    return lo >= 0 && v >= lo && (hi < 0 || v <= hi);
  }
  constexpr bool present(std::int16_t v) const noexcept { return in(v, min, max); }
  constexpr bool nullable(std::int16_t v) const noexcept { return in(v, nullable_min, nullable_max); }
  constexpr bool tagged(std::int16_t v) const noexcept { return tag >= 0 && in(v, tagged_min, tagged_max); }
};

namespace fields {

// ---------------------------------------------------------------- reading --
//
// Each takes the reader as a template parameter: Reader on the fast path,
// TracingReader when an error is decoded again to name its field.

/// Reads an array of structs: count checked against the remaining input using
/// the element's minimum encoded size before anything is allocated.
template <class R, class T>
void read_structs(R& r, array<T>& out, std::int16_t v, bool flex) {
  std::int64_t n = r.array_length(flex, false, T::min_size(v, flex));
  if (n < 0 || !r.charge(static_cast<std::size_t>(n), sizeof(T))) return;
  out = array<T>(allocator<T>(r.memory()));
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    if (!r.enter(static_cast<std::int32_t>(i))) return;
    out.emplace_back(default_init).decode_from(r, v, flex);
    r.leave();
    if (!r.ok()) return;
  }
}

template <class R, class T>
void read_structs(R& r, std::optional<array<T>>& out, std::int16_t v, bool flex, bool nullable) {
  std::int64_t n = r.array_length(flex, nullable, T::min_size(v, flex));
  if (n < 0) {
    out.reset();
    return;
  }
  if (!r.charge(static_cast<std::size_t>(n), sizeof(T))) return;
  out.emplace(allocator<T>(r.memory()));
  out->reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    if (!r.enter(static_cast<std::int32_t>(i))) return;
    out->emplace_back(default_init).decode_from(r, v, flex);
    r.leave();
    if (!r.ok()) return;
  }
}

/// Reads an array of scalars; `min_elem` is the element's encoded size (1 for
/// strings, whose length prefix takes at least one byte).
template <class R, class T, class ReadOne>
void read_scalars(R& r, array<T>& out, bool flex, std::size_t min_elem, ReadOne&& one) {
  std::int64_t n = r.array_length(flex, false, min_elem);
  if (n < 0 || !r.charge(static_cast<std::size_t>(n), sizeof(T))) return;
  out = array<T>(allocator<T>(r.memory()));
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n && r.ok(); ++i) out.push_back(one(r));
}

template <class R, class T, class ReadOne>
void read_scalars(R& r, std::optional<array<T>>& out, bool flex, bool nullable, std::size_t min_elem,
                  ReadOne&& one) {
  std::int64_t n = r.array_length(flex, nullable, min_elem);
  if (n < 0) {
    out.reset();
    return;
  }
  if (!r.charge(static_cast<std::size_t>(n), sizeof(T))) return;
  out.emplace(allocator<T>(r.memory()));
  out->reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n && r.ok(); ++i) out->push_back(one(r));
}

/// Big-endian integers of type T at consecutive positions, as a random-access
/// range that converts as it is read: an array of fixed-width integers is
/// copied out of the input in one pass, with no per-element bounds check.
template <class T>
class be_iterator {
 public:
  using iterator_category = std::random_access_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = T;

  be_iterator() = default;
  explicit be_iterator(const std::uint8_t* p) noexcept : p_(p) {}
  T operator*() const noexcept {
    const std::uint8_t* p = p_;
    if constexpr (std::is_same_v<T, double>)
      return unchecked::f64(p);
    else
      return static_cast<T>(unchecked::load<std::make_unsigned_t<T>>(p));
  }
  T operator[](difference_type i) const noexcept { return *(*this + i); }
  be_iterator& operator++() noexcept { return *this += 1; }
  be_iterator operator++(int) noexcept {
    be_iterator old = *this;
    ++*this;
    return old;
  }
  be_iterator& operator--() noexcept { return *this -= 1; }
  be_iterator operator--(int) noexcept {
    be_iterator old = *this;
    --*this;
    return old;
  }
  be_iterator& operator+=(difference_type n) noexcept {
    p_ += n * static_cast<difference_type>(sizeof(T));
    return *this;
  }
  be_iterator& operator-=(difference_type n) noexcept { return *this += -n; }
  friend be_iterator operator+(be_iterator a, difference_type n) noexcept { return a += n; }
  friend be_iterator operator+(difference_type n, be_iterator a) noexcept { return a += n; }
  friend be_iterator operator-(be_iterator a, difference_type n) noexcept { return a -= n; }
  friend difference_type operator-(be_iterator a, be_iterator b) noexcept {
    return (a.p_ - b.p_) / static_cast<difference_type>(sizeof(T));
  }
  friend bool operator==(be_iterator a, be_iterator b) noexcept { return a.p_ == b.p_; }
  friend auto operator<=>(be_iterator a, be_iterator b) noexcept { return a.p_ <=> b.p_; }

 private:
  const std::uint8_t* p_ = nullptr;
};

/// Reads an array of fixed-width numbers (int8..int64, uint16, uint32,
/// float64): array_length() has checked that all of them are in the input, so
/// they are converted in one pass.
template <class R, class T>
void read_fixed(R& r, array<T>& out, bool flex) {
  std::int64_t n = r.array_length(flex, false, sizeof(T));
  if (n < 0 || !r.charge(static_cast<std::size_t>(n), sizeof(T))) return;
  const std::uint8_t* p = r.take(static_cast<std::size_t>(n) * sizeof(T));
  out = array<T>(allocator<T>(r.memory()));
  out.assign(be_iterator<T>(p), be_iterator<T>(p + static_cast<std::size_t>(n) * sizeof(T)));
}

template <class R, class T>
void read_fixed(R& r, std::optional<array<T>>& out, bool flex, bool nullable) {
  std::int64_t n = r.array_length(flex, nullable, sizeof(T));
  if (n < 0) {
    out.reset();
    return;
  }
  if (!r.charge(static_cast<std::size_t>(n), sizeof(T))) return;
  const std::uint8_t* p = r.take(static_cast<std::size_t>(n) * sizeof(T));
  out.emplace(allocator<T>(r.memory()));
  out->assign(be_iterator<T>(p), be_iterator<T>(p + static_cast<std::size_t>(n) * sizeof(T)));
}

/// A struct field: decoded in place. Nullable struct fields carry a leading
/// int8 marker (-1 null, 1 present).
template <class R, class T>
void read_struct(R& r, T& out, std::int16_t v, bool flex) {
  if (!r.enter()) return;
  out.decode_from(r, v, flex);
  r.leave();
}
template <class R, class T>
void read_struct(R& r, std::optional<T>& out, std::int16_t v, bool flex, bool nullable) {
  if (nullable) {
    if (r.i8() < 0) {
      out.reset();
      return;
    }
  }
  out = T{};  // not emplace(): clang may not yet see T as default-constructible here
  read_struct(r, *out, v, flex);
}

/// Reads the tagged-field section. `known(tag, size)` decodes a tag it knows for
/// this version and returns true; every other tag is kept as a RawTaggedField.
/// The generated code consumes an empty section (R::empty_tags()) before
/// calling this.
template <class R, class Known>
void read_tags(R& r, unknown_tagged_fields& unknown, Known&& known) {
  std::uint32_t count = r.tag_count();
  for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
    std::uint32_t tag = 0;
    std::uint32_t size = r.tag_header(tag);
    if (!r.ok()) return;
    auto saved = r.begin_limit(size);
    if (!known(tag)) {
      if (unknown.empty()) {
        // Room for every tag still to come, charged once: kept tags cost
        // memory (the bytes stay views), so they count against the budget.
        if (!r.charge(count - i, sizeof(RawTaggedField))) return;
        unknown = unknown_tagged_fields(allocator<RawTaggedField>(r.memory()));
        unknown.reserve(count - i);
      }
      unknown.push_back(RawTaggedField{tag, r.raw(size)});
    }
    r.end_limit(saved);
  }
}

// ---------------------------------------------------------------- writing --

template <class Out>
void put_str(Out& w, std::string_view s, bool compact, std::string_view field) {
  if constexpr (Out::checks) {
    if (s.size() > 0x7fff) w.fail(EncodeErrc::too_long, field);
  }
  w.length(compact, false, static_cast<std::int64_t>(s.size()));
  w.raw(s);
}

template <class Out>
void put_str(Out& w, const nullable_string& s, bool compact, bool nullable, std::string_view field) {
  if (!s) {
    if constexpr (Out::checks) {
      if (!nullable) w.fail(EncodeErrc::null_not_allowed, field);
    }
    w.length(compact, false, nullable ? -1 : 0);
    return;
  }
  put_str(w, *s, compact, field);
}

template <class Out>
void put_bytes(Out& w, bytes_view b, bool compact, std::string_view field) {
  if constexpr (Out::checks) {
    if (b.size() > 0x7fffffffu - 1) w.fail(EncodeErrc::too_long, field);
  }
  w.length(compact, true, static_cast<std::int64_t>(b.size()));
  w.raw(b);
}

template <class Out>
void put_bytes(Out& w, const nullable_bytes& b, bool compact, bool nullable, std::string_view field) {
  if (!b) {
    if constexpr (Out::checks) {
      if (!nullable) w.fail(EncodeErrc::null_not_allowed, field);
    }
    w.length(compact, true, nullable ? -1 : 0);
    return;
  }
  put_bytes(w, *b, compact, field);
}

template <class Out, class T>
void put_structs(Out& w, const array<T>& a, std::int16_t v, bool flex) {
  w.length(flex, true, static_cast<std::int64_t>(a.size()));
  for (const auto& e : a) e.encode_to(w, v, flex);
}

template <class Out, class T>
void put_structs(Out& w, const std::optional<array<T>>& a, std::int16_t v, bool flex, bool nullable,
                 std::string_view field) {
  if (!a) {
    if constexpr (Out::checks) {
      if (!nullable) w.fail(EncodeErrc::null_not_allowed, field);
    }
    w.length(flex, true, nullable ? -1 : 0);
    return;
  }
  put_structs(w, *a, v, flex);
}

template <class Out, class T, class PutOne>
void put_scalars(Out& w, const array<T>& a, bool flex, PutOne&& one) {
  w.length(flex, true, static_cast<std::int64_t>(a.size()));
  for (const auto& e : a) one(w, e);
}

template <class Out, class T, class PutOne>
void put_scalars(Out& w, const std::optional<array<T>>& a, bool flex, bool nullable, std::string_view field,
                 PutOne&& one) {
  if (!a) {
    if constexpr (Out::checks) {
      if (!nullable) w.fail(EncodeErrc::null_not_allowed, field);
    }
    w.length(flex, true, nullable ? -1 : 0);
    return;
  }
  put_scalars(w, *a, flex, one);
}

/// An array of fixed-width numbers (int8..int64, uint16, uint32, float64):
/// sized as count × width, written in one loop.
template <class Out, class T>
void put_fixed(Out& w, const array<T>& a, bool flex) {
  w.length(flex, true, static_cast<std::int64_t>(a.size()));
  w.fixed_array(a.data(), a.size());
}

template <class Out, class T>
void put_fixed(Out& w, const std::optional<array<T>>& a, bool flex, bool nullable, std::string_view field) {
  if (!a) {
    if constexpr (Out::checks) {
      if (!nullable) w.fail(EncodeErrc::null_not_allowed, field);
    }
    w.length(flex, true, nullable ? -1 : 0);
    return;
  }
  put_fixed(w, *a, flex);
}

template <class Out, class T>
void put_struct(Out& w, const T& s, std::int16_t v, bool flex) {
  s.encode_to(w, v, flex);
}
template <class Out, class T>
void put_struct(Out& w, const std::optional<T>& s, std::int16_t v, bool flex, bool nullable,
                std::string_view field) {
  if (nullable) {
    w.i8(s ? 1 : -1);
    if (s) s->encode_to(w, v, flex);
    return;
  }
  if constexpr (Out::checks) {
    if (!s) w.fail(EncodeErrc::null_not_allowed, field);
  }
  if (s)
    s->encode_to(w, v, flex);
  else
    T{}.encode_to(w, v, flex);
}

/// Writes the tagged-field section in ascending tag order, interleaving the
/// known fields (written through `put(tag)`) with the kept unknown ones.
class TagWriter {
 public:
  explicit TagWriter(const unknown_tagged_fields& unknown) noexcept : unknown_(unknown) {}

  /// Writes one known tagged field: its size is measured with a Sizer first.
  template <class Out, class Put>
  void known(Out& w, std::uint32_t tag, Put&& put) {
    flush_below(w, tag);
    Sizer s;
    put(s);
    w.uvarint(tag);
    w.uvarint(static_cast<std::uint32_t>(s.size()));
    put(w);
  }
  template <class Out>
  void finish(Out& w) {
    flush_below(w, UINT32_MAX);
    for (; next_ < unknown_.size(); ++next_) raw(w, unknown_[next_]);
  }

 private:
  template <class Out>
  void flush_below(Out& w, std::uint32_t tag) {
    while (next_ < unknown_.size() && unknown_[next_].tag < tag) raw(w, unknown_[next_++]);
  }
  template <class Out>
  static void raw(Out& w, const RawTaggedField& f) {
    w.uvarint(f.tag);
    w.uvarint(static_cast<std::uint32_t>(f.data.size()));
    w.raw(f.data);
  }

  const unknown_tagged_fields& unknown_;
  std::size_t next_ = 0;
};

/// A tagged-field section of kept unknown fields only, written out of line.
template <class Out>
[[gnu::noinline]] void put_kept_tags(Out& w, const unknown_tagged_fields& unknown) {
  w.uvarint(static_cast<std::uint32_t>(unknown.size()));
  TagWriter(unknown).finish(w);
}

/// The tagged-field section of a struct without known tagged fields: nearly
/// always the single byte 0, written inline.
template <class Out>
void put_unknown_tags(Out& w, const unknown_tagged_fields& unknown) {
  if (unknown.empty()) [[likely]] {
    w.u8(0);
    return;
  }
  put_kept_tags(w, unknown);
}

// ------------------------------------------------------------- equality --

inline bool same(const records_view& a, const records_view& b) noexcept { return same_bytes(a, b); }
inline bool same(bytes_view a, bytes_view b) noexcept { return same_bytes(a, b); }

}  // namespace fields
}  // namespace kwire
