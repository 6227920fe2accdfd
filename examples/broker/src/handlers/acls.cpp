// CreateAcls, DescribeAcls and DeleteAcls (kafka-acls): the bindings the
// authorizer decides with (core/authorizer.hpp), kept by the store of the
// broker's own namespace. Creating and deleting needs ALTER on the cluster,
// describing DESCRIBE. Without an authorizer, or on a store that keeps no
// ACLs, every request is answered SECURITY_DISABLED, as Kafka answers when
// no authorizer is configured.
#include <map>
#include <tuple>

#include "core/acl.hpp"
#include "core/log.hpp"
#include "kwire/messages/create_acls_request.hpp"
#include "kwire/messages/create_acls_response.hpp"
#include "kwire/messages/delete_acls_request.hpp"
#include "kwire/messages/delete_acls_response.hpp"
#include "kwire/messages/describe_acls_request.hpp"
#include "kwire/messages/describe_acls_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

// Bounds on hostile input: the decoder bounds a request's memory, these
// bound the work and what the store keeps. kafka-acls sends one creation per
// principal, host and operation, and one filter per resource.
constexpr std::size_t max_per_request = 1000;
constexpr std::size_t max_bindings = 100000;

/// Why ACL requests cannot be served here, or nothing; its error code in `code`.
std::optional<std::string> unavailable(Broker& b, ErrorCode& code) {
  code = ErrorCode::SecurityDisabled;
  if (!b.authorizer().enabled()) return "No Authorizer is configured (authorizer.class.name)";
  if (!b.default_realm().store().acls()) return "ACLs are not stored by this broker's storage";
  return std::nullopt;
}

acl::Filter filter_of(std::int8_t type, nullable_string name, std::int8_t pattern, nullable_string principal,
                      nullable_string host, std::int8_t operation, std::int8_t permission) {
  acl::Filter f;
  f.resource_type = type;
  if (name) f.resource_name = std::string(*name);
  f.pattern_type = pattern;
  if (principal) f.principal = std::string(*principal);
  if (host) f.host = std::string(*host);
  f.operation = operation;
  f.permission = permission;
  return f;
}

asio::awaitable<void> create_acls(Broker& b, Ctx& ctx, CreateAclsRequest& req, CreateAclsResponse& resp) {
  auto answer_all = [&](ErrorCode e, std::string why) {
    for (std::size_t i = 0; i < req.creations.size(); ++i) {
      CreateAclsResponse::AclCreationResult r;
      r.error_code = ctx.note(e);
      r.error_message = ctx.keep(why);
      resp.results.push_back(r);
    }
  };
  ErrorCode code{};
  if (auto why = unavailable(b, code)) co_return answer_all(code, *why);
  if (!allowed_on_cluster(b, ctx, acl::Operation::alter))
    co_return answer_all(ErrorCode::ClusterAuthorizationFailed, "Cluster authorization failed.");
  if (req.creations.size() > max_per_request)
    co_return answer_all(ErrorCode::InvalidRequest, "More than " + std::to_string(max_per_request) + " ACLs in one request");
  storage::AclStore& store = *b.default_realm().store().acls();
  std::vector<storage::AclBinding> valid;
  std::vector<std::optional<std::string>> problems;
  for (const auto& c : req.creations) {
    storage::AclBinding binding{c.resource_type, std::string(c.resource_name), c.resource_pattern_type,
                                std::string(c.principal), std::string(c.host), c.operation, c.permission_type};
    problems.push_back(acl::invalid_binding(binding));
    if (!problems.back()) valid.push_back(std::move(binding));
  }
  ErrorCode stored = ErrorCode::None;
  std::string stored_why;
  if (store.acls()->size() + valid.size() > max_bindings) {
    stored = ErrorCode::PolicyViolation;
    stored_why = "The broker keeps at most " + std::to_string(max_bindings) + " ACL bindings";
  } else if (!valid.empty()) {
    auto r = co_await store.add_acls(valid);
    if (!r.ok()) {
      stored = ErrorCode::UnknownServerError;
      stored_why = "cannot store the ACLs";
    } else {
      KB_INFO("{} added {} ACL binding(s)", ctx.session.principal, valid.size());
    }
  }
  for (const auto& problem : problems) {
    CreateAclsResponse::AclCreationResult r;
    if (problem) {
      r.error_code = ctx.note(ErrorCode::InvalidRequest);
      r.error_message = ctx.keep(*problem);
    } else if (stored != ErrorCode::None) {
      r.error_code = ctx.note(stored);
      r.error_message = ctx.keep(stored_why);
    } else {
      r.error_message = std::nullopt;
    }
    resp.results.push_back(r);
  }
}

asio::awaitable<void> describe_acls(Broker& b, Ctx& ctx, DescribeAclsRequest& req, DescribeAclsResponse& resp) {
  ErrorCode code{};
  if (auto why = unavailable(b, code)) {
    resp.error_code = ctx.note(code);
    resp.error_message = ctx.keep(*why);
    co_return;
  }
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe)) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    resp.error_message = "Cluster authorization failed.";
    co_return;
  }
  const auto filter = filter_of(req.resource_type_filter, req.resource_name_filter, req.pattern_type_filter,
                                req.principal_filter, req.host_filter, req.operation, req.permission_type);
  if (auto why = acl::invalid_filter(filter)) {
    resp.error_code = ctx.note(ErrorCode::InvalidRequest);
    resp.error_message = ctx.keep(*why);
    co_return;
  }
  resp.error_message = std::nullopt;
  // One entry per resource pattern, its bindings under it.
  std::map<std::tuple<std::int8_t, std::string, std::int8_t>, std::vector<const storage::AclBinding*>> by_resource;
  const auto all = b.default_realm().store().acls()->acls();
  for (const auto& binding : *all)
    if (acl::matches(filter, binding))
      by_resource[{binding.resource_type, binding.resource_name, binding.pattern_type}].push_back(&binding);
  for (const auto& [resource, bindings] : by_resource) {
    DescribeAclsResponse::DescribeAclsResource r;
    r.resource_type = std::get<0>(resource);
    r.resource_name = ctx.keep(std::get<1>(resource));
    r.pattern_type = std::get<2>(resource);
    for (const auto* binding : bindings) {
      DescribeAclsResponse::AclDescription d;
      d.principal = ctx.keep(binding->principal);
      d.host = ctx.keep(binding->host);
      d.operation = binding->operation;
      d.permission_type = binding->permission;
      r.acls.push_back(d);
    }
    resp.resources.push_back(std::move(r));
  }
}

asio::awaitable<void> delete_acls(Broker& b, Ctx& ctx, DeleteAclsRequest& req, DeleteAclsResponse& resp) {
  auto answer_all = [&](ErrorCode e, std::string why) {
    for (std::size_t i = 0; i < req.filters.size(); ++i) {
      DeleteAclsResponse::DeleteAclsFilterResult r;
      r.error_code = ctx.note(e);
      r.error_message = ctx.keep(why);
      resp.filter_results.push_back(r);
    }
  };
  ErrorCode code{};
  if (auto why = unavailable(b, code)) co_return answer_all(code, *why);
  if (!allowed_on_cluster(b, ctx, acl::Operation::alter))
    co_return answer_all(ErrorCode::ClusterAuthorizationFailed, "Cluster authorization failed.");
  if (req.filters.size() > max_per_request)
    co_return answer_all(ErrorCode::InvalidRequest, "More than " + std::to_string(max_per_request) + " filters in one request");
  storage::AclStore& store = *b.default_realm().store().acls();
  const auto all = store.acls();
  std::vector<storage::AclBinding> doomed;
  std::vector<std::pair<std::optional<std::string>, std::vector<const storage::AclBinding*>>> per_filter;
  for (const auto& f : req.filters) {
    const auto filter = filter_of(f.resource_type_filter, f.resource_name_filter, f.pattern_type_filter,
                                  f.principal_filter, f.host_filter, f.operation, f.permission_type);
    auto& [problem, matched] = per_filter.emplace_back(acl::invalid_filter(filter), std::vector<const storage::AclBinding*>{});
    if (problem) continue;
    for (const auto& binding : *all)
      if (acl::matches(filter, binding)) {
        matched.push_back(&binding);
        doomed.push_back(binding);
      }
  }
  bool stored = true;
  if (!doomed.empty()) {
    auto r = co_await store.remove_acls(doomed);
    stored = r.ok();
    if (stored) KB_INFO("{} removed {} ACL binding(s)", ctx.session.principal, doomed.size());
  }
  for (const auto& [problem, matched] : per_filter) {
    DeleteAclsResponse::DeleteAclsFilterResult r;
    if (problem) {
      r.error_code = ctx.note(ErrorCode::InvalidRequest);
      r.error_message = ctx.keep(*problem);
    } else if (!stored) {
      r.error_code = ctx.note(ErrorCode::UnknownServerError);
      r.error_message = "cannot store the change";
    } else {
      r.error_message = std::nullopt;
      for (const auto* binding : matched) {
        DeleteAclsResponse::DeleteAclsMatchingAcl m;
        m.error_message = std::nullopt;
        m.resource_type = binding->resource_type;
        m.resource_name = ctx.keep(binding->resource_name);
        m.pattern_type = binding->pattern_type;
        m.principal = ctx.keep(binding->principal);
        m.host = ctx.keep(binding->host);
        m.operation = binding->operation;
        m.permission_type = binding->permission;
        r.matching_acls.push_back(m);
      }
    }
    resp.filter_results.push_back(std::move(r));
  }
}

}  // namespace

// Kafka 4 serves versions 1 to 3 (KIP-896 removed v0, which knew no
// PREFIXED patterns).
std::vector<HandlerEntry> acl_handlers() {
  return {
      handler<DescribeAclsRequest, describe_acls>(1, 3),
      handler<CreateAclsRequest, create_acls>(1, 3),
      handler<DeleteAclsRequest, delete_acls>(1, 3),
  };
}

}  // namespace kwire_broker
