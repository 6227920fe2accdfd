// Share groups' membership state machine (KIP-932) on a clock the test moves
// by hand: joins, epochs, the shared assignment, fencing, leaving, session
// expiry, the group size limit and the durable record. No sockets, no store.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "coordinator/share_group.hpp"

using kwire::ErrorCode;
using namespace kwire_broker::share;
using namespace std::chrono_literals;

namespace {

kwire_broker::storage::TopicId topic_id(std::uint8_t n) {
  kwire_broker::storage::TopicId id{};
  id[15] = n;
  return id;
}

std::size_t size(const Assignment& a) {
  std::size_t n = 0;
  for (auto& [_, ps] : a) n += ps.size();
  return n;
}

struct Fixture {
  explicit Fixture(Config c = {}) : groups(c) { topics["orders"] = TopicMeta{"orders", topic_id(1), 3}; }

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

  HeartbeatResult beat(const std::string& id, std::int32_t epoch,
                       std::optional<std::vector<std::string>> names = std::nullopt) {
    Heartbeat hb;
    hb.member_id = id;
    hb.member_epoch = epoch;
    hb.topic_names = std::move(names);
    hb.client_id = "client-" + id;
    return groups.heartbeat(group(), std::move(hb), view(), now);
  }
  HeartbeatResult join(const std::string& id) { return beat(id, 0, std::vector<std::string>{"orders"}); }

  /// The target's partitions of "orders", counted by partition.
  std::map<std::int32_t, int> readers() {
    std::map<std::int32_t, int> out;
    for (auto& [_, a] : group().target)
      for (auto p : a[topic_id(1)]) out[p]++;
    return out;
  }

  std::map<std::string, TopicMeta> topics;
  ShareGroups groups;
  Clock::time_point now{};
};

}  // namespace

TEST_CASE("a member joins with its own id and gets every partition at the new epoch") {
  Fixture f;
  auto r = f.join("m1");
  REQUIRE(r.error == ErrorCode::None);
  CHECK(r.member_id == "m1");
  CHECK(r.member_epoch == 1);
  CHECK(r.heartbeat_interval_ms == 5000);
  REQUIRE(r.assignment);
  CHECK(size(*r.assignment) == 3);
  CHECK(r.changed);
  CHECK(f.group().state_name() == "Stable");
  // A heartbeat that changes nothing is answered without an assignment.
  auto again = f.beat("m1", 1);
  CHECK(again.error == ErrorCode::None);
  CHECK(again.member_epoch == 1);
  CHECK_FALSE(again.assignment);
  CHECK_FALSE(again.changed);
}

TEST_CASE("partitions are spread over members, and shared once members outnumber them") {
  Fixture f;
  f.join("m1");
  f.join("m2");
  auto r3 = f.join("m3");
  CHECK(r3.member_epoch == 3);
  auto spread = f.readers();
  CHECK(spread.size() == 3);
  for (auto& [p, n] : spread) CHECK(n == 1);
  // The earlier members learn the new epoch and their smaller share.
  auto r1 = f.beat("m1", 1);
  CHECK(r1.error == ErrorCode::None);
  CHECK(r1.member_epoch == 3);
  REQUIRE(r1.assignment);
  CHECK(size(*r1.assignment) == 1);

  f.join("m4");
  f.join("m5");
  auto shared = f.readers();
  CHECK(shared.size() == 3);  // every partition still has a reader
  int total = 0;
  for (auto& [_, n] : shared) total += n;
  CHECK(total == 5);  // and every member one partition
  for (auto& [_, a] : f.group().target) CHECK(size(a) == 1);
}

TEST_CASE("bad heartbeats get Kafka's errors") {
  Fixture f;
  CHECK(f.beat("", 0, std::vector<std::string>{"orders"}).error == ErrorCode::InvalidRequest);
  CHECK(f.beat("m1", 0).error == ErrorCode::InvalidRequest);  // no subscription on joining
  CHECK(f.beat("m1", 0, std::vector<std::string>{}).error == ErrorCode::InvalidRequest);
  CHECK(f.beat("m1", -3).error == ErrorCode::InvalidRequest);
  CHECK(f.beat("nobody", 4).error == ErrorCode::UnknownMemberId);
  CHECK(f.beat("nobody", -1).error == ErrorCode::UnknownMemberId);
  f.join("m1");
  f.join("m2");
  auto stale = f.beat("m2", 1);  // m2 is at epoch 2
  CHECK(stale.error == ErrorCode::FencedMemberEpoch);
  CHECK(f.beat("m1", 7).error == ErrorCode::FencedMemberEpoch);
}

TEST_CASE("a leaving member's partitions go to the others at a new epoch") {
  Fixture f;
  f.join("m1");
  f.join("m2");
  auto left = f.beat("m2", 2, std::nullopt);
  REQUIRE(left.error == ErrorCode::None);
  auto bye = f.beat("m2", -1);
  CHECK(bye.error == ErrorCode::None);
  CHECK(bye.member_epoch == -1);
  CHECK(bye.changed);
  CHECK(f.group().members.size() == 1);
  auto r1 = f.beat("m1", 1);
  CHECK(r1.member_epoch == 3);
  REQUIRE(r1.assignment);
  CHECK(size(*r1.assignment) == 3);
  CHECK(f.beat("m1", -1).error == ErrorCode::None);
  CHECK(f.group().state_name() == "Empty");
}

TEST_CASE("a member whose session passes is removed") {
  Config c;
  c.session_timeout_ms = 1000;
  Fixture f(c);
  f.join("m1");
  f.join("m2");
  f.now += 600ms;
  f.beat("m1", 1);  // m1 is alive, m2 silent
  f.now += 600ms;
  auto changed = f.groups.expire(f.now);
  REQUIRE(changed.size() == 1);
  CHECK(changed[0] == "g");
  CHECK(f.group().members.count("m1") == 1);
  CHECK(f.group().members.count("m2") == 0);
  CHECK(f.beat("m2", 2).error == ErrorCode::UnknownMemberId);
  CHECK(f.groups.expire(f.now).empty());
}

TEST_CASE("group.share.max.size bounds the members") {
  Config c;
  c.max_size = 2;
  Fixture f(c);
  f.join("m1");
  f.join("m2");
  CHECK(f.join("m3").error == ErrorCode::GroupMaxSizeReached);
  CHECK(f.group().members.size() == 2);
  CHECK(f.join("m1").error == ErrorCode::None);  // a known member rejoining is no new member
}

TEST_CASE("topics created later and subscription changes move the assignment") {
  Fixture f;
  f.join("m1");
  f.topics["refunds"] = TopicMeta{"refunds", topic_id(2), 2};
  auto r = f.beat("m1", 1, std::vector<std::string>{"orders", "refunds"});
  CHECK(r.member_epoch == 2);
  REQUIRE(r.assignment);
  CHECK(size(*r.assignment) == 5);
  f.topics["orders"].partitions = 4;  // grown
  auto grown = f.beat("m1", 2);
  CHECK(grown.member_epoch == 3);
  REQUIRE(grown.assignment);
  CHECK(size(*grown.assignment) == 6);
}

TEST_CASE("the durable record brings the group back with fresh sessions") {
  Fixture f;
  f.join("m1");
  f.join("m2");
  auto record = ShareGroups::record_of(f.group());
  CHECK(ShareGroups::is_record(record));
  ShareGroups loaded({});
  const auto later = f.now + 1h;
  REQUIRE(loaded.load("g", record, later));
  auto* g = loaded.find("g");
  REQUIRE(g);
  CHECK(g->group_epoch == 2);
  REQUIRE(g->members.size() == 2);
  CHECK(g->members.at("m2").epoch == 2);
  CHECK(g->members.at("m1").assigned == f.group().members.at("m1").assigned);
  CHECK(g->members.at("m1").client_id == "client-m1");
  CHECK(loaded.expire(later).empty());
  CHECK_FALSE(loaded.load("h", std::vector<std::uint8_t>{'c', 'o', 'n'}, later));
  const std::string bad = "share\n{\"group_epoch\":";
  CHECK_FALSE(loaded.load("h", std::vector<std::uint8_t>(bad.begin(), bad.end()), later));
}
