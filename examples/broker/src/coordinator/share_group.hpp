// Share groups (KIP-932): members heartbeat with ShareGroupHeartbeat and the
// coordinator hands each one a set of partitions of the topics it subscribes
// to. Unlike a consumer group a partition may go to several members at once
// (records, not partitions, are what members share), so nothing is revoked
// before it is given: at its next heartbeat a member takes its part of the
// target assignment and the group's epoch in one step.
//
// Like consumer::ConsumerGroups the state machine is synchronous, lives in
// the GroupCoordinator and runs on its strand; callers store the group's
// record (record_of) after every change that must survive a restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/consumer_group.hpp"
#include "kwire/messages/error_code.hpp"

namespace kwire_broker::share {

using Clock = std::chrono::steady_clock;
using consumer::Assignment;
using consumer::TopicMeta;
using consumer::TopicView;

struct Config {
  std::int32_t session_timeout_ms = 45000;    // group.share.session.timeout.ms
  std::int32_t heartbeat_interval_ms = 5000;  // group.share.heartbeat.interval.ms
  std::int32_t max_size = 200;                // group.share.max.size
  std::int32_t lock_duration_ms = 30000;      // group.share.record.lock.duration.ms
  std::int32_t delivery_count_limit = 5;      // group.share.delivery.count.limit
  std::int32_t max_record_locks = 2000;       // group.share.partition.max.record.locks
  std::int32_t max_sessions = 2000;           // group.share.max.share.sessions
};

struct Member {
  std::string id;
  std::optional<std::string> rack_id;
  std::string client_id, client_host;
  std::vector<std::string> topic_names;  // sorted, no duplicates
  std::int32_t epoch = 0;
  Assignment assigned;  // as of `epoch`: what the member was last told
  Clock::time_point last_seen{};
};

struct Group {
  std::string id;
  std::int32_t group_epoch = 0, assignment_epoch = 0;
  std::map<std::string, Member> members;
  std::map<std::string, Assignment> target;     // member id -> its part at assignment_epoch
  std::map<std::string, TopicMeta> subscribed;  // the subscribed topics the assignment was computed on
  /// share.auto.offset.reset (a group config): where a share partition the
  /// group never fetched starts, "latest" or "earliest".
  std::string auto_offset_reset = "latest";
  /// The other group configs set for it (share.record.lock.duration.ms,
  /// share.delivery.count.limit, ...: coordinator/group_configs.hpp), by name.
  std::map<std::string, std::string, std::less<>> configs;

  /// A numeric group config, or `fallback` (the broker's) when it is not set.
  std::int32_t config_int(std::string_view name, std::int32_t fallback) const;

  /// Empty or Stable (Kafka's names; a share group has no reconciliation).
  std::string state_name() const { return members.empty() ? "Empty" : "Stable"; }
  std::set<std::string> subscribed_names() const;
};

/// A ShareGroupHeartbeat, decoded.
struct Heartbeat {
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::optional<std::string> rack_id;
  std::optional<std::vector<std::string>> topic_names;  // null: unchanged
  std::string client_id, client_host;
};

struct HeartbeatResult {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::string message;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::int32_t heartbeat_interval_ms = 0;
  std::optional<Assignment> assignment;  // sent when the member's assignment is new to it
  bool changed = false;                  // the group's record must be stored again
};

/// The coordinator's share groups (strand only).
class ShareGroups {
 public:
  explicit ShareGroups(Config config) : config_(config) {}

  const Config& config() const { return config_; }
  Group* find(const std::string& id);
  const Group* find(const std::string& id) const;
  Group& get_or_create(const std::string& id);
  void remove(const std::string& id) { groups_.erase(id); }
  std::vector<Group*> all();

  /// Handles one heartbeat of group `g` at `now`.
  HeartbeatResult heartbeat(Group& g, Heartbeat hb, const TopicView& topics, Clock::time_point now);

  /// Whether `member_id` is a member of `g` (ShareFetch and ShareAcknowledge
  /// come only from members).
  bool is_member(const Group& g, const std::string& member_id) const { return g.members.count(member_id) != 0; }

  /// Removes members whose session passed; returns the groups that changed.
  std::vector<std::string> expire(Clock::time_point now);

  /// The group's durable record and its reverse (false: not a record of
  /// this kind). Loaded members get a fresh session from `now`.
  static std::vector<std::uint8_t> record_of(const Group& g);
  static bool is_record(const std::vector<std::uint8_t>& blob);
  bool load(const std::string& id, const std::vector<std::uint8_t>& blob, Clock::time_point now);

 private:
  /// Looks the subscribed topics up again; whether they changed.
  bool refresh_subscriptions(Group& g, const TopicView& topics);
  /// A new group epoch and the target assignment for it.
  void reassign(Group& g);

  Config config_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
};

/// The share groups' assignor (Kafka's "simple"): every partition of a
/// subscribed topic goes to at least one of the members subscribing to it,
/// and every such member gets at least one partition of it; with more members
/// than partitions, partitions are shared. Members by id -> topic names.
std::map<std::string, Assignment> assign_shared(const std::map<std::string, std::set<std::string>>& members,
                                               const std::map<std::string, TopicMeta>& topics);

}  // namespace kwire_broker::share
