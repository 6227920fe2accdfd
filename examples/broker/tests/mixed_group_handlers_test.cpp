// Classic and consumer members in one group (KIP-848's online upgrade and
// downgrade) through the broker's dispatch: a ConsumerGroupHeartbeat upgrades
// a classic group, its classic member rebalances inside the consumer group
// with JoinGroup, SyncGroup and Heartbeat, the group goes back to a classic
// group when its last consumer member leaves, committed offsets stay through
// both, group.consumer.migration.policy is obeyed, and a mixed group
// survives a restart.
#include <doctest/doctest.h>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/config.hpp"
#include "support/in_process_broker.hpp"
#include "support/mixed_group_client.hpp"
#include "support/temp_dir.hpp"

using kwire_broker::testing::InProcessBroker;
using namespace kwire_broker::testing::mixed_group;

TEST_CASE("a classic group upgrades online, rebalances its classic member inside, and downgrades again") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}}};
  const auto classic = stable_classic_group(b);
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "Stable"});

  // A join the consumer protocol would refuse converts nothing.
  kwire::ConsumerGroupHeartbeatRequest bad;
  bad.group_id = group_id;
  bad.member_id = "new-member";
  bad.subscribed_topic_names.emplace().push_back("orders");
  bad.topic_partitions.emplace();  // and no rebalance timeout
  CHECK(code(b.call<kwire::ConsumerGroupHeartbeatResponse>(bad, 1).error_code) == ErrorCode::InvalidRequest);
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "Stable"});

  // A member of the consumer protocol joins: the group becomes a consumer
  // group at the classic generation, and the joiner starts epoch 2. All
  // four partitions are still the classic member's.
  auto joined = consumer_heartbeat(b, "new-member", 0);
  REQUIRE(code(joined.error_code) == ErrorCode::None);
  CHECK(joined.member_epoch == 2);
  REQUIRE(joined.assignment);
  CHECK(joined.assignment->topic_partitions.empty());
  CHECK(listed(b).first == "consumer");
  {
    kwire::ConsumerGroupDescribeRequest req;
    req.group_ids.push_back(group_id);
    auto d = b.call<kwire::ConsumerGroupDescribeResponse>(req, 1);
    REQUIRE(d.groups.at(0).members.size() == 2);
    for (auto& m : d.groups[0].members) CHECK(m.member_type == (m.member_id == classic ? 0 : 1));
  }
  const auto orders = orders_id(b);

  // The classic member learns of the rebalance from its heartbeat, and
  // rejoins having given everything up (an eager consumer): it gets its
  // half at generation 2, with no leader to assign anything.
  CHECK(classic_heartbeat(b, classic, 1) == ErrorCode::RebalanceInProgress);
  CHECK(commit(b, classic, 1, 6) == ErrorCode::None);  // its generation holds until it rejoins
  auto rejoined = classic_join(b, classic, subscription());
  REQUIRE(code(rejoined.error_code) == ErrorCode::None);
  CHECK(rejoined.generation_id == 2);
  CHECK(rejoined.protocol_name == std::string_view("range"));
  CHECK(rejoined.leader == std::string_view(""));
  CHECK(rejoined.members.empty());
  auto synced = classic_sync(b, classic, 2);
  REQUIRE(code(synced.error_code) == ErrorCode::None);
  CHECK(synced.protocol_type == std::string_view("consumer"));
  const auto kept = partitions_of(synced.assignment);
  CHECK(kept.size() == 2);
  CHECK(classic_heartbeat(b, classic, 2) == ErrorCode::None);
  CHECK(classic_heartbeat(b, classic, 1) == ErrorCode::IllegalGeneration);
  CHECK(commit(b, classic, 1, 7) == ErrorCode::IllegalGeneration);
  CHECK(commit(b, classic, 2, 7) == ErrorCode::None);

  // The consumer member now gets the other half.
  auto next = consumer_heartbeat(b, "new-member", 2, &orders);
  REQUIRE(code(next.error_code) == ErrorCode::None);
  REQUIRE(next.assignment);
  REQUIRE(next.assignment->topic_partitions.size() == 1);
  std::set<std::int32_t> theirs(next.assignment->topic_partitions[0].partitions.begin(),
                                next.assignment->topic_partitions[0].partitions.end());
  CHECK(theirs.size() == 2);
  for (auto p : theirs) CHECK(kept.count(p) == 0);
  CHECK(committed(b) == 7);

  // The last consumer member leaves: the group is a classic group again at
  // epoch 2 as its generation, rebalancing; the classic member rejoins and
  // leads generation 3. The committed offset is still there.
  auto left = consumer_heartbeat(b, "new-member", -1, &orders, theirs);
  REQUIRE(code(left.error_code) == ErrorCode::None);
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "PreparingRebalance"});
  CHECK(classic_heartbeat(b, classic, 2) == ErrorCode::RebalanceInProgress);
  auto back = classic_join(b, classic, subscription(kept));
  REQUIRE(code(back.error_code) == ErrorCode::None);
  CHECK(back.generation_id == 3);
  CHECK(back.leader == classic);
  REQUIRE(back.members.size() == 1);
  CHECK(code(classic_sync(b, classic, 3, assignment({0, 1, 2, 3})).error_code) == ErrorCode::None);
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "Stable"});
  CHECK(committed(b) == 7);
}

TEST_CASE("a classic member joins a consumer group and takes its share as partitions are released") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path};
  create_orders(b);
  auto first = consumer_heartbeat(b, "consumer-a", 0);
  REQUIRE(code(first.error_code) == ErrorCode::None);
  REQUIRE(first.member_epoch == 1);
  const auto orders = orders_id(b);

  // The classic member's JoinGroup is answered at once: epoch 2, nothing
  // yet, as the consumer member still holds every partition.
  auto asked = classic_join(b, "", subscription());
  REQUIRE(code(asked.error_code) == ErrorCode::MemberIdRequired);
  const std::string classic(asked.member_id);
  auto joined = classic_join(b, classic, subscription());
  REQUIRE(code(joined.error_code) == ErrorCode::None);
  CHECK(joined.generation_id == 2);
  auto synced = classic_sync(b, classic, 2);
  REQUIRE(code(synced.error_code) == ErrorCode::None);
  CHECK(partitions_of(synced.assignment).empty());
  CHECK(classic_heartbeat(b, classic, 2) == ErrorCode::None);  // nothing is free to take yet
  // A member of the consumer protocol cannot use JoinGroup; another classic
  // member must share a protocol with this one.
  CHECK(code(classic_join(b, "consumer-a", subscription()).error_code) == ErrorCode::UnknownMemberId);
  CHECK(code(classic_join(b, "other", subscription(), "roundrobin").error_code) == ErrorCode::InconsistentGroupProtocol);

  // The consumer member revokes two partitions; the classic member is told
  // to rejoin and takes them.
  auto revoke = consumer_heartbeat(b, "consumer-a", 1, &orders, {0, 1, 2, 3});
  REQUIRE(revoke.assignment);
  const std::set<std::int32_t> keeps(revoke.assignment->topic_partitions.at(0).partitions.begin(),
                                     revoke.assignment->topic_partitions.at(0).partitions.end());
  REQUIRE(keeps.size() == 2);
  auto released = consumer_heartbeat(b, "consumer-a", 1, &orders, keeps);
  CHECK(released.member_epoch == 2);
  CHECK(classic_heartbeat(b, classic, 2) == ErrorCode::RebalanceInProgress);
  REQUIRE(code(classic_join(b, classic, subscription()).error_code) == ErrorCode::None);
  auto now_synced = classic_sync(b, classic, 2);
  const auto got = partitions_of(now_synced.assignment);
  CHECK(got.size() == 2);
  for (auto p : got) CHECK(keeps.count(p) == 0);
  CHECK(classic_heartbeat(b, classic, 2) == ErrorCode::None);

  // A classic member leaving with LeaveGroup starts a new epoch for the rest.
  kwire::LeaveGroupRequest leave;
  leave.group_id = group_id;
  leave.members.emplace_back().member_id = classic;
  auto lr = b.call<kwire::LeaveGroupResponse>(leave, 5);
  REQUIRE(lr.members.size() == 1);
  CHECK(code(lr.members[0].error_code) == ErrorCode::None);
  CHECK(listed(b).first == "consumer");
  auto after = consumer_heartbeat(b, "consumer-a", 2, &orders, keeps);
  CHECK(after.member_epoch == 3);
}

TEST_CASE("group.consumer.migration.policy=disabled refuses the upgrade with GROUP_ID_NOT_FOUND") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}, {"group.consumer.migration.policy", "disabled"}}};
  const auto classic = stable_classic_group(b);
  auto refused = consumer_heartbeat(b, "new-member", 0);
  CHECK(code(refused.error_code) == ErrorCode::GroupIdNotFound);
  CHECK(refused.error_message == std::string_view("Group mixed is not a consumer group."));
  CHECK(listed(b) == std::pair<std::string, std::string>{"classic", "Stable"});
  CHECK(classic_heartbeat(b, classic, 1) == ErrorCode::None);
}

TEST_CASE("group.consumer.migration.policy=upgrade keeps a consumer group whose consumer members left") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}, {"group.consumer.migration.policy", "upgrade"}}};
  const auto classic = stable_classic_group(b);
  REQUIRE(code(consumer_heartbeat(b, "new-member", 0).error_code) == ErrorCode::None);
  REQUIRE(code(consumer_heartbeat(b, "new-member", -1).error_code) == ErrorCode::None);
  CHECK(listed(b).first == "consumer");
  CHECK(classic_heartbeat(b, classic, 1) == ErrorCode::RebalanceInProgress);
  auto rejoined = classic_join(b, classic, subscription());
  REQUIRE(code(rejoined.error_code) == ErrorCode::None);
  CHECK(rejoined.generation_id == 3);
  CHECK(partitions_of(classic_sync(b, classic, 3).assignment) == std::set<std::int32_t>{0, 1, 2, 3});
}

TEST_CASE("a consumer group with a classic member survives a restart") {
  kwire_broker::testing::TempDir dir{"kwire-mixed-groups"};
  std::string classic;
  {
    InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}}};
    classic = stable_classic_group(b);
    REQUIRE(code(consumer_heartbeat(b, "new-member", 0).error_code) == ErrorCode::None);
  }
  InProcessBroker b{dir.path, {{"group.initial.rebalance.delay.ms", "0"}}};
  CHECK(listed(b).first == "consumer");
  kwire::ConsumerGroupDescribeRequest req;
  req.group_ids.push_back(group_id);
  auto d = b.call<kwire::ConsumerGroupDescribeResponse>(req, 1);
  REQUIRE(d.groups.at(0).members.size() == 2);
  CHECK(d.groups[0].group_epoch == 2);
  // The classic member carries on at its generation, and is told to rejoin.
  CHECK(classic_heartbeat(b, classic, 1) == ErrorCode::RebalanceInProgress);
  auto rejoined = classic_join(b, classic, subscription());
  REQUIRE(code(rejoined.error_code) == ErrorCode::None);
  CHECK(rejoined.generation_id == 2);
  CHECK(partitions_of(classic_sync(b, classic, 2).assignment).size() == 2);
  CHECK(committed(b) == 5);
  // The consumer member leaving then downgrades the restarted group.
  REQUIRE(code(consumer_heartbeat(b, "new-member", -1).error_code) == ErrorCode::None);
  CHECK(listed(b).first == "classic");
}

TEST_CASE("group.consumer.migration.policy takes Kafka's four values and nothing else") {
  for (const char* value : {"bidirectional", "upgrade", "downgrade", "disabled", "DISABLED"}) {
    kwire_broker::Properties p;
    p.set("group.consumer.migration.policy", value);
    CHECK_NOTHROW(kwire_broker::make_settings(p));
  }
  kwire_broker::Properties p;
  p.set("group.consumer.migration.policy", "sideways");
  CHECK_THROWS_AS(kwire_broker::make_settings(p), std::runtime_error);
}
