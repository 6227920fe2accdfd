// Opt-in JSON rendering of any generated message (needs nlohmann/json).
//
//   nlohmann::json j = kwire::to_json(msg, version);
//
// Fields appear under their schema names, only those the version carries.
// UUIDs use Kafka's text form (URL-safe base64, no padding), bytes are base64,
// record sets are shown by size (kwire/records decodes them), error codes by
// their number (as Kafka's JSON converters show them), and tagged fields kwire
// does not know appear under "_unknownTaggedFields".
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <type_traits>

#include "kwire/wire/fields.hpp"

namespace kwire {

/// Renders a record set in place of the default {"sizeInBytes": n}.
using RecordsRenderer = std::function<nlohmann::json(bytes_view records)>;

namespace json_detail {

inline std::string base64(bytes_view b, bool url = false) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(b[i]) << 16 | static_cast<std::uint32_t>(b[i + 1]) << 8 | b[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  if (i < b.size()) {
    std::uint32_t v = static_cast<std::uint32_t>(b[i]) << 16;
    if (i + 1 < b.size()) v |= static_cast<std::uint32_t>(b[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (i + 1 < b.size()) out += alphabet[(v >> 6) & 63];
    if (!url) {
      if (i + 1 >= b.size()) out += '=';
      out += '=';
    }
  }
  return out;
}

template <class T>
struct is_array : std::false_type {};
template <class T>
struct is_array<array<T>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
concept Visitable = requires(const T& t) { t.visit([](const FieldInfo&, const auto&) {}); };

template <class T>
nlohmann::json value(const T& m, const FieldInfo& info, std::int16_t v, const RecordsRenderer* rr);

template <Visitable M>
nlohmann::json object(const M& msg, std::int16_t v, const RecordsRenderer* rr) {
  nlohmann::json o = nlohmann::json::object();
  msg.visit([&](const FieldInfo& info, const auto& member) {
    if (!info.present(v)) return;
    o[std::string(info.name)] = value(member, info, v, rr);
  });
  if (!msg.unknown_tags.empty()) {
    auto& u = o["_unknownTaggedFields"] = nlohmann::json::array();
    for (auto& t : msg.unknown_tags) u.push_back({{"tag", t.tag}, {"data", base64(t.data)}});
  }
  return o;
}

template <class T>
nlohmann::json value(const T& m, const FieldInfo& info, std::int16_t v, const RecordsRenderer* rr) {
  if constexpr (std::is_same_v<T, bool> || std::is_arithmetic_v<T>) {
    return m;
  } else if constexpr (std::is_enum_v<T>) {
    // Error codes: the number, as on the wire, named or not in Kafka's table.
    return static_cast<std::underlying_type_t<T>>(m);
  } else if constexpr (std::is_same_v<T, Uuid>) {
    return base64(bytes_view(m.bytes), true);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    return std::string(m);
  } else if constexpr (std::is_same_v<T, bytes_view>) {
    return base64(m);
  } else if constexpr (std::is_same_v<T, nullable_bytes>) {
    // Bytes and record sets share this type; record sets are shown by size.
    if (!m) return nullptr;
    if (info.name == "Records") return rr ? (*rr)(*m) : nlohmann::json{{"sizeInBytes", m->size()}};
    return base64(*m);
  } else if constexpr (is_optional<T>::value) {
    if (!m) return nullptr;
    return value(*m, info, v, rr);
  } else if constexpr (is_array<T>::value) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& e : m) a.push_back(value(e, info, v, rr));
    return a;
  } else {
    return object(m, v, rr);
  }
}

}  // namespace json_detail

/// Renders a message as JSON for `version`.
template <class M>
nlohmann::json to_json(const M& msg, std::int16_t version, const RecordsRenderer* records = nullptr) {
  return json_detail::object(msg, version, records);
}

/// Kafka's text form of a UUID.
inline std::string to_string(const Uuid& u) { return json_detail::base64(bytes_view(u.bytes), true); }

}  // namespace kwire
