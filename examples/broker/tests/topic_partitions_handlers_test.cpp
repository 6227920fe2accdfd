// DescribeTopicPartitions below the wire, on the embedded store: the pages
// Kafka's cursor rules cut, unknown and invalid names, the cursor a request
// must name, and what the authorizer hides or refuses.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/describe_topic_partitions_request.hpp"
#include "kwire/messages/describe_topic_partitions_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/metadata_request.hpp"
#include "kwire/messages/metadata_response.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;
using kwire_broker::testing::TempDir;
using Resp = kwire::DescribeTopicPartitionsResponse;

namespace {

struct Fixture {
  explicit Fixture(std::map<std::string, std::string> settings = {}) : broker(dir.path, std::move(settings)) {}
  TempDir dir{"kwire-topic-partitions"};
  InProcessBroker broker;

  void create_topic(std::string_view name, std::int32_t partitions) {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    REQUIRE(broker.call<kwire::CreateTopicsResponse>(req, 7).topics.at(0).error_code == ErrorCode::None);
  }

  Resp describe(std::vector<std::string_view> topics, std::int32_t limit = 2000,
                std::optional<std::pair<std::string_view, std::int32_t>> cursor = std::nullopt) {
    kwire::DescribeTopicPartitionsRequest req;
    for (auto t : topics) req.topics.emplace_back().name = t;
    req.response_partition_limit = limit;
    if (cursor) {
      kwire::DescribeTopicPartitionsRequest::Cursor c;
      c.topic_name = cursor->first;
      c.partition_index = cursor->second;
      req.cursor = c;
    }
    return broker.call<Resp>(req, 0);
  }
};

/// "topic:first-last" per topic answered with partitions, "topic!error" for
/// an error, then "-> topic:partition" for the next cursor.
std::vector<std::string> shape(const Resp& r) {
  std::vector<std::string> out;
  for (auto& t : r.topics) {
    std::string name(t.name ? *t.name : "");
    if (t.error_code != ErrorCode::None) {
      out.push_back(name + "!" + std::to_string(static_cast<int>(t.error_code)));
    } else if (t.partitions.empty()) {
      out.push_back(name + ":none");
    } else {
      out.push_back(name + ":" + std::to_string(t.partitions.front().partition_index) + "-" +
                    std::to_string(t.partitions.back().partition_index));
    }
  }
  if (r.next_cursor)
    out.push_back("-> " + std::string(r.next_cursor->topic_name) + ":" +
                  std::to_string(r.next_cursor->partition_index));
  return out;
}

const auto unknown = std::to_string(static_cast<int>(ErrorCode::UnknownTopicOrPartition));

}  // namespace

TEST_CASE("DescribeTopicPartitions: topics in name order, partitions as Metadata shows them") {
  Fixture f;
  f.create_topic("beta", 2);
  f.create_topic("alpha", 3);
  auto r = f.describe({"beta", "alpha"});
  CHECK(shape(r) == std::vector<std::string>{"alpha:0-2", "beta:0-1"});

  kwire::MetadataRequest mreq;
  mreq.topics.emplace().emplace_back().name = "alpha";
  auto m = f.broker.call<kwire::MetadataResponse>(mreq, 12);
  REQUIRE(m.topics.size() == 1);
  const auto& alpha = r.topics.at(0);
  CHECK(alpha.topic_id == m.topics[0].topic_id);
  CHECK_FALSE(alpha.is_internal);
  CHECK(alpha.topic_authorized_operations != INT32_MIN);
  for (std::size_t p = 0; p < 3; ++p) {
    const auto& part = alpha.partitions.at(p);
    const auto& mp = m.topics[0].partitions.at(p);
    CHECK(part.error_code == ErrorCode::None);
    CHECK(part.leader_id == mp.leader_id);
    CHECK(part.leader_epoch == mp.leader_epoch);
    CHECK(part.replica_nodes == mp.replica_nodes);
    CHECK(part.isr_nodes == mp.isr_nodes);
    CHECK(part.offline_replicas.empty());
    // Empty, not null, as Kafka answers without eligible leader replicas.
    REQUIRE(part.eligible_leader_replicas.has_value());
    CHECK(part.eligible_leader_replicas->empty());
    REQUIRE(part.last_known_elr.has_value());
    CHECK(part.last_known_elr->empty());
  }
}

TEST_CASE("DescribeTopicPartitions: the limit pages through topics, and the cursor goes on") {
  Fixture f;
  f.create_topic("a", 3);
  f.create_topic("b", 2);
  f.create_topic("c", 4);
  // Every topic when none is named.
  CHECK(shape(f.describe({})) == std::vector<std::string>{"a:0-2", "b:0-1", "c:0-3"});
  // Cut inside a topic: the cursor names its next partition.
  CHECK(shape(f.describe({}, 4)) == std::vector<std::string>{"a:0-2", "b:0-0", "-> b:1"});
  CHECK(shape(f.describe({}, 4, {{"b", 1}})) == std::vector<std::string>{"b:1-1", "c:0-2", "-> c:3"});
  CHECK(shape(f.describe({}, 4, {{"c", 3}})) == std::vector<std::string>{"c:3-3"});
  // Cut exactly at a topic's end: the cursor is the next topic's start.
  CHECK(shape(f.describe({}, 3)) == std::vector<std::string>{"a:0-2", "-> b:0"});
  // Named topics page the same way.
  CHECK(shape(f.describe({"c", "a"}, 5)) == std::vector<std::string>{"a:0-2", "c:0-1", "-> c:2"});
  CHECK(shape(f.describe({"c", "a"}, 5, {{"c", 2}})) == std::vector<std::string>{"c:2-3"});
  // A cursor past a topic's last partition answers it with none.
  CHECK(shape(f.describe({"a"}, 5, {{"a", 9}})) == std::vector<std::string>{"a:none"});
}

TEST_CASE("DescribeTopicPartitions: max.request.partition.size.limit caps the request's limit") {
  Fixture f(std::map<std::string, std::string>{{"max.request.partition.size.limit", "2"}});
  f.create_topic("a", 3);
  CHECK(shape(f.describe({"a"}, 100)) == std::vector<std::string>{"a:0-1", "-> a:2"});
  CHECK(shape(f.describe({"a"}, 1)) == std::vector<std::string>{"a:0-0", "-> a:1"});
}

TEST_CASE("DescribeTopicPartitions: unknown and invalid names, and a cursor the request does not name") {
  Fixture f;
  f.create_topic("known", 2);
  const auto invalid = std::to_string(static_cast<int>(ErrorCode::InvalidTopicException));
  CHECK(shape(f.describe({"known", "missing", "bad/name"})) ==
        std::vector<std::string>{"bad/name!" + invalid, "known:0-1", "missing!" + unknown});
  // Unknown topics take no part of the limit.
  CHECK(shape(f.describe({"known", "missing"}, 2)) == std::vector<std::string>{"known:0-1", "-> missing:0"});
  // Named topics before the cursor's are left out.
  CHECK(shape(f.describe({"known", "missing"}, 10, {{"missing", 0}})) ==
        std::vector<std::string>{"missing!" + unknown});
  // The cursor's topic must be among those named: Kafka refuses the request.
  const auto invalid_request = std::to_string(static_cast<int>(ErrorCode::InvalidRequest));
  CHECK(shape(f.describe({"known"}, 10, {{"other", 0}})) == std::vector<std::string>{"known!" + invalid_request});
}

TEST_CASE("DescribeTopicPartitions: topics the principal may not describe") {
  Fixture f(std::map<std::string, std::string>{
      {"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"}, {"super.users", "User:admin"}});
  f.broker.session().principal = "User:admin";
  f.create_topic("open", 1);
  f.create_topic("secret", 1);
  f.broker.session().principal = "User:alice";
  // Left out of a listing of all topics; refused, last, when named.
  CHECK(f.describe({}).topics.empty());
  const auto refused = std::to_string(static_cast<int>(ErrorCode::TopicAuthorizationFailed));
  auto r = f.describe({"secret", "open"});
  CHECK(shape(r) == std::vector<std::string>{"open!" + refused, "secret!" + refused});
  CHECK(r.topics.at(0).topic_id.is_zero());
  CHECK(r.topics.at(0).topic_authorized_operations == INT32_MIN);
  // A superuser sees both.
  f.broker.session().principal = "User:admin";
  CHECK(shape(f.describe({})) == std::vector<std::string>{"open:0-0", "secret:0-0"});
}
