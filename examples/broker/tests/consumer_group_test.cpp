// The consumer group protocol's state machine (KIP-848) on a clock the test
// moves by hand: joins, epochs, revocation before assignment, fencing, leaving,
// session and rebalance timeouts, static members, regular expressions, the
// assignors and the durable record. No sockets, no store: the state machine
// is synchronous.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "coordinator/consumer_group.hpp"

using kwire::ErrorCode;
using namespace kwire_broker::consumer;
using namespace std::chrono_literals;

namespace {

TopicId topic_id(std::uint8_t n) {
  TopicId id{};
  id[15] = n;
  return id;
}

/// Partitions 0..n-1 of one topic.
Assignment all_of(const TopicId& t, std::int32_t n) {
  Assignment a;
  for (std::int32_t p = 0; p < n; ++p) a[t].insert(p);
  return a;
}

std::size_t size(const Assignment& a) {
  std::size_t n = 0;
  for (auto& [_, ps] : a) n += ps.size();
  return n;
}

struct Fixture {
  explicit Fixture(Config c = {}) : groups(std::move(c)) {
    topics["orders"] = TopicMeta{"orders", topic_id(1), 6};
  }

  TopicView view(bool list_names = true) {
    TopicView v;
    v.find = [this](const std::string& n) -> std::optional<TopicMeta> {
      auto it = topics.find(n);
      if (it == topics.end()) return std::nullopt;
      return it->second;
    };
    if (list_names) {
      v.names.emplace();
      for (auto& [n, _] : topics) v.names->push_back(n);
    }
    return v;
  }

  Group& group() { return groups.get_or_create("g"); }

  HeartbeatResult join(const std::string& id, std::vector<std::string> names = {"orders"},
                       std::optional<std::string> instance = std::nullopt) {
    Heartbeat hb;
    hb.member_id = id;
    hb.member_epoch = 0;
    hb.instance_id = std::move(instance);
    hb.rebalance_timeout_ms = 30000;
    hb.topic_names = std::move(names);
    hb.owned.emplace();
    return groups.heartbeat(group(), std::move(hb), view(), now);
  }

  HeartbeatResult beat(const std::string& id, std::int32_t epoch, std::optional<Assignment> owned) {
    Heartbeat hb;
    hb.member_id = id;
    hb.member_epoch = epoch;
    hb.owned = std::move(owned);
    return groups.heartbeat(group(), std::move(hb), view(), now);
  }

  HeartbeatResult leave(const std::string& id, std::int32_t epoch = -1,
                        std::optional<std::string> instance = std::nullopt) {
    Heartbeat hb;
    hb.member_id = id;
    hb.member_epoch = epoch;
    hb.instance_id = std::move(instance);
    return groups.heartbeat(group(), std::move(hb), view(), now);
  }

  void advance(std::chrono::milliseconds d) {
    now += d;
    groups.expire(now);
  }

  ConsumerGroups groups;
  std::map<std::string, TopicMeta> topics;
  Clock::time_point now = Clock::time_point{} + 1h;
};

}  // namespace

TEST_CASE("a first member joins at epoch 0 and gets every partition at the group's epoch") {
  Fixture f;
  auto r = f.join("a");
  REQUIRE(r.error == ErrorCode::None);
  CHECK(r.member_id == "a");
  CHECK(r.member_epoch == 1);
  CHECK(r.heartbeat_interval_ms == 5000);
  REQUIRE(r.assignment);
  CHECK(*r.assignment == all_of(topic_id(1), 6));
  CHECK(f.group().state_name() == "Stable");
  CHECK(r.changed);
  // A heartbeat that changes nothing carries no assignment and needs no write.
  auto again = f.beat("a", 1, all_of(topic_id(1), 6));
  CHECK(again.error == ErrorCode::None);
  CHECK_FALSE(again.assignment);
  CHECK_FALSE(again.changed);
}

TEST_CASE("version 0 of the heartbeat has the coordinator make the member id; version 1 requires one") {
  Fixture f;
  Heartbeat hb;
  hb.version = 0;
  hb.rebalance_timeout_ms = 30000;
  hb.topic_names = std::vector<std::string>{"orders"};
  hb.owned.emplace();
  auto r = f.groups.heartbeat(f.group(), hb, f.view(), f.now);
  REQUIRE(r.error == ErrorCode::None);
  CHECK(r.member_id.size() == 22);
  hb.version = 1;
  CHECK(f.groups.heartbeat(f.group(), hb, f.view(), f.now).error == ErrorCode::InvalidRequest);
}

TEST_CASE("a first heartbeat must carry the subscription, the rebalance timeout and no partitions") {
  Fixture f;
  Heartbeat hb;
  hb.member_id = "a";
  hb.rebalance_timeout_ms = 30000;
  hb.owned.emplace();
  CHECK(f.groups.heartbeat(f.group(), hb, f.view(), f.now).error == ErrorCode::InvalidRequest);
  hb.topic_names = std::vector<std::string>{"orders"};
  hb.owned = std::nullopt;
  CHECK(f.groups.heartbeat(f.group(), hb, f.view(), f.now).error == ErrorCode::InvalidRequest);
  hb.owned.emplace();
  hb.rebalance_timeout_ms = -1;
  CHECK(f.groups.heartbeat(f.group(), hb, f.view(), f.now).error == ErrorCode::InvalidRequest);
}

TEST_CASE("partitions move only after their previous owner revoked them") {
  Fixture f;
  REQUIRE(f.join("a").member_epoch == 1);
  auto b = f.join("b");
  REQUIRE(b.error == ErrorCode::None);
  // b is at the new epoch, but its partitions are still a's.
  CHECK(b.member_epoch == 2);
  REQUIRE(b.assignment);
  CHECK(size(*b.assignment) == 0);
  CHECK(f.group().state_name() == "Reconciling");

  // a is told to keep three: it stays at epoch 1 until it has let go of the rest.
  auto a = f.beat("a", 1, all_of(topic_id(1), 6));
  REQUIRE(a.error == ErrorCode::None);
  CHECK(a.member_epoch == 1);
  REQUIRE(a.assignment);
  CHECK(size(*a.assignment) == 3);
  const Assignment kept = *a.assignment;
  // b still waits while a owns them.
  auto b2 = f.beat("b", 2, Assignment{});
  CHECK(b2.member_epoch == 2);
  CHECK_FALSE(b2.assignment);

  // a revokes: it moves to epoch 2 with what it kept; then b gets the rest.
  auto a2 = f.beat("a", 1, kept);
  CHECK(a2.member_epoch == 2);
  auto b3 = f.beat("b", 2, Assignment{});
  REQUIRE(b3.assignment);
  CHECK(size(*b3.assignment) == 3);
  for (auto p : b3.assignment->at(topic_id(1))) CHECK(kept.at(topic_id(1)).count(p) == 0);
  CHECK(f.beat("b", 2, *b3.assignment).error == ErrorCode::None);
  CHECK(f.group().state_name() == "Stable");
}

TEST_CASE("unknown members and epochs ahead or behind are fenced; a lost answer is forgiven") {
  Fixture f;
  f.join("a");
  CHECK(f.beat("nobody", 1, Assignment{}).error == ErrorCode::UnknownMemberId);
  CHECK(f.beat("a", 7, all_of(topic_id(1), 6)).error == ErrorCode::FencedMemberEpoch);
  f.join("b");
  auto a = f.beat("a", 1, all_of(topic_id(1), 6));
  auto kept = *a.assignment;
  REQUIRE(f.beat("a", 1, kept).member_epoch == 2);
  // The answer that moved a to epoch 2 got lost: epoch 1 with what it owns is fine.
  auto retry = f.beat("a", 1, kept);
  CHECK(retry.error == ErrorCode::None);
  CHECK(retry.member_epoch == 2);
  // But not while claiming partitions it no longer has.
  CHECK(f.beat("a", 1, all_of(topic_id(1), 6)).error == ErrorCode::FencedMemberEpoch);
}

TEST_CASE("a member that leaves hands its partitions to the others") {
  Fixture f;
  f.join("a");
  f.join("b");
  auto a = f.beat("a", 1, all_of(topic_id(1), 6));
  f.beat("a", 1, *a.assignment);
  auto epoch = f.group().group_epoch;
  auto r = f.leave("b");
  CHECK(r.error == ErrorCode::None);
  CHECK(r.member_epoch == -1);
  CHECK(f.group().group_epoch == epoch + 1);
  CHECK(f.group().members.count("b") == 0);
  auto a2 = f.beat("a", 2, *a.assignment);
  CHECK(a2.member_epoch == epoch + 1);
  REQUIRE(a2.assignment);
  CHECK(*a2.assignment == all_of(topic_id(1), 6));
  CHECK(f.leave("b").error == ErrorCode::UnknownMemberId);
}

TEST_CASE("a member not heard from within group.consumer.session.timeout.ms is removed") {
  Config c;
  c.session_timeout_ms = 10000;
  Fixture f(c);
  f.join("a");
  f.join("b");
  f.advance(6s);
  f.beat("a", 1, all_of(topic_id(1), 6));  // a is heard, b is not
  f.advance(6s);
  CHECK(f.group().members.count("a") == 1);
  CHECK(f.group().members.count("b") == 0);
  CHECK(f.beat("b", 2, Assignment{}).error == ErrorCode::UnknownMemberId);
}

TEST_CASE("a member that does not revoke within its rebalance timeout is removed") {
  Config c;
  c.session_timeout_ms = 600000;
  Fixture f(c);
  f.join("a");
  f.join("b");
  auto a = f.beat("a", 1, all_of(topic_id(1), 6));
  REQUIRE(size(*a.assignment) == 3);
  for (int i = 0; i < 4; ++i) {
    f.advance(10s);
    f.beat("a", 1, all_of(topic_id(1), 6));  // heartbeats, but keeps everything
    f.beat("b", 2, Assignment{});
  }
  CHECK(f.group().members.count("a") == 0);
  auto b = f.beat("b", f.group().members.at("b").epoch, Assignment{});
  REQUIRE(b.assignment);
  CHECK(*b.assignment == all_of(topic_id(1), 6));
}

TEST_CASE("a static member leaving with epoch -2 keeps its place for its replacement") {
  Fixture f;
  f.join("a", {"orders"}, "instance-1");
  f.join("b");
  auto a = f.beat("a", 1, all_of(topic_id(1), 6));
  f.beat("a", 1, *a.assignment);
  const Assignment a_has = f.group().members.at("a").assigned;
  // While a is there, its instance id is taken.
  CHECK(f.join("a2", {"orders"}, "instance-1").error == ErrorCode::UnreleasedInstanceId);
  auto left = f.leave("a", -2, "instance-1");
  CHECK(left.error == ErrorCode::None);
  const auto epoch = f.group().group_epoch;
  auto back = f.join("a2", {"orders"}, "instance-1");
  REQUIRE(back.error == ErrorCode::None);
  CHECK(f.group().group_epoch == epoch);  // no rebalance
  REQUIRE(back.assignment);
  CHECK(*back.assignment == a_has);
  CHECK(f.group().members.count("a") == 0);
  // The old member id is gone.
  CHECK(f.beat("a", 2, a_has).error == ErrorCode::UnknownMemberId);
}

TEST_CASE("a regular expression subscription picks up topics created later") {
  Fixture f;
  Heartbeat hb;
  hb.member_id = "a";
  hb.rebalance_timeout_ms = 30000;
  hb.regex = "ord.*";
  hb.owned.emplace();
  auto r = f.groups.heartbeat(f.group(), hb, f.view(), f.now);
  REQUIRE(r.error == ErrorCode::None);
  CHECK(size(*r.assignment) == 6);
  f.topics["ordinals"] = TopicMeta{"ordinals", topic_id(2), 2};
  f.topics["other"] = TopicMeta{"other", topic_id(3), 2};
  auto later = f.beat("a", r.member_epoch, *r.assignment);
  REQUIRE(later.assignment);
  CHECK(size(*later.assignment) == 8);
  CHECK(later.assignment->count(topic_id(2)) == 1);
  CHECK(later.assignment->count(topic_id(3)) == 0);

  Heartbeat bad = hb;
  bad.member_id = "b";
  bad.regex = "ord(";
  CHECK(f.groups.heartbeat(f.group(), bad, f.view(), f.now).error == ErrorCode::InvalidRegularExpression);
  bad.regex = std::string(2000, 'a');
  CHECK(f.groups.heartbeat(f.group(), bad, f.view(), f.now).error == ErrorCode::InvalidRegularExpression);
}

TEST_CASE("the range and uniform assignors") {
  Subscriptions subs{{"a", {"x", "y"}}, {"b", {"x", "y"}}};
  std::map<std::string, TopicMeta> topics{{"x", {"x", topic_id(1), 3}}, {"y", {"y", topic_id(2), 3}}};
  auto range = assign_range(subs, topics);
  // Range: per topic, the first member gets the extra partition.
  CHECK(range["a"][topic_id(1)] == std::set<std::int32_t>{0, 1});
  CHECK(range["b"][topic_id(1)] == std::set<std::int32_t>{2});
  CHECK(range["a"][topic_id(2)] == std::set<std::int32_t>{0, 1});
  auto uniform = assign_uniform(subs, topics, {});
  CHECK(size(uniform["a"]) == 3);
  CHECK(size(uniform["b"]) == 3);
  // Sticky: a third member takes two, the others keep most of theirs.
  subs["c"] = {"x", "y"};
  auto next = assign_uniform(subs, topics, uniform);
  CHECK(size(next["a"]) == 2);
  CHECK(size(next["b"]) == 2);
  CHECK(size(next["c"]) == 2);
  for (auto& m : {"a", "b"})
    for (auto& [t, ps] : next[m])
      for (auto p : ps) CHECK(uniform[m][t].count(p) == 1);
  // Members subscribed to different topics get only theirs.
  Subscriptions mixed{{"a", {"x"}}, {"b", {"y"}}};
  auto m = assign_uniform(mixed, topics, {});
  CHECK(m["a"] == all_of(topic_id(1), 3));
  CHECK(m["b"] == all_of(topic_id(2), 3));
}

TEST_CASE("the member's ServerAssignor chooses the assignor; an unknown one is refused") {
  Fixture f;
  Heartbeat hb;
  hb.member_id = "a";
  hb.rebalance_timeout_ms = 30000;
  hb.topic_names = std::vector<std::string>{"orders"};
  hb.owned.emplace();
  hb.server_assignor = "sticky";
  CHECK(f.groups.heartbeat(f.group(), hb, f.view(), f.now).error == ErrorCode::UnsupportedAssignor);
  hb.server_assignor = "range";
  REQUIRE(f.groups.heartbeat(f.group(), hb, f.view(), f.now).error == ErrorCode::None);
  CHECK(f.group().assignor == "range");
}

TEST_CASE("offset commits check the member and its epoch") {
  Fixture f;
  f.join("a");
  CHECK(f.groups.check_offsets(f.group(), "a", 1) == ErrorCode::None);
  CHECK(f.groups.check_offsets(f.group(), "a", 0) == ErrorCode::StaleMemberEpoch);
  CHECK(f.groups.check_offsets(f.group(), "zz", 1) == ErrorCode::UnknownMemberId);
  CHECK(f.groups.check_offsets(f.group(), "", -1) == ErrorCode::UnknownMemberId);
  // A commit at the epoch a member just left (its answer was in flight) is fine.
  f.join("b");
  auto a = f.beat("a", 1, all_of(topic_id(1), 6));
  REQUIRE(f.beat("a", 1, *a.assignment).member_epoch == 2);
  CHECK(f.groups.check_offsets(f.group(), "a", 1) == ErrorCode::None);
  CHECK(f.groups.check_offsets(f.group(), "a", 2) == ErrorCode::None);
  CHECK(f.groups.check_offsets(f.group(), "a", 0) == ErrorCode::StaleMemberEpoch);
  CHECK(f.groups.check_offsets(f.group(), "a", 3) == ErrorCode::StaleMemberEpoch);
  f.leave("b");
  f.leave("a");
  CHECK(f.groups.check_offsets(f.group(), "", -1) == ErrorCode::None);
}

TEST_CASE("the durable record brings back members, epochs and assignments") {
  Fixture f;
  f.join("a", {"orders"}, "instance-1");
  f.join("b");
  f.beat("a", 1, all_of(topic_id(1), 6));  // a is revoking
  auto record = ConsumerGroups::record_of(f.group());
  CHECK(ConsumerGroups::is_record(record));
  ConsumerGroups loaded{Config{}};
  REQUIRE(loaded.load("g", record, f.now));
  auto* g = loaded.find("g");
  REQUIRE(g);
  CHECK(g->group_epoch == f.group().group_epoch);
  CHECK(g->assignment_epoch == f.group().assignment_epoch);
  CHECK(g->assignor == f.group().assignor);
  CHECK(g->subscribed == f.group().subscribed);
  CHECK(g->target == f.group().target);
  CHECK(g->static_ids == f.group().static_ids);
  REQUIRE(g->members.size() == 2);
  auto& a = g->members.at("a");
  auto& was = f.group().members.at("a");
  CHECK(a.epoch == was.epoch);
  CHECK(a.state == MemberState::unrevoked_partitions);
  CHECK(a.assigned == was.assigned);
  CHECK(a.revoking == was.revoking);
  CHECK(a.instance_id == was.instance_id);
  CHECK(a.topic_names == was.topic_names);
  std::vector<std::uint8_t> classic{'c', 'l', 'a', 's', 's', 'i', 'c', '\n'};
  CHECK_FALSE(loaded.load("h", classic, f.now));
  std::string broken = "consumer\n{\"group_epoch\":";
  CHECK_FALSE(loaded.load("h", std::vector<std::uint8_t>(broken.begin(), broken.end()), f.now));
}
