// Entry point of the Pulsar storage for kwire-broker's main: opens it from
// the broker's settings (see store.hpp for the keys; the namespace
// is kafkaTenant/kafkaNamespace, falling back to kwire.tenant/kwire.namespace
// and then public/default).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

inline std::unique_ptr<Storage> open(const std::map<std::string, std::string>& settings) {
  auto with_fallback = settings;
  auto fallback = [&](const char* key, const char* other) {
    if (!with_fallback.count(key))
      if (auto it = settings.find(other); it != settings.end()) with_fallback[key] = it->second;
  };
  fallback("kafkaTenant", "kwire.tenant");
  fallback("kafkaNamespace", "kwire.namespace");
  return open_pulsar_storage(config_from(with_fallback), namespace_from(with_fallback));
}

}  // namespace kwire_broker::storage::pulsar
