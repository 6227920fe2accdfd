// The replica admin APIs below the wire, on the embedded store of a
// one-node cluster: DescribeLogDirs, AlterReplicaLogDirs, ElectLeaders,
// AlterPartitionReassignments and ListPartitionReassignments, at each
// version served, with Kafka's answers for unknown topics and partitions and
// for principals the authorizer refuses.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kwire/messages/alter_partition_reassignments_request.hpp"
#include "kwire/messages/alter_partition_reassignments_response.hpp"
#include "kwire/messages/alter_replica_log_dirs_request.hpp"
#include "kwire/messages/alter_replica_log_dirs_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/describe_log_dirs_request.hpp"
#include "kwire/messages/describe_log_dirs_response.hpp"
#include "kwire/messages/elect_leaders_request.hpp"
#include "kwire/messages/elect_leaders_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/incremental_alter_configs_request.hpp"
#include "kwire/messages/incremental_alter_configs_response.hpp"
#include "kwire/messages/list_partition_reassignments_request.hpp"
#include "kwire/messages/list_partition_reassignments_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/records/records.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;
using kwire_broker::testing::TempDir;

namespace {

const std::map<std::string, std::string> secured{
    {"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"}, {"super.users", "User:admin"}};

struct Fixture {
  explicit Fixture(std::map<std::string, std::string> overrides = {}) : broker(dir.path, overrides) {}
  TempDir dir{"kwire-replicas"};
  InProcessBroker broker;

  /// The log directory as Kafka names it: absolute, no trailing separator.
  std::string log_dir() const { return fs::absolute(dir.path).lexically_normal().string(); }

  void create_topic(std::string_view name, std::int32_t partitions) {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    auto resp = broker.call<kwire::CreateTopicsResponse>(req, 7);
    REQUIRE(resp.topics.size() == 1);
    REQUIRE(resp.topics[0].error_code == ErrorCode::None);
  }

  void produce(std::string_view topic, std::int32_t partition, int records) {
    kwire::RecordBatchBuilder b;
    const std::string value(100, 'v');
    for (int i = 0; i < records; ++i) b.append(1000 + i, std::nullopt, kwire::as_bytes(value));
    auto batch = b.build();
    kwire::ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& td = req.topic_data.emplace_back();
    td.name = topic;
    auto& pd = td.partition_data.emplace_back();
    pd.index = partition;
    pd.records = kwire::bytes_view(batch);
    auto resp = broker.call<kwire::ProduceResponse>(req, 11);
    REQUIRE(resp.responses.at(0).partition_responses.at(0).error_code == ErrorCode::None);
  }

  /// partition -> size of `topic` in a DescribeLogDirs answer of one dir.
  static std::map<std::int32_t, std::int64_t> sizes(const kwire::DescribeLogDirsResponse& resp, std::string_view topic) {
    std::map<std::int32_t, std::int64_t> out;
    REQUIRE(resp.results.size() == 1);
    for (auto& t : resp.results[0].topics)
      if (t.name == topic)
        for (auto& p : t.partitions) {
          CHECK(p.offset_lag == 0);
          CHECK_FALSE(p.is_future_key);
          out[p.partition_index] = p.partition_size;
        }
    return out;
  }

  kwire::DescribeLogDirsResponse describe_all(std::int16_t v) {
    kwire::DescribeLogDirsRequest req;
    req.topics = std::nullopt;
    return broker.call<kwire::DescribeLogDirsResponse>(req, v);
  }

  ErrorCode alter_dir(std::string_view path, std::string_view topic, std::int32_t partition, std::int16_t v = 2) {
    kwire::AlterReplicaLogDirsRequest req;
    auto& d = req.dirs.emplace_back();
    d.path = path;
    auto& t = d.topics.emplace_back();
    t.name = topic;
    t.partitions.push_back(partition);
    auto resp = broker.call<kwire::AlterReplicaLogDirsResponse>(req, v);
    REQUIRE(resp.results.size() == 1);
    CHECK(resp.results[0].topic_name == topic);
    REQUIRE(resp.results[0].partitions.size() == 1);
    CHECK(resp.results[0].partitions[0].partition_index == partition);
    return resp.results[0].partitions[0].error_code;
  }

  kwire::ElectLeadersResponse elect(std::optional<std::pair<std::string_view, std::vector<std::int32_t>>> which,
                                    std::int8_t type, std::int16_t v = 2) {
    kwire::ElectLeadersRequest req;
    if (v >= 1) req.election_type = type;
    if (which) {
      req.topic_partitions.emplace();
      auto& t = req.topic_partitions->emplace_back();
      t.topic = which->first;
      for (auto p : which->second) t.partitions.push_back(p);
    } else {
      req.topic_partitions = std::nullopt;
    }
    return broker.call<kwire::ElectLeadersResponse>(req, v);
  }

  kwire::AlterPartitionReassignmentsResponse::ReassignablePartitionResponse reassign(
      std::string_view topic, std::int32_t partition, std::optional<std::vector<std::int32_t>> replicas,
      std::int16_t v = 1, bool allow_rf_change = true) {
    kwire::AlterPartitionReassignmentsRequest req;
    if (v >= 1) req.allow_replication_factor_change = allow_rf_change;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    auto& p = t.partitions.emplace_back();
    p.partition_index = partition;
    if (replicas) {
      p.replicas.emplace();
      for (auto r : *replicas) p.replicas->push_back(r);
    }
    auto resp = broker.call<kwire::AlterPartitionReassignmentsResponse>(req, v);
    CHECK(resp.error_code == ErrorCode::None);
    CHECK_FALSE(resp.error_message);
    REQUIRE(resp.responses.size() == 1);
    CHECK(resp.responses[0].name == topic);
    REQUIRE(resp.responses[0].partitions.size() == 1);
    return resp.responses[0].partitions[0];
  }
};

constexpr std::int8_t preferred = 0, unclean = 1;

}  // namespace

TEST_CASE("DescribeLogDirs: one dir, the absolute log.dirs path, with each partition's bytes, growing as records come") {
  Fixture f;
  f.create_topic("ld", 2);
  f.create_topic("other", 1);
  for (std::int16_t v = 0; v <= 5; ++v) {
    CAPTURE(v);
    auto resp = f.describe_all(v);
    REQUIRE(resp.results.size() == 1);
    CHECK(resp.results[0].error_code == ErrorCode::None);
    CHECK(resp.results[0].log_dir == f.log_dir());
    CHECK(Fixture::sizes(resp, "ld") == std::map<std::int32_t, std::int64_t>{{0, 0}, {1, 0}});
    CHECK(Fixture::sizes(resp, "other") == std::map<std::int32_t, std::int64_t>{{0, 0}});
    if (v >= 4) {
      CHECK(resp.results[0].total_bytes > 0);
      CHECK(resp.results[0].usable_bytes >= 0);
      CHECK(resp.results[0].usable_bytes <= resp.results[0].total_bytes);
    } else {
      CHECK(resp.results[0].total_bytes == -1);  // not in these versions
    }
  }

  f.produce("ld", 1, 10);
  const auto after_one = Fixture::sizes(f.describe_all(5), "ld");
  CHECK(after_one.at(0) == 0);
  CHECK(after_one.at(1) > 10 * 100);
  f.produce("ld", 1, 10);
  const auto after_two = Fixture::sizes(f.describe_all(5), "ld");
  CHECK(after_two.at(1) > after_one.at(1));
  // The bytes of its ledger files, as Kafka's log size.
  std::int64_t on_disk = 0;
  for (auto& e : fs::recursive_directory_iterator(f.dir.path))
    if (e.is_regular_file() && e.path().extension() == ".log" && e.path().parent_path().filename() == "1" &&
        e.path().parent_path().parent_path().filename() == "ld")
      on_disk += static_cast<std::int64_t>(e.file_size());
  CHECK(after_two.at(1) == on_disk);
}

TEST_CASE("DescribeLogDirs of named partitions leaves out unknown topics and partitions, as Kafka") {
  Fixture f;
  f.create_topic("ld", 2);
  kwire::DescribeLogDirsRequest req;
  req.topics.emplace();
  auto& known = req.topics->emplace_back();
  known.topic = "ld";
  known.partitions.push_back(1);
  known.partitions.push_back(7);
  auto& unknown = req.topics->emplace_back();
  unknown.topic = "nope";
  unknown.partitions.push_back(0);
  auto resp = f.broker.call<kwire::DescribeLogDirsResponse>(req, 4);
  REQUIRE(resp.results.size() == 1);
  REQUIRE(resp.results[0].topics.size() == 1);
  CHECK(resp.results[0].topics[0].name == "ld");
  REQUIRE(resp.results[0].topics[0].partitions.size() == 1);
  CHECK(resp.results[0].topics[0].partitions[0].partition_index == 1);

  req.topics->clear();  // an empty list: no partitions, still the dir
  auto none = f.broker.call<kwire::DescribeLogDirsResponse>(req, 4);
  REQUIRE(none.results.size() == 1);
  CHECK(none.results[0].topics.empty());
}

TEST_CASE("AlterReplicaLogDirs: the one dir is where partitions are; another is LOG_DIR_NOT_FOUND") {
  Fixture f;
  f.create_topic("ad", 2);
  for (std::int16_t v = 0; v <= 2; ++v) {
    CAPTURE(v);
    CHECK(f.alter_dir(f.log_dir(), "ad", 1, v) == ErrorCode::None);
    CHECK(f.alter_dir("/no/such/dir", "ad", 1, v) == ErrorCode::LogDirNotFound);
    CHECK(f.alter_dir(f.log_dir(), "nope", 0, v) == ErrorCode::UnknownTopicOrPartition);
    CHECK(f.alter_dir(f.log_dir(), "ad", 2, v) == ErrorCode::UnknownTopicOrPartition);
    // Kafka checks the directory first.
    CHECK(f.alter_dir("/no/such/dir", "nope", 0, v) == ErrorCode::LogDirNotFound);
  }
}

TEST_CASE("ElectLeaders: every partition has its preferred leader already") {
  Fixture f;
  f.create_topic("el", 2);
  for (std::int16_t v = 0; v <= 2; ++v) {
    for (auto type : {preferred, unclean}) {
      if (v == 0 && type == unclean) continue;  // v0 elects preferred leaders only
      CAPTURE(v);
      CAPTURE(int(type));
      auto resp = f.elect(std::pair{std::string_view("el"), std::vector<std::int32_t>{0, 1, 5}}, type, v);
      CHECK(resp.error_code == ErrorCode::None);
      REQUIRE(resp.replica_election_results.size() == 1);
      auto& r = resp.replica_election_results[0];
      CHECK(r.topic == "el");
      REQUIRE(r.partition_result.size() == 3);
      CHECK(r.partition_result[0].error_code == ErrorCode::ElectionNotNeeded);
      CHECK(r.partition_result[1].error_code == ErrorCode::ElectionNotNeeded);
      CHECK(r.partition_result[2].partition_id == 5);
      CHECK(r.partition_result[2].error_code == ErrorCode::UnknownTopicOrPartition);
      auto unknown = f.elect(std::pair{std::string_view("nope"), std::vector<std::int32_t>{0}}, type, v);
      REQUIRE(unknown.replica_election_results.size() == 1);
      REQUIRE(unknown.replica_election_results[0].partition_result.size() == 1);
      CHECK(unknown.replica_election_results[0].partition_result[0].error_code == ErrorCode::UnknownTopicOrPartition);
      REQUIRE(unknown.replica_election_results[0].partition_result[0].error_message);
      CHECK(*unknown.replica_election_results[0].partition_result[0].error_message == "No such topic as nope");
    }
  }
  // All partitions: only those where an election took place are answered,
  // each topic with none, as Kafka's controller answers.
  auto all = f.elect(std::nullopt, preferred);
  CHECK(all.error_code == ErrorCode::None);
  REQUIRE(all.replica_election_results.size() == 1);
  CHECK(all.replica_election_results[0].topic == "el");
  CHECK(all.replica_election_results[0].partition_result.empty());
}

TEST_CASE("AlterPartitionReassignments: this node is a no-op, others invalid, cancelling finds nothing to cancel") {
  Fixture f;
  f.create_topic("ra", 2);
  const std::int32_t self = f.broker.broker().settings().node_id;
  for (std::int16_t v = 0; v <= 1; ++v) {
    CAPTURE(v);
    auto same = f.reassign("ra", 1, std::vector<std::int32_t>{self}, v);
    CHECK(same.error_code == ErrorCode::None);
    CHECK_FALSE(same.error_message);
    auto other = f.reassign("ra", 1, std::vector<std::int32_t>{self + 1}, v);
    CHECK(other.error_code == ErrorCode::InvalidReplicaAssignment);
    REQUIRE(other.error_message);
    CHECK(other.error_message->find("broker " + std::to_string(self + 1)) != std::string_view::npos);
    CHECK(f.reassign("ra", 1, std::vector<std::int32_t>{self, self + 1}, v).error_code ==
          ErrorCode::InvalidReplicaAssignment);
    CHECK(f.reassign("ra", 1, std::vector<std::int32_t>{self, self}, v).error_code ==
          ErrorCode::InvalidReplicaAssignment);
    CHECK(f.reassign("ra", 1, std::vector<std::int32_t>{}, v).error_code == ErrorCode::InvalidReplicaAssignment);
    CHECK(f.reassign("ra", 1, std::nullopt, v).error_code == ErrorCode::NoReassignmentInProgress);
    CHECK(f.reassign("ra", 2, std::vector<std::int32_t>{self}, v).error_code == ErrorCode::UnknownTopicOrPartition);
    CHECK(f.reassign("nope", 0, std::vector<std::int32_t>{self}, v).error_code == ErrorCode::UnknownTopicOrPartition);
    CHECK(f.reassign("nope", 0, std::nullopt, v).error_code == ErrorCode::UnknownTopicOrPartition);
  }
}

TEST_CASE("ListPartitionReassignments: nothing is ever being moved") {
  Fixture f;
  f.create_topic("lr", 1);
  kwire::ListPartitionReassignmentsRequest all;
  all.topics = std::nullopt;
  auto resp = f.broker.call<kwire::ListPartitionReassignmentsResponse>(all, 0);
  CHECK(resp.error_code == ErrorCode::None);
  CHECK_FALSE(resp.error_message);
  CHECK(resp.topics.empty());
  kwire::ListPartitionReassignmentsRequest named;
  named.topics.emplace();
  auto& t = named.topics->emplace_back();
  t.name = "lr";
  t.partition_indexes.push_back(0);
  CHECK(f.broker.call<kwire::ListPartitionReassignmentsResponse>(named, 0).topics.empty());
}

TEST_CASE("the throttles kafka-reassign-partitions clears: broker rates deleted, topic throttled replicas kept") {
  Fixture f;
  f.create_topic("th", 1);
  const auto self = std::to_string(f.broker.broker().settings().node_id);
  auto alter = [&](std::int8_t type, std::string_view name, std::string_view config, std::int8_t op,
                   std::optional<std::string_view> value) {
    kwire::IncrementalAlterConfigsRequest req;
    auto& r = req.resources.emplace_back();
    r.resource_type = type;
    r.resource_name = name;
    auto& c = r.configs.emplace_back();
    c.name = config;
    c.config_operation = op;
    c.value = value;
    auto resp = f.broker.call<kwire::IncrementalAlterConfigsResponse>(req, 1);
    REQUIRE(resp.responses.size() == 1);
    return resp.responses[0].error_code;
  };
  constexpr std::int8_t topic = 2, broker = 4, set = 0, del = 1;
  CHECK(alter(broker, self, "leader.replication.throttled.rate", del, std::nullopt) == ErrorCode::None);
  CHECK(alter(broker, "", "follower.replication.throttled.rate", del, std::nullopt) == ErrorCode::None);
  CHECK(alter(broker, self, "leader.replication.throttled.rate", set, "1000") == ErrorCode::InvalidRequest);
  CHECK(alter(broker, "99", "leader.replication.throttled.rate", del, std::nullopt) == ErrorCode::InvalidRequest);
  CHECK(alter(topic, "th", "leader.replication.throttled.replicas", set, "0:" + self) == ErrorCode::None);
  CHECK(alter(topic, "th", "leader.replication.throttled.replicas", del, std::nullopt) == ErrorCode::None);
  CHECK(alter(topic, "th", "follower.replication.throttled.replicas", del, std::nullopt) == ErrorCode::None);
}

TEST_CASE("with an authorizer: DESCRIBE on the cluster to see log dirs and reassignments, ALTER to change them") {
  Fixture f(secured);
  f.broker.session().principal = "User:admin";
  f.create_topic("sec", 1);
  f.broker.session().principal = "User:alice";  // no bindings

  auto dirs = f.describe_all(4);
  CHECK(dirs.error_code == ErrorCode::ClusterAuthorizationFailed);
  CHECK(dirs.results.empty());
  CHECK(f.alter_dir(f.log_dir(), "sec", 0) == ErrorCode::ClusterAuthorizationFailed);

  auto elected = f.elect(std::pair{std::string_view("sec"), std::vector<std::int32_t>{0}}, preferred);
  CHECK(elected.error_code == ErrorCode::ClusterAuthorizationFailed);
  REQUIRE(elected.replica_election_results.size() == 1);
  REQUIRE(elected.replica_election_results[0].partition_result.size() == 1);
  CHECK(elected.replica_election_results[0].partition_result[0].error_code == ErrorCode::ClusterAuthorizationFailed);

  kwire::AlterPartitionReassignmentsRequest alter;
  auto& t = alter.topics.emplace_back();
  t.name = "sec";
  auto& p = t.partitions.emplace_back();
  p.replicas.emplace();
  p.replicas->push_back(f.broker.broker().settings().node_id);
  auto altered = f.broker.call<kwire::AlterPartitionReassignmentsResponse>(alter, 1);
  CHECK(altered.error_code == ErrorCode::ClusterAuthorizationFailed);
  REQUIRE(altered.responses.size() == 1);
  REQUIRE(altered.responses[0].partitions.size() == 1);
  CHECK(altered.responses[0].partitions[0].error_code == ErrorCode::ClusterAuthorizationFailed);

  kwire::ListPartitionReassignmentsRequest list;
  list.topics = std::nullopt;
  CHECK(f.broker.call<kwire::ListPartitionReassignmentsResponse>(list, 0).error_code ==
        ErrorCode::ClusterAuthorizationFailed);

  // A super user may.
  f.broker.session().principal = "User:admin";
  CHECK(f.describe_all(4).error_code == ErrorCode::None);
  CHECK(Fixture::sizes(f.describe_all(4), "sec").size() == 1);
  CHECK(f.alter_dir(f.log_dir(), "sec", 0) == ErrorCode::None);
  CHECK(f.broker.call<kwire::AlterPartitionReassignmentsResponse>(alter, 1).responses[0].partitions[0].error_code ==
        ErrorCode::None);
}
