// Consumer groups of Kafka's consumer group protocol (KIP-848): members
// heartbeat with ConsumerGroupHeartbeat, the coordinator computes the target
// assignment with a server-side assignor and hands each member its part one
// step at a time (a partition reaches its new owner only once the previous
// owner has revoked it). Unlike the classic protocol nothing waits: every
// heartbeat is answered at once with the member's epoch and assignment.
//
// The state machine is synchronous and has no executor of its own: it lives
// inside the GroupCoordinator and runs on its strand. Callers store the
// group's record (record_of) after every change that must survive a restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/consumer_protocol.hpp"
#include "kwire/messages/error_code.hpp"
#include "storage/types.hpp"

namespace kwire_broker::consumer {

using Clock = std::chrono::steady_clock;
using TopicId = storage::TopicId;
/// Partitions by topic id: a member's assignment, its target, its revocations.
using Assignment = std::map<TopicId, std::set<std::int32_t>>;

/// A topic as the assignors see it.
struct TopicMeta {
  std::string name;
  TopicId id{};
  std::int32_t partitions = 0;
  friend bool operator==(const TopicMeta&, const TopicMeta&) = default;
};

/// What the coordinator knows of the broker's topics at one heartbeat.
struct TopicView {
  /// A topic by name (nullopt: it does not exist).
  std::function<std::optional<TopicMeta>(const std::string&)> find;
  /// Every topic name, for regular-expression subscriptions; nullopt when
  /// the caller did not list them (regexes then keep their last matches).
  std::optional<std::vector<std::string>> names;
};

/// group.consumer.migration.policy: which online conversions between a
/// classic group and a consumer group are allowed (Kafka's values).
enum class MigrationPolicy : std::uint8_t { bidirectional, upgrade, downgrade, disabled };
std::optional<MigrationPolicy> migration_policy_of(std::string_view name);
inline bool upgrade_allowed(MigrationPolicy p) { return p == MigrationPolicy::bidirectional || p == MigrationPolicy::upgrade; }
inline bool downgrade_allowed(MigrationPolicy p) {
  return p == MigrationPolicy::bidirectional || p == MigrationPolicy::downgrade;
}

struct Config {
  std::int32_t session_timeout_ms = 45000;    // group.consumer.session.timeout.ms
  std::int32_t heartbeat_interval_ms = 5000;  // group.consumer.heartbeat.interval.ms
  std::int32_t max_size = 2147483647;         // group.consumer.max.size
  /// group.max.size, the classic groups' limit: a consumer group is not
  /// downgraded to a classic group with more members than that.
  std::int32_t classic_max_size = 2147483647;
  /// group.consumer.assignors: the first is the default.
  std::vector<std::string> assignors{"uniform", "range"};
  /// Longest regular expression accepted (bytes).
  std::size_t max_regex_size = 1024;
  MigrationPolicy migration = MigrationPolicy::bidirectional;
};

using Bytes = std::vector<std::uint8_t>;

/// What a member of the classic protocol keeps inside a consumer group (it
/// came with the group's online upgrade or joined it with JoinGroup): it
/// goes on with JoinGroup, SyncGroup and Heartbeat, and a downgrade turns it
/// back into a classic member from this.
struct ClassicProtocol {
  std::int32_t session_timeout_ms = 45000;
  std::vector<std::pair<std::string, Bytes>> protocols;  // name and metadata, in the member's order
  friend bool operator==(const ClassicProtocol&, const ClassicProtocol&) = default;
};

enum class MemberState : std::uint8_t { stable, unrevoked_partitions, unreleased_partitions };

struct Member {
  std::string id;
  std::optional<std::string> instance_id, rack_id, server_assignor, regex;
  std::string client_id, client_host;
  std::vector<std::string> topic_names;  // sorted
  std::int32_t rebalance_timeout_ms = 300000;
  std::int32_t epoch = 0, previous_epoch = -1;
  MemberState state = MemberState::stable;
  Assignment assigned;  // what the member may consume now
  Assignment revoking;  // what it must give up before it moves on
  Clock::time_point last_seen{}, revoke_deadline{};
  bool left_static = false;  // left with epoch -2: its place is kept for a session timeout
  std::optional<ClassicProtocol> classic;  // set for a member of the classic protocol
  /// A classic member's deadlines, as Kafka's timers (not stored): SyncGroup
  /// is due within the rebalance timeout after its JoinGroup, and JoinGroup
  /// within it after it was told REBALANCE_IN_PROGRESS. Past either, the
  /// member is fenced.
  std::optional<Clock::time_point> sync_deadline, join_deadline;
};

struct Group {
  std::string id;
  std::int32_t group_epoch = 0, assignment_epoch = 0;
  std::map<std::string, Member> members;
  std::map<std::string, Assignment> target;          // member id -> target assignment
  std::map<std::string, std::string> static_ids;     // instance id -> member id
  std::map<std::string, TopicMeta> subscribed;       // the subscribed topics the target was computed on
  std::map<std::string, std::vector<std::string>> regex_matches;  // regex -> matching topic names
  std::string assignor;  // the assignor of the last target

  /// Empty, Assigning, Reconciling or Stable (Kafka's names).
  std::string state_name() const;
  bool uses_regex() const;
  /// Every topic some member subscribes to, regexes resolved.
  std::set<std::string> subscribed_names() const;
  /// An assignment by topic name (topics no longer subscribed are left out).
  NamedPartitions names_of(const Assignment& a) const;
};

/// A ConsumerGroupHeartbeat, decoded.
struct Heartbeat {
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::int16_t version = 1;
  std::optional<std::string> instance_id, rack_id, regex, server_assignor;
  std::int32_t rebalance_timeout_ms = -1;
  std::optional<std::vector<std::string>> topic_names;
  std::optional<Assignment> owned;  // null: unchanged since the last heartbeat
  std::string client_id, client_host;
};

struct HeartbeatResult {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::string message;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::int32_t heartbeat_interval_ms = 0;
  std::optional<Assignment> assignment;  // sent when the member must learn it
  bool changed = false;                  // the group's record must be stored again
  bool downgrade = false;                // only classic members are left: convert to a classic group

  /// Sets the error and its message; returns the result, for `return r.fail(...)`.
  HeartbeatResult& fail(kwire::ErrorCode e, std::string why) {
    error = e;
    message = std::move(why);
    return *this;
  }
};

/// A JoinGroup of a classic member to a consumer group, decoded.
struct ClassicJoin {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id, client_host, protocol_type;
  std::int32_t session_timeout_ms = 45000, rebalance_timeout_ms = 300000;
  std::vector<std::pair<std::string, Bytes>> protocols;
  bool require_known_member_id = false;  // JoinGroup v4+ of a dynamic member
};

struct ClassicJoinResult {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::string member_id, protocol;
  std::int32_t generation = -1;  // the member's epoch
  bool changed = false;
  /// When the join leaves only classic members and the group is downgraded:
  /// whether the classic group rebalances. It does not when a static member
  /// took another's place without starting a new epoch (the same
  /// subscription, the same topics), as Kafka 4 has it.
  bool downgrade_rebalances = true;
};

struct ClassicSyncResult {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::string protocol;
  Bytes assignment;  // a ConsumerProtocolAssignment
};

/// The coordinator's consumer groups (strand only).
class ConsumerGroups {
 public:
  explicit ConsumerGroups(Config config) : config_(std::move(config)) {}

  const Config& config() const { return config_; }
  Group* find(const std::string& id);
  Group& get_or_create(const std::string& id);
  void remove(const std::string& id) { groups_.erase(id); }
  std::vector<Group*> all();

  /// The request's own consistency, as Kafka checks it before it looks at
  /// the group: the answer when it fails.
  std::optional<HeartbeatResult> check_request(const Heartbeat& hb) const;
  /// The answer to `hb` before anything is decided: its member, its epoch.
  HeartbeatResult answer_to(const Heartbeat& hb) const;
  /// Handles one heartbeat of group `g` at `now`.
  HeartbeatResult heartbeat(Group& g, Heartbeat hb, const TopicView& topics, Clock::time_point now);

  /// The classic protocol's requests from a member of a consumer group
  /// (consumer_group_classic.cpp). The member's generation is its epoch; a
  /// rebalance is signalled to it with REBALANCE_IN_PROGRESS on Heartbeat.
  ClassicJoinResult classic_join(Group& g, ClassicJoin join, const TopicView& topics, Clock::time_point now);
  ClassicSyncResult classic_sync(Group& g, const std::string& member_id, std::int32_t generation,
                                 const std::optional<std::string>& instance_id,
                                 const std::optional<std::string>& protocol_type,
                                 const std::optional<std::string>& protocol_name, Clock::time_point now);
  kwire::ErrorCode classic_heartbeat(Group& g, const std::string& member_id, std::int32_t generation,
                                     const std::optional<std::string>& instance_id, Clock::time_point now);
  /// LeaveGroup of one member (classic or not), as Kafka allows it.
  kwire::ErrorCode classic_leave(Group& g, const std::string& member_id, const std::optional<std::string>& instance_id);
  /// Whether the group holds members and all of them are classic, and the
  /// policy and group.max.size let it go back to a classic group.
  bool downgradable(const Group& g) const;

  /// OffsetCommit / OffsetFetch check of a member and its epoch (epoch < 0
  /// and no member: a commit from outside the group, allowed when it is empty).
  kwire::ErrorCode check_offsets(const Group& g, const std::string& member_id, std::int32_t epoch) const;

  /// Fences members whose session, revocation, sync or join deadline
  /// passed; returns the groups that changed (to be stored).
  std::vector<std::string> expire(Clock::time_point now);

  /// The group's durable record and its reverse (false: not a record of
  /// this kind). Loaded members get a fresh session from `now`.
  static std::vector<std::uint8_t> record_of(const Group& g);
  static bool is_record(const std::vector<std::uint8_t>& blob);
  bool load(const std::string& id, const std::vector<std::uint8_t>& blob, Clock::time_point now);

 private:
  void remove_member(Group& g, const std::string& member_id);
  /// Why member `m` is to be fenced at `now` (a deadline it missed), or null.
  const char* overdue(const Member& m, Clock::time_point now) const;
  /// A member leaving for good: removed, and a new target computed unless
  /// the group is to be downgraded (it then keeps the epoch its classic
  /// members know as their generation).
  void depart(Group& g, const std::string& member_id, const TopicView* topics);
  /// Moves a static member's place (assignment, epoch, target) to a new member id.
  Member& replace_static(Group& g, const std::string& old_id, const std::string& new_id);
  /// A new group epoch when the subscriptions or the topics changed, and then a new target.
  void maybe_bump(Group& g, const TopicView& topics, bool subscription_changed);
  /// Resolves regexes and the subscribed topics; whether they changed.
  bool refresh_subscriptions(Group& g, const TopicView& topics);
  void update_target(Group& g);
  void reconcile(Group& g, Member& m, const std::optional<Assignment>& owned, Clock::time_point now);
  std::string choose_assignor(const Group& g) const;

  Config config_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
};

/// A member id as Kafka makes them: 16 random bytes in URL-safe base64.
std::string random_member_id();
/// Kafka's message with GROUP_MAX_SIZE_REACHED for a full consumer group.
std::string group_full_message(const Config& config);

/// The server-side assignors: each maps members (id -> subscribed topic
/// names) and topics to a target assignment. `previous` is the last target,
/// for stickiness.
using Subscriptions = std::map<std::string, std::set<std::string>>;
std::map<std::string, Assignment> assign_uniform(const Subscriptions& members,
                                                 const std::map<std::string, TopicMeta>& topics,
                                                 const std::map<std::string, Assignment>& previous);
std::map<std::string, Assignment> assign_range(const Subscriptions& members,
                                               const std::map<std::string, TopicMeta>& topics);

/// Whether `regex` is a valid RE2 expression, and whether it matches all of `name`.
bool valid_regex(const std::string& regex);
bool regex_matches(const std::string& regex, const std::string& name);

}  // namespace kwire_broker::consumer
