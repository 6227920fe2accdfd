// The consumer group protocol (KIP-848) below the wire: ConsumerGroupHeartbeat
// and ConsumerGroupDescribe through the broker's dispatch, what ApiVersions
// says of them, how the classic group APIs treat a consumer group (the
// mixed groups of classic and consumer members: mixed_group_handlers_test), and a
// restart that keeps the group.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>

#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"
#include "kwire/messages/api_versions_request.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/consumer_group_describe_request.hpp"
#include "kwire/messages/consumer_group_describe_response.hpp"
#include "kwire/messages/consumer_group_heartbeat_request.hpp"
#include "kwire/messages/consumer_group_heartbeat_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/describe_groups_request.hpp"
#include "kwire/messages/describe_groups_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/find_coordinator_request.hpp"
#include "kwire/messages/find_coordinator_response.hpp"
#include "kwire/messages/join_group_request.hpp"
#include "kwire/messages/join_group_response.hpp"
#include "kwire/messages/list_groups_request.hpp"
#include "kwire/messages/list_groups_response.hpp"
#include "kwire/messages/metadata_request.hpp"
#include "kwire/messages/metadata_response.hpp"
#include "kwire/messages/offset_commit_request.hpp"
#include "kwire/messages/offset_commit_response.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;

namespace {

template <class E>
ErrorCode code(E e) {
  return static_cast<ErrorCode>(e);
}

kwire::Uuid create_topic(InProcessBroker& b, std::string_view name, std::int32_t partitions) {
  kwire::CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.num_partitions = partitions;
  t.replication_factor = 1;
  auto resp = b.call<kwire::CreateTopicsResponse>(req, 7);
  REQUIRE(resp.topics.size() == 1);
  REQUIRE(code(resp.topics[0].error_code) == ErrorCode::None);
  return resp.topics[0].topic_id;
}

kwire::ConsumerGroupHeartbeatResponse join(InProcessBroker& b, std::string_view member, std::string_view topic) {
  kwire::ConsumerGroupHeartbeatRequest req;
  req.group_id = "cg";
  req.member_id = member;
  req.member_epoch = 0;
  req.rebalance_timeout_ms = 30000;
  req.subscribed_topic_names.emplace().push_back(topic);
  req.topic_partitions.emplace();
  return b.call<kwire::ConsumerGroupHeartbeatResponse>(req, 1);
}

kwire::ConsumerGroupDescribeResponse describe(InProcessBroker& b) {
  kwire::ConsumerGroupDescribeRequest req;
  req.group_ids.push_back("cg");
  return b.call<kwire::ConsumerGroupDescribeResponse>(req, 1);
}

ErrorCode commit(InProcessBroker& b, std::string_view member, std::int32_t epoch) {
  kwire::OffsetCommitRequest req;
  req.group_id = "cg";
  req.member_id = member;
  req.generation_id_or_member_epoch = epoch;
  auto& t = req.topics.emplace_back();
  t.name = "orders";
  auto& p = t.partitions.emplace_back();
  p.partition_index = 0;
  p.committed_offset = 5;
  auto resp = b.call<kwire::OffsetCommitResponse>(req, 9);
  REQUIRE(resp.topics.size() == 1);
  return code(resp.topics[0].partitions[0].error_code);
}

}  // namespace

TEST_CASE("ApiVersions advertises the consumer group APIs and finalizes group.version 1") {
  kwire_broker::testing::TempDir dir{"kwire-consumer-groups"};
  InProcessBroker b{dir.path};
  kwire::ApiVersionsRequest req;
  req.client_software_name = "kwire-test";
  req.client_software_version = "1";
  auto resp = b.call<kwire::ApiVersionsResponse>(req, 3);
  bool heartbeat = false, describe_api = false;
  for (auto& k : resp.api_keys) {
    if (k.api_key == 68) heartbeat = k.min_version == 0 && k.max_version == 1;
    if (k.api_key == 69) describe_api = k.max_version >= 0;
  }
  CHECK(heartbeat);
  CHECK(describe_api);
  // group.version among the finalized features (share.version may be there too).
  const kwire::ApiVersionsResponse::FinalizedFeatureKey* group_version = nullptr;
  for (auto& f : resp.finalized_features)
    if (f.name == "group.version") group_version = &f;
  REQUIRE(group_version);
  CHECK(group_version->max_version_level == 1);
  CHECK(resp.finalized_features_epoch >= 0);
}

TEST_CASE("a member joins over the wire; the group is described, listed and refuses a classic member without a subscription") {
  kwire_broker::testing::TempDir dir{"kwire-consumer-groups"};
  InProcessBroker b{dir.path};
  const auto orders = create_topic(b, "orders", 4);
  auto r = join(b, "member-a", "orders");
  REQUIRE(code(r.error_code) == ErrorCode::None);
  CHECK(r.member_id == std::string_view("member-a"));
  CHECK(r.member_epoch == 1);
  CHECK(r.heartbeat_interval_ms == 5000);
  REQUIRE(r.assignment);
  REQUIRE(r.assignment->topic_partitions.size() == 1);
  CHECK(r.assignment->topic_partitions[0].topic_id == orders);
  CHECK(r.assignment->topic_partitions[0].partitions.size() == 4);

  auto d = describe(b);
  REQUIRE(d.groups.size() == 1);
  auto& g = d.groups[0];
  CHECK(code(g.error_code) == ErrorCode::None);
  CHECK(g.group_state == "Stable");
  CHECK(g.group_epoch == 1);
  CHECK(g.assignment_epoch == 1);
  CHECK(g.assignor_name == "uniform");
  REQUIRE(g.members.size() == 1);
  CHECK(g.members[0].member_epoch == 1);
  REQUIRE(g.members[0].assignment.topic_partitions.size() == 1);
  CHECK(g.members[0].assignment.topic_partitions[0].topic_name == "orders");

  kwire::ListGroupsRequest lr;
  lr.types_filter.push_back("consumer");
  auto listed = b.call<kwire::ListGroupsResponse>(lr, 5);
  REQUIRE(listed.groups.size() == 1);
  CHECK(listed.groups[0].group_id == "cg");
  CHECK(listed.groups[0].group_type == "consumer");
  CHECK(listed.groups[0].group_state == "Stable");
  lr.types_filter.clear();
  lr.types_filter.push_back("classic");
  CHECK(b.call<kwire::ListGroupsResponse>(lr, 5).groups.empty());

  kwire::DescribeGroupsRequest dg;
  dg.groups.push_back("cg");
  auto classic = b.call<kwire::DescribeGroupsResponse>(dg, 6);
  REQUIRE(classic.groups.size() == 1);
  CHECK(code(classic.groups[0].error_code) == ErrorCode::GroupIdNotFound);

  kwire::JoinGroupRequest jg;
  jg.group_id = "cg";
  jg.session_timeout_ms = 10000;
  jg.rebalance_timeout_ms = 10000;
  jg.protocol_type = "consumer";
  auto& proto = jg.protocols.emplace_back();
  proto.name = "range";  // no metadata: not a ConsumerProtocolSubscription
  auto joined = b.call<kwire::JoinGroupResponse>(jg, 9);
  CHECK(code(joined.error_code) == ErrorCode::InconsistentGroupProtocol);

  // Offset commits carry the member epoch.
  CHECK(commit(b, "member-a", 1) == ErrorCode::None);
  CHECK(commit(b, "member-a", 0) == ErrorCode::StaleMemberEpoch);
  CHECK(commit(b, "member-b", 1) == ErrorCode::UnknownMemberId);
}

TEST_CASE("a consumer group survives a restart with its members, epochs and assignments") {
  kwire_broker::testing::TempDir dir{"kwire-consumer-groups"};
  kwire::Uuid orders;
  {
    InProcessBroker b{dir.path};
    orders = create_topic(b, "orders", 4);
    REQUIRE(join(b, "member-a", "orders").member_epoch == 1);
    REQUIRE(join(b, "member-b", "orders").member_epoch == 2);
  }
  InProcessBroker b{dir.path};
  auto d = describe(b);
  REQUIRE(d.groups.size() == 1);
  CHECK(code(d.groups[0].error_code) == ErrorCode::None);
  CHECK(d.groups[0].group_epoch == 2);
  CHECK(d.groups[0].members.size() == 2);
  // member-a carries on at its epoch: it must give up two partitions.
  kwire::ConsumerGroupHeartbeatRequest req;
  req.group_id = "cg";
  req.member_id = "member-a";
  req.member_epoch = 1;
  auto& owned = req.topic_partitions.emplace().emplace_back();
  owned.topic_id = orders;
  for (std::int32_t p = 0; p < 4; ++p) owned.partitions.push_back(p);
  auto r = b.call<kwire::ConsumerGroupHeartbeatResponse>(req, 1);
  REQUIRE(code(r.error_code) == ErrorCode::None);
  CHECK(r.member_epoch == 1);
  REQUIRE(r.assignment);
  REQUIRE(r.assignment->topic_partitions.size() == 1);
  CHECK(r.assignment->topic_partitions[0].partitions.size() == 2);
}

TEST_CASE("Metadata finds a topic by id when the name is empty, as members learn their assigned topics") {
  kwire_broker::testing::TempDir dir{"kwire-consumer-groups"};
  InProcessBroker b{dir.path};
  const auto orders = create_topic(b, "orders", 2);
  kwire::MetadataRequest req;
  auto& t = req.topics.emplace().emplace_back();
  t.name = std::string_view("");
  t.topic_id = orders;
  auto resp = b.call<kwire::MetadataResponse>(req, 13);
  REQUIRE(resp.topics.size() == 1);
  CHECK(code(resp.topics[0].error_code) == ErrorCode::None);
  CHECK(resp.topics[0].name == std::string_view("orders"));
  CHECK(resp.topics[0].partitions.size() == 2);
}

TEST_CASE("a regular expression or a name matches __consumer_offsets, as Kafka's coordinator matches every topic") {
  kwire_broker::testing::TempDir dir{"kwire-consumer-groups"};
  InProcessBroker b{dir.path};
  const auto orders = create_topic(b, "orders", 1);
  // A group coordinator looked up: Kafka's internal topic is shown from now on.
  kwire::FindCoordinatorRequest find;
  find.key_type = 0;
  find.coordinator_keys.push_back("cg");
  REQUIRE(code(b.call<kwire::FindCoordinatorResponse>(find, 4).coordinators.at(0).error_code) == ErrorCode::None);
  kwire::MetadataRequest mreq;
  mreq.topics.emplace().emplace_back().name = std::string_view("__consumer_offsets");
  auto meta = b.call<kwire::MetadataResponse>(mreq, 12);
  REQUIRE(meta.topics.size() == 1);
  REQUIRE(code(meta.topics[0].error_code) == ErrorCode::None);
  CHECK(meta.topics[0].is_internal);
  const auto offsets = meta.topics[0].topic_id;
  const auto offsets_partitions = meta.topics[0].partitions.size();
  REQUIRE(offsets_partitions > 0);

  auto assigned = [&](const kwire::ConsumerGroupHeartbeatResponse& r) {
    std::map<std::string, std::size_t> out;  // topic id (its bytes) -> partitions assigned
    REQUIRE(r.assignment.has_value());
    for (auto& tp : r.assignment->topic_partitions)
      out[std::string(reinterpret_cast<const char*>(tp.topic_id.bytes.data()), tp.topic_id.bytes.size())] =
          tp.partitions.size();
    return out;
  };
  auto key = [](const kwire::Uuid& id) { return std::string(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size()); };

  SUBCASE("by a regular expression") {
    kwire::ConsumerGroupHeartbeatRequest req;
    req.group_id = "cg";
    req.member_id = "m1";
    req.member_epoch = 0;
    req.rebalance_timeout_ms = 30000;
    req.subscribed_topic_regex = std::string_view("__consumer_offsets|ord.*");
    req.topic_partitions.emplace();
    auto r = b.call<kwire::ConsumerGroupHeartbeatResponse>(req, 1);
    REQUIRE(code(r.error_code) == ErrorCode::None);
    auto got = assigned(r);
    CHECK(got.size() == 2);
    CHECK(got[key(orders)] == 1);
    CHECK(got[key(offsets)] == offsets_partitions);
  }
  SUBCASE("by name") {
    auto r = join(b, "m1", "__consumer_offsets");
    REQUIRE(code(r.error_code) == ErrorCode::None);
    auto got = assigned(r);
    CHECK(got.size() == 1);
    CHECK(got[key(offsets)] == offsets_partitions);
  }
}
