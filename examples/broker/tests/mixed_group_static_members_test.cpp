// Static members and size limits in mixed groups (classic and consumer
// members in one group) through the broker's dispatch: a classic static
// member taking a consumer member's place keeps the epoch, and when it leaves
// classic members only the group goes back to a classic group that does not
// rebalance unless the replacement started a new epoch (Kafka 4);
// group.consumer.max.size leaves a full classic group as it is.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "support/in_process_broker.hpp"
#include "support/mixed_group_client.hpp"
#include "support/temp_dir.hpp"

using kwire_broker::testing::InProcessBroker;
using namespace kwire_broker::testing::mixed_group;

namespace {

/// A consumer group of "orders" with the static consumer member
/// "static-consumer" (instance "instance-1", with `assignor` as its
/// ServerAssignor when set) and the classic member it returns, joined and
/// synced. The static member then goes away for a while (epoch -2).
std::string static_consumer_and_classic(InProcessBroker& b, std::optional<std::string_view> assignor = std::nullopt) {
  create_orders(b);
  kwire::ConsumerGroupHeartbeatRequest hb;
  hb.group_id = group_id;
  hb.member_id = "static-consumer";
  hb.instance_id = "instance-1";
  hb.member_epoch = 0;
  hb.rebalance_timeout_ms = 30000;
  hb.server_assignor = assignor;
  hb.subscribed_topic_names.emplace().push_back("orders");
  hb.topic_partitions.emplace();
  REQUIRE(code(b.call<kwire::ConsumerGroupHeartbeatResponse>(hb, 1).error_code) == ErrorCode::None);
  auto asked = classic_join(b, "", subscription());
  const std::string classic(asked.member_id);
  auto joined = classic_join(b, classic, subscription());
  REQUIRE(code(joined.error_code) == ErrorCode::None);
  REQUIRE(code(classic_sync(b, classic, joined.generation_id).error_code) == ErrorCode::None);
  kwire::ConsumerGroupHeartbeatRequest away;
  away.group_id = group_id;
  away.member_id = "static-consumer";
  away.instance_id = "instance-1";
  away.member_epoch = -2;
  REQUIRE(code(b.call<kwire::ConsumerGroupHeartbeatResponse>(away, 1).error_code) == ErrorCode::None);
  return classic;
}

/// The JoinGroup of a classic consumer with instance id "instance-1" and
/// subscription `metadata`, under a new member id.
kwire::JoinGroupResponse static_classic_join(InProcessBroker& b, const Bytes& metadata) {
  kwire::JoinGroupRequest req;
  req.group_id = group_id;
  req.group_instance_id = "instance-1";
  req.session_timeout_ms = 10000;
  req.rebalance_timeout_ms = 10000;
  req.protocol_type = "consumer";
  auto& p = req.protocols.emplace_back();
  p.name = "range";
  p.metadata = metadata;
  return b.call<kwire::JoinGroupResponse>(req, 9);
}

std::int32_t group_epoch(InProcessBroker& b) {
  kwire::ConsumerGroupDescribeRequest req;
  req.group_ids.push_back(group_id);
  return b.call<kwire::ConsumerGroupDescribeResponse>(req, 1).groups.at(0).group_epoch;
}

}  // namespace

TEST_CASE("a classic static member replacing the last consumer member downgrades the group without a rebalance") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}}};
  const auto classic = static_consumer_and_classic(b);
  const auto epoch = group_epoch(b);
  // The static consumer member comes back as a classic consumer under a new
  // member id, with the same subscription: the classic group it leaves
  // behind is stable at the epoch, and the newcomer has its predecessor's
  // part of the assignment (Kafka 4).
  auto replaced = static_classic_join(b, subscription());
  REQUIRE(code(replaced.error_code) == ErrorCode::None);
  CHECK(replaced.generation_id == epoch);
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "Stable"});
  auto synced = classic_sync(b, replaced.member_id, replaced.generation_id);
  REQUIRE(code(synced.error_code) == ErrorCode::None);
  const auto theirs = partitions_of(synced.assignment);
  CHECK(theirs.size() == 2);
  auto mine = classic_sync(b, classic, epoch);
  REQUIRE(code(mine.error_code) == ErrorCode::None);
  const auto kept = partitions_of(mine.assignment);
  CHECK(kept.size() == 2);
  for (auto p : kept) CHECK(theirs.count(p) == 0);
  CHECK(classic_heartbeat(b, classic, epoch) == ErrorCode::None);
  CHECK(classic_heartbeat(b, std::string(replaced.member_id), epoch) == ErrorCode::None);
}

TEST_CASE("a classic static member replacing the last consumer member with another subscription downgrades and rebalances") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}}};
  const auto classic = static_consumer_and_classic(b);
  kwire::ConsumerProtocolSubscription more;
  more.topics = {"orders", "invoices"};
  auto replaced = static_classic_join(b, versioned(more, 1));
  REQUIRE(code(replaced.error_code) == ErrorCode::None);
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "PreparingRebalance"});
  CHECK(classic_heartbeat(b, classic, replaced.generation_id) == ErrorCode::RebalanceInProgress);
}

TEST_CASE("a classic static member taking a consumer member's place keeps the epoch, whatever assignor that one chose") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}, {"group.consumer.migration.policy", "upgrade"}}};
  const auto classic = static_consumer_and_classic(b, "range");
  const auto epoch = group_epoch(b);
  // No downgrade (the policy forbids it): the group stays a consumer group,
  // and the replacement starts no new epoch (Kafka leaves the member's
  // ServerAssignor as it was).
  auto replaced = static_classic_join(b, subscription());
  REQUIRE(code(replaced.error_code) == ErrorCode::None);
  CHECK(listed(b).first == "consumer");
  CHECK(group_epoch(b) == epoch);
  CHECK(replaced.generation_id == epoch);
  CHECK(partitions_of(classic_sync(b, replaced.member_id, epoch).assignment).size() == 2);
  // The partitions its predecessor still held beyond its target are free
  // now: the other classic member rejoins, at the same epoch, to take them.
  CHECK(classic_heartbeat(b, classic, epoch) == ErrorCode::RebalanceInProgress);
  auto rejoined = classic_join(b, classic, subscription());
  REQUIRE(code(rejoined.error_code) == ErrorCode::None);
  CHECK(rejoined.generation_id == epoch);
  CHECK(partitions_of(classic_sync(b, classic, epoch).assignment).size() == 2);
  CHECK(group_epoch(b) == epoch);
}

TEST_CASE("group.consumer.max.size: a classic group with no room for the joining member is not upgraded") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}, {"group.consumer.max.size", "1"}}};
  const auto classic = stable_classic_group(b);
  // Kafka would convert the group and then find the joiner one too many:
  // GROUP_MAX_SIZE_REACHED, and the group stays as it was.
  auto refused = consumer_heartbeat(b, "new-member", 0);
  CHECK(code(refused.error_code) == ErrorCode::GroupMaxSizeReached);
  CHECK(refused.error_message == std::string_view("The consumer group has reached its maximum capacity of 1 members."));
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "Stable"});
  CHECK(classic_heartbeat(b, classic, 1) == ErrorCode::None);
}
