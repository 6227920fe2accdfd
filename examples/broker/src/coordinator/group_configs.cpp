// Group configs: see group_configs.hpp.
#include "coordinator/group_configs.hpp"

#include <array>
#include <charconv>

namespace kwire_broker::group_configs {

namespace {

/// A numeric config and its bounds: Kafka's defaults of the
/// group.share.min.* and group.share.max.* broker configs that bound it.
struct Numeric {
  std::string_view name;
  std::int32_t min, max;
  std::int32_t share::Config::*fallback;
};

constexpr std::array<Numeric, 5> numeric{{
    {"share.session.timeout.ms", 45000, 60000, &share::Config::session_timeout_ms},
    {"share.heartbeat.interval.ms", 5000, 15000, &share::Config::heartbeat_interval_ms},
    {"share.record.lock.duration.ms", 15000, 60000, &share::Config::lock_duration_ms},
    {"share.delivery.count.limit", 2, 10, &share::Config::delivery_count_limit},
    {"share.partition.max.record.locks", 100, 10000, &share::Config::max_record_locks},
}};

constexpr std::string_view auto_offset_reset = "share.auto.offset.reset";

const Numeric* find_numeric(std::string_view name) {
  for (auto& n : numeric)
    if (n.name == name) return &n;
  return nullptr;
}

}  // namespace

bool known(std::string_view name) { return name == auto_offset_reset || find_numeric(name); }

std::optional<std::string> check(std::string_view name, std::string_view value) {
  if (name == auto_offset_reset) {
    if (value == "latest" || value == "earliest") return std::nullopt;
    return "Invalid value " + std::string(value) + " for configuration " + std::string(name) +
           ": kwire-broker supports latest and earliest";
  }
  const auto* n = find_numeric(name);
  if (!n) return "Unknown group config name: " + std::string(name);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc{} || end != value.data() + value.size())
    return "Invalid value " + std::string(value) + " for configuration " + std::string(name) +
           ": Not a number of type INT";
  if (v < n->min) return std::string(name) + " must be greater than or equal to " + std::to_string(n->min);
  if (v > n->max) return std::string(name) + " must be less than or equal to " + std::to_string(n->max);
  return std::nullopt;
}

std::vector<Entry> describe(const share::Group* g, const share::Config& defaults) {
  std::vector<Entry> out;
  for (auto& n : numeric) {
    Entry e{std::string(n.name), std::to_string(defaults.*n.fallback), 3, false};
    if (g)
      if (auto it = g->configs.find(n.name); it != g->configs.end()) {
        e.value = it->second;
        e.set_for_group = true;
      }
    out.push_back(std::move(e));
  }
  Entry reset{std::string(auto_offset_reset), g ? g->auto_offset_reset : std::string("latest"), 2, false};
  reset.set_for_group = g && (g->configs.count(auto_offset_reset) > 0 || g->auto_offset_reset != "latest");
  out.push_back(std::move(reset));
  return out;
}

}  // namespace kwire_broker::group_configs
