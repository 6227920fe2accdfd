// Encoding and decoding the security topic's messages. The decoder takes
// anything: a message it cannot read is skipped, never trusted in part.
#include "security_record.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace kwire_broker::storage::pulsar {

using nlohmann::json;

namespace {

constexpr std::string_view scram_prefix = "scram/";
constexpr std::string_view acl_prefix = "acl/";
constexpr std::string_view quota_prefix = "quota/";

/// A JSON array of byte values; nullopt if anything else.
std::optional<std::vector<std::uint8_t>> bytes_of(const json& j) {
  if (!j.is_array()) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(j.size());
  for (const auto& v : j) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 255) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(v.get<std::uint64_t>()));
  }
  return out;
}

std::optional<std::int8_t> int8_of(const json& j) {
  if (!j.is_number_integer() || (j.is_number_unsigned() && j.get<std::uint64_t>() > 127)) return std::nullopt;
  const auto v = j.get<std::int64_t>();
  if (v < std::numeric_limits<std::int8_t>::min() || v > std::numeric_limits<std::int8_t>::max()) return std::nullopt;
  return static_cast<std::int8_t>(v);
}

std::optional<AclBinding> binding_of(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.size() != 7) return std::nullopt;
  auto type = int8_of(j[0]), pattern = int8_of(j[2]), operation = int8_of(j[5]), permission = int8_of(j[6]);
  if (!type || !pattern || !operation || !permission || !j[1].is_string() || !j[3].is_string() || !j[4].is_string())
    return std::nullopt;
  return AclBinding{*type, j[1].get<std::string>(), *pattern, j[3].get<std::string>(), j[4].get<std::string>(),
                    *operation, *permission};
}

/// The entity and key of a quota value's key (after "quota/"): parts of a
/// known type, in order, each type once, names not empty.
std::optional<QuotaValueChange> quota_change_of(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.size() != 2 || !j[0].is_array() || !j[1].is_string()) return std::nullopt;
  if (j[0].empty() || j[0].size() > 3 || j[1].get<std::string>().empty()) return std::nullopt;
  QuotaValueChange c;
  for (const auto& part : j[0]) {
    if (!part.is_array() || part.size() != 2 || !part[0].is_string() || !(part[1].is_string() || part[1].is_null()))
      return std::nullopt;
    QuotaEntityPart p{part[0].get<std::string>(), std::nullopt};
    if (p.type != "user" && p.type != "client-id" && p.type != "ip") return std::nullopt;
    if (!c.entity.empty() && !(c.entity.back().type < p.type)) return std::nullopt;
    if (part[1].is_string()) {
      p.name = part[1].get<std::string>();
      if (p.name->empty()) return std::nullopt;
    }
    c.entity.push_back(std::move(p));
  }
  c.key = j[1].get<std::string>();
  return c;
}

std::optional<double> quota_value_of(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("value") || !j["value"].is_number()) return std::nullopt;
  const auto v = j["value"].get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

/// The user and mechanism of a credential's key (after "scram/").
std::optional<ScramChange> scram_change_of(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  int mechanism = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + slash, mechanism);
  if (ec != std::errc() || end != key.data() + slash || mechanism < 1 || mechanism > 2) return std::nullopt;
  return ScramChange{std::string(key.substr(slash + 1)), static_cast<std::int8_t>(mechanism), std::nullopt};
}

std::optional<ScramCredential> credential_of(const ScramChange& id, std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("iterations") || !j["iterations"].is_number_integer())
    return std::nullopt;
  const auto iterations = j["iterations"].get<std::int64_t>();
  if (iterations <= 0 || iterations > std::numeric_limits<std::int32_t>::max()) return std::nullopt;
  auto salt = bytes_of(j.value("salt", json())), stored = bytes_of(j.value("stored_key", json())),
       server = bytes_of(j.value("server_key", json()));
  if (!salt || !stored || !server) return std::nullopt;
  ScramCredential c;
  c.user = id.user;
  c.mechanism = id.mechanism;
  c.iterations = static_cast<std::int32_t>(iterations);
  c.salt = std::move(*salt);
  c.stored_key = std::move(*stored);
  c.server_key = std::move(*server);
  return c;
}

}  // namespace

std::string scram_key(const std::string& user, std::int8_t mechanism) {
  return std::string(scram_prefix) + std::to_string(mechanism) + "/" + user;
}

std::string scram_value(const ScramCredential& c) {
  return json{{"iterations", c.iterations},
              {"salt", json(c.salt)},
              {"stored_key", json(c.stored_key)},
              {"server_key", json(c.server_key)}}
      .dump();
}

std::string acl_key(const AclBinding& b) {
  return std::string(acl_prefix) +
         json::array({b.resource_type, b.resource_name, b.pattern_type, b.principal, b.host, b.operation, b.permission})
             .dump();
}

std::string quota_key(const QuotaEntity& entity, const std::string& key) {
  json parts = json::array();
  for (const auto& p : entity) parts.push_back(json::array({p.type, p.name ? json(*p.name) : json(nullptr)}));
  return std::string(quota_prefix) + json::array({parts, key}).dump();
}

std::string quota_value(double value) { return json{{"value", value}}.dump(); }

// Only keys in the writer's own form are read: another spelling of the same
// credential or binding ("scram/01/u", JSON with spaces) would be a second
// key for it, which compaction keeps beside the first.
std::optional<SecurityChange> read_security_message(std::string_view key, std::optional<std::string_view> value) {
  if (key.substr(0, scram_prefix.size()) == scram_prefix) {
    auto change = scram_change_of(key.substr(scram_prefix.size()));
    if (!change || scram_key(change->user, change->mechanism) != key) return std::nullopt;
    if (value) {
      change->credential = credential_of(*change, *value);
      if (!change->credential) return std::nullopt;
    }
    return SecurityChange{std::move(*change)};
  }
  if (key.substr(0, acl_prefix.size()) == acl_prefix) {
    auto b = binding_of(key.substr(acl_prefix.size()));
    if (!b || acl_key(*b) != key) return std::nullopt;  // its strings came from JSON: valid UTF-8
    return SecurityChange{AclChange{std::move(*b), value.has_value()}};
  }
  if (key.substr(0, quota_prefix.size()) == quota_prefix) {
    auto c = quota_change_of(key.substr(quota_prefix.size()));
    if (!c || quota_key(c->entity, c->key) != key) return std::nullopt;
    if (value) {
      c->value = quota_value_of(*value);
      if (!c->value) return std::nullopt;
    }
    return SecurityChange{std::move(*c)};
  }
  return std::nullopt;
}

}  // namespace kwire_broker::storage::pulsar
