// The checks of AlterClientQuotas and the filter of DescribeClientQuotas,
// apart from their handlers so that unit tests reach them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kwire/messages/describe_client_quotas_request.hpp"
#include "kwire/messages/error_code.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

/// An error code and Kafka's message for it; None when all is well.
struct QuotaCheck {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::string message;
};

/// Kafka's checks of an entity to alter: known types, each once, no empty
/// name, IP alone and an address.
QuotaCheck check_quota_entity(const storage::QuotaEntity& entity);
/// Kafka's checks of a value to set: a key the entity takes, above 0, whole
/// for byte rates and connection rates, and within their type.
QuotaCheck check_quota_value(const storage::QuotaEntity& entity, std::string_view key, double value);
/// "user=alice, client-id=<default>".
std::string describe_entity(const storage::QuotaEntity& entity);

/// A DescribeClientQuotas filter: the types matched to a name (nullopt: the
/// default entity), the types matched whatever their name, and whether
/// entities of other types are left out.
struct QuotaFilter {
  QuotaCheck check;  // what is wrong with the filter, as Kafka answers it
  std::vector<std::pair<std::string, std::optional<std::string>>> exact;
  std::vector<std::string> any;
  bool strict = false;
};
QuotaFilter quota_filter_of(const kwire::DescribeClientQuotasRequest& req);
bool quota_filter_matches(const QuotaFilter& f, const storage::QuotaEntity& entity);

}  // namespace kwire_broker
