// Members of the classic protocol inside a consumer group (KIP-848's mixed
// groups) on a clock the test moves by hand: the deadlines Kafka gives them
// (SyncGroup within the rebalance timeout after JoinGroup; JoinGroup within
// it after being told REBALANCE_IN_PROGRESS), SyncGroup refused while a new
// epoch waits for their rejoin, and group.max.size deciding whether a group
// left with classic members only may go back to a classic group.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/consumer_group.hpp"
#include "kwire/codec.hpp"
#include "kwire/messages/consumer_protocol_subscription.hpp"

using kwire::ErrorCode;
using namespace kwire_broker::consumer;
using namespace std::chrono_literals;

namespace {

constexpr std::int32_t rebalance_timeout_ms = 10000;

/// A ConsumerProtocolSubscription (version 1) to "orders", as a classic
/// consumer sends it in JoinGroup.
Bytes subscription() {
  kwire::ConsumerProtocolSubscription s;
  s.topics.push_back("orders");
  Bytes out{0, 1};
  REQUIRE(!kwire::encode_into(s, 1, out));
  return out;
}

struct Fixture {
  explicit Fixture(Config c = {}) : groups(std::move(c)) {
    TopicId id{};
    id[15] = 1;
    topics["orders"] = TopicMeta{"orders", id, 6};
  }

  TopicView view() {
    TopicView v;
    v.find = [this](const std::string& n) -> std::optional<TopicMeta> {
      auto it = topics.find(n);
      if (it == topics.end()) return std::nullopt;
      return it->second;
    };
    return v;
  }

  Group& group() { return groups.get_or_create("g"); }

  HeartbeatResult consumer_join(const std::string& id) {
    Heartbeat hb;
    hb.member_id = id;
    hb.member_epoch = 0;
    hb.rebalance_timeout_ms = 30000;
    hb.topic_names = std::vector<std::string>{"orders"};
    hb.owned.emplace();
    return groups.heartbeat(group(), std::move(hb), view(), now);
  }

  HeartbeatResult consumer_leave(const std::string& id) {
    Heartbeat hb;
    hb.member_id = id;
    hb.member_epoch = -1;
    return groups.heartbeat(group(), std::move(hb), view(), now);
  }

  ClassicJoinResult classic_join(const std::string& id) {
    ClassicJoin j;
    j.member_id = id;
    j.protocol_type = "consumer";
    j.session_timeout_ms = 45000;
    j.rebalance_timeout_ms = rebalance_timeout_ms;
    j.protocols = {{"range", subscription()}};
    return groups.classic_join(group(), std::move(j), view(), now);
  }

  ClassicSyncResult classic_sync(const std::string& id, std::int32_t generation) {
    return groups.classic_sync(group(), id, generation, std::nullopt, std::string("consumer"), std::string("range"), now);
  }

  ErrorCode classic_heartbeat(const std::string& id, std::int32_t generation) {
    return groups.classic_heartbeat(group(), id, generation, std::nullopt, now);
  }

  /// Moves the clock and fences whoever missed a deadline, as the sweeper does.
  void advance(std::chrono::milliseconds d) {
    now += d;
    groups.expire(now);
  }

  bool present(const std::string& id) { return group().members.count(id) != 0; }

  ConsumerGroups groups;
  std::map<std::string, TopicMeta> topics;
  Clock::time_point now = Clock::time_point{} + 1h;
};

}  // namespace

TEST_CASE("a classic member that sends no SyncGroup within its rebalance timeout after JoinGroup is fenced") {
  Fixture f;
  REQUIRE(f.consumer_join("consumer").error == ErrorCode::None);
  auto lazy = f.classic_join("lazy");
  REQUIRE(lazy.error == ErrorCode::None);
  auto prompt = f.classic_join("prompt");
  REQUIRE(prompt.error == ErrorCode::None);
  f.advance(5s);
  CHECK(f.classic_sync("prompt", prompt.generation).error == ErrorCode::None);
  // Both are well within their 45 s sessions: only the sync deadline tells them apart.
  f.advance(std::chrono::milliseconds(rebalance_timeout_ms) - 5s + 1ms);
  CHECK_FALSE(f.present("lazy"));
  CHECK(f.present("prompt"));
  CHECK(f.classic_sync("lazy", lazy.generation).error == ErrorCode::UnknownMemberId);
}

TEST_CASE("a classic member told to rejoin that sends no JoinGroup within its rebalance timeout is fenced") {
  Fixture f;
  REQUIRE(f.consumer_join("consumer").error == ErrorCode::None);
  auto slow = f.classic_join("slow");
  REQUIRE(f.classic_sync("slow", slow.generation).error == ErrorCode::None);
  auto quick = f.classic_join("quick");  // a new epoch: "slow" is told to rejoin
  REQUIRE(f.classic_sync("quick", quick.generation).error == ErrorCode::None);
  CHECK(f.classic_heartbeat("slow", slow.generation) == ErrorCode::RebalanceInProgress);
  REQUIRE(f.consumer_join("another").error == ErrorCode::None);  // and now "quick" too
  CHECK(f.classic_heartbeat("quick", quick.generation) == ErrorCode::RebalanceInProgress);
  f.advance(6s);
  // Heartbeats keep the session, not the rejoin deadline (which the first
  // REBALANCE_IN_PROGRESS started).
  CHECK(f.classic_heartbeat("slow", slow.generation) == ErrorCode::RebalanceInProgress);
  auto rejoined = f.classic_join("quick");
  REQUIRE(rejoined.error == ErrorCode::None);
  REQUIRE(f.classic_sync("quick", rejoined.generation).error == ErrorCode::None);
  f.advance(4s + 1ms);
  CHECK_FALSE(f.present("slow"));
  CHECK(f.present("quick"));
}

TEST_CASE("SyncGroup from a classic member behind a new group epoch answers REBALANCE_IN_PROGRESS") {
  Fixture f;
  REQUIRE(f.consumer_join("consumer").error == ErrorCode::None);
  auto joined = f.classic_join("classic");
  REQUIRE(joined.error == ErrorCode::None);
  REQUIRE(f.consumer_join("another").error == ErrorCode::None);  // epoch moves on before its SyncGroup
  CHECK(f.classic_sync("classic", joined.generation).error == ErrorCode::RebalanceInProgress);
  // Without a rejoin it is fenced once its rebalance timeout has passed.
  f.advance(std::chrono::milliseconds(rebalance_timeout_ms) + 1ms);
  CHECK_FALSE(f.present("classic"));
}

TEST_CASE("group.max.size keeps a group of classic members that is too big for a classic group") {
  Config c;
  c.classic_max_size = 1;
  Fixture f(c);
  REQUIRE(f.consumer_join("consumer").error == ErrorCode::None);
  REQUIRE(f.classic_join("classic-1").error == ErrorCode::None);
  REQUIRE(f.classic_join("classic-2").error == ErrorCode::None);
  // The last consumer member leaves: two classic members are more than a
  // classic group may have, so the group stays a consumer group.
  auto left = f.consumer_leave("consumer");
  REQUIRE(left.error == ErrorCode::None);
  CHECK_FALSE(left.downgrade);
  CHECK_FALSE(f.groups.downgradable(f.group()));
  // With one of them gone it fits, and may go back.
  REQUIRE(f.groups.classic_leave(f.group(), "classic-2", std::nullopt) == ErrorCode::None);
  CHECK(f.groups.downgradable(f.group()));
}
