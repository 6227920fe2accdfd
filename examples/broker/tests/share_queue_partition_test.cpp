// A share partition served from the store's queue, on a clock the test moves
// by hand: entries offered and acquired, accepted records settled (a whole
// entry at once when all of it is done), released and expired records going
// back to the queue once nothing of their entry is acquired or still to be
// handed out, delivery counts that outlive a give-back and the store's reset
// of its own count, the delivery limit, records the store says are settled
// already, and the durable form.
#include <doctest/doctest.h>

#include <vector>

#include "coordinator/share_queue_partition.hpp"

using kwire::ErrorCode;
using namespace kwire_broker::share;
using namespace std::chrono_literals;
using kwire_broker::storage::QueuedBatch;

namespace {

const std::vector<AckType> accepted{AckType::accept}, released{AckType::release}, rejected{AckType::reject},
    renewed{AckType::renew};

QueuedBatch entry(std::uint64_t handle, std::int64_t base, std::int64_t last, std::int32_t redeliveries = 0) {
  QueuedBatch b;
  b.handle = handle;
  b.base = base;
  b.last = last;
  b.bytes.assign(static_cast<std::size_t>(last - base + 1), static_cast<std::uint8_t>(handle));
  b.redeliveries = redeliveries;
  return b;
}

struct Fixture {
  QueuedPartition p;
  PartitionLimits limits;
  PartitionClock::time_point now{};
  QueuedPartition::Acquisition take(const std::string& member, std::int32_t max) {
    return p.acquire(member, max, now, limits);
  }
  ErrorCode ack(const std::string& member, std::int64_t first, std::int64_t last, const std::vector<AckType>& t) {
    return p.acknowledge(member, first, last, t, now, limits);
  }
};

}  // namespace

TEST_CASE("records of offered entries are acquired once, lowest offsets first, with the entries that hold them") {
  Fixture f;
  f.p.offer(entry(7, 10, 14), f.limits);
  f.p.offer(entry(8, 20, 21), f.limits);
  CHECK(f.p.held() == 7);
  auto a = f.take("m1", 6);
  REQUIRE(a.ranges.size() == 2);
  CHECK(a.ranges[0] == AcquiredRange{10, 14, 1});
  CHECK(a.ranges[1] == AcquiredRange{20, 20, 1});
  CHECK(a.entries == std::vector<std::uint64_t>{7, 8});
  CHECK(f.p.bytes(8) == std::vector<std::uint8_t>{8, 8});
  auto b = f.take("m2", 10);
  REQUIRE(b.ranges.size() == 1);
  CHECK(b.ranges[0] == AcquiredRange{21, 21, 1});
  CHECK(f.take("m3", 10).ranges.empty());
  CHECK(f.p.take_actions().empty());
}

TEST_CASE("accepted records are settled: one by one while the entry is in use, then the whole entry") {
  Fixture f;
  f.p.offer(entry(1, 0, 3), f.limits);
  f.take("m1", 2);
  f.take("m2", 2);
  REQUIRE(f.ack("m1", 0, 1, accepted) == ErrorCode::None);
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].handle == 1);
  CHECK(actions[0].settled == std::vector<std::int64_t>{0, 1});
  CHECK_FALSE(actions[0].whole);
  CHECK_FALSE(actions[0].give_back);
  REQUIRE(f.ack("m2", 2, 3, rejected) == ErrorCode::None);
  actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].whole);
  CHECK(actions[0].settled == std::vector<std::int64_t>{2, 3});
  CHECK(f.p.held() == 0);
}

TEST_CASE("released records go back to the queue once no record of their entry is acquired") {
  Fixture f;
  f.p.offer(entry(1, 0, 3), f.limits);
  f.take("m1", 2);  // 0, 1
  f.take("m2", 2);  // 2, 3
  REQUIRE(f.ack("m1", 0, 1, released) == ErrorCode::None);
  // m2 still holds part of the entry: the released records stay here, for
  // the broker's members.
  CHECK(f.p.take_actions().empty());
  CHECK(f.p.record(0) == std::pair{RecordState::available, std::int16_t{1}});
  REQUIRE(f.ack("m2", 2, 2, accepted) == ErrorCode::None);
  REQUIRE(f.ack("m2", 3, 3, released) == ErrorCode::None);
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() >= 1);
  auto& last = actions.back();
  CHECK(last.give_back);
  CHECK_FALSE(last.whole);
  CHECK(f.p.held() == 0);
  // The store delivers the entry again (offset 2 settled): the delivery
  // counts go on from the broker's, although the store counts only one.
  auto again = entry(2, 0, 3, 1);
  again.settled = {2};
  f.p.offer(again, f.limits);
  CHECK(f.p.held() == 3);
  auto a = f.take("m3", 10);
  REQUIRE(a.ranges.size() == 2);
  CHECK(a.ranges[0] == AcquiredRange{0, 1, 2});
  CHECK(a.ranges[1] == AcquiredRange{3, 3, 2});
}

TEST_CASE("an entry with records never handed out stays, for the next fetch, rather than go back") {
  Fixture f;
  f.p.offer(entry(1, 0, 3), f.limits);
  f.take("m1", 2);
  REQUIRE(f.ack("m1", 0, 1, accepted) == ErrorCode::None);
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].settled == std::vector<std::int64_t>{0, 1});
  CHECK_FALSE(actions[0].give_back);
  CHECK_FALSE(actions[0].whole);
  auto a = f.take("m2", 10);
  REQUIRE(a.ranges.size() == 1);
  CHECK(a.ranges[0] == AcquiredRange{2, 3, 1});
  REQUIRE(f.ack("m2", 2, 3, released) == ErrorCode::None);
  actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].give_back);
}

TEST_CASE("the store's redelivery count counts when it is the larger") {
  Fixture f;
  f.p.offer(entry(1, 5, 5, 3), f.limits);  // delivered elsewhere three times
  auto a = f.take("m1", 1);
  REQUIRE(a.ranges.size() == 1);
  CHECK(a.ranges[0].delivery_count == 4);
}

TEST_CASE("the delivery limit archives a record: settled, never handed out again") {
  Fixture f;
  f.limits.delivery_count_limit = 2;
  f.p.offer(entry(1, 0, 1), f.limits);
  f.take("m1", 2);
  REQUIRE(f.ack("m1", 0, 1, released) == ErrorCode::None);
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].give_back);
  f.p.offer(entry(2, 0, 1, 1), f.limits);
  auto a = f.take("m1", 2);
  REQUIRE(a.ranges.size() == 1);
  CHECK(a.ranges[0] == AcquiredRange{0, 1, 2});
  REQUIRE(f.ack("m1", 0, 0, released) == ErrorCode::None);
  REQUIRE(f.ack("m1", 1, 1, accepted) == ErrorCode::None);
  actions = f.p.take_actions();
  REQUIRE_FALSE(actions.empty());
  CHECK(actions.back().whole);
  CHECK(f.p.held() == 0);
  // An entry that comes past the limit is settled at once.
  f.p.offer(entry(3, 9, 9, 2), f.limits);
  CHECK(f.p.held() == 0);
  actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].whole);
  CHECK(actions[0].settled == std::vector<std::int64_t>{9});
}

TEST_CASE("acknowledgements of records not held by the member are refused whole") {
  Fixture f;
  f.p.offer(entry(1, 0, 3), f.limits);
  f.p.offer(entry(2, 10, 11), f.limits);
  f.take("m1", 2);  // 0, 1
  f.take("m2", 4);  // 2, 3, 10, 11
  CHECK(f.ack("m1", 0, 2, accepted) == ErrorCode::InvalidRecordState);  // 2 is m2's
  CHECK(f.ack("m2", 2, 11, accepted) == ErrorCode::InvalidRecordState);  // 4..9 are not held
  CHECK(f.ack("m2", 2, 1'000'000'000'000, accepted) == ErrorCode::InvalidRecordState);
  CHECK(f.ack("m1", 1, 0, accepted) == ErrorCode::InvalidRequest);
  CHECK(f.ack("m1", 0, 1, std::vector<AckType>{AckType::accept, AckType::accept, AckType::accept}) ==
        ErrorCode::InvalidRequest);
  CHECK(f.p.record(0)->first == RecordState::acquired);
  CHECK(f.p.take_actions().empty());
  f.now += std::chrono::milliseconds(f.limits.lock_duration_ms);
  CHECK(f.ack("m1", 0, 1, accepted) == ErrorCode::InvalidRecordState);  // the lock passed
}

TEST_CASE("renewed locks hold; expired locks give the entry back") {
  Fixture f;
  f.p.offer(entry(1, 0, 0), f.limits);
  f.p.offer(entry(2, 1, 1), f.limits);
  f.take("m1", 2);
  f.now += 20s;
  REQUIRE(f.ack("m1", 1, 1, renewed) == ErrorCode::None);
  f.now += 15s;  // past the first lock, within the renewed one
  CHECK(f.p.expire_locks(f.now, f.limits));
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].handle == 1);
  CHECK(actions[0].give_back);
  CHECK(f.p.record(1)->first == RecordState::acquired);
  CHECK_FALSE(f.p.expire_locks(f.now, f.limits));
}

TEST_CASE("a member leaving gives back what it held; the same entry offered twice is held once") {
  Fixture f;
  f.p.offer(entry(1, 0, 2), f.limits);
  f.p.offer(entry(1, 0, 2), f.limits);
  f.p.offer(entry(4, 1, 1), f.limits);
  CHECK(f.p.held() == 3);
  f.take("m1", 3);
  CHECK(f.p.release_member("m1", f.limits));
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].give_back);
  CHECK_FALSE(f.p.release_member("m1", f.limits));
}

TEST_CASE("a marker is settled at once; a lost connection forgets what is held but not the counts") {
  Fixture f;
  auto marker = entry(1, 4, 4);
  marker.control = true;
  f.p.offer(marker, f.limits);
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].whole);
  f.p.offer(entry(2, 5, 7), f.limits);
  f.take("m1", 2);
  REQUIRE(f.ack("m1", 5, 5, accepted) == ErrorCode::None);
  f.take("m1", 1);
  f.p.drop_all();
  CHECK(f.p.held() == 0);
  actions = f.p.take_actions();
  REQUIRE(actions.size() == 1);  // the settle of 5 is still owed to the store
  CHECK(actions[0].settled == std::vector<std::int64_t>{5});
  CHECK_FALSE(actions[0].give_back);
  // The store delivers the entry again (it had not heard of 5): 6 and 7 were
  // delivered once here, 5 only by the store's count.
  f.p.offer(entry(3, 5, 7, 1), f.limits);
  auto a = f.take("m2", 3);
  REQUIRE(a.ranges.size() == 1);
  CHECK(a.ranges[0] == AcquiredRange{5, 7, 2});
}

TEST_CASE("the durable form keeps the delivery counts") {
  Fixture f;
  f.p.offer(entry(1, 0, 1), f.limits);
  f.take("m1", 2);
  REQUIRE(f.ack("m1", 0, 1, released) == ErrorCode::None);
  auto back = QueuedPartition::decode(f.p.encode());
  REQUIRE(back);
  back->offer(entry(2, 0, 1, 1), f.limits);
  auto a = back->acquire("m2", 2, f.now, f.limits);
  REQUIRE(a.ranges.size() == 1);
  CHECK(a.ranges[0] == AcquiredRange{0, 1, 2});
  CHECK_FALSE(QueuedPartition::decode(std::vector<std::uint8_t>{'{', '}'}));
  for (std::string bad : {R"({"queue":true,"counts":[[-1,2]]})", R"({"queue":true,"counts":[[1e300,2]]})",
                          R"({"queue":true,"counts":[[3,40000]]})", R"({"queue":true,"counts":[[3,2.5]]})"})
    CHECK_FALSE(QueuedPartition::decode(std::vector<std::uint8_t>(bad.begin(), bad.end())));
}

TEST_CASE("a group left without members gives back every entry it holds, keeping the counts") {
  Fixture f;
  f.p.offer(entry(1, 0, 3), f.limits);
  f.p.offer(entry(2, 4, 5), f.limits);
  f.take("m1", 3);  // 0..2; 3 is new, entry 2 untouched
  REQUIRE(f.ack("m1", 0, 0, accepted) == ErrorCode::None);
  f.p.take_actions();
  CHECK(f.p.release_member("m1", f.limits));
  CHECK(f.p.take_actions().empty());  // 3 is still to be handed out
  f.p.give_back_all(f.limits);
  CHECK(f.p.held() == 0);
  auto actions = f.p.take_actions();
  REQUIRE(actions.size() == 2);
  CHECK(actions[0].give_back);
  CHECK(actions[1].give_back);
  f.p.offer(entry(3, 0, 3, 1), f.limits);
  auto a = f.take("m2", 4);
  REQUIRE(a.ranges.size() == 1);
  CHECK(a.ranges[0] == AcquiredRange{0, 3, 2});
}
