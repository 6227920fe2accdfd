// Kafka's ACL model: the codes of resource types, pattern types, operations
// and permissions as the ACL APIs carry them, and what a binding and a
// filter (DescribeAcls, DeleteAcls) mean. The bindings themselves are kept by
// the store (storage::AclStore); the authorizer (core/authorizer.hpp) decides
// with them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/storage.hpp"

namespace kwire_broker::acl {

using storage::AclBinding;

enum class ResourceType : std::int8_t {
  unknown = 0, any = 1, topic = 2, group = 3, cluster = 4, transactional_id = 5, delegation_token = 6, user = 7
};
enum class PatternType : std::int8_t { unknown = 0, any = 1, match = 2, literal = 3, prefixed = 4 };
enum class Operation : std::int8_t {
  unknown = 0, any = 1, all = 2, read = 3, write = 4, create = 5, del = 6, alter = 7, describe = 8,
  cluster_action = 9, describe_configs = 10, alter_configs = 11, idempotent_write = 12, create_tokens = 13,
  describe_tokens = 14
};
enum class Permission : std::int8_t { unknown = 0, any = 1, deny = 2, allow = 3 };

/// The one resource name of the cluster resource, as Kafka names it.
inline constexpr std::string_view cluster_name = "kafka-cluster";
/// The literal resource name that stands for every resource of its type, and
/// the principal that stands for every user.
inline constexpr std::string_view wildcard = "*";
inline constexpr std::string_view any_user = "User:*";

/// A filter as DescribeAcls and DeleteAcls carry it. An absent string
/// matches any value; type, pattern, operation and permission ANY match any.
/// Pattern MATCH matches the bindings that would apply to a resource of that
/// name: the literal one, the wildcard literal and every prefix (Kafka's
/// semantics); MATCH with no name matches any pattern.
struct Filter {
  std::int8_t resource_type = static_cast<std::int8_t>(ResourceType::any);
  std::optional<std::string> resource_name;
  std::int8_t pattern_type = static_cast<std::int8_t>(PatternType::any);
  std::optional<std::string> principal;
  std::optional<std::string> host;
  std::int8_t operation = static_cast<std::int8_t>(Operation::any);
  std::int8_t permission = static_cast<std::int8_t>(Permission::any);
};

/// Whether `b` passes `f`.
bool matches(const Filter& f, const AclBinding& b);

/// Why a binding cannot be created (Kafka's INVALID_REQUEST message), or
/// nothing: a concrete resource type, pattern, operation and permission, a
/// principal of the form Type:name, the cluster resource named kafka-cluster.
std::optional<std::string> invalid_binding(const AclBinding& b);

/// Why a filter is malformed (UNKNOWN codes), or nothing.
std::optional<std::string> invalid_filter(const Filter& f);

}  // namespace kwire_broker::acl
