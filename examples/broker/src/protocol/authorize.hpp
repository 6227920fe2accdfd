// The one check every handler family makes before it acts: may the
// session's principal, from the client's host, do an operation on a
// resource (core/authorizer.hpp)? True whenever no authorizer is configured.
#pragma once

#include <string>
#include <string_view>

#include "core/broker.hpp"
#include "protocol/context.hpp"

namespace kwire_broker {

/// The client's address without its port, as ACL bindings name hosts.
std::string_view client_host(const SessionState& s);

inline bool allowed(Broker& b, const Ctx& ctx, acl::Operation op, acl::ResourceType type, std::string_view name) {
  const Authorizer& a = b.authorizer();
  if (!a.enabled()) return true;
  return a.authorize(ctx.session.principal, client_host(ctx.session), op, AclResource{type, name});
}

inline bool allowed_on_cluster(Broker& b, const Ctx& ctx, acl::Operation op) {
  return allowed(b, ctx, op, acl::ResourceType::cluster, acl::cluster_name);
}

inline bool allowed_on_topic(Broker& b, const Ctx& ctx, acl::Operation op, std::string_view topic) {
  return allowed(b, ctx, op, acl::ResourceType::topic, topic);
}

inline bool allowed_on_group(Broker& b, const Ctx& ctx, acl::Operation op, std::string_view group) {
  return allowed(b, ctx, op, acl::ResourceType::group, group);
}

inline bool allowed_on_txn(Broker& b, const Ctx& ctx, acl::Operation op, std::string_view transactional_id) {
  return allowed(b, ctx, op, acl::ResourceType::transactional_id, transactional_id);
}

/// Kafka's authorized-operations bit field (bit n set: AclOperation n
/// allowed) over the operations that apply to resources of `type`, for
/// Metadata, DescribeCluster and DescribeGroups; `unchecked` without an
/// authorizer.
std::int32_t authorized_operations(Broker& b, const Ctx& ctx, acl::ResourceType type, std::string_view name,
                                   std::int32_t unchecked);

}  // namespace kwire_broker
