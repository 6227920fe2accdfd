// The authorizer: Kafka's StandardAuthorizer's rules over the ACL bindings a
// store keeps (core/acl.hpp for the model).
//
//   * a super user (super.users) may do anything;
//   * the bindings that apply to a resource are its LITERAL ones, the
//     LITERAL wildcard `*` of its type and the PREFIXED ones whose name
//     begins its name; of those, the ones for the principal (or User:*) and
//     the client's host (or *);
//   * a DENY for the operation (or ALL) wins over any ALLOW;
//   * an ALLOW for the operation or ALL grants it, and so does one for an
//     operation that implies it: READ, WRITE, DELETE and ALTER imply
//     DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS;
//   * a resource with no binding at all that applies to it is granted to
//     everyone only with allow.everyone.if.no.acl.found=true.
//
// A check looks up the bindings of its resource in an index of the store's
// snapshot (by type and name, and by the prefix lengths in use) instead of
// scanning every binding: Metadata checks each topic it lists, and a
// cluster may hold thousands of bindings. The index is rebuilt when the
// store publishes a new snapshot.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/acl.hpp"

namespace kwire_broker {

class AclIndex;

struct AuthorizerConfig {
  bool enabled = false;  // authorizer.class.name set
  std::set<std::string> super_users;
  bool allow_if_no_acl = false;  // allow.everyone.if.no.acl.found
};

/// One resource an operation is asked on.
struct AclResource {
  acl::ResourceType type = acl::ResourceType::topic;
  std::string_view name;
};

class Authorizer {
 public:
  /// `bindings` gives the store's current bindings (empty when it keeps none).
  using Bindings = std::function<std::shared_ptr<const std::vector<storage::AclBinding>>()>;

  Authorizer(AuthorizerConfig config, Bindings bindings) : config_(std::move(config)), bindings_(std::move(bindings)) {}

  bool enabled() const noexcept { return config_.enabled; }

  /// Whether `principal` connecting from `host` may do `op` on `resource`.
  /// Always true when the authorizer is not enabled.
  bool authorize(std::string_view principal, std::string_view host, acl::Operation op, AclResource resource) const;

  /// Whether some binding of `type` (any name) lets the principal do `op`
  /// and no DENY for every name of that type forbids it: Kafka's check for
  /// "WRITE on any topic" (InitProducerId from an idempotent producer).
  bool authorize_any(std::string_view principal, std::string_view host, acl::Operation op, acl::ResourceType type) const;

  const AuthorizerConfig& config() const noexcept { return config_; }

 private:
  /// The index of the store's current snapshot.
  std::shared_ptr<const AclIndex> index() const;

  AuthorizerConfig config_;
  Bindings bindings_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<const AclIndex> index_;
};

}  // namespace kwire_broker
