// Client quotas on the security topic (security_store.hpp): one message per
// quota value, keyed by entity and quota key, so that two gateways changing
// different values of one entity never undo each other's change.
#include <nlohmann/json.hpp>

#include "security_record.hpp"
#include "security_store.hpp"
#include "store.hpp"

namespace kwire_broker::storage::pulsar {

void Security::publish_quotas() {
  if (!quotas_changed_) return;
  std::vector<ClientQuota> all;
  all.reserve(quota_values_.size());
  for (const auto& [id, v] : quota_values_) all.push_back({id.first, id.second, v});
  quota_snapshot_ = std::make_shared<const std::vector<ClientQuota>>(std::move(all));
  quotas_changed_ = false;
}

Task<Done> Security::alter_quotas(std::vector<QuotaChange> changes) {
  std::vector<kp::OutgoingMessage> ms;
  {
    std::lock_guard lk(mu_);
    for (const auto& c : changes) {
      // Only what changes something here.
      auto it = quota_values_.find({c.entity, c.key});
      if (c.value ? (it != quota_values_.end() && it->second == *c.value) : it == quota_values_.end()) continue;
      kp::OutgoingMessage m;
      try {
        m.key = quota_key(c.entity, c.key);
      } catch (const nlohmann::json::exception&) {
        co_return Result<Done>::failure(Errc::invalid_config, "a quota entity's name is not valid UTF-8");
      }
      if (c.value) m.value = quota_value(*c.value);
      else m.null_value = true;
      ms.push_back(std::move(m));
    }
  }
  if (ms.empty()) co_return Result<Done>::success({});
  co_return co_await s_.on_io(write(std::move(ms)));
}

std::shared_ptr<const std::vector<ClientQuota>> Security::quotas() const {
  std::lock_guard lk(mu_);
  return quota_snapshot_;
}

}  // namespace kwire_broker::storage::pulsar
