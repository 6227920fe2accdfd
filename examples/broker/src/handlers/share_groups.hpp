// What the other group handlers ask of share groups (KIP-932) when a group id
// they are given belongs to one. All strand only.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/group_configs.hpp"
#include "coordinator/group_coordinator.hpp"
#include "kwire/messages/describe_groups_response.hpp"
#include "kwire/messages/list_groups_request.hpp"
#include "kwire/messages/list_groups_response.hpp"
#include "protocol/context.hpp"

namespace kwire_broker {

/// A classic or consumer member joining group `id`: `busy` (Kafka's error
/// for that protocol) while a share group of that id has members; an empty
/// one is dropped and the id changes kind.
kwire::ErrorCode share_group_yields(GroupCoordinator& c, const std::string& id, kwire::ErrorCode busy);

/// ListGroups' entries for share groups, after the filters.
void list_share_groups(GroupCoordinator& c, Ctx& ctx, const kwire::ListGroupsRequest& req,
                       kwire::ListGroupsResponse& resp);

/// DescribeGroups for a share group, as Kafka answers it; false when `id` is
/// not a share group.
bool describe_share_as_classic(GroupCoordinator& c, Ctx& ctx, const std::string& id,
                               kwire::DescribeGroupsResponse::DescribedGroup& out);

/// DeleteGroups: nullopt when `id` is not a share group; else NON_EMPTY_GROUP,
/// or NONE once it is forgotten (the caller deletes what is stored).
std::optional<kwire::ErrorCode> forget_share_group(GroupCoordinator& c, const std::string& id);

/// A group config change as IncrementalAlterConfigs carries it (operation 0:
/// set, 1: delete).
struct GroupConfigChange {
  std::string key;
  std::int8_t operation = 0;
  std::string value;
};

/// IncrementalAlterConfigs on a GROUP resource: the share group configs of
/// coordinator/group_configs.hpp, kept with the share group (created empty
/// if the id is unused). Not on the strand: it goes there itself.
asio::awaitable<std::pair<kwire::ErrorCode, std::string>> alter_group_configs(Ctx& ctx, std::string group,
                                                                             std::vector<GroupConfigChange> changes,
                                                                             bool validate_only);
/// DescribeConfigs on a GROUP resource: every group config, the group's
/// value or the broker's.
asio::awaitable<std::vector<group_configs::Entry>> describe_group_configs(Ctx& ctx, std::string group);
/// The groups with a group config set for them (ListConfigResources).
asio::awaitable<std::vector<std::string>> groups_with_configs(Ctx& ctx);

}  // namespace kwire_broker
