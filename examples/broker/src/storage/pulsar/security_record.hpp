// The messages of the security topic (security_store.hpp), as keys and
// values: what a gateway writes and how it reads them back. Kept apart from
// the store so that the reading, which takes whatever the topic holds, can be
// fuzzed on its own.
//
//   scram/<mechanism>/<user>   {"iterations": N, "salt": [bytes], "stored_key": [...], "server_key": [...]}
//   acl/<binding>              {} ; <binding> is the JSON array
//                              [resource type, resource name, pattern type, principal, host, operation, permission]
//   quota/<id>                 {"value": V} ; <id> is the JSON array [[[type, name or null], ...], key]
//                              (the entity's parts in order, each type once)
//
// A null value deletes what the key names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "../storage.hpp"

namespace kwire_broker::storage::pulsar {

/// A credential's key.
std::string scram_key(const std::string& user, std::int8_t mechanism);
/// A credential's value.
std::string scram_value(const ScramCredential& c);
/// A binding's key; throws nlohmann::json::type_error when one of its
/// strings is not valid UTF-8.
std::string acl_key(const AclBinding& b);
/// A binding's value: it is all in the key.
inline constexpr std::string_view acl_value = "{}";

/// A quota value's key; throws nlohmann::json::type_error when one of its
/// strings is not valid UTF-8.
std::string quota_key(const QuotaEntity& entity, const std::string& key);
/// A quota value's value.
std::string quota_value(double value);

/// A credential stored (`credential` set) or deleted (only `user` and
/// `mechanism` set).
struct ScramChange {
  std::string user;
  std::int8_t mechanism = 0;
  std::optional<ScramCredential> credential;
};
/// A binding added or removed.
struct AclChange {
  AclBinding binding;
  bool added = false;
};
/// A quota value set (`value` set) or removed.
struct QuotaValueChange {
  QuotaEntity entity;
  std::string key;
  std::optional<double> value;
};
using SecurityChange = std::variant<ScramChange, AclChange, QuotaValueChange>;

/// What a message of the topic changes (`value` nullopt: a null value);
/// nullopt for a key that is not one of the above or a malformed message,
/// which changes nothing.
std::optional<SecurityChange> read_security_message(std::string_view key, std::optional<std::string_view> value);

}  // namespace kwire_broker::storage::pulsar
