// The topic catalog on Pulsar's admin API: partitioned-topic metadata with
// the Kafka topic id and configs as its properties.
#include "catalog.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <random>

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

using nlohmann::json;

namespace {

constexpr const char* topic_id_property = "kafka.topic.id";
constexpr const char* config_prefix = "kafka.config.";

TopicId random_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  TopicId id{};
  for (std::size_t i = 0; i < 16; i += 8) {
    auto v = rng();
    std::memcpy(id.data() + i, &v, 8);
  }
  return id;
}

TopicInfo info_from(const std::string& name, const json& meta) {
  TopicInfo t;
  t.name = name;
  t.partitions = meta.value("partitions", 0);
  if (meta.contains("properties") && meta["properties"].is_object()) {
    for (auto& [k, v] : meta["properties"].items()) {
      if (!v.is_string()) continue;
      if (k == topic_id_property) {
        if (auto id = topic_id_of(v.get<std::string>())) t.id = *id;
      } else if (k.rfind(config_prefix, 0) == 0) {
        t.configs[k.substr(std::strlen(config_prefix))] = v.get<std::string>();
      }
    }
  }
  return t;
}

}  // namespace

std::optional<TopicInfo> Catalog::find_topic(const std::string& name) const {
  std::lock_guard g(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::optional<TopicInfo> Catalog::find_topic(const TopicId& id) const {
  std::lock_guard g(mu_);
  for (auto& [n, t] : topics_)
    if (t.id == id) return t;
  return std::nullopt;
}

void Catalog::put(TopicInfo t) {
  std::lock_guard g(mu_);
  changed_[t.name] = ++stamp_;
  topics_[t.name] = std::move(t);
}

void Catalog::erase(const std::string& name) {
  std::lock_guard g(mu_);
  changed_[name] = ++stamp_;
  topics_.erase(name);
}

awaitable<std::optional<TopicInfo>> Catalog::read(const std::string& name) {
  auto r = co_await s_.admin_->request("GET", "/admin/v2/persistent/" + s_.short_topic(name) + "/partitions");
  if (r.status == 404) co_return std::nullopt;
  if (!r.ok()) throw kp::AdminError(r.status, "partitions of " + name + ": " + r.body);
  auto t = info_from(name, json::parse(r.body));
  if (t.partitions <= 0) co_return std::nullopt;
  co_return t;
}

awaitable<std::optional<TopicInfo>> Catalog::fetch(const std::string& name) {
  auto t = co_await read(name);
  if (t) put(*t);
  co_return t;
}

awaitable<std::vector<TopicInfo>> Catalog::load() {
  std::uint64_t began = 0;
  {
    std::lock_guard g(mu_);
    began = stamp_;
    loads_.insert(began);
  }
  struct LoadEnds {
    Catalog& c;
    std::uint64_t began;
    ~LoadEnds() {
      std::lock_guard g(c.mu_);
      c.loads_.erase(c.loads_.find(began));
      const auto oldest = c.loads_.empty() ? c.stamp_ : *c.loads_.begin();
      std::erase_if(c.changed_, [&](const auto& kv) { return kv.second <= oldest; });
    }
  } ends{*this, began};
  auto names = co_await s_.admin_->partitioned_topics(s_.ns_.tenant + "/" + s_.ns_.ns);
  std::map<std::string, TopicInfo> fresh;
  const std::string prefix = "persistent://" + s_.ns_.tenant + "/" + s_.ns_.ns + "/";
  for (auto& full : names) {
    if (full.rfind(prefix, 0) != 0) continue;
    auto name = full.substr(prefix.size());
    if (auto t = co_await read(name)) fresh[name] = std::move(*t);
  }
  std::vector<TopicInfo> out;
  {
    std::lock_guard g(mu_);
    for (auto& [name, stamp] : changed_) {
      if (stamp <= began) continue;
      if (auto it = topics_.find(name); it != topics_.end())
        fresh[name] = it->second;
      else
        fresh.erase(name);
    }
    topics_ = std::move(fresh);
    for (auto& [name, t] : topics_) out.push_back(t);
  }
  co_return out;
}

Task<TopicInfo> Catalog::create_topic(NewTopic topic) {
  auto work = create_here(std::move(topic));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<TopicInfo>> Catalog::create_here(NewTopic topic) {
  if (topic.partitions <= 0) co_return Result<TopicInfo>::failure(Errc::invalid_partitions, "partitions");
  TopicInfo t{topic.name, random_id(), topic.partitions, topic.configs};
  json props = {{topic_id_property, hex_of(t.id)}};
  for (auto& [k, v] : topic.configs) props[config_prefix + k] = v;
  json body = {{"partitions", topic.partitions}, {"properties", props}};
  // With its own media type the body carries the properties too.
  auto r = co_await s_.admin_->request("PUT", "/admin/v2/persistent/" + s_.short_topic(topic.name) + "/partitions",
                                       body.dump(), "application/vnd.partitioned-topic-metadata+json");
  if (r.status == 409) {
    co_await fetch(topic.name);  // made by another gateway: know it from now on
    co_return Result<TopicInfo>::failure(Errc::topic_exists, topic.name);
  }
  if (!r.ok()) throw kp::AdminError(r.status, "create " + topic.name + ": " + r.body);
  put(t);
  co_return Result<TopicInfo>::success(t);
}

Task<Done> Catalog::delete_topic(std::string name) {
  auto work = delete_here(std::move(name));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Catalog::delete_here(std::string name) {
  auto r = co_await s_.admin_->request("DELETE", "/admin/v2/persistent/" + s_.short_topic(name) +
                                                     "/partitions?force=true");
  if (r.status == 404) co_return Result<Done>::failure(Errc::unknown_topic, name);
  if (!r.ok()) throw kp::AdminError(r.status, "delete " + name + ": " + r.body);
  erase(name);
  s_.forget_logs(name);
  co_return Result<Done>::success({});
}

Task<TopicInfo> Catalog::add_partitions(std::string name, std::int32_t total) {
  auto work = add_partitions_here(std::move(name), total);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<TopicInfo>> Catalog::add_partitions_here(std::string name, std::int32_t total) {
  auto t = co_await fetch(name);
  if (!t) co_return Result<TopicInfo>::failure(Errc::unknown_topic, name);
  if (total <= t->partitions) co_return Result<TopicInfo>::failure(Errc::invalid_partitions, "not larger");
  co_await s_.admin_->update_partitioned_topic(s_.short_topic(name), total);
  t->partitions = total;
  put(*t);
  co_return Result<TopicInfo>::success(*t);
}

Task<TopicInfo> Catalog::alter_configs(std::string name, std::vector<ConfigChange> changes) {
  auto work = alter_configs_here(std::move(name), std::move(changes));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<TopicInfo>> Catalog::alter_configs_here(std::string name, std::vector<ConfigChange> changes) {
  auto t = co_await fetch(name);
  if (!t) co_return Result<TopicInfo>::failure(Errc::unknown_topic, name);
  json set = json::object();
  const std::string base = "/admin/v2/persistent/" + s_.short_topic(name) + "/properties";
  for (auto& c : changes) {
    if (c.op == ConfigChange::Op::set) {
      set[config_prefix + c.key] = c.value;
      t->configs[c.key] = c.value;
    } else {
      t->configs.erase(c.key);
      auto r = co_await s_.admin_->request("DELETE", base + "?key=" + config_prefix + c.key);
      if (!r.ok() && r.status != 404) throw kp::AdminError(r.status, "remove config: " + r.body);
    }
  }
  if (!set.empty()) {
    auto r = co_await s_.admin_->request("PUT", base, set.dump());
    if (!r.ok()) throw kp::AdminError(r.status, "set configs: " + r.body);
  }
  put(*t);
  co_return Result<TopicInfo>::success(*t);
}

Task<std::vector<TopicInfo>> Catalog::list_topics() {
  auto work = list_here();
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<TopicInfo>>> Catalog::list_here() {
  co_return Result<std::vector<TopicInfo>>::success(co_await load());
}

}  // namespace kwire_broker::storage::pulsar
