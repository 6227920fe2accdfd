// What the classic group handlers (groups.cpp) ask of consumer groups
// (KIP-848) when a group id they are given belongs to one. All strand only.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "coordinator/group_coordinator.hpp"
#include "kwire/messages/describe_groups_response.hpp"
#include "kwire/messages/list_groups_request.hpp"
#include "kwire/messages/list_groups_response.hpp"
#include "protocol/context.hpp"

namespace kwire_broker {

/// A classic member joining group `id` when it is a consumer group with
/// members: it joins as a classic member of the consumer group (KIP-848),
/// and the answer is returned at once. nullopt when `id` is no such group; an
/// empty consumer group is dropped then, and the id becomes a classic group
/// (its committed offsets stay).
asio::awaitable<std::optional<GroupCoordinator::JoinResult>> join_consumer_group(GroupCoordinator& c, Ctx& ctx,
                                                                                 std::string id,
                                                                                 GroupCoordinator::Member m,
                                                                                 bool require_known_member_id);
/// SyncGroup, Heartbeat and LeaveGroup (one member) of a classic member of
/// consumer group `id`; nullopt when `id` is not a consumer group. After a
/// LeaveGroup the caller stores the group (store_consumer_group).
std::optional<GroupCoordinator::SyncResult> sync_consumer_group(GroupCoordinator& c, const std::string& id,
                                                                const std::string& member_id, std::int32_t generation,
                                                                const std::optional<std::string>& instance_id,
                                                                const std::optional<std::string>& protocol_type,
                                                                const std::optional<std::string>& protocol_name);
std::optional<kwire::ErrorCode> heartbeat_consumer_group(GroupCoordinator& c, const std::string& id,
                                                         const std::string& member_id, std::int32_t generation,
                                                         const std::optional<std::string>& instance_id);
std::optional<kwire::ErrorCode> leave_consumer_group(GroupCoordinator& c, const std::string& id,
                                                     const std::string& member_id,
                                                     const std::optional<std::string>& instance_id);
/// Stores consumer group `id` after a change; a group left with classic
/// members only is downgraded to a classic group first (as the policy and
/// group.max.size allow), which rebalances unless `downgrade_rebalances` is false.
asio::awaitable<void> store_consumer_group(GroupCoordinator& c, std::string id, bool downgrade_rebalances = true);

/// The OffsetCommit / OffsetFetch check for a consumer group's member and
/// epoch; nullopt when `id` is not a consumer group.
std::optional<kwire::ErrorCode> check_consumer_offsets(GroupCoordinator& c, const std::string& id,
                                                       const std::string& member_id, std::int32_t epoch);

/// ListGroups' entries for consumer groups, after the filters. Whether a
/// classic group passes the types filter.
void list_consumer_groups(GroupCoordinator& c, Ctx& ctx, const kwire::ListGroupsRequest& req,
                          kwire::ListGroupsResponse& resp);
bool lists_classic_groups(const kwire::ListGroupsRequest& req);

/// DescribeGroups for a consumer group, as Kafka answers it; false when `id`
/// is not a consumer group.
bool describe_as_classic(GroupCoordinator& c, Ctx& ctx, const std::string& id,
                         kwire::DescribeGroupsResponse::DescribedGroup& out);

/// DeleteGroups: nullopt when `id` is not a consumer group; else NON_EMPTY_GROUP,
/// or NONE once it is forgotten (the caller deletes what is stored).
std::optional<kwire::ErrorCode> forget_consumer_group(GroupCoordinator& c, const std::string& id);

/// The topics a consumer group subscribes to (OffsetDelete refuses them);
/// nullopt when `id` is not a consumer group.
std::optional<std::set<std::string>> consumer_group_topics(GroupCoordinator& c, const std::string& id);

}  // namespace kwire_broker
