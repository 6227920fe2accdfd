// ApiVersions, Metadata, DescribeCluster, FindCoordinator and InitProducerId.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>

#include "protocol/registry.hpp"
#include "kwire/messages/api_versions_request.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/describe_cluster_request.hpp"
#include "kwire/messages/describe_cluster_response.hpp"
#include "kwire/messages/find_coordinator_request.hpp"
#include "kwire/messages/find_coordinator_response.hpp"
#include "kwire/messages/init_producer_id_request.hpp"
#include "kwire/messages/init_producer_id_response.hpp"
#include "kwire/messages/metadata_request.hpp"
#include "kwire/messages/metadata_response.hpp"
#include "coordinator/txn_coordinator.hpp"
#include "protocol/authorize.hpp"
#include "protocol/internal_topics.hpp"
#include "core/log.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

kwire::Uuid to_uuid(const storage::TopicId& id) {
  kwire::Uuid u;
  u.bytes = id;
  return u;
}

asio::awaitable<void> api_versions(Broker& b, Ctx& ctx, ApiVersionsRequest& req, ApiVersionsResponse& resp) {
  // From v5 a client may say which cluster and node it means to reach (one
  // that re-bootstrapped onto another cluster's address finds out here);
  // Kafka answers a mismatch of either with INVALID_REQUEST.
  if (ctx.version >= 5) {
    const auto& st = b.settings();
    if ((req.cluster_id && *req.cluster_id != st.cluster_id) || (req.node_id >= 0 && req.node_id != st.node_id)) {
      resp.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
      co_return;
    }
  }
  // The transaction APIs only where the store keeps transactions.
  const bool transactions = ctx.realm().transactions() != nullptr;
  const bool shares = ctx.realm().share_groups();
  for (auto& e : handler_table()) {
    if (e.transactional && !transactions) continue;
    if (e.share && !shares) continue;
    ApiVersionsResponse::ApiVersion v;
    v.api_key = e.api_key;
    v.min_version = e.advertised_from();
    v.max_version = e.max_version;
    resp.api_keys.push_back(v);
  }
  // group.version 1 is what enables the consumer group protocol (KIP-848) in
  // Kafka 4; clients and tools read it here.
  if (ctx.version >= 3) {
    ApiVersionsResponse::SupportedFeatureKey supported;
    supported.name = "group.version";
    supported.min_version = 0;
    supported.max_version = 1;
    resp.supported_features.push_back(supported);
    ApiVersionsResponse::FinalizedFeatureKey finalized;
    finalized.name = "group.version";
    finalized.min_version_level = 1;
    finalized.max_version_level = 1;
    resp.finalized_features.push_back(finalized);
    // share.version 1 is share groups as Kafka made them generally
    // available (KIP-932); KafkaShareConsumer refuses a cluster without it.
    if (shares) {
      supported.name = "share.version";
      supported.min_version = 0;
      supported.max_version = 1;
      resp.supported_features.push_back(supported);
      finalized.name = "share.version";
      finalized.min_version_level = 1;
      finalized.max_version_level = 1;
      resp.finalized_features.push_back(finalized);
    }
    resp.finalized_features_epoch = 1;
    // transaction.version 2 is Transactions V2 (KIP-890 part 2): clients
    // that see it finalized end every transaction with an epoch bump and
    // let Produce add partitions. Only where the store keeps transactions,
    // as Kafka 4 finalizes it by default.
    if (transactions) {
      ApiVersionsResponse::SupportedFeatureKey txn_supported;
      txn_supported.name = "transaction.version";
      txn_supported.min_version = 0;
      txn_supported.max_version = 2;
      resp.supported_features.push_back(txn_supported);
      ApiVersionsResponse::FinalizedFeatureKey txn_finalized;
      txn_finalized.name = "transaction.version";
      txn_finalized.min_version_level = 2;
      txn_finalized.max_version_level = 2;
      resp.finalized_features.push_back(txn_finalized);
    }
  }
  co_return;
}

MetadataResponse::MetadataResponseTopic describe_topic(const ClusterView& view, Ctx& ctx, const storage::TopicInfo& t) {
  MetadataResponse::MetadataResponseTopic out;
  out.name = ctx.keep(t.name);
  out.topic_id = to_uuid(t.id);
  out.is_internal = internal_topics::is_internal(t.name);
  for (std::int32_t p = 0; p < t.partitions; ++p) {
    MetadataResponse::MetadataResponsePartition mp;
    mp.partition_index = p;
    // One copy, in the backend: the leader is the gateway that writes it.
    const auto leader = internal_topics::leader_shown(view, t.name, p);
    mp.leader_id = leader;
    mp.leader_epoch = 0;
    mp.replica_nodes.push_back(leader);
    mp.isr_nodes.push_back(leader);
    out.partitions.push_back(std::move(mp));
  }
  return out;
}

using storage::valid_topic_name;

/// Calls f(node, host, port) for every gateway reachable through the
/// session's listener (this one as the session sees it).
template <class F>
void for_each_gateway(const ClusterView& view, Ctx& ctx, F f) {
  for (const auto& g : view.gateways()) {
    if (g.node_id == view.self()) {
      f(g.node_id, std::string_view(ctx.session.advertised->host), std::int32_t{ctx.session.advertised->port});
    } else if (auto e = view.endpoint(g.node_id, ctx.session.listener->name)) {
      f(g.node_id, ctx.keep(e->host), e->port);
    }
  }
}

asio::awaitable<void> metadata(Broker& b, Ctx& ctx, MetadataRequest& req, MetadataResponse& resp) {
  const auto& st = b.settings();
  const auto view = ctx.realm().cluster().view();
  for_each_gateway(view, ctx, [&](std::int32_t node, std::string_view host, std::int32_t port) {
    MetadataResponse::MetadataResponseBroker br;
    br.node_id = node;
    br.host = host;
    br.port = port;
    resp.brokers.push_back(br);
  });
  resp.cluster_id = st.cluster_id;
  resp.controller_id = st.node_id;
  auto& catalog = ctx.realm().store().topics();
  bool all = !req.topics || (ctx.version == 0 && req.topics->empty());
  bool auto_create = st.auto_create_topics && (ctx.version < 4 || req.allow_auto_topic_creation);
  // Every topic the principal may not DESCRIBE is left out of the list of
  // all topics, and answered TOPIC_AUTHORIZATION_FAILED when named.
  auto describable = [&](std::string_view name) { return allowed_on_topic(b, ctx, acl::Operation::describe, name); };
  if (all) {
    auto r = co_await catalog.list_topics();
    for (auto& t : r.value)
      if (!internal_topics::is_internal(t.name) && describable(t.name)) resp.topics.push_back(describe_topic(view, ctx, t));
    if (auto t = internal_topics::group_offsets_topic(ctx.realm()); t && describable(t->name))
      resp.topics.push_back(describe_topic(view, ctx, *t));
  } else {
    // A topic another gateway created is not in this one's memory yet: one
    // refresh of the catalog per request that names an unknown topic.
    for (auto& rt : *req.topics) {
      if (rt.name && !internal_topics::is_internal(*rt.name) && !catalog.find_topic(std::string(*rt.name))) {
        (void)co_await catalog.list_topics();
        break;
      }
    }
    for (auto& rt : *req.topics) {
      if (rt.name && !rt.name->empty() && !describable(*rt.name)) {
        MetadataResponse::MetadataResponseTopic m;
        m.name = *rt.name;
        m.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
        resp.topics.push_back(std::move(m));
        continue;
      }
      std::optional<storage::TopicInfo> t;
      // Asked by name, Kafka creates its internal topic whatever
      // auto.create.topics.enable says, if the request allows creation.
      const bool may_create = ctx.version < 4 || req.allow_auto_topic_creation;
      if (rt.name && *rt.name == internal_topics::group_offsets) {
        t = internal_topics::group_offsets_topic(ctx.realm(), may_create);
      } else if (rt.name && (!rt.name->empty() || rt.topic_id.is_zero())) {
        t = catalog.find_topic(std::string(*rt.name));
      } else if (!rt.topic_id.is_zero()) {
        // By id: the consumer group protocol's members learn their topics'
        // names this way (with an empty name, from Kafka's Java client).
        t = catalog.find_topic(rt.topic_id.bytes);
        if (!t) t = internal_topics::find_by_id(ctx.realm(), rt.topic_id.bytes);
        if (!t || !describable(t->name)) {
          MetadataResponse::MetadataResponseTopic m;
          m.topic_id = rt.topic_id;
          m.error_code = ctx.note(t ? kwire::ErrorCode::TopicAuthorizationFailed : kwire::ErrorCode::UnknownTopicId);
          resp.topics.push_back(std::move(m));
          continue;
        }
      }
      std::string name(rt.name ? *rt.name : std::string_view{});
      kwire::ErrorCode create_error = kwire::ErrorCode::None;
      if (!t && auto_create && valid_topic_name(name) && !internal_topics::is_internal(name)) {
        // Creating needs CREATE on the cluster or on the topic.
        if (!allowed_on_cluster(b, ctx, acl::Operation::create) &&
            !allowed_on_topic(b, ctx, acl::Operation::create, name)) {
          MetadataResponse::MetadataResponseTopic m;
          m.name = ctx.keep(name);
          m.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
          resp.topics.push_back(std::move(m));
          continue;
        }
        auto c = co_await ctx.realm().auto_create(name);
        if (c.ok()) {
          // Kafka answers the request that creates a topic as it answers
          // while the topic is being created: LEADER_NOT_AVAILABLE, no
          // partitions. Clients ask again (and tools that check that a
          // topic they just deleted is gone see it so).
          MetadataResponse::MetadataResponseTopic m;
          m.name = ctx.keep(name);
          m.error_code = ctx.note(kwire::ErrorCode::LeaderNotAvailable);
          resp.topics.push_back(std::move(m));
          continue;
        }
        create_error = to_kafka(c.error);  // e.g. KAFKA_STORAGE_ERROR: out of descriptors or disk
      }
      if (t) {
        resp.topics.push_back(describe_topic(view, ctx, *t));
      } else {
        MetadataResponse::MetadataResponseTopic m;
        m.name = ctx.keep(name);
        m.error_code = ctx.note(create_error != kwire::ErrorCode::None       ? create_error
                                : valid_topic_name(name) ? kwire::ErrorCode::UnknownTopicOrPartition
                                                         : kwire::ErrorCode::InvalidTopicException);
        resp.topics.push_back(std::move(m));
      }
    }
  }
  if (req.include_topic_authorized_operations)
    for (auto& t : resp.topics)
      if (t.error_code == kwire::ErrorCode::None && t.name)
        t.topic_authorized_operations =
            authorized_operations(b, ctx, acl::ResourceType::topic, *t.name, 0b0000'1111'1111'1000);
  if (req.include_cluster_authorized_operations)
    resp.cluster_authorized_operations =
        authorized_operations(b, ctx, acl::ResourceType::cluster, acl::cluster_name, 0b0001'1111'1000);
}

asio::awaitable<void> describe_cluster(Broker& b, Ctx& ctx, DescribeClusterRequest& req, DescribeClusterResponse& resp) {
  const auto& st = b.settings();
  resp.cluster_id = st.cluster_id;
  resp.controller_id = st.node_id;
  if (ctx.version >= 1) resp.endpoint_type = req.endpoint_type;
  for_each_gateway(ctx.realm().cluster().view(), ctx, [&](std::int32_t node, std::string_view host, std::int32_t port) {
    DescribeClusterResponse::DescribeClusterBroker br;
    br.broker_id = node;
    br.host = host;
    br.port = port;
    resp.brokers.push_back(br);
  });
  if (req.include_cluster_authorized_operations)
    resp.cluster_authorized_operations =
        authorized_operations(b, ctx, acl::ResourceType::cluster, acl::cluster_name, 0b0001'1111'1000);
  co_return;
}

constexpr std::string_view several_gateways_refusal =
    "transactions across gateways run only in the namespace the gateways are configured with, and several serve this one";

asio::awaitable<void> find_coordinator(Broker& b, Ctx& ctx, FindCoordinatorRequest& req, FindCoordinatorResponse& resp) {
  const auto& adv = *ctx.session.advertised;
  const auto view = ctx.realm().cluster().view();
  auto answer = [&](std::string_view key, std::int8_t key_type, kwire::ErrorCode& error, nullable_string& message,
                    std::int32_t& node, std::string_view& host, std::int32_t& port) {
    const bool transaction = key_type == 1 && ctx.realm().transactions();
    if (key_type != 0 && !transaction) {
      error = ctx.note(kwire::ErrorCode::CoordinatorNotAvailable);
      message = key_type == 1 ? "this store keeps no transactions" : "unknown coordinator type";
      node = -1;
      host = "";
      port = -1;
      return;
    }
    // DESCRIBE on the group or the transactional id (Kafka's check).
    if (!(transaction ? allowed_on_txn(b, ctx, acl::Operation::describe, key)
                      : allowed_on_group(b, ctx, acl::Operation::describe, key))) {
      error = ctx.note(transaction ? kwire::ErrorCode::TransactionalIdAuthorizationFailed
                                   : kwire::ErrorCode::GroupAuthorizationFailed);
      node = -1;
      host = "";
      port = -1;
      return;
    }
    if (transaction) {
      // Transactional ids are sharded as groups are. Across gateways only
      // in the broker's own namespace: the requests gateways send each other
      // land there (see the storage README, Transactions).
      if (view.gateways().size() > 1 && !ctx.realm().transactions_across_gateways()) {
        error = ctx.note(kwire::ErrorCode::CoordinatorNotAvailable);
        message = several_gateways_refusal;
        node = -1;
        host = "";
        port = -1;
        return;
      }
      node = view.coordinator_of_shard(ctx.realm().store().groups().shard_of(std::string(key)));
    } else {
      ctx.realm().show_group_offsets_topic();  // Kafka creates the offsets topic now
      node = view.coordinator_of_shard(ctx.realm().store().groups().shard_of(std::string(key)));
    }
    if (node == view.self()) {
      host = adv.host;
      port = adv.port;
    } else if (auto e = view.endpoint(node, ctx.session.listener->name)) {
      host = ctx.keep(e->host);
      port = e->port;
    } else {
      error = ctx.note(kwire::ErrorCode::CoordinatorNotAvailable);
      node = -1;
      host = "";
      port = -1;
    }
  };
  if (ctx.version < 4) {
    answer(req.key, req.key_type, resp.error_code, resp.error_message, resp.node_id, resp.host, resp.port);
  } else {
    for (auto key : req.coordinator_keys) {
      FindCoordinatorResponse::Coordinator c;
      c.key = key;
      answer(key, req.key_type, c.error_code, c.error_message, c.node_id, c.host, c.port);
      resp.coordinators.push_back(c);
    }
  }
  co_return;
}

asio::awaitable<void> init_producer_id(Broker& b, Ctx& ctx, InitProducerIdRequest& req, InitProducerIdResponse& resp) {
  resp.producer_id = -1;
  resp.producer_epoch = -1;
  const bool transactional = req.transactional_id && !req.transactional_id->empty();
  // A transactional producer needs WRITE on its id; an idempotent one
  // IDEMPOTENT_WRITE on the cluster or WRITE on some topic.
  if (transactional ? !allowed_on_txn(b, ctx, acl::Operation::write, *req.transactional_id)
                    : !allowed_on_cluster(b, ctx, acl::Operation::idempotent_write) &&
                          !b.authorizer().authorize_any(ctx.session.principal, client_host(ctx.session),
                                                        acl::Operation::write, acl::ResourceType::topic)) {
    resp.error_code = ctx.note(transactional ? kwire::ErrorCode::TransactionalIdAuthorizationFailed
                                             : kwire::ErrorCode::ClusterAuthorizationFailed);
    co_return;
  }
  if (transactional) {
    auto* c = ctx.realm().transactions();
    if (!c) {
      // The store keeps no transactions (and their APIs are not advertised).
      resp.error_code = ctx.note(kwire::ErrorCode::TransactionalIdAuthorizationFailed);
      co_return;
    }
    if (ctx.realm().cluster().view().gateways().size() > 1 && !ctx.realm().transactions_across_gateways()) {
      // A producer that found this gateway before another joined: as in
      // FindCoordinator, refused while several serve the namespace.
      resp.error_code = ctx.note(kwire::ErrorCode::CoordinatorNotAvailable);
      co_return;
    }
    auto op = c->init_producer_id(std::string(*req.transactional_id), req.transaction_timeout_ms,
                                  ctx.version >= 3 ? req.producer_id : -1,
                                  ctx.version >= 3 ? req.producer_epoch : std::int16_t{-1});
    auto r = co_await asio::co_spawn(c->strand(), std::move(op), asio::use_awaitable);
    // Clients before v4 know no PRODUCER_FENCED.
    if (r.error == kwire::ErrorCode::ProducerFenced && ctx.version < 4) r.error = kwire::ErrorCode::InvalidProducerEpoch;
    resp.error_code = ctx.note(r.error);
    if (r.error == kwire::ErrorCode::None) {
      resp.producer_id = r.producer_id;
      resp.producer_epoch = r.producer_epoch;
    }
    co_return;
  }
  if (req.producer_id >= 0 && req.producer_epoch >= 0 && req.producer_epoch < 32766) {
    // An idempotent producer bumping its epoch (KIP-360).
    resp.producer_id = req.producer_id;
    resp.producer_epoch = static_cast<std::int16_t>(req.producer_epoch + 1);
    co_return;
  }
  auto r = co_await ctx.realm().store().allocate_producer_ids(1);
  if (!r.ok()) {
    resp.error_code = ctx.note(kwire::ErrorCode::CoordinatorNotAvailable);
    co_return;
  }
  resp.producer_id = r.value;
  resp.producer_epoch = 0;
}

}  // namespace

std::vector<HandlerEntry> core_handlers() {
  return {
      handler<ApiVersionsRequest, api_versions>(0, 5),
      handler<MetadataRequest, metadata>(0, 13),
      handler<DescribeClusterRequest, describe_cluster>(0, 2),
      handler<FindCoordinatorRequest, find_coordinator>(0, 6),
      handler<InitProducerIdRequest, init_producer_id>(0, 5),
  };
}

}  // namespace kwire_broker
