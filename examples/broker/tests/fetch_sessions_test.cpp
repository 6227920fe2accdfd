// The fetch session cache (protocol/fetch_sessions.hpp) on its own: what a
// request's session id and epoch mean, incremental changes, which partitions
// an incremental response carries, eviction and the bounds.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/fetch_sessions.hpp"

using kwire::ErrorCode;
using kwire_broker::FetchKey;
using kwire_broker::FetchSent;
using kwire_broker::FetchSessionCache;
using kwire_broker::FetchWant;
using Kind = FetchSessionCache::Plan::Kind;

namespace {

int realm_a, realm_b;  // two namespaces, by address
const void* const a = &realm_a;
const void* const b = &realm_b;

FetchWant want(const std::string& topic, std::int32_t p, std::int64_t offset = 0) {
  FetchWant w;
  w.key.topic = topic;
  w.key.partition = p;
  w.fetch_offset = offset;
  w.max_bytes = 1 << 20;
  return w;
}

FetchKey key(const std::string& topic, std::int32_t p) { return want(topic, p).key; }

/// What a response says: high watermark `hw`, log start 0, records or not.
FetchSent sent(std::int64_t hw, bool records = false, ErrorCode e = ErrorCode::None) { return {records, e, hw, 0}; }

std::vector<std::string> names(const FetchSessionCache::Plan& p) {
  std::vector<std::string> out;
  for (auto& w : p.partitions) out.push_back(w.key.topic + "-" + std::to_string(w.key.partition));
  return out;
}

/// A session of partitions t-0, t-1, u-0 made by a full fetch; returns its id.
std::int32_t make_session(FetchSessionCache& c, std::int64_t now = 0, const void* owner = a) {
  auto plan = c.begin(owner, 0, 0, false, {want("t", 0), want("t", 1), want("u", 0)}, {}, now);
  REQUIRE(plan.kind == Kind::full);
  auto id = c.create(owner, false, plan.partitions, {sent(5), sent(5), sent(5)}, now);
  REQUIRE(id > 0);
  return id;
}

}  // namespace

TEST_CASE("the session fields say what a request is") {
  FetchSessionCache c({});
  SUBCASE("id 0, epoch -1: a full fetch without a session (Fetch v4-6 too)") {
    auto p = c.begin(a, 0, -1, false, {want("t", 0)}, {}, 0);
    CHECK(p.kind == Kind::sessionless);
    CHECK(names(p) == std::vector<std::string>{"t-0"});
  }
  SUBCASE("id 0, epoch 0: a full fetch that asks for a session") {
    auto id = make_session(c);
    CHECK(c.sessions() == 1);
    CHECK(c.partitions() == 3);
    auto next = c.begin(a, id, 1, false, {}, {}, 1);
    CHECK(next.kind == Kind::incremental);
    CHECK(next.session_id == id);
    CHECK(names(next) == std::vector<std::string>{"t-0", "t-1", "u-0"});
  }
  SUBCASE("id X, epoch 0 or -1 closes X") {
    auto id = make_session(c);
    auto p = c.begin(a, id, 0, false, {want("t", 0)}, {}, 1);
    CHECK(p.kind == Kind::full);
    CHECK(c.sessions() == 0);
    id = make_session(c);
    CHECK(c.begin(a, id, -1, false, {want("t", 0)}, {}, 1).kind == Kind::sessionless);
    CHECK(c.sessions() == 0);
  }
  SUBCASE("errors") {
    auto id = make_session(c);
    CHECK(c.begin(a, id + 1, 1, false, {}, {}, 1).error == ErrorCode::FetchSessionIdNotFound);
    CHECK(c.begin(a, 0, 3, false, {}, {}, 1).error == ErrorCode::FetchSessionIdNotFound);
    CHECK(c.begin(b, id, 1, false, {}, {}, 1).error == ErrorCode::FetchSessionIdNotFound);  // another namespace's
    CHECK(c.begin(a, id, 2, false, {}, {}, 1).error == ErrorCode::InvalidFetchSessionEpoch);
    CHECK(c.begin(a, id, 1, true, {}, {}, 1).error == ErrorCode::FetchSessionTopicIdError);
    // None of these moved the session on.
    CHECK(c.begin(a, id, 1, false, {}, {}, 1).kind == Kind::incremental);
    // The same epoch twice is refused: the session is at epoch 2 now.
    CHECK(c.begin(a, id, 1, false, {}, {}, 1).error == ErrorCode::InvalidFetchSessionEpoch);
    CHECK(c.begin(a, id, 2, false, {}, {}, 1).kind == Kind::incremental);
  }
}

TEST_CASE("incremental fetches change, add and forget partitions") {
  FetchSessionCache c({});
  auto id = make_session(c);
  auto p = c.begin(a, id, 1, false, {want("t", 1, 40), want("v", 2, 7)}, {key("u", 0), key("zz", 9)}, 1);
  REQUIRE(p.kind == Kind::incremental);
  CHECK(names(p) == std::vector<std::string>{"t-0", "t-1", "v-2"});
  CHECK(p.partitions[1].fetch_offset == 40);
  CHECK(p.partitions[2].fetch_offset == 7);
  CHECK(p.partitions[2].sent_high_watermark == -1);  // never sent: it will be
  CHECK(c.partitions() == 3);
  // Forgetting everything ends the session; the request is answered without one.
  p = c.begin(a, id, 2, false, {}, {key("t", 0), key("t", 1), key("v", 2)}, 2);
  CHECK(p.kind == Kind::sessionless);
  CHECK(p.partitions.empty());
  CHECK(c.sessions() == 0);
  CHECK(c.partitions() == 0);
}

TEST_CASE("an incremental response carries only what changed; partitions with records go last") {
  FetchSessionCache c({});
  auto id = make_session(c);  // each sent with high watermark 5
  auto p = c.begin(a, id, 1, false, {}, {}, 1);
  // t-0 got records, t-1 nothing new, u-0 a new high watermark.
  auto carry = c.respond(p, {sent(8, true), sent(5), sent(6)});
  CHECK(carry == std::vector<bool>{true, false, true});
  p = c.begin(a, id, 2, false, {}, {}, 2);
  CHECK(names(p) == std::vector<std::string>{"t-1", "u-0", "t-0"});
  // Nothing changed: nothing is carried.
  carry = c.respond(p, {sent(5), sent(6), sent(8)});
  CHECK(carry == std::vector<bool>{false, false, false});
  // An error is always carried, and the partition again once it clears.
  p = c.begin(a, id, 3, false, {}, {}, 3);
  carry = c.respond(p, {sent(-1, false, ErrorCode::UnknownTopicOrPartition), sent(6), sent(8)});
  CHECK(carry == std::vector<bool>{true, false, false});
  p = c.begin(a, id, 4, false, {}, {}, 4);
  carry = c.respond(p, {sent(5), sent(6), sent(8)});
  CHECK(carry == std::vector<bool>{true, false, false});
  // A new log start offset is carried too.
  p = c.begin(a, id, 5, false, {}, {}, 5);
  carry = c.respond(p, {sent(5), FetchSent{false, ErrorCode::None, 6, 3}, sent(8)});
  CHECK(carry == std::vector<bool>{false, true, false});
}

TEST_CASE("a full cache: stale sessions are evicted, then small old ones for larger ones") {
  FetchSessionCache c({.slots = 2, .max_partitions = 1000, .eviction = std::chrono::milliseconds(100)});
  auto first = make_session(c, 0);
  auto second = make_session(c, 0);
  // Both in use and young: a newcomer gets no session.
  auto p = c.begin(a, 0, 0, false, {want("x", 0)}, {}, 50);
  CHECK(c.create(a, false, p.partitions, {sent(1)}, 50) == 0);
  // `first` keeps being used, `second` goes stale: it makes room.
  REQUIRE(c.begin(a, first, 1, false, {}, {}, 150).kind == Kind::incremental);
  auto third = c.create(a, false, p.partitions, {sent(1)}, 200);
  CHECK(third > 0);
  CHECK(c.evictions() == 1);
  CHECK(c.begin(a, second, 1, false, {}, {}, 200).error == ErrorCode::FetchSessionIdNotFound);
  // None stale now (both used at 200). `first` (3 partitions, created at 0)
  // is old enough to give way to a larger session, not to a smaller one.
  REQUIRE(c.begin(a, third, 1, false, {}, {}, 200).kind == Kind::incremental);
  REQUIRE(c.begin(a, first, 2, false, {}, {}, 200).kind == Kind::incremental);
  auto small = c.begin(a, 0, 0, false, {want("y", 0), want("y", 1)}, {}, 250);
  CHECK(c.create(a, false, small.partitions, {sent(1), sent(1)}, 250) == 0);
  auto large = c.begin(a, 0, 0, false, {want("z", 0), want("z", 1), want("z", 2), want("z", 3)}, {}, 250);
  CHECK(c.create(a, false, large.partitions, {sent(1), sent(1), sent(1), sent(1)}, 250) > 0);
  CHECK(c.evictions() == 2);
  CHECK(c.begin(a, first, 3, false, {}, {}, 250).error == ErrorCode::FetchSessionIdNotFound);
  CHECK(c.begin(a, third, 2, false, {}, {}, 250).kind == Kind::incremental);
}

TEST_CASE("no slots: no sessions, as Kafka with a full cache") {
  FetchSessionCache c({.slots = 0});
  auto p = c.begin(a, 0, 0, false, {want("t", 0)}, {}, 0);
  CHECK(p.kind == Kind::full);
  CHECK(c.create(a, false, p.partitions, {sent(1)}, 0) == 0);
  CHECK(c.sessions() == 0);
}

TEST_CASE("the partitions of all sessions are bounded") {
  FetchSessionCache c({.slots = 10, .max_partitions = 4});
  auto id = make_session(c);  // 3 partitions
  auto p = c.begin(a, 0, 0, false, {want("x", 0), want("x", 1)}, {}, 0);
  CHECK(c.create(a, false, p.partitions, {sent(1), sent(1)}, 0) == 0);  // 5 > 4
  CHECK(c.begin(a, id, 1, false, {want("x", 0)}, {}, 1).kind == Kind::incremental);  // 4
  // Growing past the bound drops the session: the client starts over.
  CHECK(c.begin(a, id, 2, false, {want("x", 1)}, {}, 2).error == ErrorCode::FetchSessionIdNotFound);
  CHECK(c.sessions() == 0);
  CHECK(c.partitions() == 0);
}

TEST_CASE("topic ids key a session made by Fetch v13+") {
  FetchSessionCache c({});
  FetchWant w;
  w.key.topic_id[0] = 7;
  w.key.partition = 1;
  auto p = c.begin(a, 0, 0, true, {w}, {}, 0);
  auto id = c.create(a, true, p.partitions, {sent(3)}, 0);
  REQUIRE(id > 0);
  CHECK(c.begin(a, id, 1, false, {}, {}, 1).error == ErrorCode::FetchSessionTopicIdError);
  FetchKey forget;
  forget.topic_id[0] = 7;
  forget.partition = 1;
  CHECK(c.begin(a, id, 1, true, {}, {forget}, 1).kind == Kind::sessionless);
}
