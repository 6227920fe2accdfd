// Topic-level configs the broker knows: their defaults (from the broker's
// settings) and types, for DescribeConfigs, CreateTopics and the alters.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace kwire_broker {

struct TopicConfigDef {
  std::string name;
  std::string default_value;
  std::int8_t type;  // DescribeConfigs config_type: 1 bool, 2 string, 3 int, 5 long, 6 double, 7 list
  std::vector<std::string> allowed;  // for enumerations
};

const std::vector<TopicConfigDef>& topic_config_defs(const Settings& s);
const TopicConfigDef* find_topic_config(const Settings& s, const std::string& name);
/// nullopt if the value fits the config, else the reason.
std::optional<std::string> check_topic_config(const Settings& s, const std::string& name, const std::string& value);

}  // namespace kwire_broker
