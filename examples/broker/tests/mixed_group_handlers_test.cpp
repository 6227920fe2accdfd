// Classic and consumer members in one group (KIP-848's online upgrade and
// downgrade) through the broker's dispatch: a ConsumerGroupHeartbeat upgrades
// a classic group, its classic member rebalances inside the consumer group
// with JoinGroup, SyncGroup and Heartbeat, the group goes back to a classic
// group when its last consumer member leaves, committed offsets stay through
// both, group.consumer.migration.policy is obeyed, and a mixed group
// survives a restart.
#include <doctest/doctest.h>

#include <map>
#include <memory_resource>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"
#include "kwire/codec.hpp"
#include "kwire/messages/consumer_group_describe_request.hpp"
#include "kwire/messages/consumer_group_describe_response.hpp"
#include "kwire/messages/consumer_group_heartbeat_request.hpp"
#include "kwire/messages/consumer_group_heartbeat_response.hpp"
#include "kwire/messages/consumer_protocol_assignment.hpp"
#include "kwire/messages/consumer_protocol_subscription.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/heartbeat_request.hpp"
#include "kwire/messages/heartbeat_response.hpp"
#include "kwire/messages/join_group_request.hpp"
#include "kwire/messages/join_group_response.hpp"
#include "kwire/messages/leave_group_request.hpp"
#include "kwire/messages/leave_group_response.hpp"
#include "kwire/messages/list_groups_request.hpp"
#include "kwire/messages/list_groups_response.hpp"
#include "kwire/messages/offset_commit_request.hpp"
#include "kwire/messages/offset_commit_response.hpp"
#include "kwire/messages/offset_fetch_request.hpp"
#include "kwire/messages/offset_fetch_response.hpp"
#include "kwire/messages/sync_group_request.hpp"
#include "kwire/messages/sync_group_response.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::string_view group_id = "mixed";

template <class E>
ErrorCode code(E e) {
  return static_cast<ErrorCode>(e);
}

/// A version prefix, then the body: the consumer's embedded protocol.
template <class M>
Bytes versioned(const M& m, std::int16_t version) {
  Bytes out{static_cast<std::uint8_t>(version >> 8), static_cast<std::uint8_t>(version & 0xff)};
  REQUIRE(!kwire::encode_into(m, version, out));
  return out;
}

Bytes subscription(const std::set<std::int32_t>& owned = {}) {
  kwire::ConsumerProtocolSubscription s;
  s.topics.push_back("orders");
  if (!owned.empty()) {
    auto& tp = s.owned_partitions.emplace_back();
    tp.topic = "orders";
    tp.partitions.assign(owned.begin(), owned.end());
  }
  return versioned(s, 1);
}

Bytes assignment(const std::set<std::int32_t>& partitions) {
  kwire::ConsumerProtocolAssignment a;
  auto& tp = a.assigned_partitions.emplace_back();
  tp.topic = "orders";
  tp.partitions.assign(partitions.begin(), partitions.end());
  return versioned(a, 0);
}

/// The partitions of "orders" in a SyncGroup's assignment.
std::set<std::int32_t> partitions_of(kwire::bytes_view bytes) {
  std::pmr::unsynchronized_pool_resource mem;
  kwire::Reader r(bytes, &mem);
  const auto version = r.i16();
  kwire::ConsumerProtocolAssignment a;
  kwire::decode_from(r, a, version);
  REQUIRE(r.ok());
  std::set<std::int32_t> out;
  for (auto& tp : a.assigned_partitions) {
    CHECK(tp.topic == "orders");
    out.insert(tp.partitions.begin(), tp.partitions.end());
  }
  return out;
}

void create_orders(InProcessBroker& b) {
  kwire::CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = "orders";
  t.num_partitions = 4;
  t.replication_factor = 1;
  auto resp = b.call<kwire::CreateTopicsResponse>(req, 7);
  REQUIRE(code(resp.topics.at(0).error_code) == ErrorCode::None);
}

kwire::JoinGroupResponse classic_join(InProcessBroker& b, std::string_view member, const Bytes& metadata,
                                      std::string_view protocol = "range") {
  kwire::JoinGroupRequest req;
  req.group_id = group_id;
  req.member_id = member;
  req.session_timeout_ms = 10000;
  req.rebalance_timeout_ms = 10000;
  req.protocol_type = "consumer";
  auto& p = req.protocols.emplace_back();
  p.name = protocol;
  p.metadata = metadata;
  return b.call<kwire::JoinGroupResponse>(req, 9);
}

kwire::SyncGroupResponse classic_sync(InProcessBroker& b, std::string_view member, std::int32_t generation,
                                      const std::optional<Bytes>& own_assignment = std::nullopt) {
  kwire::SyncGroupRequest req;
  req.group_id = group_id;
  req.member_id = member;
  req.generation_id = generation;
  req.protocol_type = "consumer";
  req.protocol_name = "range";
  if (own_assignment) {
    auto& a = req.assignments.emplace_back();
    a.member_id = member;
    a.assignment = *own_assignment;
  }
  return b.call<kwire::SyncGroupResponse>(req, 5);
}

ErrorCode classic_heartbeat(InProcessBroker& b, std::string_view member, std::int32_t generation) {
  kwire::HeartbeatRequest req;
  req.group_id = group_id;
  req.member_id = member;
  req.generation_id = generation;
  return code(b.call<kwire::HeartbeatResponse>(req, 4).error_code);
}

kwire::ConsumerGroupHeartbeatResponse consumer_heartbeat(InProcessBroker& b, std::string_view member,
                                                         std::int32_t epoch, const kwire::Uuid* owned_topic = nullptr,
                                                         const std::set<std::int32_t>& owned = {}) {
  kwire::ConsumerGroupHeartbeatRequest req;
  req.group_id = group_id;
  req.member_id = member;
  req.member_epoch = epoch;
  if (epoch == 0) {
    req.rebalance_timeout_ms = 30000;
    req.subscribed_topic_names.emplace().push_back("orders");
  }
  auto& tps = req.topic_partitions.emplace();
  if (owned_topic && !owned.empty()) {
    auto& tp = tps.emplace_back();
    tp.topic_id = *owned_topic;
    tp.partitions.assign(owned.begin(), owned.end());
  }
  return b.call<kwire::ConsumerGroupHeartbeatResponse>(req, 1);
}

ErrorCode commit(InProcessBroker& b, std::string_view member, std::int32_t generation, std::int64_t offset) {
  kwire::OffsetCommitRequest req;
  req.group_id = group_id;
  req.member_id = member;
  req.generation_id_or_member_epoch = generation;
  auto& t = req.topics.emplace_back();
  t.name = "orders";
  auto& p = t.partitions.emplace_back();
  p.partition_index = 0;
  p.committed_offset = offset;
  return code(b.call<kwire::OffsetCommitResponse>(req, 8).topics.at(0).partitions.at(0).error_code);
}

std::int64_t committed(InProcessBroker& b) {
  kwire::OffsetFetchRequest req;
  req.group_id = group_id;
  auto& t = req.topics.emplace().emplace_back();
  t.name = "orders";
  t.partition_indexes.push_back(0);
  return b.call<kwire::OffsetFetchResponse>(req, 7).topics.at(0).partitions.at(0).committed_offset;
}

/// The group's type and state as ListGroups shows them.
std::pair<std::string, std::string> listed(InProcessBroker& b) {
  kwire::ListGroupsRequest req;
  auto resp = b.call<kwire::ListGroupsResponse>(req, 5);
  for (auto& g : resp.groups)
    if (g.group_id == group_id) return {std::string(g.group_type), std::string(g.group_state)};
  return {};
}

/// A classic group of one member ("the classic member") that owns all four
/// partitions of "orders" at generation 1, with offset 5 committed.
std::string stable_classic_group(InProcessBroker& b) {
  create_orders(b);
  auto first = classic_join(b, "", subscription());
  REQUIRE(code(first.error_code) == ErrorCode::MemberIdRequired);
  const std::string member(first.member_id);
  auto joined = classic_join(b, member, subscription());
  REQUIRE(code(joined.error_code) == ErrorCode::None);
  REQUIRE(joined.generation_id == 1);
  REQUIRE(joined.leader == member);
  auto synced = classic_sync(b, member, 1, assignment({0, 1, 2, 3}));
  REQUIRE(code(synced.error_code) == ErrorCode::None);
  REQUIRE(commit(b, member, 1, 5) == ErrorCode::None);
  return member;
}

kwire::Uuid orders_id(InProcessBroker& b) {
  kwire::ConsumerGroupDescribeRequest req;
  req.group_ids.push_back(group_id);
  auto d = b.call<kwire::ConsumerGroupDescribeResponse>(req, 1);
  for (auto& m : d.groups.at(0).members)
    for (auto& tp : m.target_assignment.topic_partitions) return tp.topic_id;
  FAIL("no target assignment names the topic");
  return {};
}

}  // namespace

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
