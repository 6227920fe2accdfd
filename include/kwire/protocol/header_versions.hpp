// Which request and response header version goes with an API version.
#pragma once

#include <cstdint>

#include "kwire/messages/api.hpp"

namespace kwire {

/// Request header version for (api_key, api_version): v2 (flexible, tagged
/// fields) when the API version is flexible, v1 otherwise, and v0 (no client
/// id) only for ControlledShutdown v0. Versions above an API's newest are
/// treated like its newest, as Kafka does, so a client asking for more than the
/// broker has can still be answered.
constexpr std::int16_t request_header_version(std::int16_t api_key, std::int16_t api_version) noexcept {
  if (api_key == static_cast<std::int16_t>(ApiKey::ControlledShutdown) && api_version == 0) return 0;
  const ApiInfo* api = find_api(api_key);
  return api && api->flexible(api_version) ? 2 : 1;
}

/// Response header version: v1 (with tagged fields) when flexible, else v0.
/// ApiVersions responses always use v0, so that a client that does not yet know
/// the broker's versions can read the answer.
constexpr std::int16_t response_header_version(std::int16_t api_key, std::int16_t api_version) noexcept {
  if (api_key == static_cast<std::int16_t>(ApiKey::ApiVersions)) return 0;
  const ApiInfo* api = find_api(api_key);
  return api && api->flexible(api_version) ? 1 : 0;
}

constexpr std::int16_t request_header_version(ApiKey api_key, std::int16_t api_version) noexcept {
  return request_header_version(static_cast<std::int16_t>(api_key), api_version);
}
constexpr std::int16_t response_header_version(ApiKey api_key, std::int16_t api_version) noexcept {
  return response_header_version(static_cast<std::int16_t>(api_key), api_version);
}

}  // namespace kwire
