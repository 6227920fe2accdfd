#include "core/acl.hpp"

namespace kwire_broker::acl {
namespace {

template <class E>
E as(std::int8_t v) {
  return static_cast<E>(v);
}

bool name_matches(const Filter& f, const AclBinding& b) {
  if (!f.resource_name) return true;
  const auto pattern = as<PatternType>(f.pattern_type);
  if (pattern != PatternType::match) return *f.resource_name == b.resource_name;
  // MATCH: the bindings that apply to the resource named so.
  switch (as<PatternType>(b.pattern_type)) {
    case PatternType::literal:
      return b.resource_name == *f.resource_name || b.resource_name == wildcard;
    case PatternType::prefixed:
      return f.resource_name->starts_with(b.resource_name);
    default:
      return false;
  }
}

bool pattern_matches(const Filter& f, const AclBinding& b) {
  const auto pattern = as<PatternType>(f.pattern_type);
  if (pattern == PatternType::any) return true;
  if (pattern == PatternType::match)  // a concrete pattern is checked by name
    return as<PatternType>(b.pattern_type) == PatternType::literal ||
           as<PatternType>(b.pattern_type) == PatternType::prefixed;
  return f.pattern_type == b.pattern_type;
}

bool concrete_type(std::int8_t t) {
  return t >= static_cast<std::int8_t>(ResourceType::topic) && t <= static_cast<std::int8_t>(ResourceType::user);
}

}  // namespace

bool matches(const Filter& f, const AclBinding& b) {
  if (as<ResourceType>(f.resource_type) != ResourceType::any && f.resource_type != b.resource_type) return false;
  if (!pattern_matches(f, b) || !name_matches(f, b)) return false;
  if (f.principal && *f.principal != b.principal) return false;
  if (f.host && *f.host != b.host) return false;
  if (as<Operation>(f.operation) != Operation::any && f.operation != b.operation) return false;
  if (as<Permission>(f.permission) != Permission::any && f.permission != b.permission) return false;
  return true;
}

std::optional<std::string> invalid_binding(const AclBinding& b) {
  if (!concrete_type(b.resource_type)) return "Invalid resource type " + std::to_string(b.resource_type);
  const auto pattern = as<PatternType>(b.pattern_type);
  if (pattern != PatternType::literal && pattern != PatternType::prefixed)
    return "Invalid pattern type " + std::to_string(b.pattern_type) + ": ACL bindings are LITERAL or PREFIXED";
  if (b.operation < static_cast<std::int8_t>(Operation::all) ||
      b.operation > static_cast<std::int8_t>(Operation::describe_tokens))
    return "Invalid operation " + std::to_string(b.operation);
  if (as<Permission>(b.permission) != Permission::allow && as<Permission>(b.permission) != Permission::deny)
    return "Invalid permission type " + std::to_string(b.permission);
  if (b.resource_name.empty()) return "Resource name must not be empty";
  const auto colon = b.principal.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == b.principal.size())
    return "Could not parse principal from `" + b.principal + "` (no colon is present separating the principal type from the principal name)";
  if (b.host.empty()) return "Host must not be empty (use * for any host)";
  if (as<ResourceType>(b.resource_type) == ResourceType::cluster && b.resource_name != cluster_name)
    return "The only valid name for the CLUSTER resource is " + std::string(cluster_name);
  if (pattern == PatternType::prefixed && b.resource_name == wildcard)
    return "Cannot create a PREFIXED binding for the wildcard resource name '*'";
  return std::nullopt;
}

std::optional<std::string> invalid_filter(const Filter& f) {
  if (as<ResourceType>(f.resource_type) == ResourceType::unknown || f.resource_type > static_cast<std::int8_t>(ResourceType::user) || f.resource_type < 0)
    return "Invalid resource type in the filter";
  if (as<PatternType>(f.pattern_type) == PatternType::unknown || f.pattern_type > static_cast<std::int8_t>(PatternType::prefixed) || f.pattern_type < 0)
    return "Invalid pattern type in the filter";
  if (as<Operation>(f.operation) == Operation::unknown || f.operation > static_cast<std::int8_t>(Operation::describe_tokens) || f.operation < 0)
    return "Invalid operation in the filter";
  if (as<Permission>(f.permission) == Permission::unknown || f.permission > static_cast<std::int8_t>(Permission::allow) || f.permission < 0)
    return "Invalid permission type in the filter";
  return std::nullopt;
}

}  // namespace kwire_broker::acl
