#include "core/authorizer.hpp"

namespace kwire_broker {
namespace {

using acl::Operation;
using acl::PatternType;
using acl::Permission;

bool applies_to(const storage::AclBinding& b, const AclResource& r) {
  if (b.resource_type != static_cast<std::int8_t>(r.type)) return false;
  switch (static_cast<PatternType>(b.pattern_type)) {
    case PatternType::literal:
      return b.resource_name == r.name || b.resource_name == acl::wildcard;
    case PatternType::prefixed:
      return r.name.starts_with(b.resource_name);
    default:
      return false;
  }
}

bool for_whom(const storage::AclBinding& b, std::string_view principal, std::string_view host) {
  return (b.principal == principal || b.principal == acl::any_user) && (b.host == host || b.host == acl::wildcard);
}

/// Whether an ALLOW for `granted` grants `asked`.
bool grants(Operation granted, Operation asked) {
  if (granted == Operation::all || granted == asked) return true;
  if (asked == Operation::describe)
    return granted == Operation::read || granted == Operation::write || granted == Operation::del ||
           granted == Operation::alter;
  if (asked == Operation::describe_configs) return granted == Operation::alter_configs;
  return false;
}

}  // namespace

bool Authorizer::authorize(std::string_view principal, std::string_view host, Operation op, AclResource resource) const {
  if (!config_.enabled) return true;
  if (config_.super_users.count(std::string(principal))) return true;
  const auto all = bindings_();
  bool any_binding = false, allowed = false;
  for (const auto& b : *all) {
    if (!applies_to(b, resource)) continue;
    any_binding = true;
    if (!for_whom(b, principal, host)) continue;
    const auto granted = static_cast<Operation>(b.operation);
    if (static_cast<Permission>(b.permission) == Permission::deny) {
      // A DENY forbids only what it names (or everything, with ALL): a DENY
      // READ leaves DESCRIBE to whatever else grants it.
      if (granted == Operation::all || granted == op) return false;
    } else if (grants(granted, op)) {
      allowed = true;
    }
  }
  if (!any_binding) return config_.allow_if_no_acl;
  return allowed;
}

bool Authorizer::authorize_any(std::string_view principal, std::string_view host, Operation op,
                               acl::ResourceType type) const {
  if (!config_.enabled) return true;
  if (config_.super_users.count(std::string(principal))) return true;
  const auto all = bindings_();
  bool allowed = false, any_of_type = false;
  for (const auto& b : *all) {
    if (b.resource_type != static_cast<std::int8_t>(type)) continue;
    any_of_type = true;
    if (!for_whom(b, principal, host)) continue;
    const auto granted = static_cast<Operation>(b.operation);
    if (static_cast<Permission>(b.permission) == Permission::deny) {
      // Only a DENY on every name of the type takes "any" away.
      if ((granted == Operation::all || granted == op) && static_cast<PatternType>(b.pattern_type) == PatternType::literal &&
          b.resource_name == acl::wildcard)
        return false;
    } else if (grants(granted, op)) {
      allowed = true;
    }
  }
  if (!any_of_type) return config_.allow_if_no_acl;
  return allowed;
}

}  // namespace kwire_broker
