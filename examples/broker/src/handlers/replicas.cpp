// Where partitions live and who leads them, as Kafka's replica admin APIs
// ask: DescribeLogDirs, AlterReplicaLogDirs, ElectLeaders,
// AlterPartitionReassignments and ListPartitionReassignments.
//
// Every partition has one copy, in the store, written by the gateway that
// leads it (core/cluster.hpp): one node on the embedded store. So there is
// one log directory (Storage::data_location), every leader is already the
// preferred one, and no reassignment is ever in progress; the answers are
// those Kafka gives for a cluster in that state.
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "core/log.hpp"
#include "core/realm.hpp"
#include "kwire/messages/alter_partition_reassignments_request.hpp"
#include "kwire/messages/alter_partition_reassignments_response.hpp"
#include "kwire/messages/alter_replica_log_dirs_request.hpp"
#include "kwire/messages/alter_replica_log_dirs_response.hpp"
#include "kwire/messages/describe_log_dirs_request.hpp"
#include "kwire/messages/describe_log_dirs_response.hpp"
#include "kwire/messages/elect_leaders_request.hpp"
#include "kwire/messages/elect_leaders_response.hpp"
#include "kwire/messages/list_partition_reassignments_request.hpp"
#include "kwire/messages/list_partition_reassignments_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/internal_topics.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

constexpr std::string_view cluster_denied = "Cluster authorization failed.";

/// The topic as clients see it: the store's, or one of Kafka's internal
/// topics while it is shown.
std::optional<storage::TopicInfo> known_topic(Ctx& ctx, std::string_view name) {
  if (internal_topics::is_internal(name)) return internal_topics::find(ctx.realm(), name);
  return ctx.realm().store().topics().find_topic(std::string(name));
}

bool has_partition(const std::optional<storage::TopicInfo>& t, std::int32_t p) {
  return t && p >= 0 && p < t->partitions;
}

/// The gateway that leads partition p of `topic` (as Metadata shows it).
std::int32_t leader_of(const ClusterView& view, std::string_view topic, std::int32_t p) {
  if (topic == internal_topics::group_offsets) return view.coordinator_of_shard(p);
  return view.leader_of({std::string(topic), p});
}

/// A topic another gateway created is not in this one's memory yet: one
/// refresh of the catalog when a request names a topic it does not know.
template <class Names>
asio::awaitable<void> refresh_if_unknown(Ctx& ctx, const Names& names) {
  for (std::string_view n : names) {
    if (!internal_topics::is_internal(n) && !known_topic(ctx, n)) {
      (void)co_await ctx.realm().store().topics().list_topics();
      co_return;
    }
  }
}

/// Every topic clients see, the shown internal ones included.
asio::awaitable<std::vector<storage::TopicInfo>> every_topic(Ctx& ctx) {
  auto listed = co_await ctx.realm().store().topics().list_topics();
  std::vector<storage::TopicInfo> out;
  for (auto& t : listed.value)
    if (!internal_topics::is_internal(t.name)) out.push_back(std::move(t));
  if (auto t = internal_topics::group_offsets_topic(ctx.realm())) out.push_back(*t);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  co_return out;
}

asio::awaitable<void> describe_log_dirs(Broker& b, Ctx& ctx, DescribeLogDirsRequest& req,
                                        DescribeLogDirsResponse& resp) {
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe)) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);  // sent from v3; no dirs either way
    co_return;
  }
  auto& store = ctx.realm().store();
  const auto view = ctx.realm().cluster().view();
  // The partitions asked for, by topic; null topics: all. Partitions and
  // topics the store does not have are left out, as Kafka leaves out those
  // without a log. So is the group-offsets view, which has none: the group
  // store keeps what Kafka keeps in it.
  std::map<std::string, std::set<std::int32_t>> wanted;
  if (!req.topics) {
    auto listed = co_await store.topics().list_topics();
    for (auto& t : listed.value)
      for (std::int32_t p = 0; p < t.partitions; ++p) wanted[t.name].insert(p);
  } else {
    std::vector<std::string_view> names;
    for (auto& t : *req.topics) names.push_back(t.topic);
    co_await refresh_if_unknown(ctx, names);
    for (auto& t : *req.topics) wanted[std::string(t.topic)].insert(t.partitions.begin(), t.partitions.end());
  }
  const auto where = store.data_location();
  DescribeLogDirsResponse::DescribeLogDirsResult dir;
  dir.log_dir = ctx.keep(where.name);
  dir.total_bytes = where.total_bytes;
  dir.usable_bytes = where.usable_bytes;
  for (auto& [name, partitions] : wanted) {
    auto info = store.topics().find_topic(name);
    if (!info || internal_topics::is_internal(name)) continue;
    std::string asked = name;  // named: g++ 12 mishandles temporaries in co_await
    auto sizes = co_await store.partition_sizes(std::move(asked));
    if (!sizes.ok()) continue;  // deleted meanwhile
    DescribeLogDirsResponse::DescribeLogDirsTopic topic;
    topic.name = ctx.keep(name);
    for (auto p : partitions) {
      // A gateway hosts the partitions it leads; with several, each answers for its own.
      if (!has_partition(info, p) || leader_of(view, name, p) != view.self()) continue;
      DescribeLogDirsResponse::DescribeLogDirsPartition part;
      part.partition_index = p;
      // -1 where the store cannot tell (Storage::partition_sizes).
      part.partition_size = static_cast<std::size_t>(p) < sizes.value.size() ? sizes.value[static_cast<std::size_t>(p)] : -1;
      part.offset_lag = 0;  // the one copy is the log end
      part.is_future_key = false;
      topic.partitions.push_back(part);
    }
    if (!topic.partitions.empty()) dir.topics.push_back(std::move(topic));
  }
  resp.results.push_back(std::move(dir));
}

asio::awaitable<void> alter_replica_log_dirs(Broker& b, Ctx& ctx, AlterReplicaLogDirsRequest& req,
                                             AlterReplicaLogDirsResponse& resp) {
  // Kafka reads the request as a map from partition to directory: a
  // partition named twice moves to the last directory named.
  std::map<std::string_view, std::map<std::int32_t, std::string_view>> moves;
  std::vector<std::string_view> names;
  for (auto& d : req.dirs)
    for (auto& t : d.topics) {
      names.push_back(t.name);
      for (auto p : t.partitions) moves[t.name][p] = d.path;
    }
  const bool allowed = allowed_on_cluster(b, ctx, acl::Operation::alter);
  if (allowed) co_await refresh_if_unknown(ctx, names);
  const auto here = ctx.realm().store().data_location().name;
  const auto view = ctx.realm().cluster().view();
  for (auto& [name, partitions] : moves) {
    AlterReplicaLogDirsResponse::AlterReplicaLogDirTopicResult r;
    r.topic_name = name;
    const auto info = known_topic(ctx, name);
    for (auto& [p, path] : partitions) {
      AlterReplicaLogDirsResponse::AlterReplicaLogDirPartitionResult pr;
      pr.partition_index = p;
      // Checked in Kafka's order: the directory, then the partition. The
      // only directory is where it already is: nothing to move.
      ErrorCode e = ErrorCode::None;
      if (!allowed) e = ErrorCode::ClusterAuthorizationFailed;
      else if (path != here) e = ErrorCode::LogDirNotFound;
      else if (!has_partition(info, p)) e = ErrorCode::UnknownTopicOrPartition;
      else if (leader_of(view, name, p) != view.self()) e = ErrorCode::ReplicaNotAvailable;  // another gateway's
      pr.error_code = ctx.note(e);
      r.partitions.push_back(pr);
    }
    resp.results.push_back(std::move(r));
  }
}

constexpr std::int8_t preferred_election = 0, unclean_election = 1;

asio::awaitable<void> elect_leaders(Broker& b, Ctx& ctx, ElectLeadersRequest& req, ElectLeadersResponse& resp) {
  auto answer = [&](ElectLeadersResponse::ReplicaElectionResult& r, std::int32_t p, ErrorCode e, std::string message) {
    ElectLeadersResponse::PartitionResult pr;
    pr.partition_id = p;
    pr.error_code = ctx.note(e);
    pr.error_message = e == ErrorCode::None ? nullable_string{} : nullable_string{ctx.keep(std::move(message))};
    r.partition_result.push_back(pr);
  };
  if (!allowed_on_cluster(b, ctx, acl::Operation::alter)) {
    if (ctx.version >= 1) resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    if (req.topic_partitions)
      for (auto& t : *req.topic_partitions) {
        auto& r = resp.replica_election_results.emplace_back();
        r.topic = t.topic;
        for (auto p : t.partitions) answer(r, p, ErrorCode::ClusterAuthorizationFailed, std::string(cluster_denied));
      }
    co_return;
  }
  // v0 knows only preferred elections.
  const std::int8_t type = ctx.version >= 1 ? req.election_type : preferred_election;
  const bool known_type = type == preferred_election || type == unclean_election;
  if (!req.topic_partitions) {
    // Every partition, answering only those where an election took place,
    // as Kafka's controller does: none, each topic with no partitions.
    auto topics = co_await every_topic(ctx);
    for (auto& t : topics) {
      auto& r = resp.replica_election_results.emplace_back();
      r.topic = ctx.keep(t.name);
      if (!known_type)
        for (std::int32_t p = 0; p < t.partitions; ++p) answer(r, p, ErrorCode::InvalidRequest, "Unknown election type");
    }
    co_return;
  }
  std::vector<std::string_view> names;
  for (auto& t : *req.topic_partitions) names.push_back(t.topic);
  co_await refresh_if_unknown(ctx, names);
  for (auto& t : *req.topic_partitions) {
    auto& r = resp.replica_election_results.emplace_back();
    r.topic = t.topic;
    const auto info = known_topic(ctx, t.topic);
    const std::string name(t.topic);
    for (auto p : t.partitions) {
      if (!info) answer(r, p, ErrorCode::UnknownTopicOrPartition, "No such topic as " + name);
      else if (!has_partition(info, p))
        answer(r, p, ErrorCode::UnknownTopicOrPartition, "No such partition as " + name + "-" + std::to_string(p));
      else if (!known_type) answer(r, p, ErrorCode::InvalidRequest, "Unknown election type");
      // The one replica leads: it is the preferred leader, and there is a leader.
      else answer(r, p, ErrorCode::ElectionNotNeeded, "Leader election not needed for topic partition.");
    }
  }
}

/// Why a partition cannot be given `replicas`, Kafka's way, or None (it
/// already has them: nothing to do).
std::pair<ErrorCode, std::string> check_reassignment(const ClusterView& view, std::string_view topic, std::int32_t p,
                                                     const array<std::int32_t>& replicas, bool allow_rf_change) {
  if (replicas.empty())
    return {ErrorCode::InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list."};
  std::vector<std::int32_t> sorted(replicas.begin(), replicas.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const auto id = sorted[i];
    const bool live = std::any_of(view.gateways().begin(), view.gateways().end(),
                                  [&](const storage::Gateway& g) { return g.node_id == id; });
    if (!live)
      return {ErrorCode::InvalidReplicaAssignment, "The manual partition assignment includes broker " +
                                                       std::to_string(id) + ", but no such broker is registered."};
    if (i > 0 && sorted[i - 1] == id)
      return {ErrorCode::InvalidReplicaAssignment,
              "The manual partition assignment includes the broker " + std::to_string(id) + " more than once."};
  }
  if (!allow_rf_change && replicas.size() != 1)
    return {ErrorCode::InvalidReplicationFactor,
            "The replication factor is changed from 1 to " + std::to_string(replicas.size())};
  const auto leader = leader_of(view, topic, p);
  if (replicas.size() != 1 || replicas[0] != leader)
    return {ErrorCode::InvalidReplicaAssignment,
            "The partition's one copy is in the store, served by broker " + std::to_string(leader) +
                ": its replicas cannot be changed"};
  return {ErrorCode::None, {}};
}

asio::awaitable<void> alter_partition_reassignments(Broker& b, Ctx& ctx, AlterPartitionReassignmentsRequest& req,
                                                    AlterPartitionReassignmentsResponse& resp) {
  resp.allow_replication_factor_change = req.allow_replication_factor_change;
  const bool allowed = allowed_on_cluster(b, ctx, acl::Operation::alter);
  if (!allowed) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    resp.error_message = cluster_denied;
  } else {
    resp.error_message = std::nullopt;
    std::vector<std::string_view> names;
    for (auto& t : req.topics) names.push_back(t.name);
    co_await refresh_if_unknown(ctx, names);
  }
  const auto view = ctx.realm().cluster().view();
  for (auto& t : req.topics) {
    auto& r = resp.responses.emplace_back();
    r.name = t.name;
    const auto info = known_topic(ctx, t.name);
    const std::string name(t.name);
    for (auto& part : t.partitions) {
      std::pair<ErrorCode, std::string> outcome{ErrorCode::None, {}};
      if (!allowed) outcome = {ErrorCode::ClusterAuthorizationFailed, std::string(cluster_denied)};
      else if (!info) outcome = {ErrorCode::UnknownTopicOrPartition, "Unable to find a topic named " + name + "."};
      else if (!has_partition(info, part.partition_index))
        outcome = {ErrorCode::UnknownTopicOrPartition,
                   "Unable to find partition " + name + ":" + std::to_string(part.partition_index) + "."};
      else if (!part.replicas)  // a cancellation
        outcome = {ErrorCode::NoReassignmentInProgress,
                   "No partition reassignment is in progress for the relevant partition."};
      else
        outcome = check_reassignment(view, name, part.partition_index, *part.replicas,
                                     ctx.version < 1 || req.allow_replication_factor_change);
      AlterPartitionReassignmentsResponse::ReassignablePartitionResponse pr;
      pr.partition_index = part.partition_index;
      pr.error_code = ctx.note(outcome.first);
      pr.error_message = outcome.first == ErrorCode::None ? nullable_string{} : nullable_string{ctx.keep(outcome.second)};
      r.partitions.push_back(pr);
    }
  }
}

asio::awaitable<void> list_partition_reassignments(Broker& b, Ctx& ctx, ListPartitionReassignmentsRequest&,
                                                   ListPartitionReassignmentsResponse& resp) {
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe)) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    resp.error_message = cluster_denied;
    co_return;
  }
  resp.error_message = std::nullopt;  // and no topics: nothing is being moved
  co_return;
}

}  // namespace

std::vector<HandlerEntry> replica_handlers() {
  return {
      handler<AlterReplicaLogDirsRequest, alter_replica_log_dirs>(0, 2),
      handler<DescribeLogDirsRequest, describe_log_dirs>(0, 5),
      handler<ElectLeadersRequest, elect_leaders>(0, 2),
      handler<AlterPartitionReassignmentsRequest, alter_partition_reassignments>(0, 1),
      handler<ListPartitionReassignmentsRequest, list_partition_reassignments>(0, 0),
  };
}

}  // namespace kwire_broker
