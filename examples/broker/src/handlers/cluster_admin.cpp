// What a Kafka 4 cluster's administrators ask of its metadata beyond topics:
// DescribeQuorum (the KRaft quorum, kafka-metadata-quorum) and
// ListConfigResources (KIP-1142: which resources have configs).
#include <algorithm>
#include <set>
#include <string>

#include "core/realm.hpp"
#include "handlers/share_groups.hpp"
#include "kwire/messages/describe_quorum_request.hpp"
#include "kwire/messages/describe_quorum_response.hpp"
#include "kwire/messages/list_config_resources_request.hpp"
#include "kwire/messages/list_config_resources_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/internal_topics.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

constexpr std::string_view metadata_topic = "__cluster_metadata";

bool asks_for_metadata_partition(const DescribeQuorumRequest& req) {
  return req.topics.size() == 1 && req.topics[0].topic_name == metadata_topic &&
         req.topics[0].partitions.size() == 1 && req.topics[0].partitions[0].partition_index == 0;
}

/// Kafka 4 keeps its metadata in a KRaft quorum, which kafka-metadata-quorum
/// describes. kwire has no metadata log: topics, configs, ACLs and
/// credentials are the store's, each change made there directly. What it
/// answers is the quorum a single-node Kafka has, with the log of that
/// absent metadata: this gateway leads it as its one voter (it also names
/// itself controller in Metadata and DescribeCluster), at epoch 1, and the
/// high watermark and log end are 0, the log holding no records. Other
/// gateways of the store are observers.
asio::awaitable<void> describe_quorum(Broker& b, Ctx& ctx, DescribeQuorumRequest& req, DescribeQuorumResponse& resp) {
  if (ctx.version >= 2) resp.error_message = std::nullopt;
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe)) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    co_return;
  }
  if (!asks_for_metadata_partition(req)) {
    // Kafka answers each partition asked for with the error.
    for (auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.topic_name = t.topic_name;
      for (auto& p : t.partitions) {
        DescribeQuorumResponse::PartitionData pd;
        pd.partition_index = p.partition_index;
        pd.error_code = ctx.note(ErrorCode::UnknownTopicOrPartition);
        pd.error_message = std::nullopt;
        pd.leader_id = -1;
        pd.leader_epoch = -1;
        pd.high_watermark = -1;
        rt.partitions.push_back(std::move(pd));
      }
    }
    co_return;
  }
  const auto& st = b.settings();
  const auto view = ctx.realm().cluster().view();
  constexpr std::int64_t log_end = 0;
  const std::int64_t now = now_ms();
  auto replica = [&](std::int32_t node) {
    DescribeQuorumResponse::ReplicaState r;
    r.replica_id = node;  // no directory id: zero, as Kafka's static quorums show
    r.log_end_offset = log_end;
    if (ctx.version >= 1) {
      r.last_fetch_timestamp = now;  // caught up now, as Kafka reports its leader
      r.last_caught_up_timestamp = now;
    }
    return r;
  };
  DescribeQuorumResponse::PartitionData pd;
  pd.partition_index = 0;
  pd.error_code = ErrorCode::None;
  pd.error_message = std::nullopt;
  pd.leader_id = st.node_id;
  pd.leader_epoch = 1;
  pd.high_watermark = log_end;
  pd.current_voters.push_back(replica(st.node_id));
  for (const auto& g : view.gateways())
    if (g.node_id != st.node_id) pd.observers.push_back(replica(g.node_id));
  auto& topic = resp.topics.emplace_back();
  topic.topic_name = metadata_topic;
  topic.partitions.push_back(std::move(pd));
  if (ctx.version >= 2) {
    DescribeQuorumResponse::Node self;
    self.node_id = st.node_id;
    for (const auto& a : st.advertised) {
      DescribeQuorumResponse::Listener l;
      l.name = a.name;
      l.host = a.host;
      l.port = a.port;
      self.listeners.push_back(l);
    }
    resp.nodes.push_back(std::move(self));
  }
}

// Kafka's ConfigResource types.
constexpr std::int8_t type_topic = 2, type_broker = 4, type_broker_logger = 8, type_client_metrics = 16,
                      type_group = 32;

/// ListConfigResources v1 (KIP-1142; v0 was ListClientMetricsResources and
/// lists client metrics subscriptions only). No types: every type. A type
/// Kafka does not list makes the whole request UNSUPPORTED_VERSION. Rows
/// come by type in Kafka's order (groups, client metrics, broker loggers,
/// brokers, topics), names sorted within one. kwire keeps no client
/// metrics subscriptions and no broker loggers one could configure
/// (DescribeConfigs serves neither), so it lists none of either.
asio::awaitable<void> list_config_resources(Broker& b, Ctx& ctx, ListConfigResourcesRequest& req,
                                            ListConfigResourcesResponse& resp) {
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe_configs)) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    co_return;
  }
  if (ctx.version < 1) co_return;  // client metrics only: none
  const std::set<std::int8_t> known{type_topic, type_broker, type_broker_logger, type_client_metrics, type_group};
  for (auto t : req.resource_types)
    if (!known.count(t)) {
      resp.error_code = ctx.note(ErrorCode::UnsupportedVersion);
      co_return;
    }
  auto wants = [&](std::int8_t t) {
    return req.resource_types.empty() ||
           std::find(req.resource_types.begin(), req.resource_types.end(), t) != req.resource_types.end();
  };
  auto add = [&](std::int8_t type, std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
      ListConfigResourcesResponse::ConfigResource r;
      r.resource_name = ctx.keep(std::move(n));
      r.resource_type = type;
      resp.config_resources.push_back(r);
    }
  };
  if (wants(type_group) && ctx.realm().share_groups()) {
    auto groups = co_await groups_with_configs(ctx);
    add(type_group, std::move(groups));
  }
  if (wants(type_broker)) {
    // The brokers a client of this listener can reach, as Kafka lists them.
    const auto view = ctx.realm().cluster().view();
    std::vector<std::int32_t> ids;
    for (const auto& g : view.gateways())
      if (g.node_id == view.self() || view.endpoint(g.node_id, ctx.session.listener->name)) ids.push_back(g.node_id);
    std::sort(ids.begin(), ids.end());
    for (auto id : ids) {
      ListConfigResourcesResponse::ConfigResource r;
      r.resource_name = ctx.keep(std::to_string(id));
      r.resource_type = type_broker;
      resp.config_resources.push_back(r);
    }
  }
  if (wants(type_topic)) {
    auto listed = co_await ctx.realm().store().topics().list_topics();
    std::vector<std::string> names;
    for (auto& t : listed.value)
      if (!internal_topics::is_internal(t.name)) names.push_back(t.name);
    if (auto t = internal_topics::group_offsets_topic(ctx.realm())) names.push_back(t->name);
    add(type_topic, std::move(names));
  }
}

}  // namespace

std::vector<HandlerEntry> cluster_admin_handlers() {
  return {
      handler<DescribeQuorumRequest, describe_quorum>(0, 2),
      handler<ListConfigResourcesRequest, list_config_resources>(0, 1),
  };
}

}  // namespace kwire_broker
