// AlterClientQuotas and DescribeClientQuotas (KIP-546): the quotas of users,
// client ids and IPs as kafka-configs --entity-type users|clients|ips
// manages them, with Kafka's checks and answers. They live in the default
// namespace's store (as SCRAM credentials and ACLs do) and the broker
// enforces the byte rates (core/client_quotas.hpp). With an authorizer,
// describing needs DESCRIBE_CONFIGS on the cluster and altering
// ALTER_CONFIGS, as in Kafka.
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <boost/asio/ip/address.hpp>

#include "core/client_quotas.hpp"
#include "core/log.hpp"
#include "handlers/client_quotas.hpp"
#include "kwire/messages/alter_client_quotas_request.hpp"
#include "kwire/messages/alter_client_quotas_response.hpp"
#include "kwire/messages/describe_client_quotas_request.hpp"
#include "kwire/messages/describe_client_quotas_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

using kwire::ErrorCode;

std::string describe_entity(const storage::QuotaEntity& entity) {
  std::string out;
  for (const auto& p : entity) {
    if (!out.empty()) out += ", ";
    out += p.type + "=" + (p.name ? *p.name : std::string("<default>"));
  }
  return out;
}

QuotaCheck check_quota_entity(const storage::QuotaEntity& entity) {
  if (entity.empty()) return {ErrorCode::InvalidRequest, "Invalid empty client quota entity"};
  std::set<std::string> seen;
  bool user = false, client = false, ip = false;
  for (const auto& p : entity) {
    if (!seen.insert(p.type).second)
      return {ErrorCode::InvalidRequest, "Invalid client quota entity, duplicate entity entry " + p.type};
    if (p.type == quota::user_type) user = true;
    else if (p.type == quota::client_id_type) client = true;
    else if (p.type == quota::ip_type) ip = true;
    else return {ErrorCode::InvalidRequest, "Unhandled client quota entity type: " + p.type};
    if (p.name && p.name->empty()) return {ErrorCode::InvalidRequest, "Empty " + p.type + " not supported"};
  }
  if (ip && (user || client))
    return {ErrorCode::InvalidRequest,
            "Invalid quota entity combination, IP entity should not be combined with User or ClientId"};
  if (ip) {
    const auto& name = entity.front().name;
    boost::system::error_code ec;
    // Only addresses: a host name would need a resolver here.
    if (name) (void)boost::asio::ip::make_address(*name, ec);
    if (ec) return {ErrorCode::InvalidRequest, *name + " is not a valid IP or resolvable host."};
  }
  return {};
}

QuotaCheck check_quota_value(const storage::QuotaEntity& entity, std::string_view key, double value) {
  const bool ip = entity.size() == 1 && entity.front().type == quota::ip_type;
  enum class Type { longs, ints, doubles };
  std::optional<Type> type;
  if (ip) {
    if (key == quota::connection_creation_rate) type = Type::ints;
  } else if (key == quota::producer_byte_rate || key == quota::consumer_byte_rate) {
    type = Type::longs;
  } else if (key == quota::request_percentage || key == quota::controller_mutation_rate) {
    type = Type::doubles;
  }
  const std::string k(key);
  if (!type) return {ErrorCode::InvalidRequest, "Invalid configuration key " + k};
  // Kafka lets NaN and infinities through; they are no quota, so here they
  // are refused like any value that is not above 0.
  if (!std::isfinite(value)) return {ErrorCode::InvalidRequest, "Quota " + k + " must be a finite number"};
  if (value <= 0.0) return {ErrorCode::InvalidRequest, "Quota " + k + " must be greater than 0"};
  if (*type == Type::doubles) return {};
  if (*type == Type::ints && value > std::numeric_limits<std::int32_t>::max())
    return {ErrorCode::InvalidRequest, "Proposed value for " + k + " is too large for an INT."};
  if (*type == Type::longs && value > static_cast<double>(std::numeric_limits<std::int64_t>::max()))
    return {ErrorCode::InvalidRequest, "Proposed value for " + k + " is too large for a LONG."};
  if (std::abs(std::fmod(value, 1.0)) > 1e-6) return {ErrorCode::InvalidRequest, k + " cannot be a fractional value."};
  return {};
}

namespace {

using kwire::AlterClientQuotasRequest;
using kwire::AlterClientQuotasResponse;
using kwire::DescribeClientQuotasRequest;
using kwire::DescribeClientQuotasResponse;

constexpr std::string_view not_stored = "Client quotas are not stored by this broker's storage";
constexpr std::string_view cluster_denied = "Cluster authorization failed.";

/// The entity as the store keeps it: parts ordered by type (duplicates kept,
/// for the check to refuse).
template <class Parts>
storage::QuotaEntity entity_of(const Parts& parts) {
  storage::QuotaEntity e;
  for (const auto& p : parts)
    e.push_back({std::string(p.entity_type), p.entity_name ? std::optional<std::string>(*p.entity_name) : std::nullopt});
  std::sort(e.begin(), e.end());
  return e;
}

asio::awaitable<void> alter_quotas(Broker& b, Ctx& ctx, AlterClientQuotasRequest& req,
                                   AlterClientQuotasResponse& resp) {
  storage::QuotaStore* store = b.default_realm().store().quotas();
  const bool denied = !allowed_on_cluster(b, ctx, acl::Operation::alter_configs);
  std::map<storage::QuotaEntity, int> mentions;
  for (const auto& e : req.entries) mentions[entity_of(e.entity)]++;
  // One result per entity, as Kafka answers; the changes of entities without
  // a problem are stored together.
  std::vector<std::pair<const AlterClientQuotasRequest::EntryData*, QuotaCheck>> results;
  std::vector<storage::QuotaChange> changes;
  std::set<storage::QuotaEntity> answered;
  for (const auto& e : req.entries) {
    auto entity = entity_of(e.entity);
    if (!answered.insert(entity).second) continue;
    QuotaCheck outcome;
    if (denied) outcome = {ErrorCode::ClusterAuthorizationFailed, std::string(cluster_denied)};
    else if (!store) outcome = {ErrorCode::InvalidRequest, std::string(not_stored)};
    else if (mentions[entity] > 1) outcome = {ErrorCode::InvalidRequest, "Ignoring duplicate entity " + describe_entity(entity)};
    else outcome = check_quota_entity(entity);
    std::vector<storage::QuotaChange> mine;
    std::set<std::string> keys;
    for (const auto& op : e.ops) {
      if (outcome.error != ErrorCode::None) break;
      const std::string key(op.key);
      if (!keys.insert(key).second) {
        outcome = {ErrorCode::InvalidRequest, "Duplicate quota key " + key +
                                                  " not updating quota for this entity " + describe_entity(entity)};
        break;
      }
      if (op.remove) {
        mine.push_back({entity, key, std::nullopt});
        continue;
      }
      outcome = check_quota_value(entity, key, op.value);
      mine.push_back({entity, key, op.value});
    }
    if (outcome.error == ErrorCode::None) changes.insert(changes.end(), mine.begin(), mine.end());
    results.emplace_back(&e, std::move(outcome));
  }
  if (!req.validate_only && !changes.empty()) {
    auto r = co_await store->alter_quotas(std::move(changes));
    if (!r.ok()) {
      for (auto& [_, outcome] : results)
        if (outcome.error == ErrorCode::None) outcome = {ErrorCode::KafkaStorageError, "cannot store the change"};
    }
    b.quotas().update(store->quotas());
  }
  for (const auto& [e, outcome] : results) {
    auto& r = resp.entries.emplace_back();
    r.error_code = ctx.note(outcome.error);
    if (outcome.error != ErrorCode::None) r.error_message = ctx.keep(outcome.message);
    for (const auto& p : e->entity) {
      auto& d = r.entity.emplace_back();
      d.entity_type = p.entity_type;
      d.entity_name = p.entity_name;
    }
    if (outcome.error == ErrorCode::None && !req.validate_only)
      KB_INFO("{} altered the client quotas of {}", ctx.session.principal, describe_entity(entity_of(e->entity)));
  }
}

asio::awaitable<void> describe_quotas(Broker& b, Ctx& ctx, DescribeClientQuotasRequest& req,
                                      DescribeClientQuotasResponse& resp) {
  auto fail = [&](ErrorCode error, std::string message) {
    resp.error_code = ctx.note(error);
    resp.error_message = ctx.keep(std::move(message));
    resp.entries.reset();
  };
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe_configs)) {
    fail(ErrorCode::ClusterAuthorizationFailed, std::string(cluster_denied));
    co_return;
  }
  auto filter = quota_filter_of(req);
  if (filter.check.error != ErrorCode::None) {
    fail(filter.check.error, filter.check.message);
    co_return;
  }
  storage::QuotaStore* store = b.default_realm().store().quotas();
  if (!store) co_return;  // nothing is stored, so nothing matches
  const auto all = store->quotas();
  const storage::QuotaEntity* open = nullptr;
  for (const auto& q : *all) {
    if (!quota_filter_matches(filter, q.entity)) continue;
    if (!open || *open != q.entity) {
      auto& entry = resp.entries->emplace_back();
      for (const auto& p : q.entity) {
        auto& d = entry.entity.emplace_back();
        d.entity_type = ctx.keep(p.type);
        d.entity_name = p.name ? kwire::nullable_string(ctx.keep(*p.name)) : std::nullopt;
      }
      open = &q.entity;
    }
    auto& v = resp.entries->back().values.emplace_back();
    v.key = ctx.keep(q.key);
    v.value = q.value;
  }
}

}  // namespace

QuotaFilter quota_filter_of(const kwire::DescribeClientQuotasRequest& req) {
  QuotaFilter f;
  f.strict = req.strict;
  std::set<std::string> seen;
  for (const auto& c : req.components) {
    const std::string type(c.entity_type);
    if (type.empty()) {
      f.check = {ErrorCode::InvalidRequest, "Invalid empty entity type."};
      return f;
    }
    if (!seen.insert(type).second) {
      f.check = {ErrorCode::InvalidRequest, "Entity type " + type + " cannot appear more than once in the filter."};
      return f;
    }
    if (type != quota::user_type && type != quota::client_id_type && type != quota::ip_type) {
      f.check = {ErrorCode::UnsupportedVersion, "Unsupported entity type " + type};
      return f;
    }
    switch (c.match_type) {
      case 0:  // exact
        if (!c.match) {
          f.check = {ErrorCode::InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null."};
          return f;
        }
        f.exact.emplace_back(type, std::string(*c.match));
        break;
      case 1:  // default
        if (c.match) {
          f.check = {ErrorCode::InvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."};
          return f;
        }
        f.exact.emplace_back(type, std::nullopt);
        break;
      case 2:  // any specified, the default included
        if (c.match) {
          f.check = {ErrorCode::InvalidRequest,
                     "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."};
          return f;
        }
        f.any.push_back(type);
        break;
      default:
        f.check = {ErrorCode::InvalidRequest, "Unknown match type " + std::to_string(c.match_type)};
        return f;
    }
  }
  if (seen.count(std::string(quota::ip_type)) &&
      (seen.count(std::string(quota::user_type)) || seen.count(std::string(quota::client_id_type))))
    f.check = {ErrorCode::InvalidRequest,
               "Invalid entity filter component combination. IP filter component should not be used with user or "
               "clientId filter component."};
  return f;
}

bool quota_filter_matches(const QuotaFilter& f, const storage::QuotaEntity& entity) {
  if (f.strict && entity.size() != f.exact.size() + f.any.size()) return false;
  auto part = [&](const std::string& type) -> const storage::QuotaEntityPart* {
    for (const auto& p : entity)
      if (p.type == type) return &p;
    return nullptr;
  };
  for (const auto& [type, name] : f.exact) {
    const auto* p = part(type);
    if (!p || p->name != name) return false;
  }
  for (const auto& type : f.any)
    if (!part(type)) return false;
  return true;
}

std::vector<HandlerEntry> client_quota_handlers() {
  return {
      handler<DescribeClientQuotasRequest, describe_quotas>(0, 1),
      handler<AlterClientQuotasRequest, alter_quotas>(0, 1),
  };
}

}  // namespace kwire_broker
