// DescribeQuorum and ListConfigResources below the wire, on the embedded
// store: the one-voter quorum a single-node cluster has, the config
// resources of each type, and the principals the authorizer refuses.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/describe_quorum_request.hpp"
#include "kwire/messages/describe_quorum_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/find_coordinator_request.hpp"
#include "kwire/messages/find_coordinator_response.hpp"
#include "kwire/messages/incremental_alter_configs_request.hpp"
#include "kwire/messages/incremental_alter_configs_response.hpp"
#include "kwire/messages/list_config_resources_request.hpp"
#include "kwire/messages/list_config_resources_response.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;
using kwire_broker::testing::TempDir;

namespace {

const std::map<std::string, std::string> secured{
    {"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"}, {"super.users", "User:admin"}};

constexpr std::int8_t topic_type = 2, broker_type = 4, broker_logger_type = 8, client_metrics_type = 16,
                      group_type = 32;

struct Fixture {
  explicit Fixture(std::map<std::string, std::string> overrides = {}) : broker(dir.path, with_node(overrides)) {}
  static std::map<std::string, std::string> with_node(std::map<std::string, std::string> o) {
    o["node.id"] = "7";
    return o;
  }
  TempDir dir{"kwire-cluster-admin"};
  InProcessBroker broker;

  void create_topic(std::string_view name) {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = 1;
    t.replication_factor = 1;
    REQUIRE(broker.call<kwire::CreateTopicsResponse>(req, 7).topics.at(0).error_code == ErrorCode::None);
  }

  kwire::DescribeQuorumResponse quorum(std::int16_t v, std::string_view topic = "__cluster_metadata",
                                       std::int32_t partition = 0) {
    kwire::DescribeQuorumRequest req;
    auto& t = req.topics.emplace_back();
    t.topic_name = topic;
    t.partitions.emplace_back().partition_index = partition;
    return broker.call<kwire::DescribeQuorumResponse>(req, v);
  }

  /// (type, name) pairs in the order answered, and the error.
  std::pair<ErrorCode, std::vector<std::pair<std::int8_t, std::string>>> list(std::vector<std::int8_t> types,
                                                                              std::int16_t v = 1) {
    kwire::ListConfigResourcesRequest req;
    for (auto t : types) req.resource_types.push_back(t);
    auto resp = broker.call<kwire::ListConfigResourcesResponse>(req, v);
    std::vector<std::pair<std::int8_t, std::string>> out;
    for (auto& r : resp.config_resources) out.emplace_back(r.resource_type, std::string(r.resource_name));
    return {resp.error_code, out};
  }
};

}  // namespace

TEST_CASE("DescribeQuorum: this node leads __cluster_metadata-0 as its one voter") {
  Fixture f;
  for (std::int16_t v = 0; v <= 2; ++v) {
    CAPTURE(v);
    auto resp = f.quorum(v);
    CHECK(resp.error_code == ErrorCode::None);
    REQUIRE(resp.topics.size() == 1);
    CHECK(resp.topics[0].topic_name == "__cluster_metadata");
    REQUIRE(resp.topics[0].partitions.size() == 1);
    const auto& p = resp.topics[0].partitions[0];
    CHECK(p.partition_index == 0);
    CHECK(p.error_code == ErrorCode::None);
    CHECK(p.leader_id == 7);
    CHECK(p.leader_epoch == 1);
    CHECK(p.high_watermark == 0);
    REQUIRE(p.current_voters.size() == 1);
    CHECK(p.current_voters[0].replica_id == 7);
    CHECK(p.current_voters[0].log_end_offset == p.high_watermark);
    CHECK(p.observers.empty());
    if (v >= 1) {
      CHECK(p.current_voters[0].last_fetch_timestamp > 0);
      CHECK(p.current_voters[0].last_caught_up_timestamp > 0);
    }
    if (v >= 2) {
      CHECK_FALSE(resp.error_message);
      REQUIRE(resp.nodes.size() == 1);
      CHECK(resp.nodes[0].node_id == 7);
      REQUIRE(resp.nodes[0].listeners.size() == 1);
      CHECK(resp.nodes[0].listeners[0].name == "PLAINTEXT");
      CHECK(resp.nodes[0].listeners[0].host == "127.0.0.1");
      CHECK(resp.nodes[0].listeners[0].port == 9092);
    }
  }
}

TEST_CASE("DescribeQuorum of any other partition is UNKNOWN_TOPIC_OR_PARTITION, as Kafka's quorum answers") {
  Fixture f;
  for (auto [topic, partition] : {std::pair{std::string_view("__cluster_metadata"), 1}, std::pair{std::string_view("t"), 0}}) {
    auto resp = f.quorum(2, topic, partition);
    CHECK(resp.error_code == ErrorCode::None);
    REQUIRE(resp.topics.size() == 1);
    CHECK(resp.topics[0].topic_name == topic);
    REQUIRE(resp.topics[0].partitions.size() == 1);
    CHECK(resp.topics[0].partitions[0].partition_index == partition);
    CHECK(resp.topics[0].partitions[0].error_code == ErrorCode::UnknownTopicOrPartition);
    CHECK(resp.nodes.empty());
  }
}

TEST_CASE("ListConfigResources: groups with configs, the broker, topics; by type; v0 lists client metrics only") {
  Fixture f;
  f.create_topic("b-topic");
  f.create_topic("a-topic");
  kwire::IncrementalAlterConfigsRequest alter;
  auto& res = alter.resources.emplace_back();
  res.resource_type = group_type;
  res.resource_name = "configured";
  auto& c = res.configs.emplace_back();
  c.name = "share.record.lock.duration.ms";
  c.config_operation = 0;
  c.value = "20000";
  REQUIRE(f.broker.call<kwire::IncrementalAlterConfigsResponse>(alter, 1).responses.at(0).error_code == ErrorCode::None);

  using Rows = std::vector<std::pair<std::int8_t, std::string>>;
  const Rows all{{group_type, "configured"}, {broker_type, "7"}, {topic_type, "a-topic"}, {topic_type, "b-topic"}};
  CHECK(f.list({}) == std::pair{ErrorCode::None, all});
  CHECK(f.list({topic_type, broker_type, group_type, client_metrics_type, broker_logger_type}) ==
        std::pair{ErrorCode::None, all});
  CHECK(f.list({topic_type, topic_type}) ==
        std::pair{ErrorCode::None, Rows{{topic_type, "a-topic"}, {topic_type, "b-topic"}}});
  CHECK(f.list({broker_type}) == std::pair{ErrorCode::None, Rows{{broker_type, "7"}}});
  CHECK(f.list({group_type}) == std::pair{ErrorCode::None, Rows{{group_type, "configured"}}});
  CHECK(f.list({client_metrics_type}) == std::pair{ErrorCode::None, Rows{}});
  CHECK(f.list({}, 0) == std::pair{ErrorCode::None, Rows{}});
  // A type Kafka does not list fails the whole request.
  CHECK(f.list({topic_type, 64}) == std::pair{ErrorCode::UnsupportedVersion, Rows{}});
  CHECK(f.list({1}) == std::pair{ErrorCode::UnsupportedVersion, Rows{}});

  // The group-offsets topic is listed once it is shown.
  kwire::FindCoordinatorRequest find;
  find.key_type = 0;
  find.coordinator_keys.push_back("some-group");
  REQUIRE(f.broker.call<kwire::FindCoordinatorResponse>(find, 4).coordinators.at(0).error_code == ErrorCode::None);
  CHECK(f.list({topic_type}) == std::pair{ErrorCode::None, Rows{{topic_type, "__consumer_offsets"},
                                                                {topic_type, "a-topic"},
                                                                {topic_type, "b-topic"}}});
}

TEST_CASE("with an authorizer: DESCRIBE on the cluster for the quorum, DESCRIBE_CONFIGS to list config resources") {
  Fixture f(secured);
  f.broker.session().principal = "User:alice";
  for (std::int16_t v = 0; v <= 2; ++v) {
    auto resp = f.quorum(v);
    CHECK(resp.error_code == ErrorCode::ClusterAuthorizationFailed);
    CHECK(resp.topics.empty());
  }
  CHECK(f.list({}).first == ErrorCode::ClusterAuthorizationFailed);
  CHECK(f.list({}).second.empty());
  CHECK(f.list({}, 0).first == ErrorCode::ClusterAuthorizationFailed);
  f.broker.session().principal = "User:admin";
  CHECK(f.quorum(2).error_code == ErrorCode::None);
  CHECK(f.list({broker_type}) == std::pair{ErrorCode::None, std::vector<std::pair<std::int8_t, std::string>>{
                                                                 {broker_type, "7"}}});
}
