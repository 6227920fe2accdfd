// Share sessions and the share partitions' map: see share_state.hpp.
#include "coordinator/share_state.hpp"

#include <limits>

namespace kwire_broker::share {

using kwire::ErrorCode;

SessionStep ShareState::begin(const std::string& group, const std::string& member, std::int32_t epoch,
                              bool opening_allowed, std::size_t max_sessions) {
  SessionStep step;
  const auto key = std::pair{group, member};
  auto it = sessions.find(key);
  if (epoch == 0) {
    if (!opening_allowed) {
      step.error = ErrorCode::InvalidShareSessionEpoch;
      return step;
    }
    if (it == sessions.end()) {
      if (sessions.size() >= max_sessions) {
        step.error = ErrorCode::ShareSessionLimitReached;
        return step;
      }
      it = sessions.emplace(key, ShareSession{}).first;
    } else {
      it->second = ShareSession{};  // a new session replaces the member's old one
    }
    step.session = &it->second;
    return step;
  }
  if (epoch < -1) {
    step.error = ErrorCode::InvalidShareSessionEpoch;
    return step;
  }
  if (it == sessions.end()) {
    step.error = ErrorCode::ShareSessionNotFound;
    return step;
  }
  if (epoch == -1) {
    step.closing = true;
    step.session = &it->second;
    return step;
  }
  if (epoch != it->second.epoch) {
    step.error = ErrorCode::InvalidShareSessionEpoch;
    return step;
  }
  it->second.epoch = epoch == std::numeric_limits<std::int32_t>::max() ? 1 : epoch + 1;
  step.session = &it->second;
  return step;
}

std::vector<storage::SharePartitionKey> ShareState::close(const std::string& group, const std::string& member,
                                                          const PartitionLimits& limits) {
  std::vector<storage::SharePartitionKey> changed;
  auto it = sessions.find({group, member});
  if (it == sessions.end()) return changed;
  for (auto& [topic, partition] : it->second.partitions) {
    storage::SharePartitionKey key{group, topic, partition};
    auto p = partitions.find(key);
    if (p != partitions.end() && p->second.release_member(member, limits)) changed.push_back(key);
    auto q = queued.find(key);
    if (q != queued.end() && q->second.release_member(member, limits)) changed.push_back(key);
  }
  sessions.erase(it);
  return changed;
}

void ShareState::forget_group(const std::string& group) {
  std::erase_if(sessions, [&](auto& s) { return s.first.first == group; });
  std::erase_if(partitions, [&](auto& p) { return p.first.group_id == group; });
  std::erase_if(queued, [&](auto& p) { return p.first.group_id == group; });
}

}  // namespace kwire_broker::share
