// Fills any generated message with random values valid for one version, by
// walking its fields with visit(). Strings and bytes are kept alive by the
// generator, so the views in the message stay valid as long as it does.
#pragma once

#include <deque>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kwire/wire/fields.hpp"

namespace kwire::testing {

template <class T>
concept Visitable = requires(T& t) { t.visit([](const FieldInfo&, auto&) {}); };

template <class T>
struct is_array : std::false_type {};
template <class T>
struct is_array<array<T>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

class RandomMessages {
 public:
  explicit RandomMessages(std::uint64_t seed) : rng_(seed) {}

  /// Sets every field present in `version` to a random value; with
  /// `unknown_tags`, flexible structs also get tagged fields kwire does not know.
  template <Visitable M>
  void fill(M& msg, std::int16_t version, bool flexible, bool unknown_tags = true) {
    msg.visit([&](const FieldInfo& info, auto& member) {
      if (!info.present(version)) return;
      if (info.tag >= 0 && !(flexible && info.tagged(version))) return;
      value(member, info, version, flexible, unknown_tags);
    });
    if (flexible && unknown_tags && chance(3)) {
      // Tags far above any that Kafka assigns, in ascending order as a writer sends them.
      std::uint32_t tag = 10000 + static_cast<std::uint32_t>(below(100));
      int n = 1 + static_cast<int>(below(2));
      for (int i = 0; i < n; ++i) {
        msg.unknown_tags.push_back(RawTaggedField{tag, bytes(below(6))});
        tag += 1 + static_cast<std::uint32_t>(below(5));
      }
    }
  }

  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(int one_in) { return below(static_cast<std::uint64_t>(one_in)) == 0; }

  std::string_view text(std::size_t max_len = 12) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.";
    std::string s(below(max_len + 1), ' ');
    for (auto& c : s) c = alphabet[below(sizeof(alphabet) - 1)];
    return keep(std::move(s));
  }
  bytes_view bytes(std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(below(256));
    return as_bytes(keep(std::move(s)));
  }

 private:
  std::string_view keep(std::string s) {
    store_.push_back(std::move(s));
    return store_.back();
  }

  template <class T>
  T integer() {
    // Mostly small values, sometimes extremes: both exercise varints and signs.
    switch (below(4)) {
      case 0: return static_cast<T>(0);
      case 1: return static_cast<T>(below(300));
      case 2: return static_cast<T>(-static_cast<std::int64_t>(below(300)));
      default: return static_cast<T>(rng_());
    }
  }

  template <class T>
  void value(T& m, const FieldInfo& info, std::int16_t v, bool flex, bool unk) {
    if constexpr (std::is_same_v<T, bool>) {
      m = chance(2);
    } else if constexpr (std::is_integral_v<T>) {
      m = integer<T>();
    } else if constexpr (std::is_enum_v<T>) {
      // Error codes: any int16, not only those Kafka names, must round-trip.
      m = static_cast<T>(integer<std::underlying_type_t<T>>());
    } else if constexpr (std::is_same_v<T, double>) {
      m = static_cast<double>(integer<std::int32_t>()) / 7.0;
    } else if constexpr (std::is_same_v<T, Uuid>) {
      for (auto& b : m.bytes) b = static_cast<std::uint8_t>(below(256));
    } else if constexpr (std::is_same_v<T, std::string_view>) {
      m = text();
    } else if constexpr (std::is_same_v<T, bytes_view>) {
      m = bytes(below(20));
    } else if constexpr (is_optional<T>::value) {
      if (info.nullable(v) && chance(4)) {
        m.reset();
        return;
      }
      using Inner = typename T::value_type;
      Inner inner{};
      value(inner, info, v, flex, unk);
      m = std::move(inner);
    } else if constexpr (is_array<T>::value) {
      using E = typename T::value_type;
      m.clear();
      std::size_t n = below(4);
      for (std::size_t i = 0; i < n; ++i) {
        E e{};
        if constexpr (Visitable<E>) {
          fill(e, v, flex, unk);
        } else {
          FieldInfo elem{.name = info.name};
          value(e, elem, v, flex, unk);
        }
        m.push_back(std::move(e));
      }
    } else if constexpr (Visitable<T>) {
      fill(m, v, flex, unk);
    } else {
      static_assert(sizeof(T) == 0, "field type not handled");
    }
  }

  std::mt19937_64 rng_;
  std::deque<std::string> store_;
};

}  // namespace kwire::testing
