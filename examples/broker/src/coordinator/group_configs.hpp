// Group configs: what IncrementalAlterConfigs and DescribeConfigs on a GROUP
// resource (type 32) set and show. Kafka checks each against the broker-wide
// bounds of its group.share.* synonym; kwire keeps the share group's ones
// with the group (its record) and applies them where the broker-wide value
// would apply: acquisition locks, delivery counts, record locks per
// partition, member sessions and heartbeats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/share_group.hpp"

namespace kwire_broker::group_configs {

/// One group config as DescribeConfigs shows it.
struct Entry {
  std::string name, value;
  std::int8_t type = 2;        // Kafka's ConfigType: 2 string, 3 int
  bool set_for_group = false;  // else the broker's default
};

/// Whether kwire keeps the group config `name`.
bool known(std::string_view name);

/// Why `value` cannot be set for `name` (nullopt: it can). Numbers must lie
/// within Kafka's bounds for the config; `name` must be known.
std::optional<std::string> check(std::string_view name, std::string_view value);

/// Every group config kwire keeps, with the group's value or the broker's
/// default (`g` null: a group with none set).
std::vector<Entry> describe(const share::Group* g, const share::Config& defaults);

}  // namespace kwire_broker::group_configs
