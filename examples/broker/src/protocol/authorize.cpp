#include "protocol/authorize.hpp"

#include <vector>

namespace kwire_broker {

std::string_view client_host(const SessionState& s) {
  // peer is "address:port" (an IPv6 address keeps its own colons).
  std::string_view peer(s.peer);
  const auto colon = peer.rfind(':');
  return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}

std::int32_t authorized_operations(Broker& b, const Ctx& ctx, acl::ResourceType type, std::string_view name,
                                   std::int32_t unchecked) {
  if (!b.authorizer().enabled()) return unchecked;
  using acl::Operation;
  std::vector<Operation> ops;
  switch (type) {
    case acl::ResourceType::topic:
      ops = {Operation::read, Operation::write, Operation::create, Operation::del, Operation::alter,
             Operation::describe, Operation::describe_configs, Operation::alter_configs};
      break;
    case acl::ResourceType::group:
      ops = {Operation::read, Operation::del, Operation::describe};
      break;
    case acl::ResourceType::cluster:
      ops = {Operation::create, Operation::alter, Operation::describe, Operation::cluster_action,
             Operation::describe_configs, Operation::alter_configs, Operation::idempotent_write};
      break;
    default:
      break;
  }
  std::int32_t bits = 0;
  for (auto op : ops)
    if (allowed(b, ctx, op, type, name)) bits |= std::int32_t{1} << static_cast<int>(op);
  return bits;
}

}  // namespace kwire_broker
