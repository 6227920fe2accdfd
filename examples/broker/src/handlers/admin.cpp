// CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs
// and IncrementalAlterConfigs.
#include <algorithm>
#include <set>
#include <string_view>

#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"
#include "kwire/messages/alter_configs_request.hpp"
#include "kwire/messages/alter_configs_response.hpp"
#include "kwire/messages/create_partitions_request.hpp"
#include "kwire/messages/create_partitions_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/delete_topics_request.hpp"
#include "kwire/messages/delete_topics_response.hpp"
#include "kwire/messages/describe_configs_request.hpp"
#include "kwire/messages/describe_configs_response.hpp"
#include "kwire/messages/incremental_alter_configs_request.hpp"
#include "kwire/messages/incremental_alter_configs_response.hpp"
#include "protocol/internal_topics.hpp"
#include "core/log.hpp"
#include "core/topic_configs.hpp"
#include "handlers/share_groups.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

constexpr std::int8_t resource_topic = 2;
constexpr std::int8_t resource_broker = 4;
constexpr std::int8_t resource_group = 32;
constexpr std::int8_t source_dynamic_topic = 1;
constexpr std::int8_t source_static_broker = 4;
constexpr std::int8_t source_default = 5;
constexpr std::int8_t source_group = 8;  // GROUP_CONFIG

/// A max.message.bytes (topic) or message.max.bytes (broker) value as it is
/// enforced: never above what the store keeps. A topic may be configured
/// higher (the setting is kept, and counts again on a store that takes
/// more), but producers get MESSAGE_TOO_LARGE past the store's limit.
std::string effective_max_message_bytes(Ctx& ctx, std::string_view configured) {
  const auto limit = ctx.realm().store().max_batch_bytes();
  try {
    if (std::stoll(std::string(configured)) <= limit) return std::string(configured);
  } catch (...) {
  }
  return std::to_string(limit);
}

using storage::valid_topic_name;

/// The ACL check of a config resource: a topic's configs by the topic, the
/// broker's by the cluster. Returns the error to answer, or None.
kwire::ErrorCode config_access(Broker& b, const Ctx& ctx, std::int8_t resource_type, std::string_view name,
                               acl::Operation op) {
  if (resource_type == resource_topic)
    return allowed_on_topic(b, ctx, op, name) ? kwire::ErrorCode::None : kwire::ErrorCode::TopicAuthorizationFailed;
  if (resource_type == resource_broker)
    return allowed_on_cluster(b, ctx, op) ? kwire::ErrorCode::None : kwire::ErrorCode::ClusterAuthorizationFailed;
  if (resource_type == resource_group)
    return allowed_on_group(b, ctx, op, name) ? kwire::ErrorCode::None : kwire::ErrorCode::GroupAuthorizationFailed;
  return kwire::ErrorCode::None;
}

asio::awaitable<void> create_topics(Broker& b, Ctx& ctx, CreateTopicsRequest& req, CreateTopicsResponse& resp) {
  // CREATE on the cluster allows every topic; otherwise on each topic.
  const bool cluster_create = allowed_on_cluster(b, ctx, acl::Operation::create);
  const auto& st = b.settings();
  auto& catalog = ctx.realm().store().topics();
  // A name the request holds more than once is created under none of its
  // entries, and answered once with INVALID_REQUEST, as Kafka does.
  std::set<std::string_view> seen, repeated;
  for (auto& t : req.topics)
    if (!seen.insert(t.name).second) repeated.insert(t.name);
  std::set<std::string_view> answered;
  for (auto& t : req.topics) {
    if (repeated.count(t.name) && !answered.insert(t.name).second) continue;
    auto& r = resp.topics.emplace_back();
    r.name = t.name;
    r.num_partitions = -1;
    r.replication_factor = -1;
    auto fail = [&](kwire::ErrorCode code, std::string msg) {
      r.error_code = ctx.note(code);
      r.error_message = ctx.keep(std::move(msg));
      if (ctx.version >= 5) r.configs = std::nullopt;
    };
    if (repeated.count(t.name)) {
      fail(kwire::ErrorCode::InvalidRequest, "Duplicate topic name.");
      continue;
    }
    std::string name(t.name);
    if (!cluster_create && !allowed_on_topic(b, ctx, acl::Operation::create, name)) {
      fail(kwire::ErrorCode::TopicAuthorizationFailed, "Authorization failed.");
      continue;
    }
    if (!valid_topic_name(name)) {
      fail(kwire::ErrorCode::InvalidTopicException, "Topic name '" + name + "' is illegal");
      continue;
    }
    if (internal_topics::is_internal(name)) {
      // Kafka's own topics are kept by the broker, never in the catalog; the
      // group-offsets one exists as soon as anyone asks for it.
      if (name == internal_topics::group_offsets) internal_topics::group_offsets_topic(ctx.realm(), true);
      fail(kwire::ErrorCode::TopicAlreadyExists, "Topic '" + name + "' already exists.");
      continue;
    }
    storage::NewTopic nt;
    nt.name = name;
    nt.partitions = t.num_partitions == -1 ? st.num_partitions : t.num_partitions;
    if (!t.assignments.empty()) {
      nt.partitions = static_cast<std::int32_t>(t.assignments.size());
      bool ok = true;
      for (auto& a : t.assignments)
        if (a.broker_ids.size() != 1 || a.broker_ids[0] != st.node_id) ok = false;
      if (ok && t.num_partitions != -1) ok = false;
      if (!ok) {
        fail(kwire::ErrorCode::InvalidReplicaAssignment, "Replica assignments may name only broker " + std::to_string(st.node_id));
        continue;
      }
    }
    if (nt.partitions <= 0) {
      fail(kwire::ErrorCode::InvalidPartitions, "Number of partitions must be larger than 0.");
      continue;
    }
    if (t.replication_factor != -1 && t.replication_factor != 1) {
      fail(kwire::ErrorCode::InvalidReplicationFactor, "Replication factor: " + std::to_string(t.replication_factor) +
                                                " larger than available brokers: 1.");
      continue;
    }
    std::optional<std::string> bad;
    for (auto& c : t.configs) {
      if (!c.value) continue;
      if ((bad = check_topic_config(st, std::string(c.name), std::string(*c.value)))) break;
      nt.configs[std::string(c.name)] = std::string(*c.value);
    }
    if (bad) {
      fail(kwire::ErrorCode::InvalidConfig, *bad);
      continue;
    }
    storage::TopicInfo info;
    if (req.validate_only) {
      if (catalog.find_topic(name)) {
        fail(kwire::ErrorCode::TopicAlreadyExists, "Topic '" + name + "' already exists.");
        continue;
      }
      info.name = name;
      info.partitions = nt.partitions;
      info.configs = nt.configs;
    } else {
      auto cr = co_await catalog.create_topic(std::move(nt));
      if (!cr.ok()) {
        fail(to_kafka(cr.error), cr.error == storage::Errc::topic_exists ? "Topic '" + name + "' already exists."
                                                                          : cr.message);
        continue;
      }
      info = cr.value;
      KB_INFO("created topic {} with {} partition(s)", name, info.partitions);
    }
    r.topic_id.bytes = info.id;
    r.num_partitions = info.partitions;
    r.replication_factor = 1;
    if (ctx.version >= 5 && r.configs) {
      for (auto& d : topic_config_defs(st)) {
        CreateTopicsResponse::CreatableTopicConfigs c;
        c.name = d.name;
        auto it = info.configs.find(d.name);
        c.value = it != info.configs.end() ? ctx.keep(it->second) : std::string_view(d.default_value);
        if (d.name == "max.message.bytes") c.value = ctx.keep(effective_max_message_bytes(ctx, *c.value));
        c.config_source = it != info.configs.end() ? source_dynamic_topic : source_default;
        c.read_only = false;
        c.is_sensitive = false;
        r.configs->push_back(c);
      }
    }
  }
}

asio::awaitable<void> delete_topics(Broker& b, Ctx& ctx, DeleteTopicsRequest& req, DeleteTopicsResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  std::vector<std::pair<std::optional<std::string>, kwire::Uuid>> wanted;
  if (ctx.version >= 6) {
    for (auto& t : req.topics) wanted.emplace_back(t.name ? std::optional<std::string>(*t.name) : std::nullopt, t.topic_id);
  } else {
    for (auto n : req.topic_names) wanted.emplace_back(std::string(n), kwire::Uuid{});
  }
  for (auto& [name, id] : wanted) {
    auto& r = resp.responses.emplace_back();
    std::optional<storage::TopicInfo> info;
    if (name) {
      r.name = ctx.keep(*name);
      info = catalog.find_topic(*name);
    } else {
      r.name = std::nullopt;
      info = catalog.find_topic(id.bytes);
    }
    r.topic_id = id;
    // DELETE on the topic; by id, an unknown id has no name to check.
    const std::optional<std::string> checked = name ? name : info ? std::optional<std::string>(info->name) : std::nullopt;
    if (checked && !allowed_on_topic(b, ctx, acl::Operation::del, *checked)) {
      r.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
      continue;
    }
    const auto internal = name ? internal_topics::find(ctx.realm(), *name) : internal_topics::find_by_id(ctx.realm(), id.bytes);
    if (internal) {
      r.name = ctx.keep(internal->name);
      r.topic_id.bytes = internal->id;
      r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
      r.error_message = ctx.keep("Cannot delete internal topic " + internal->name);
      continue;
    }
    if (!info) {
      r.error_code = ctx.note(name ? kwire::ErrorCode::UnknownTopicOrPartition : kwire::ErrorCode::UnknownTopicId);
      continue;
    }
    r.name = ctx.keep(info->name);
    r.topic_id.bytes = info->id;
    std::string doomed = info->name;
    auto dr = co_await catalog.delete_topic(std::move(doomed));
    if (!dr.ok()) {
      r.error_code = ctx.note(to_kafka(dr.error));
      continue;
    }
    ctx.realm().forget_logs(info->name);
    KB_INFO("deleted topic {}", info->name);
  }
}

asio::awaitable<void> create_partitions(Broker& b, Ctx& ctx, CreatePartitionsRequest& req,
                                        CreatePartitionsResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (auto& t : req.topics) {
    auto& r = resp.results.emplace_back();
    r.name = t.name;
    auto info = catalog.find_topic(std::string(t.name));
    if (!allowed_on_topic(b, ctx, acl::Operation::alter, t.name)) {
      r.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
      continue;
    }
    if (internal_topics::find(ctx.realm(), t.name)) {
      // Its partitions are the group shards: their number is the storage's.
      r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
      r.error_message = ctx.keep("The partitions of internal topic " + std::string(t.name) + " are fixed");
      continue;
    }
    if (!info) {
      r.error_code = ctx.note(kwire::ErrorCode::UnknownTopicOrPartition);
      continue;
    }
    if (t.count <= info->partitions) {
      r.error_code = ctx.note(kwire::ErrorCode::InvalidPartitions);
      r.error_message = ctx.keep("Topic currently has " + std::to_string(info->partitions) +
                                 " partitions, which is higher than the requested " + std::to_string(t.count) + ".");
      continue;
    }
    if (req.validate_only) continue;
    std::string grown = info->name;
    auto gr = co_await catalog.add_partitions(std::move(grown), t.count);
    if (!gr.ok()) {
      r.error_code = ctx.note(to_kafka(gr.error));
      if (!gr.message.empty()) r.error_message = ctx.keep(gr.message);
      continue;
    }
    KB_INFO("topic {} now has {} partitions", info->name, t.count);
  }
}

asio::awaitable<void> describe_configs(Broker& b, Ctx& ctx, DescribeConfigsRequest& req, DescribeConfigsResponse& resp) {
  const auto& st = b.settings();
  auto& catalog = ctx.realm().store().topics();
  for (auto& res : req.resources) {
    auto& r = resp.results.emplace_back();
    r.resource_type = res.resource_type;
    r.resource_name = res.resource_name;
    auto wanted = [&](std::string_view name) {
      if (!res.configuration_keys || res.configuration_keys->empty()) return true;
      for (auto k : *res.configuration_keys)
        if (k == name) return true;
      return false;
    };
    if (auto denied = config_access(b, ctx, res.resource_type, res.resource_name, acl::Operation::describe_configs);
        denied != kwire::ErrorCode::None) {
      r.error_code = ctx.note(denied);
      continue;
    }
    if (res.resource_type == resource_topic) {
      auto info = catalog.find_topic(std::string(res.resource_name));
      if (!info) info = internal_topics::find(ctx.realm(), res.resource_name);
      if (!info) {
        r.error_code = ctx.note(kwire::ErrorCode::UnknownTopicOrPartition);
        r.error_message = ctx.keep("Topic " + std::string(res.resource_name) + " does not exist");
        continue;
      }
      for (auto& d : topic_config_defs(st)) {
        if (!wanted(d.name)) continue;
        DescribeConfigsResponse::DescribeConfigsResourceResult c;
        c.name = d.name;
        auto it = info->configs.find(d.name);
        bool set = it != info->configs.end();
        c.value = set ? ctx.keep(it->second) : std::string_view(d.default_value);
        if (d.name == "max.message.bytes") c.value = ctx.keep(effective_max_message_bytes(ctx, *c.value));
        c.read_only = false;
        if (ctx.version == 0) c.is_default = !set;
        c.config_source = set ? source_dynamic_topic : source_default;
        c.is_sensitive = false;
        c.config_type = d.type;
        if (req.include_synonyms && set) {
          DescribeConfigsResponse::DescribeConfigsSynonym syn;
          syn.name = d.name;
          syn.value = c.value;
          syn.source = source_dynamic_topic;
          c.synonyms.push_back(syn);
        }
        r.configs.push_back(c);
      }
    } else if (res.resource_type == resource_broker) {
      if (!res.resource_name.empty() && res.resource_name != std::to_string(st.node_id)) {
        r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
        r.error_message = ctx.keep("Unexpected broker id " + std::string(res.resource_name));
        continue;
      }
      std::vector<std::pair<std::string, std::string>> props = {
          {"node.id", std::to_string(st.node_id)},
          {"broker.id", std::to_string(st.node_id)},
          {"num.partitions", std::to_string(st.num_partitions)},
          {"auto.create.topics.enable", st.auto_create_topics ? "true" : "false"},
          {"log.dirs", st.data_dir},
          {"message.max.bytes", effective_max_message_bytes(ctx, std::to_string(st.message_max_bytes))},
          {"socket.request.max.bytes", std::to_string(st.max_request_bytes)},
          {"connections.max.idle.ms", std::to_string(st.idle_ms)},
          {"default.replication.factor", "1"},
          {"offsets.topic.replication.factor", "1"},
          {"log.retention.ms", std::to_string(st.retention_ms)},
          {"log.retention.bytes", std::to_string(st.retention_bytes)},
          {"log.segment.bytes", std::to_string(st.segment_bytes)},
          {"group.initial.rebalance.delay.ms", std::to_string(st.group_initial_rebalance_delay_ms)},
          {"group.min.session.timeout.ms", std::to_string(st.group_min_session_ms)},
          {"group.max.session.timeout.ms", std::to_string(st.group_max_session_ms)},
      };
      for (auto& [k, v] : props) {
        if (!wanted(k)) continue;
        DescribeConfigsResponse::DescribeConfigsResourceResult c;
        c.name = ctx.keep(k);
        c.value = ctx.keep(v);
        c.read_only = true;
        c.config_source = source_static_broker;
        c.config_type = 2;
        r.configs.push_back(c);
      }
    } else if (res.resource_type == resource_group && ctx.realm().share_groups()) {
      std::string group(res.resource_name);  // named: g++ 12 mishandles temporaries in co_await
      auto configs = co_await describe_group_configs(ctx, std::move(group));
      for (auto& e : configs) {
        if (!wanted(e.name)) continue;
        DescribeConfigsResponse::DescribeConfigsResourceResult c;
        c.name = ctx.keep(e.name);
        c.value = ctx.keep(e.value);
        c.config_source = e.set_for_group ? source_group : source_default;
        c.config_type = e.type;
        r.configs.push_back(c);
      }
    } else {
      r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
      r.error_message = ctx.keep("Unsupported resource type " + std::to_string(res.resource_type));
    }
  }
  co_return;
}

/// Applies changes to a topic's configs (after validating all of them).
asio::awaitable<std::pair<kwire::ErrorCode, std::string>> apply_configs(Broker& b, Ctx& ctx, const std::string& topic,
                                                                        std::vector<storage::ConfigChange> changes,
                                                                        bool validate_only) {
  for (auto& c : changes) {
    if (c.op == storage::ConfigChange::Op::set) {
      if (auto bad = check_topic_config(b.settings(), c.key, c.value)) co_return std::pair{kwire::ErrorCode::InvalidConfig, *bad};
    } else if (!find_topic_config(b.settings(), c.key)) {
      co_return std::pair{kwire::ErrorCode::InvalidConfig, "Unknown topic config name: " + c.key};
    }
  }
  if (internal_topics::find(ctx.realm(), topic))
    co_return std::pair{kwire::ErrorCode::InvalidRequest, "The configs of internal topic " + topic + " are fixed"};
  if (!ctx.realm().store().topics().find_topic(topic))
    co_return std::pair{kwire::ErrorCode::UnknownTopicOrPartition, "Topic " + topic + " does not exist"};
  if (validate_only) co_return std::pair{kwire::ErrorCode::None, std::string()};
  std::string altered = topic;
  auto r = co_await ctx.realm().store().topics().alter_configs(std::move(altered), std::move(changes));
  if (!r.ok()) co_return std::pair{to_kafka(r.error), r.message};
  KB_INFO("altered configs of topic {}", topic);
  co_return std::pair{kwire::ErrorCode::None, std::string()};
}

asio::awaitable<void> incremental_alter_configs(Broker& b, Ctx& ctx, IncrementalAlterConfigsRequest& req,
                                                IncrementalAlterConfigsResponse& resp) {
  for (auto& res : req.resources) {
    auto& r = resp.responses.emplace_back();
    r.resource_type = res.resource_type;
    r.resource_name = res.resource_name;
    if (auto denied = config_access(b, ctx, res.resource_type, res.resource_name, acl::Operation::alter_configs);
        denied != kwire::ErrorCode::None) {
      r.error_code = ctx.note(denied);
      continue;
    }
    if (res.resource_type == resource_group && ctx.realm().share_groups()) {
      std::vector<GroupConfigChange> changes;
      for (auto& c : res.configs)
        changes.push_back({std::string(c.name), c.config_operation, std::string(c.value ? *c.value : std::string_view{})});
      std::string group(res.resource_name);  // named: g++ 12 mishandles temporaries in co_await
      auto [code, msg] = co_await alter_group_configs(ctx, std::move(group), std::move(changes), req.validate_only);
      r.error_code = ctx.note(code);
      if (code != kwire::ErrorCode::None) r.error_message = ctx.keep(msg);
      continue;
    }
    if (res.resource_type == resource_broker) {
      // The broker's configs are static: no dynamic one is ever set, so
      // deleting any (kafka-reassign-partitions clears its throttle rates
      // so) leaves everything as it is, as in Kafka.
      const bool deletes_only = std::all_of(res.configs.begin(), res.configs.end(),
                                            [](const auto& c) { return c.config_operation == 1; });
      if (!res.resource_name.empty() && res.resource_name != std::to_string(b.settings().node_id)) {
        r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
        r.error_message = ctx.keep("Unexpected broker id " + std::string(res.resource_name));
      } else if (!deletes_only) {
        r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
        r.error_message = "Broker configs are static: they can only be deleted as dynamic configs, which none are";
      }
      continue;
    }
    if (res.resource_type != resource_topic) {
      r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
      r.error_message = "Only topic configs can be altered";
      continue;
    }
    std::string topic(res.resource_name);
    auto info = ctx.realm().store().topics().find_topic(topic);
    std::vector<storage::ConfigChange> changes;
    kwire::ErrorCode code = kwire::ErrorCode::None;
    std::string msg;
    for (auto& c : res.configs) {
      std::string key(c.name), value(c.value ? *c.value : std::string_view{});
      switch (c.config_operation) {
        case 0: changes.push_back({key, storage::ConfigChange::Op::set, value}); break;
        case 1: changes.push_back({key, storage::ConfigChange::Op::remove, {}}); break;
        case 2:    // APPEND
        case 3: {  // SUBTRACT: list configs only
          auto* d = find_topic_config(b.settings(), key);
          if (!d || d->type != 7) {
            code = kwire::ErrorCode::InvalidConfig;
            msg = "Config " + key + " is not a list";
            break;
          }
          std::string cur = d->default_value;
          if (info)
            if (auto it = info->configs.find(key); it != info->configs.end()) cur = it->second;
          if (c.config_operation == 2) {
            if (("," + cur + ",").find("," + value + ",") == std::string::npos) cur = cur.empty() ? value : cur + "," + value;
          } else {
            std::string out;
            std::stringstream ss(cur);
            for (std::string item; std::getline(ss, item, ',');)
              if (item != value) out += (out.empty() ? "" : ",") + item;
            cur = out;
          }
          changes.push_back({key, storage::ConfigChange::Op::set, cur});
          break;
        }
        default: code = kwire::ErrorCode::InvalidRequest; msg = "Unknown config operation";
      }
    }
    if (code == kwire::ErrorCode::None)
      std::tie(code, msg) = co_await apply_configs(b, ctx, topic, std::move(changes), req.validate_only);
    r.error_code = ctx.note(code);
    if (code != kwire::ErrorCode::None) r.error_message = ctx.keep(msg);
  }
}

asio::awaitable<void> alter_configs(Broker& b, Ctx& ctx, AlterConfigsRequest& req, AlterConfigsResponse& resp) {
  for (auto& res : req.resources) {
    auto& r = resp.responses.emplace_back();
    r.resource_type = res.resource_type;
    r.resource_name = res.resource_name;
    if (auto denied = config_access(b, ctx, res.resource_type, res.resource_name, acl::Operation::alter_configs);
        denied != kwire::ErrorCode::None) {
      r.error_code = ctx.note(denied);
      continue;
    }
    if (res.resource_type != resource_topic) {
      r.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
      r.error_message = "Only topic configs can be altered";
      continue;
    }
    std::string topic(res.resource_name);
    std::vector<storage::ConfigChange> changes;
    std::set<std::string> named;
    for (auto& c : res.configs) {
      named.insert(std::string(c.name));
      if (c.value)
        changes.push_back({std::string(c.name), storage::ConfigChange::Op::set, std::string(*c.value)});
      else
        changes.push_back({std::string(c.name), storage::ConfigChange::Op::remove, {}});
    }
    // AlterConfigs replaces the whole set: configs not named go back to defaults.
    if (auto info = ctx.realm().store().topics().find_topic(topic))
      for (auto& [k, _] : info->configs)
        if (!named.count(k)) changes.push_back({k, storage::ConfigChange::Op::remove, {}});
    auto [code, msg] = co_await apply_configs(b, ctx, topic, std::move(changes), req.validate_only);
    r.error_code = ctx.note(code);
    if (code != kwire::ErrorCode::None) r.error_message = ctx.keep(msg);
  }
}

}  // namespace

std::vector<HandlerEntry> admin_handlers() {
  return {
      handler<CreateTopicsRequest, create_topics>(0, 7),
      handler<DeleteTopicsRequest, delete_topics>(0, 6),
      handler<CreatePartitionsRequest, create_partitions>(0, 3),
      handler<DescribeConfigsRequest, describe_configs>(0, 4),
      handler<AlterConfigsRequest, alter_configs>(0, 2),
      handler<IncrementalAlterConfigsRequest, incremental_alter_configs>(0, 1),
  };
}

}  // namespace kwire_broker
