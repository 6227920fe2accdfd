// What the mixed group tests (classic and consumer members in one group)
// send through an in-process broker: a classic member's JoinGroup, SyncGroup
// and Heartbeat with the consumer's embedded protocol, a consumer member's
// ConsumerGroupHeartbeat, commits, and what ListGroups and
// ConsumerGroupDescribe show, all for group "mixed" on topic "orders".
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <memory_resource>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
#include "support/in_process_broker.hpp"

namespace kwire_broker::testing::mixed_group {

using kwire::ErrorCode;
using Bytes = std::vector<std::uint8_t>;

inline constexpr std::string_view group_id = "mixed";

template <class E>
inline ErrorCode code(E e) {
  return static_cast<ErrorCode>(e);
}

/// A version prefix, then the body: the consumer's embedded protocol.
template <class M>
inline Bytes versioned(const M& m, std::int16_t version) {
  Bytes out{static_cast<std::uint8_t>(version >> 8), static_cast<std::uint8_t>(version & 0xff)};
  REQUIRE(!kwire::encode_into(m, version, out));
  return out;
}

inline Bytes subscription(const std::set<std::int32_t>& owned = {}) {
  kwire::ConsumerProtocolSubscription s;
  s.topics.push_back("orders");
  if (!owned.empty()) {
    auto& tp = s.owned_partitions.emplace_back();
    tp.topic = "orders";
    tp.partitions.assign(owned.begin(), owned.end());
  }
  return versioned(s, 1);
}

inline Bytes assignment(const std::set<std::int32_t>& partitions) {
  kwire::ConsumerProtocolAssignment a;
  auto& tp = a.assigned_partitions.emplace_back();
  tp.topic = "orders";
  tp.partitions.assign(partitions.begin(), partitions.end());
  return versioned(a, 0);
}

/// The partitions of "orders" in a SyncGroup's assignment.
inline std::set<std::int32_t> partitions_of(kwire::bytes_view bytes) {
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

inline void create_orders(InProcessBroker& b) {
  kwire::CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = "orders";
  t.num_partitions = 4;
  t.replication_factor = 1;
  auto resp = b.call<kwire::CreateTopicsResponse>(req, 7);
  REQUIRE(code(resp.topics.at(0).error_code) == ErrorCode::None);
}

inline kwire::JoinGroupResponse classic_join(InProcessBroker& b, std::string_view member, const Bytes& metadata,
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

inline kwire::SyncGroupResponse classic_sync(InProcessBroker& b, std::string_view member, std::int32_t generation,
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

inline ErrorCode classic_heartbeat(InProcessBroker& b, std::string_view member, std::int32_t generation) {
  kwire::HeartbeatRequest req;
  req.group_id = group_id;
  req.member_id = member;
  req.generation_id = generation;
  return code(b.call<kwire::HeartbeatResponse>(req, 4).error_code);
}

inline kwire::ConsumerGroupHeartbeatResponse consumer_heartbeat(InProcessBroker& b, std::string_view member,
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

inline ErrorCode commit(InProcessBroker& b, std::string_view member, std::int32_t generation, std::int64_t offset) {
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

inline std::int64_t committed(InProcessBroker& b) {
  kwire::OffsetFetchRequest req;
  req.group_id = group_id;
  auto& t = req.topics.emplace().emplace_back();
  t.name = "orders";
  t.partition_indexes.push_back(0);
  return b.call<kwire::OffsetFetchResponse>(req, 7).topics.at(0).partitions.at(0).committed_offset;
}

/// The group's type and state as ListGroups shows them.
inline std::pair<std::string, std::string> listed(InProcessBroker& b) {
  kwire::ListGroupsRequest req;
  auto resp = b.call<kwire::ListGroupsResponse>(req, 5);
  for (auto& g : resp.groups)
    if (g.group_id == group_id) return {std::string(g.group_type), std::string(g.group_state)};
  return {};
}

/// A classic group of one member ("the classic member") that owns all four
/// partitions of "orders" at generation 1, with offset 5 committed.
inline std::string stable_classic_group(InProcessBroker& b) {
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

inline kwire::Uuid orders_id(InProcessBroker& b) {
  kwire::ConsumerGroupDescribeRequest req;
  req.group_ids.push_back(group_id);
  auto d = b.call<kwire::ConsumerGroupDescribeResponse>(req, 1);
  for (auto& m : d.groups.at(0).members)
    for (auto& tp : m.target_assignment.topic_partitions) return tp.topic_id;
  FAIL("no target assignment names the topic");
  return {};
}


}  // namespace kwire_broker::testing::mixed_group
