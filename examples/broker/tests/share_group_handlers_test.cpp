// Share groups' membership APIs (KIP-932) below the wire: ShareGroupHeartbeat
// and ShareGroupDescribe through the broker's dispatch, what ApiVersions says
// of them with share groups on and off, how the other group APIs treat a
// share group, and a restart that keeps the group.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"
#include "kwire/messages/api_versions_request.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/consumer_group_heartbeat_request.hpp"
#include "kwire/messages/consumer_group_heartbeat_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/delete_groups_request.hpp"
#include "kwire/messages/delete_groups_response.hpp"
#include "kwire/messages/describe_groups_request.hpp"
#include "kwire/messages/describe_groups_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/join_group_request.hpp"
#include "kwire/messages/join_group_response.hpp"
#include "kwire/messages/list_groups_request.hpp"
#include "kwire/messages/list_groups_response.hpp"
#include "kwire/messages/share_group_describe_request.hpp"
#include "kwire/messages/share_group_describe_response.hpp"
#include "kwire/messages/share_group_heartbeat_request.hpp"
#include "kwire/messages/share_group_heartbeat_response.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;

namespace {

const std::map<std::string, std::string> share_on{{"kwire.share.groups.enable", "true"}};

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

kwire::ShareGroupHeartbeatResponse beat(InProcessBroker& b, std::string_view member, std::int32_t epoch,
                                        std::optional<std::string_view> topic = std::nullopt,
                                        std::string_view group = "sg") {
  kwire::ShareGroupHeartbeatRequest req;
  req.group_id = group;
  req.member_id = member;
  req.member_epoch = epoch;
  if (topic) req.subscribed_topic_names.emplace().push_back(*topic);
  return b.call<kwire::ShareGroupHeartbeatResponse>(req, 1);
}

kwire::ShareGroupDescribeResponse describe(InProcessBroker& b, std::string_view group = "sg") {
  kwire::ShareGroupDescribeRequest req;
  req.group_ids.push_back(group);
  return b.call<kwire::ShareGroupDescribeResponse>(req, 1);
}

std::size_t partitions_of(const kwire::ShareGroupHeartbeatResponse& r) {
  std::size_t n = 0;
  if (r.assignment)
    for (auto& tp : r.assignment->topic_partitions) n += tp.partitions.size();
  return n;
}

bool advertises(const kwire::ApiVersionsResponse& resp, kwire::ApiKey key) {
  for (auto& k : resp.api_keys)
    if (k.api_key == static_cast<std::int16_t>(key)) return true;
  return false;
}

}  // namespace

TEST_CASE("share groups are offered unless turned off, with share.version finalized") {
  kwire_broker::testing::TempDir dir{"kwire-share-groups"};
  kwire::ApiVersionsRequest req;
  req.client_software_name = "test";
  req.client_software_version = "1";
  {
    InProcessBroker off{dir.path, {{"kwire.share.groups.enable", "false"}}};
    auto resp = off.call<kwire::ApiVersionsResponse>(req, 3);
    CHECK_FALSE(advertises(resp, kwire::ApiKey::ShareGroupHeartbeat));
    for (auto& f : resp.finalized_features) CHECK(f.name != "share.version");
    // Not served either: the connection is closed as for any unknown API.
    kwire::ShareGroupHeartbeatRequest hb;
    hb.group_id = "sg";
    hb.member_id = "m1";
    CHECK_THROWS(off.call<kwire::ShareGroupHeartbeatResponse>(hb, 1));
  }
  InProcessBroker on{dir.path, share_on};
  auto resp = on.call<kwire::ApiVersionsResponse>(req, 3);
  CHECK(advertises(resp, kwire::ApiKey::ShareGroupHeartbeat));
  CHECK(advertises(resp, kwire::ApiKey::ShareGroupDescribe));
  bool finalized = false;
  for (auto& f : resp.finalized_features)
    if (f.name == "share.version") {
      finalized = true;
      CHECK(f.min_version_level == 1);
      CHECK(f.max_version_level == 1);
    }
  CHECK(finalized);
  bool supported = false;
  for (auto& f : resp.supported_features)
    if (f.name == "share.version") supported = f.max_version >= 1;
  CHECK(supported);
}

TEST_CASE("members join a share group over the wire; it is described, listed and kept apart from other kinds") {
  kwire_broker::testing::TempDir dir{"kwire-share-groups"};
  InProcessBroker b{dir.path, share_on};
  const auto topic = create_topic(b, "jobs", 2);

  auto m1 = beat(b, "m1", 0, "jobs");
  REQUIRE(code(m1.error_code) == ErrorCode::None);
  CHECK(m1.member_id == "m1");
  CHECK(m1.member_epoch == 1);
  CHECK(partitions_of(m1) == 2);
  REQUIRE(m1.assignment);
  CHECK(m1.assignment->topic_partitions[0].topic_id == topic);
  auto m2 = beat(b, "m2", 0, "jobs");
  CHECK(m2.member_epoch == 2);
  CHECK(partitions_of(m2) == 1);
  auto m3 = beat(b, "m3", 0, "jobs");
  CHECK(partitions_of(m3) == 1);  // three members, two partitions: one is shared

  CHECK(code(beat(b, "m1", 9).error_code) == ErrorCode::FencedMemberEpoch);
  CHECK(code(beat(b, "ghost", 1).error_code) == ErrorCode::UnknownMemberId);
  CHECK(code(beat(b, "", 0, "jobs").error_code) == ErrorCode::InvalidRequest);
  auto moved = beat(b, "m1", 1);
  CHECK(moved.member_epoch == 3);
  CHECK(partitions_of(moved) == 1);

  auto d = describe(b);
  REQUIRE(d.groups.size() == 1);
  auto& g = d.groups[0];
  CHECK(code(g.error_code) == ErrorCode::None);
  CHECK(g.group_state == "Stable");
  CHECK(g.group_epoch == 3);
  CHECK(g.assignor_name == "simple");
  REQUIRE(g.members.size() == 3);
  CHECK(g.members[0].member_id == "m1");
  CHECK(g.members[0].client_id == "in-process");
  REQUIRE(g.members[0].subscribed_topic_names.size() == 1);
  CHECK(g.members[0].subscribed_topic_names[0] == "jobs");
  REQUIRE(g.members[0].assignment.topic_partitions.size() == 1);
  CHECK(g.members[0].assignment.topic_partitions[0].topic_name == "jobs");
  CHECK(code(describe(b, "nothing").groups[0].error_code) == ErrorCode::GroupIdNotFound);

  kwire::ListGroupsRequest lreq;
  lreq.types_filter.push_back("share");
  auto listed = b.call<kwire::ListGroupsResponse>(lreq, 5);
  REQUIRE(listed.groups.size() == 1);
  CHECK(listed.groups[0].group_id == "sg");
  CHECK(listed.groups[0].group_type == "share");
  CHECK(listed.groups[0].group_state == "Stable");
  lreq.types_filter[0] = "consumer";
  CHECK(b.call<kwire::ListGroupsResponse>(lreq, 5).groups.empty());

  kwire::DescribeGroupsRequest dreq;
  dreq.groups.push_back("sg");
  auto classic = b.call<kwire::DescribeGroupsResponse>(dreq, 6);
  CHECK(code(classic.groups[0].error_code) == ErrorCode::GroupIdNotFound);

  // The id is a share group with members: other protocols are refused.
  kwire::ConsumerGroupHeartbeatRequest creq;
  creq.group_id = "sg";
  creq.member_id = "c1";
  creq.rebalance_timeout_ms = 30000;
  creq.subscribed_topic_names.emplace().push_back("jobs");
  creq.topic_partitions.emplace();
  CHECK(code(b.call<kwire::ConsumerGroupHeartbeatResponse>(creq, 1).error_code) == ErrorCode::GroupIdNotFound);
  kwire::JoinGroupRequest jreq;
  jreq.group_id = "sg";
  jreq.session_timeout_ms = 10000;
  jreq.rebalance_timeout_ms = 10000;
  jreq.protocol_type = "consumer";
  jreq.protocols.emplace_back().name = "range";
  CHECK(code(b.call<kwire::JoinGroupResponse>(jreq, 5).error_code) == ErrorCode::InconsistentGroupProtocol);
  // And a consumer group's id is not a share group's.
  creq.group_id = "cg";
  REQUIRE(code(b.call<kwire::ConsumerGroupHeartbeatResponse>(creq, 1).error_code) == ErrorCode::None);
  CHECK(code(beat(b, "m9", 0, "jobs", "cg").error_code) == ErrorCode::GroupIdNotFound);

  kwire::DeleteGroupsRequest del;
  del.groups_names.push_back("sg");
  CHECK(code(b.call<kwire::DeleteGroupsResponse>(del, 2).results[0].error_code) == ErrorCode::NonEmptyGroup);
  for (auto id : {"m1", "m2", "m3"}) CHECK(beat(b, id, -1).member_epoch == -1);
  CHECK(describe(b).groups[0].group_state == "Empty");
  CHECK(code(b.call<kwire::DeleteGroupsResponse>(del, 2).results[0].error_code) == ErrorCode::None);
  CHECK(code(describe(b).groups[0].error_code) == ErrorCode::GroupIdNotFound);
}

TEST_CASE("a share group survives a restart with its members and epochs") {
  kwire_broker::testing::TempDir dir{"kwire-share-groups"};
  {
    InProcessBroker b{dir.path, share_on};
    create_topic(b, "jobs", 3);
    REQUIRE(code(beat(b, "m1", 0, "jobs").error_code) == ErrorCode::None);
    REQUIRE(code(beat(b, "m2", 0, "jobs").error_code) == ErrorCode::None);
  }
  InProcessBroker b{dir.path, share_on};
  auto d = describe(b);
  REQUIRE(code(d.groups[0].error_code) == ErrorCode::None);
  CHECK(d.groups[0].group_epoch == 2);
  CHECK(d.groups[0].members.size() == 2);
  auto again = beat(b, "m2", 2);
  CHECK(code(again.error_code) == ErrorCode::None);
  CHECK(again.member_epoch == 2);
}
