// What the share groups' data path keeps (KIP-932): every share partition's
// records (share_partition.hpp) and every member's share session. Lives in
// the GroupCoordinator and is touched only on its strand.
//
// A share session is a member's set of partitions that ShareFetch reads
// from; its epoch orders the member's requests. Epoch 0 opens one (replacing
// an earlier one), each later request names the epoch it expects and moves
// it on, -1 closes it. Sessions are bounded by group.share.max.share.sessions.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "coordinator/share_partition.hpp"
#include "coordinator/share_queue_partition.hpp"
#include "kwire/messages/error_code.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::share {

struct ShareSession {
  std::int32_t epoch = 1;  // what the member's next request must carry
  std::set<std::pair<storage::TopicId, std::int32_t>> partitions;
};

struct SessionStep {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  ShareSession* session = nullptr;
  bool closing = false;  // epoch -1: the session ends after this request
};

struct ShareState {
  /// Share partitions read from the partition log (the embedded store).
  std::map<storage::SharePartitionKey, SharePartition> partitions;
  /// Share partitions served from the store's queues (Storage::share_queues()).
  std::map<storage::SharePartitionKey, QueuedPartition> queued;
  std::map<std::pair<std::string, std::string>, ShareSession> sessions;  // (group, member)

  /// A request of `member` at session `epoch`: `opening_allowed` is false for
  /// ShareAcknowledge, which cannot open a session.
  SessionStep begin(const std::string& group, const std::string& member, std::int32_t epoch, bool opening_allowed,
                    std::size_t max_sessions);
  /// Ends the member's session and releases what it holds in the session's
  /// partitions; the keys of the partitions that changed.
  std::vector<storage::SharePartitionKey> close(const std::string& group, const std::string& member,
                                                const PartitionLimits& limits);
  /// Forgets a group's sessions and partitions (the group was deleted).
  void forget_group(const std::string& group);
};

}  // namespace kwire_broker::share
