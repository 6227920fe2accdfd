// The group coordinator for Kafka's classic group protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup) with rebalance and session timeouts and
// static membership, plus committed offsets. Every group's state lives on one
// strand; the group handlers run their whole body there. Committed offsets and
// a small record per group (protocol type and generation) go to the storage
// seam's GroupStore.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/consumer_group.hpp"
#include "coordinator/share_group.hpp"
#include "coordinator/share_state.hpp"
#include "core/broker.hpp"
#include "protocol/errors.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

class GroupCoordinator {
 public:
  using Clock = std::chrono::steady_clock;
  using Bytes = std::vector<std::uint8_t>;

  /// What the coordinator needs from the broker's settings, and its clock.
  struct Config {
    std::int32_t initial_rebalance_delay_ms = 3000;  // group.initial.rebalance.delay.ms
    std::int32_t max_size = 2147483647;              // group.max.size: members of a classic group
    /// How often sessions, rebalance and sync deadlines are checked.
    std::chrono::milliseconds sweep_interval{200};
    /// The coordinator's time (steady_clock by default): tests move it by
    /// hand and call expire() instead of waiting.
    std::function<Clock::time_point()> clock;
    /// The consumer groups of the KIP-848 protocol (consumer_group.hpp).
    consumer::Config consumer;
    /// The share groups of KIP-932 (share_group.hpp).
    share::Config share;
  };

  GroupCoordinator(Config config, storage::Storage& store, asio::io_context& io);
  ~GroupCoordinator();

  /// Loads stored groups (as Empty groups that keep their generation), then
  /// starts sweeping expired members; before the groups are served. Throws
  /// when the store cannot list them.
  asio::awaitable<void> load();
  void shutdown();
  std::int64_t count() const { return count_.load(); }

  asio::strand<asio::io_context::executor_type>& strand() { return strand_; }
  const Config& config() const { return config_; }
  storage::Storage& store() { return store_; }
  /// The groups of the consumer protocol, beside the classic ones: a group
  /// id is one kind or the other (strand only).
  consumer::ConsumerGroups& consumers() { return consumers_; }
  /// The share groups (KIP-932); their ids are neither classic nor consumer
  /// groups (strand only).
  share::ShareGroups& shares() { return shares_; }
  /// The share partitions and share sessions (strand only).
  share::ShareState& share_state() { return share_state_; }
  /// The share partitions' limits of `group`: its group configs where set,
  /// else the broker's (strand only).
  share::PartitionLimits share_limits(std::string_view group) const;
  /// Stores a share partition's state (as it is now) where the store keeps it.
  asio::awaitable<void> persist_share(storage::SharePartitionKey key);
  /// Ends the share sessions of members no longer in their group (left or
  /// expired): what they held is available again, and their slots free.
  void end_share_sessions_of_departed();
  /// Share partitions served from the store's queues (share_queues.cpp):
  /// acquisition locks that passed end, and the queues of groups without
  /// members close.
  void expire_share_queues();
  /// The store's queue of a share partition of `tp`, opened when it is not.
  asio::awaitable<storage::Result<std::shared_ptr<storage::ShareQueue>>> share_queue(storage::SharePartitionKey key,
                                                                                     storage::TopicPartition tp);
  /// Acquires up to `max_records` records for `member` from a share
  /// partition served by the store's queue: first those the coordinator
  /// holds and nobody has, then entries the queue delivered; the queue opens
  /// at the partition's first fetch. Adds the partition to `changed` when
  /// its state must be stored.
  asio::awaitable<share::QueueTake> take_from_queue(const storage::SharePartitionKey& key,
                                                    const storage::TopicPartition& tp, const std::string& member,
                                                    std::int32_t max_records,
                                                    std::set<storage::SharePartitionKey>& changed);
  /// Removes a share partition's queue from the store, and its state.
  asio::awaitable<kwire::ErrorCode> remove_share_queue(storage::SharePartitionKey key, storage::TopicPartition tp);

  // ---- state, touched only on the strand ----
  enum class State : std::uint8_t { empty, preparing_rebalance, completing_rebalance, stable, dead };
  static std::string_view state_name(State s);

  struct JoinResult {
    JoinResult() = default;
    explicit JoinResult(kwire::ErrorCode e) : error(e) {}
    kwire::ErrorCode error = kwire::ErrorCode::None;
    std::int32_t generation = -1;
    std::string protocol_type, protocol, leader, member_id;
    struct Member {
      std::string id;
      std::optional<std::string> instance_id;
      Bytes metadata;
    };
    std::vector<Member> members;  // for the leader only
    bool skip_assignment = false;  // a static leader came back: keep the assignment
  };
  struct SyncResult {
    SyncResult() = default;
    explicit SyncResult(kwire::ErrorCode e) : error(e) {}
    SyncResult(kwire::ErrorCode e, std::string type, std::string proto, Bytes a)
        : error(e), protocol_type(std::move(type)), protocol(std::move(proto)), assignment(std::move(a)) {}
    kwire::ErrorCode error = kwire::ErrorCode::None;
    std::string protocol_type, protocol;
    Bytes assignment;
  };

  /// A one-shot result that a coroutine waits for on the strand.
  template <class T>
  struct Pending {
    explicit Pending(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<T> value;
    void set(T v) {
      if (value) return;
      value = std::move(v);
      timer.cancel();
    }
  };

  struct Member {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id, client_host, protocol_type;
    std::vector<std::pair<std::string, Bytes>> protocols;
    std::int32_t session_timeout_ms = 10000;
    std::int32_t rebalance_timeout_ms = 60000;
    Bytes assignment;
    Clock::time_point last_seen;
    std::shared_ptr<Pending<JoinResult>> join;
    std::shared_ptr<Pending<SyncResult>> sync;
    const Bytes* metadata_for(const std::string& protocol) const {
      for (auto& [n, m] : protocols)
        if (n == protocol) return &m;
      return nullptr;
    }
  };

  struct Group {
    std::string id;
    State state = State::empty;
    std::int32_t generation = 0;
    std::string protocol_type, protocol, leader;
    std::map<std::string, Member> members;
    std::map<std::string, std::string> static_ids;  // instance id -> member id
    std::map<std::string, Clock::time_point> pending;  // member ids handed out (MEMBER_ID_REQUIRED)
    Clock::time_point rebalance_deadline;
    bool initial_delay = false;
  };

  Group* find(const std::string& id);
  Group& get_or_create(const std::string& id);
  void remove_group(const std::string& id);
  std::vector<Group*> all();

  // Group operations (strand only).
  asio::awaitable<JoinResult> join(Group& g, Member m, bool require_known_member_id, std::int16_t version);
  asio::awaitable<SyncResult> sync(Group& g, const std::string& member_id, std::int32_t generation,
                                   const std::optional<std::string>& instance_id,
                                   std::vector<std::pair<std::string, Bytes>> assignments);
  kwire::ErrorCode heartbeat(Group& g, const std::string& member_id, std::int32_t generation,
                             const std::optional<std::string>& instance_id);
  kwire::ErrorCode leave(Group& g, const std::string& member_id, const std::optional<std::string>& instance_id);
  /// Checks an offset commit's member and generation.
  kwire::ErrorCode check_commit(Group* g, const std::string& member_id, std::int32_t generation,
                                const std::optional<std::string>& instance_id);
  /// Topics the group's members subscribe to (consumer protocol).
  std::set<std::string> subscribed_topics(const Group& g);
  /// Stores a group's record (record_of). Takes copies, not the group: a
  /// store spawned on the strand may run after DeleteGroups freed the group.
  asio::awaitable<void> persist(std::string group_id, Bytes record);
  static Bytes record_of(const Group& g);

  /// KIP-848's online upgrade (group_migration.cpp): the non-empty classic
  /// group `id` becomes a consumer group whose members are its classic
  /// members, with their subscriptions and assignments, at its generation as
  /// epoch. `refused` (nothing changes) when group.consumer.migration.policy,
  /// its protocol type, its size or its members' metadata forbid it; `full`
  /// (nothing changes either) when it has group.consumer.max.size members
  /// already, so that the member asking for it would not fit.
  enum class Upgrade : std::uint8_t { done, refused, full };
  Upgrade upgrade_to_consumer(const std::string& id, const consumer::TopicView& topics);
  /// The downgrade: consumer group `id`, left with classic members only,
  /// becomes a classic group at its epoch as generation, each member with
  /// its target assignment, and rebalances unless `rebalance` is false (a
  /// static member replaced another with the same subscription). Returns the
  /// new group's record, to be stored.
  Bytes downgrade_to_classic(const std::string& id, bool rebalance = true);

  /// Expires sessions, ends rebalances and syncs past their deadlines, as of
  /// `now` (strand only). The sweeper calls it periodically.
  void expire(Clock::time_point now);
  Clock::time_point now() const { return config_.clock(); }

 private:
  /// Whether group.max.size lets `member_id` join `g` now (Kafka's rule).
  bool accepts_joining(const Group& g, const std::string& member_id) const;
  void prepare_rebalance(Group& g, const char* why);
  void maybe_complete_join(Group& g);
  void complete_join(Group& g);
  /// The first of the leader's protocols that every member supports.
  static std::string common_protocol(const Group& g);
  void remove_member(Group& g, const std::string& member_id, kwire::ErrorCode error_for_waiters);
  asio::awaitable<void> sweep();
  void update_count() { count_ = static_cast<std::int64_t>(groups_.size()); }

  Config config_;
  storage::Storage& store_;
  asio::strand<asio::io_context::executor_type> strand_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
  consumer::ConsumerGroups consumers_;
  share::ShareGroups shares_;
  share::ShareState share_state_;
  std::atomic<std::int64_t> count_{0};
  std::shared_ptr<asio::steady_timer> sweep_timer_;
  bool stopped_ = false;
};

}  // namespace kwire_broker
