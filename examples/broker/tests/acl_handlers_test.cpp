// The ACL APIs and their enforcement below the wire: CreateAcls,
// DescribeAcls and DeleteAcls through the real dispatch, who may call them,
// SECURITY_DISABLED without an authorizer, and what a principal without
// the right bindings gets from Metadata, Produce, Fetch, groups, share
// groups and CreateTopics; the bindings kept across a restart of the broker.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kwire/messages/create_acls_request.hpp"
#include "kwire/messages/create_acls_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/delete_acls_request.hpp"
#include "kwire/messages/delete_acls_response.hpp"
#include "kwire/messages/describe_acls_request.hpp"
#include "kwire/messages/describe_acls_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/heartbeat_request.hpp"
#include "kwire/messages/heartbeat_response.hpp"
#include "kwire/messages/init_producer_id_request.hpp"
#include "kwire/messages/init_producer_id_response.hpp"
#include "kwire/messages/metadata_request.hpp"
#include "kwire/messages/metadata_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/messages/share_fetch_request.hpp"
#include "kwire/messages/share_fetch_response.hpp"
#include "kwire/messages/share_group_heartbeat_request.hpp"
#include "kwire/messages/share_group_heartbeat_response.hpp"
#include "kwire/records/records.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;
using kwire_broker::testing::TempDir;

namespace {

constexpr std::int8_t topic_type = 2, group_type = 3, cluster_type = 4;
constexpr std::int8_t any_type = 1, any_pattern = 1, match_pattern = 2, literal = 3, prefixed = 4;
constexpr std::int8_t any_op = 1, read_op = 3, write_op = 4, describe_op = 8;
constexpr std::int8_t any_permission = 1, deny = 2, allow = 3;

const std::map<std::string, std::string> secured{
    {"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
    {"super.users", "User:admin;User:root"}};

kwire::CreateAclsRequest::AclCreation creation(std::int8_t type, std::string_view name, std::int8_t pattern,
                                               std::string_view principal, std::int8_t op, std::int8_t permission) {
  kwire::CreateAclsRequest::AclCreation c;
  c.resource_type = type;
  c.resource_name = name;
  c.resource_pattern_type = pattern;
  c.principal = principal;
  c.host = "*";
  c.operation = op;
  c.permission_type = permission;
  return c;
}

struct Client {
  InProcessBroker& broker;

  void as(std::string principal) { broker.session().principal = std::move(principal); }

  std::vector<ErrorCode> create(std::vector<kwire::CreateAclsRequest::AclCreation> creations, std::int16_t v = 3) {
    kwire::CreateAclsRequest req;
    for (auto& c : creations) req.creations.push_back(c);
    auto resp = broker.call<kwire::CreateAclsResponse>(req, v);
    std::vector<ErrorCode> out;
    for (auto& r : resp.results) out.push_back(r.error_code);
    return out;
  }

  kwire::DescribeAclsResponse describe(std::int8_t type, std::optional<std::string_view> name, std::int8_t pattern,
                                       std::optional<std::string_view> principal = std::nullopt) {
    kwire::DescribeAclsRequest req;
    req.resource_type_filter = type;
    req.resource_name_filter = name;
    req.pattern_type_filter = pattern;
    req.principal_filter = principal;
    req.host_filter = std::nullopt;
    req.operation = any_op;
    req.permission_type = any_permission;
    return broker.call<kwire::DescribeAclsResponse>(req, 3);
  }

  /// Bindings a describe answers, as "type name pattern principal op permission".
  std::vector<std::string> listed(const kwire::DescribeAclsResponse& resp) {
    std::vector<std::string> out;
    for (auto& r : resp.resources)
      for (auto& a : r.acls)
        out.push_back(std::to_string(r.resource_type) + " " + std::string(r.resource_name) + " " +
                      std::to_string(r.pattern_type) + " " + std::string(a.principal) + " " +
                      std::to_string(a.operation) + " " + std::to_string(a.permission_type));
    return out;
  }

  ErrorCode create_topic(std::string_view name) {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = 1;
    t.replication_factor = 1;
    auto resp = broker.call<kwire::CreateTopicsResponse>(req, 7);
    return resp.topics.at(0).error_code;
  }

  std::vector<std::string> all_topics() {
    kwire::MetadataRequest req;
    req.topics = std::nullopt;
    auto resp = broker.call<kwire::MetadataResponse>(req, 12);
    std::vector<std::string> out;
    for (auto& t : resp.topics) out.emplace_back(*t.name);
    return out;
  }

  ErrorCode metadata_of(std::string_view name) {
    kwire::MetadataRequest req;
    req.topics.emplace();
    req.topics->emplace_back().name = name;
    auto resp = broker.call<kwire::MetadataResponse>(req, 12);
    return resp.topics.at(0).error_code;
  }

  ErrorCode produce(std::string_view topic) {
    kwire::RecordBatchBuilder b;
    b.append(1000, std::nullopt, kwire::as_bytes(std::string_view("v")));
    auto batch = b.build();
    kwire::ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& td = req.topic_data.emplace_back();
    td.name = topic;
    auto& pd = td.partition_data.emplace_back();
    pd.index = 0;
    pd.records = kwire::bytes_view(batch);
    auto resp = broker.call<kwire::ProduceResponse>(req, 11);
    return resp.responses.at(0).partition_responses.at(0).error_code;
  }

  ErrorCode fetch(std::string_view topic) {
    kwire::FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.partition_max_bytes = 1 << 20;
    auto resp = broker.call<kwire::FetchResponse>(req, 12);
    return resp.responses.at(0).partitions.at(0).error_code;
  }
};

}  // namespace

TEST_CASE("without authorizer.class.name the ACL APIs answer SECURITY_DISABLED and nothing is enforced") {
  TempDir dir("kwire-acl-off");
  InProcessBroker broker(dir.path);
  Client c{broker};
  CHECK(c.create({creation(topic_type, "t", literal, "User:alice", read_op, allow)}) ==
        std::vector<ErrorCode>{ErrorCode::SecurityDisabled});
  CHECK(c.describe(any_type, std::nullopt, any_pattern).error_code == ErrorCode::SecurityDisabled);
  CHECK(c.create_topic("t") == ErrorCode::None);
  CHECK(c.produce("t") == ErrorCode::None);
  CHECK(c.all_topics() == std::vector<std::string>{"t"});
}

TEST_CASE("CreateAcls, DescribeAcls and DeleteAcls: a super user manages bindings, others may not") {
  TempDir dir("kwire-acl-api");
  InProcessBroker broker(dir.path, secured);
  Client c{broker};
  c.as("User:alice");
  CHECK(c.create({creation(topic_type, "t", literal, "User:alice", read_op, allow)}) ==
        std::vector<ErrorCode>{ErrorCode::ClusterAuthorizationFailed});
  CHECK(c.describe(any_type, std::nullopt, any_pattern).error_code == ErrorCode::ClusterAuthorizationFailed);

  c.as("User:admin");
  CHECK(c.create({creation(topic_type, "orders", literal, "User:alice", read_op, allow),
                  creation(topic_type, "ord", prefixed, "User:bob", write_op, allow),
                  creation(topic_type, "*", literal, "User:carol", describe_op, deny),
                  creation(group_type, "g", literal, "User:alice", read_op, allow),
                  creation(topic_type, "bad", literal, "no-colon", read_op, allow),
                  creation(cluster_type, "kafka-cluster", literal, "User:ops", describe_op, allow)},
                 2) == std::vector<ErrorCode>{ErrorCode::None, ErrorCode::None, ErrorCode::None, ErrorCode::None,
                                              ErrorCode::InvalidRequest, ErrorCode::None});
  auto all = c.describe(any_type, std::nullopt, any_pattern);
  CHECK(all.error_code == ErrorCode::None);
  CHECK(c.listed(all).size() == 5);
  // MATCH: the bindings that apply to topic "orders": its literal one, the
  // wildcard and the prefix "ord".
  auto match = c.describe(topic_type, "orders", match_pattern);
  CHECK(c.listed(match) == std::vector<std::string>{"2 * 3 User:carol 8 2", "2 ord 4 User:bob 4 3",
                                                    "2 orders 3 User:alice 3 3"});
  CHECK(c.listed(c.describe(topic_type, "orders", literal)) == std::vector<std::string>{"2 orders 3 User:alice 3 3"});
  CHECK(c.listed(c.describe(any_type, std::nullopt, prefixed)) == std::vector<std::string>{"2 ord 4 User:bob 4 3"});
  CHECK(c.listed(c.describe(any_type, std::nullopt, any_pattern, "User:alice")).size() == 2);

  // DeleteAcls: each filter answers what it removed.
  kwire::DeleteAclsRequest del;
  auto& f1 = del.filters.emplace_back();
  f1.resource_type_filter = any_type;
  f1.resource_name_filter = std::nullopt;
  f1.pattern_type_filter = any_pattern;
  f1.principal_filter = "User:alice";
  f1.host_filter = std::nullopt;
  f1.operation = any_op;
  f1.permission_type = any_permission;
  auto& f2 = del.filters.emplace_back();
  f2 = f1;
  f2.principal_filter = "User:nobody";
  c.as("User:alice");
  auto refused = broker.call<kwire::DeleteAclsResponse>(del, 3);
  CHECK(refused.filter_results.at(0).error_code == ErrorCode::ClusterAuthorizationFailed);
  c.as("User:root");
  auto removed = broker.call<kwire::DeleteAclsResponse>(del, 3);
  REQUIRE(removed.filter_results.size() == 2);
  CHECK(removed.filter_results[0].error_code == ErrorCode::None);
  CHECK(removed.filter_results[0].matching_acls.size() == 2);
  CHECK(removed.filter_results[1].matching_acls.empty());
  CHECK(c.listed(c.describe(any_type, std::nullopt, any_pattern)).size() == 3);
  // The cluster binding lets User:ops describe ACLs (and only describe).
  c.as("User:ops");
  CHECK(c.describe(any_type, std::nullopt, any_pattern).error_code == ErrorCode::None);
  CHECK(c.create({creation(group_type, "g", literal, "User:ops", read_op, allow)}) ==
        std::vector<ErrorCode>{ErrorCode::ClusterAuthorizationFailed});
}

TEST_CASE("enforcement: topics hidden and refused, prefixed grants, DENY wins, groups, creation, restarts") {
  TempDir dir("kwire-acl-enforce");
  {
    InProcessBroker broker(dir.path, secured);
    Client c{broker};
    c.as("User:admin");
    CHECK(c.create_topic("orders") == ErrorCode::None);
    CHECK(c.create_topic("logs-app") == ErrorCode::None);
    CHECK(c.create_topic("secret") == ErrorCode::None);
    CHECK(c.create({creation(topic_type, "orders", literal, "User:alice", read_op, allow),
                    creation(topic_type, "logs-", prefixed, "User:alice", write_op, allow),
                    creation(topic_type, "secret", literal, "User:*", read_op, allow),
                    creation(topic_type, "secret", literal, "User:alice", read_op, deny)}) ==
          std::vector<ErrorCode>(4, ErrorCode::None));

    c.as("User:alice");
    // Metadata lists what alice may describe: READ and WRITE imply DESCRIBE.
    auto listed = c.all_topics();
    CHECK(std::find(listed.begin(), listed.end(), "orders") != listed.end());
    CHECK(std::find(listed.begin(), listed.end(), "logs-app") != listed.end());
    CHECK(c.fetch("orders") == ErrorCode::None);
    CHECK(c.produce("orders") == ErrorCode::TopicAuthorizationFailed);  // READ only
    CHECK(c.produce("logs-app") == ErrorCode::None);                    // the prefix grants WRITE
    CHECK(c.fetch("logs-app") == ErrorCode::TopicAuthorizationFailed);
    CHECK(c.fetch("secret") == ErrorCode::TopicAuthorizationFailed);  // DENY wins
    c.as("User:bob");
    CHECK(c.fetch("secret") == ErrorCode::None);
    CHECK(c.all_topics() == std::vector<std::string>{"secret"});
    CHECK(c.metadata_of("orders") == ErrorCode::TopicAuthorizationFailed);
    CHECK(c.produce("orders") == ErrorCode::TopicAuthorizationFailed);
    CHECK(c.create_topic("bobs") == ErrorCode::TopicAuthorizationFailed);
    c.as("User:ANONYMOUS");  // a PLAINTEXT client: User:* covers it too
    CHECK(c.all_topics() == std::vector<std::string>{"secret"});
    CHECK(c.fetch("orders") == ErrorCode::TopicAuthorizationFailed);

    // Groups: READ on the group.
    c.as("User:alice");
    kwire::HeartbeatRequest hb;
    hb.group_id = "g";
    hb.generation_id = 1;
    hb.member_id = "m";
    CHECK(broker.call<kwire::HeartbeatResponse>(hb, 4).error_code == ErrorCode::GroupAuthorizationFailed);
    // An idempotent producer: WRITE on some topic is enough (the prefix).
    kwire::InitProducerIdRequest init;
    init.transactional_id = std::nullopt;
    init.transaction_timeout_ms = 60000;
    CHECK(broker.call<kwire::InitProducerIdResponse>(init, 4).error_code == ErrorCode::None);
    c.as("User:bob");
    CHECK(broker.call<kwire::InitProducerIdResponse>(init, 4).error_code == ErrorCode::ClusterAuthorizationFailed);
    init.transactional_id = "tx";
    CHECK(broker.call<kwire::InitProducerIdResponse>(init, 4).error_code ==
          ErrorCode::TransactionalIdAuthorizationFailed);
  }
  // The bindings outlive the broker.
  InProcessBroker broker(dir.path, secured);
  Client c{broker};
  c.as("User:alice");
  CHECK(c.fetch("orders") == ErrorCode::None);
  CHECK(c.fetch("secret") == ErrorCode::TopicAuthorizationFailed);
  CHECK(c.produce("logs-app") == ErrorCode::None);
}

TEST_CASE("enforcement: share groups need READ on the group, DESCRIBE on subscribed topics, READ to fetch") {
  TempDir dir("kwire-acl-share");
  InProcessBroker broker(dir.path, secured);
  Client c{broker};
  c.as("User:admin");
  CHECK(c.create_topic("queue") == ErrorCode::None);
  CHECK(c.create_topic("hidden") == ErrorCode::None);
  CHECK(c.create({creation(group_type, "workers", literal, "User:alice", read_op, allow),
                  creation(topic_type, "queue", literal, "User:alice", describe_op, allow)}) ==
        std::vector<ErrorCode>(2, ErrorCode::None));
  auto heartbeat = [&](std::string group, std::vector<std::string_view> topics) {
    kwire::ShareGroupHeartbeatRequest hb;
    hb.group_id = group;
    hb.member_id = "member-1-aaaaaaaaaaaaaa";
    hb.member_epoch = 0;
    auto& names = hb.subscribed_topic_names.emplace();
    for (auto t : topics) names.push_back(t);
    return broker.call<kwire::ShareGroupHeartbeatResponse>(hb, 1).error_code;
  };
  c.as("User:bob");
  CHECK(heartbeat("workers", {"queue"}) == ErrorCode::GroupAuthorizationFailed);
  c.as("User:alice");
  CHECK(heartbeat("workers", {"queue", "hidden"}) == ErrorCode::TopicAuthorizationFailed);
  CHECK(heartbeat("workers", {"queue"}) == ErrorCode::None);

  // DESCRIBE lets alice subscribe to the topic; fetching its records needs READ.
  kwire::MetadataRequest md;
  auto& mt = md.topics.emplace().emplace_back();
  mt.name = "queue";
  const auto id = broker.call<kwire::MetadataResponse>(md, 12).topics.at(0).topic_id;
  kwire::ShareFetchRequest fetch;
  fetch.group_id = "workers";
  fetch.member_id = "member-1-aaaaaaaaaaaaaa";
  fetch.share_session_epoch = 0;
  fetch.max_wait_ms = 0;
  fetch.max_records = 10;
  fetch.batch_size = 10;
  auto& ft = fetch.topics.emplace_back();
  ft.topic_id = id;
  ft.partitions.emplace_back().partition_index = 0;
  auto share_fetch = [&]() {
    auto resp = broker.call<kwire::ShareFetchResponse>(fetch, 1);
    REQUIRE(resp.error_code == ErrorCode::None);
    ++fetch.share_session_epoch;
    return resp;
  };
  auto refused = share_fetch();
  REQUIRE(refused.responses.size() == 1);
  CHECK(refused.responses.at(0).partitions.at(0).error_code == ErrorCode::TopicAuthorizationFailed);
  c.as("User:admin");
  CHECK(c.create({creation(topic_type, "queue", literal, "User:alice", read_op, allow)}) ==
        std::vector<ErrorCode>{ErrorCode::None});
  c.as("User:alice");
  CHECK(share_fetch().responses.empty());  // the share partition starts at the end: nothing yet
  c.as("User:admin");
  CHECK(c.produce("queue") == ErrorCode::None);
  c.as("User:alice");
  auto granted = share_fetch();
  REQUIRE(granted.responses.size() == 1);
  CHECK(granted.responses.at(0).partitions.at(0).error_code == ErrorCode::None);
  CHECK(granted.responses.at(0).partitions.at(0).acquired_records.size() == 1);
}
