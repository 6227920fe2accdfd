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

/// A classic member joining group `id`: INCONSISTENT_GROUP_PROTOCOL while a
/// consumer group of that id has members; an empty one is dropped, and the
/// id becomes a classic group (its committed offsets stay).
kwire::ErrorCode classic_join_allowed(GroupCoordinator& c, const std::string& id);

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
