#include "core/topic_configs.hpp"

#include <fmt/core.h>

namespace kwire_broker {

const std::vector<TopicConfigDef>& topic_config_defs(const Settings& s) {
  static const std::vector<TopicConfigDef> defs = [&s] {
    auto n = [](std::int64_t v) { return std::to_string(v); };
    std::vector<TopicConfigDef> d = {
        // compact: records must have keys, and the log keeps the newest
        // record of each key (the embedded store's cleaner; on Pulsar the
        // log is kept whole).
        {"cleanup.policy", "delete", 7, {"delete", "compact", "compact,delete", "delete,compact"}},
        {"compression.type", "producer", 2, {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}},
        {"delete.retention.ms", n(s.delete_retention_ms), 5, {}},
        {"file.delete.delay.ms", "60000", 5, {}},
        // The replicas a reassignment throttles (kafka-reassign-partitions
        // sets and clears them): kept, with no effect, nothing being
        // replicated.
        {"follower.replication.throttled.replicas", "", 7, {}},
        {"flush.messages", s.flush_messages > 0 ? n(s.flush_messages) : "9223372036854775807", 5, {}},
        {"flush.ms", s.flush_ms >= 0 ? n(s.flush_ms) : "9223372036854775807", 5, {}},
        {"index.interval.bytes", n(s.index_interval_bytes), 3, {}},
        {"leader.replication.throttled.replicas", "", 7, {}},
        {"max.message.bytes", n(s.message_max_bytes), 3, {}},
        {"message.timestamp.type", "CreateTime", 2, {"CreateTime", "LogAppendTime"}},
        {"message.timestamp.before.max.ms", "9223372036854775807", 5, {}},
        {"message.timestamp.after.max.ms", "3600000", 5, {}},
        {"max.compaction.lag.ms", n(s.max_compaction_lag_ms), 5, {}},
        {"min.cleanable.dirty.ratio", fmt::format("{}", s.min_cleanable_ratio), 6, {}},
        {"min.compaction.lag.ms", n(s.min_compaction_lag_ms), 5, {}},
        {"min.insync.replicas", "1", 3, {}},
        {"preallocate", "false", 1, {}},
        {"retention.bytes", n(s.retention_bytes), 5, {}},
        {"retention.ms", n(s.retention_ms), 5, {}},
        {"segment.bytes", n(s.segment_bytes), 3, {}},
        {"segment.index.bytes", "10485760", 3, {}},
        {"segment.jitter.ms", "0", 5, {}},
        {"segment.ms", n(s.segment_ms), 5, {}},
        {"unclean.leader.election.enable", "false", 1, {}},
    };
    return d;
  }();
  return defs;
}

const TopicConfigDef* find_topic_config(const Settings& s, const std::string& name) {
  for (auto& d : topic_config_defs(s))
    if (d.name == name) return &d;
  return nullptr;
}

std::optional<std::string> check_topic_config(const Settings& s, const std::string& name, const std::string& value) {
  auto* d = find_topic_config(s, name);
  if (!d) return fmt::format("Unknown topic config name: {}", name);
  if (!d->allowed.empty()) {
    for (auto& a : d->allowed)
      if (a == value) return std::nullopt;
    return fmt::format("Invalid value {} for configuration {}", value, name);
  }
  switch (d->type) {
    case 1:
      if (value != "true" && value != "false") return fmt::format("Invalid value {} for configuration {}", value, name);
      break;
    case 3:
    case 5:
      try {
        std::size_t used = 0;
        auto v = std::stoll(value, &used);
        if (used != value.size()) throw std::invalid_argument("x");
        if (d->type == 3 && (v > 2147483647LL || v < -2147483648LL)) throw std::out_of_range("x");
      } catch (...) {
        return fmt::format("Invalid value {} for configuration {}: Not a number of type {}", value, name,
                           d->type == 3 ? "INT" : "LONG");
      }
      break;
    case 6:
      try {
        std::size_t used = 0;
        auto v = std::stod(value, &used);
        if (used != value.size() || !(v >= 0 && v <= 1)) throw std::invalid_argument("x");
      } catch (...) {
        return fmt::format("Invalid value {} for configuration {}: Value must be a number between 0 and 1", value,
                           name);
      }
      break;
    default: break;
  }
  return std::nullopt;
}

}  // namespace kwire_broker
