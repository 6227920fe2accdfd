// The classic group protocol's state machine on a clock the test moves by
// hand: the initial rebalance delay, rebalances when members join and leave,
// session expiry, the sync deadline, static membership and group.max.size. No sockets: the
// coordinator runs on an io_context the test polls, over an embedded store in
// a temporary directory.
#include <doctest/doctest.h>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"
#include "coordinator/group_coordinator.hpp"
#include "core/config.hpp"
#include "kwire/messages/error_code.hpp"
#include "storage/embedded/store.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using kwire::ErrorCode;
using kwire_broker::GroupCoordinator;
using namespace std::chrono_literals;

namespace {

/// Error codes as kwire::ErrorCode, whatever integer type the coordinator
/// reports them in.
template <class E>
ErrorCode code(E e) {
  return static_cast<ErrorCode>(e);
}

using TempDir = kwire_broker::testing::TempDir;

/// A coordinator, its store and a clock that moves only when told.
struct Fixture {
  explicit Fixture(std::int32_t initial_delay_ms = 0, std::int32_t max_size = 2147483647) {
    kwire_broker::storage::embedded::Options o;
    o.dir = dir.path;
    o.flush = kwire_broker::storage::embedded::FlushPolicy::never;
    store = kwire_broker::storage::embedded::open(o);
    GroupCoordinator::Config c;
    c.initial_rebalance_delay_ms = initial_delay_ms;
    c.max_size = max_size;
    c.clock = [this] { return now; };
    coordinator = std::make_unique<GroupCoordinator>(std::move(c), *store, io);
  }
  ~Fixture() {
    coordinator->shutdown();
    settle();
  }

  /// Runs whatever is ready on the io_context (the coordinator's strand).
  void settle() {
    io.restart();
    io.poll();
  }
  /// Moves the clock and lets the coordinator notice, as its sweeper would.
  void advance(std::chrono::milliseconds d) {
    now += d;
    coordinator->expire(now);
    settle();
  }

  GroupCoordinator::Group& group() { return coordinator->get_or_create("g"); }

  GroupCoordinator::Member member(std::string id, std::optional<std::string> instance = std::nullopt) {
    GroupCoordinator::Member m;
    m.id = std::move(id);
    m.instance_id = std::move(instance);
    m.client_id = "test";
    m.protocol_type = "consumer";
    m.protocols = {{"range", {0, 1}}};
    m.session_timeout_ms = 10000;
    m.rebalance_timeout_ms = 30000;
    return m;
  }

  /// Starts a JoinGroup; the result lands in the returned slot when it completes.
  std::shared_ptr<std::optional<GroupCoordinator::JoinResult>> join(GroupCoordinator::Member m) {
    auto out = std::make_shared<std::optional<GroupCoordinator::JoinResult>>();
    asio::co_spawn(coordinator->strand(), coordinator->join(group(), std::move(m), false, 9),
                   [out](std::exception_ptr e, GroupCoordinator::JoinResult r) {
                     if (!e) *out = std::move(r);
                   });
    settle();
    return out;
  }

  std::shared_ptr<std::optional<GroupCoordinator::SyncResult>> sync(const std::string& id, std::int32_t generation,
                                                                    bool assign = false) {
    std::vector<std::pair<std::string, GroupCoordinator::Bytes>> assignments;
    if (assign)
      for (auto& [mid, _] : group().members) assignments.push_back({mid, {7}});
    auto out = std::make_shared<std::optional<GroupCoordinator::SyncResult>>();
    asio::co_spawn(coordinator->strand(),
                   coordinator->sync(group(), id, generation, group().members.at(id).instance_id,
                                     std::move(assignments)),
                   [out](std::exception_ptr e, GroupCoordinator::SyncResult r) {
                     if (!e) *out = std::move(r);
                   });
    settle();
    return out;
  }

  ErrorCode heartbeat(const std::string& id, std::int32_t generation,
                      std::optional<std::string> instance = std::nullopt) {
    return code(coordinator->heartbeat(group(), id, generation, instance));
  }

  /// One member joined and synced: the group is stable at generation 1.
  std::string stable_with_one(std::optional<std::string> instance = std::nullopt) {
    auto j = join(member("", instance));
    REQUIRE(j->has_value());
    REQUIRE(code((*j)->error) == ErrorCode::None);
    auto s = sync((*j)->member_id, (*j)->generation, true);
    REQUIRE(s->has_value());
    REQUIRE(code((*s)->error) == ErrorCode::None);
    return (*j)->member_id;
  }

  TempDir dir{"kwire-coordinator"};
  asio::io_context io;
  std::unique_ptr<kwire_broker::storage::Storage> store;
  GroupCoordinator::Clock::time_point now = GroupCoordinator::Clock::time_point{} + 1h;
  std::unique_ptr<GroupCoordinator> coordinator;
};

using State = GroupCoordinator::State;

}  // namespace

TEST_CASE("the first join waits out group.initial.rebalance.delay.ms") {
  Fixture f(3000);
  auto j = f.join(f.member(""));
  CHECK_FALSE(j->has_value());
  CHECK(f.group().state == State::preparing_rebalance);
  f.advance(2999ms);
  CHECK_FALSE(j->has_value());
  f.advance(2ms);
  REQUIRE(j->has_value());
  CHECK(code((*j)->error) == ErrorCode::None);
  CHECK((*j)->generation == 1);
  CHECK((*j)->leader == (*j)->member_id);
  CHECK((*j)->members.size() == 1);
  CHECK(f.group().state == State::completing_rebalance);
}

TEST_CASE("a second member makes the first rejoin, and both get the next generation") {
  Fixture f;
  const auto a = f.stable_with_one();
  CHECK(f.group().state == State::stable);
  CHECK(f.group().generation == 1);

  auto jb = f.join(f.member(""));
  CHECK_FALSE(jb->has_value());  // waits for the existing member to rejoin
  CHECK(f.group().state == State::preparing_rebalance);
  CHECK(f.heartbeat(a, 1) == ErrorCode::RebalanceInProgress);

  auto ja = f.join(f.member(a));
  REQUIRE(ja->has_value());
  REQUIRE(jb->has_value());
  CHECK((*ja)->generation == 2);
  CHECK((*jb)->generation == 2);
  CHECK((*ja)->leader == a);
  CHECK((*ja)->members.size() == 2);  // the leader learns every member
  CHECK((*jb)->members.empty());

  // Followers wait in SyncGroup until the leader brings the assignment.
  auto sb = f.sync((*jb)->member_id, 2);
  CHECK_FALSE(sb->has_value());
  auto sa = f.sync(a, 2, true);
  REQUIRE(sa->has_value());
  REQUIRE(sb->has_value());
  CHECK(code((*sb)->error) == ErrorCode::None);
  CHECK((*sb)->assignment == GroupCoordinator::Bytes{7});
  CHECK(f.group().state == State::stable);
  CHECK(f.heartbeat(a, 2) == ErrorCode::None);
  CHECK(f.heartbeat(a, 1) == ErrorCode::IllegalGeneration);
}

TEST_CASE("a member that stops heartbeating is removed when its session expires") {
  Fixture f;
  const auto a = f.stable_with_one();
  auto jb = f.join(f.member(""));
  auto ja = f.join(f.member(a));
  REQUIRE(jb->has_value());
  const auto b = (*jb)->member_id;
  auto sb = f.sync(b, 2);
  f.sync(a, 2, true);
  REQUIRE(f.group().state == State::stable);

  // a heartbeats every 3 s; b falls silent. Its 10 s session ends after
  // 10 s without a heartbeat, not before.
  for (int i = 0; i < 3; ++i) {
    f.advance(3000ms);
    CHECK(f.heartbeat(a, 2) == ErrorCode::None);
  }
  CHECK(f.group().members.count(b) == 1);
  f.advance(1001ms);
  CHECK(f.group().members.count(b) == 0);
  CHECK(f.group().state == State::preparing_rebalance);
  CHECK(f.heartbeat(a, 2) == ErrorCode::RebalanceInProgress);
  CHECK(f.heartbeat(b, 2) == ErrorCode::UnknownMemberId);

  auto again = f.join(f.member(a));
  REQUIRE(again->has_value());
  CHECK((*again)->generation == 3);
}

TEST_CASE("members that do not sync before the rebalance timeout are dropped") {
  Fixture f;
  auto j = f.join(f.member(""));
  REQUIRE(j->has_value());
  CHECK(f.group().state == State::completing_rebalance);
  // Heartbeats keep its session alive, but not past the sync deadline
  // (the 30 s rebalance timeout).
  for (int i = 0; i < 5; ++i) {
    f.advance(5000ms);
    CHECK(f.heartbeat((*j)->member_id, 1) == ErrorCode::None);
  }
  f.advance(4999ms);
  CHECK(f.group().members.size() == 1);
  f.advance(2ms);
  CHECK(f.group().members.empty());
  CHECK(f.group().state == State::empty);
}

TEST_CASE("a member leaving triggers a rebalance; the last one leaving empties the group") {
  Fixture f;
  const auto a = f.stable_with_one();
  CHECK(code(f.coordinator->leave(f.group(), a, std::nullopt)) == ErrorCode::None);
  CHECK(f.group().state == State::empty);
  CHECK(code(f.coordinator->leave(f.group(), a, std::nullopt)) == ErrorCode::UnknownMemberId);
}

TEST_CASE("a static member that restarts gets its generation back without a rebalance") {
  Fixture f;
  const auto old_id = f.stable_with_one("instance-a");
  auto j = f.join(f.member("", "instance-a"));
  REQUIRE(j->has_value());
  CHECK(code((*j)->error) == ErrorCode::None);
  CHECK((*j)->member_id != old_id);
  CHECK((*j)->generation == 1);
  CHECK(f.group().state == State::stable);
  // The old incarnation is fenced, the new one is in.
  CHECK(f.heartbeat(old_id, 1, "instance-a") == ErrorCode::FencedInstanceId);
  CHECK(f.heartbeat((*j)->member_id, 1, "instance-a") == ErrorCode::None);
}

TEST_CASE("a join with an incompatible protocol is refused") {
  Fixture f;
  f.stable_with_one();
  auto other = f.member("");
  other.protocols = {{"roundrobin", {0, 1}}};
  auto j = f.join(std::move(other));
  REQUIRE(j->has_value());
  CHECK(code((*j)->error) == ErrorCode::InconsistentGroupProtocol);
  CHECK(f.group().state == State::stable);
}

TEST_CASE("group.max.size: a full group refuses a new member with GROUP_MAX_SIZE_REACHED and no member id") {
  Fixture f(0, 1);
  const auto a = f.stable_with_one();
  auto refused = f.join(f.member(""));
  REQUIRE(refused->has_value());
  CHECK(code((*refused)->error) == ErrorCode::GroupMaxSizeReached);
  CHECK((*refused)->member_id.empty());
  CHECK(f.group().members.size() == 1);
  CHECK(f.group().state == State::stable);
  // A member of the group may always rejoin.
  auto again = f.join(f.member(a));
  REQUIRE(again->has_value());
  CHECK(code((*again)->error) == ErrorCode::None);
  CHECK((*again)->generation == 2);
}

TEST_CASE("group.max.size during a rebalance counts those rejoining: the last member to rejoin is dropped") {
  Fixture f(0, 2);
  const auto a = f.stable_with_one();
  auto jb = f.join(f.member(""));  // the second member: the group rebalances
  auto ja = f.join(f.member(a));
  REQUIRE(ja->has_value());
  REQUIRE(jb->has_value());
  const auto b = (*jb)->member_id;
  REQUIRE(f.sync(a, 2, true)->has_value());
  REQUIRE(f.sync(b, 2)->has_value());
  REQUIRE(f.group().state == State::stable);
  // A rejoins, which starts a rebalance; a newcomer joins it before B
  // rejoins, and takes the second place: B, rejoining last, is refused and
  // dropped, and the rebalance completes with A and the newcomer.
  auto ja2 = f.join(f.member(a));
  CHECK_FALSE(ja2->has_value());
  auto jc = f.join(f.member(""));
  CHECK_FALSE(jc->has_value());
  auto jb2 = f.join(f.member(b));
  REQUIRE(jb2->has_value());
  CHECK(code((*jb2)->error) == ErrorCode::GroupMaxSizeReached);
  REQUIRE(ja2->has_value());
  REQUIRE(jc->has_value());
  CHECK((*ja2)->generation == 3);
  CHECK(f.group().members.size() == 2);
  CHECK(f.group().members.count(b) == 0);
}

TEST_CASE("group.max.size takes Kafka's range, 1 to 2147483647, default 2147483647") {
  kwire_broker::Properties p;
  CHECK(kwire_broker::make_settings(p).group_max_size == 2147483647);
  p.set("group.max.size", "3");
  CHECK(kwire_broker::make_settings(p).group_max_size == 3);
  for (const char* bad : {"0", "-1", "2147483648"}) {
    p.set("group.max.size", bad);
    CHECK_THROWS_AS(kwire_broker::make_settings(p), std::runtime_error);
  }
}
