// A share partition's records (KIP-932) on a clock the test moves by hand:
// acquiring, accepting, releasing, rejecting, renewing, lock expiry, the
// delivery count limit, the start offset moving up, the bounded in-flight
// window, acknowledgements of records not acquired, and the durable form.
#include <doctest/doctest.h>

#include <string_view>
#include <vector>

#include "coordinator/share_partition.hpp"

using kwire::ErrorCode;
using namespace kwire_broker::share;
using namespace std::chrono_literals;

namespace {

const std::vector<AckType> accept{AckType::accept}, release{AckType::release}, reject{AckType::reject},
    renew{AckType::renew};

struct Fixture {
  Fixture() { p.reset(0); }
  std::vector<AcquiredRange> take(const std::string& member, std::int32_t max, std::int64_t hwm = 10) {
    auto from = p.next_to_read(hwm, limits);
    if (!from) return {};
    return p.acquire(member, *from, hwm - 1, hwm, max, now, limits);
  }
  RecordState state(std::int64_t o) { return p.record(o).value().first; }
  std::int16_t deliveries(std::int64_t o) { return p.record(o).value().second; }

  SharePartition p;
  PartitionLimits limits;
  PartitionClock::time_point now{};
};

}  // namespace

TEST_CASE("records are acquired up to the limit asked, once, and accepted records move the start offset") {
  Fixture f;
  auto a = f.take("m1", 4);
  REQUIRE(a.size() == 1);
  CHECK(a[0] == AcquiredRange{0, 3, 1});
  auto b = f.take("m2", 100);
  REQUIRE(b.size() == 1);
  CHECK(b[0] == AcquiredRange{4, 9, 1});
  CHECK(f.take("m3", 100).empty());  // everything is out
  CHECK(f.p.in_flight() == 10);

  CHECK(f.p.acknowledge("m1", 0, 3, accept, f.now, f.limits) == ErrorCode::None);
  CHECK(f.p.start_offset() == 4);
  CHECK(f.p.acknowledge("m2", 4, 9, accept, f.now, f.limits) == ErrorCode::None);
  CHECK(f.p.start_offset() == 10);
  CHECK(f.p.in_flight() == 0);
  // Records produced later are handed out from the end offset.
  auto c = f.take("m1", 5, 12);
  REQUIRE(c.size() == 1);
  CHECK(c[0] == AcquiredRange{10, 11, 1});
}

TEST_CASE("released records are delivered again with a higher count; rejected ones never") {
  Fixture f;
  f.take("m1", 4);
  std::vector<AckType> mixed{AckType::accept, AckType::release, AckType::reject, AckType::accept};
  CHECK(f.p.acknowledge("m1", 0, 3, mixed, f.now, f.limits) == ErrorCode::None);
  CHECK(f.state(1) == RecordState::available);
  CHECK(f.state(2) == RecordState::archived);
  CHECK(f.p.start_offset() == 1);
  auto again = f.take("m2", 1);
  REQUIRE(again.size() == 1);
  CHECK(again[0] == AcquiredRange{1, 1, 2});
  CHECK(f.p.acknowledge("m2", 1, 1, accept, f.now, f.limits) == ErrorCode::None);
  CHECK(f.p.start_offset() == 4);  // past the accepted, the rejected and the accepted
}

TEST_CASE("an acquisition lock that passes makes the records available again") {
  Fixture f;
  f.limits.lock_duration_ms = 1000;
  f.take("m1", 3);
  f.now += 999ms;
  CHECK_FALSE(f.p.expire_locks(f.now, f.limits));
  CHECK(f.state(0) == RecordState::acquired);
  f.now += 1ms;
  CHECK(f.p.expire_locks(f.now, f.limits));
  CHECK(f.state(0) == RecordState::available);
  // The late acknowledgement is refused: the records are no longer the member's.
  CHECK(f.p.acknowledge("m1", 0, 2, accept, f.now, f.limits) == ErrorCode::InvalidRecordState);
  auto again = f.take("m2", 3);
  REQUIRE(again.size() == 1);
  CHECK(again[0] == AcquiredRange{0, 2, 2});
}

TEST_CASE("renewing a lock keeps the records acquired past their first deadline") {
  Fixture f;
  f.limits.lock_duration_ms = 1000;
  f.take("m1", 2);
  f.now += 800ms;
  CHECK(f.p.acknowledge("m1", 0, 1, renew, f.now, f.limits) == ErrorCode::None);
  f.now += 800ms;
  CHECK_FALSE(f.p.expire_locks(f.now, f.limits));
  CHECK(f.p.acknowledge("m1", 0, 1, accept, f.now, f.limits) == ErrorCode::None);
  CHECK(f.p.start_offset() == 2);
}

TEST_CASE("a record delivered delivery.count.limit times is archived when released or timed out") {
  Fixture f;
  f.limits.delivery_count_limit = 3;
  f.limits.lock_duration_ms = 100;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto a = f.take("m1", 1);
    REQUIRE(a.size() == 1);
    CHECK(a[0].delivery_count == attempt);
    CHECK(f.p.acknowledge("m1", 0, 0, release, f.now, f.limits) == ErrorCode::None);
  }
  auto third = f.take("m1", 1);
  REQUIRE(third.size() == 1);
  CHECK(third[0] == AcquiredRange{0, 0, 3});
  f.now += 100ms;  // the third delivery times out: that was the last one
  CHECK(f.p.expire_locks(f.now, f.limits));
  CHECK(f.p.start_offset() == 1);
  CHECK_FALSE(f.p.record(0));
  auto next = f.take("m1", 1);
  REQUIRE(next.size() == 1);
  CHECK(next[0].first == 1);
}

TEST_CASE("acknowledgements of records the member does not hold are refused whole") {
  Fixture f;
  f.take("m1", 3);
  f.take("m2", 2);
  CHECK(f.p.acknowledge("m2", 0, 0, accept, f.now, f.limits) == ErrorCode::InvalidRecordState);  // m1's
  CHECK(f.p.acknowledge("m1", 2, 3, accept, f.now, f.limits) == ErrorCode::InvalidRecordState);  // 3 is m2's
  CHECK(f.state(2) == RecordState::acquired);  // nothing of the batch was applied
  CHECK(f.p.acknowledge("m1", 7, 8, accept, f.now, f.limits) == ErrorCode::InvalidRecordState);  // never out
  CHECK(f.p.acknowledge("m1", 0, (std::int64_t{1} << 62), accept, f.now, f.limits) == ErrorCode::InvalidRecordState);
  CHECK(f.p.acknowledge("m1", 2, 1, accept, f.now, f.limits) == ErrorCode::InvalidRequest);
  CHECK(f.p.acknowledge("m1", 0, 2, {AckType::accept, AckType::accept}, f.now, f.limits) == ErrorCode::InvalidRequest);
  CHECK(f.p.acknowledge("m1", 0, 0, {static_cast<AckType>(9)}, f.now, f.limits) == ErrorCode::InvalidRequest);
  CHECK(f.p.acknowledge("m1", 0, 2, accept, f.now, f.limits) == ErrorCode::None);
  // A member whose session ends gives its records back.
  CHECK(f.p.release_member("m2", f.limits));
  CHECK(f.state(3) == RecordState::available);
  CHECK(f.deliveries(3) == 1);
}

TEST_CASE("the in-flight window is bounded by max.record.locks") {
  Fixture f;
  f.limits.max_record_locks = 4;
  auto a = f.take("m1", 100, 1000);
  REQUIRE(a.size() == 1);
  CHECK(a[0] == AcquiredRange{0, 3, 1});
  CHECK(f.p.in_flight() == 4);
  CHECK_FALSE(f.p.next_to_read(1000, f.limits));  // full: nothing more until the start moves
  CHECK(f.p.acknowledge("m1", 0, 1, accept, f.now, f.limits) == ErrorCode::None);
  auto b = f.take("m1", 100, 1000);
  REQUIRE(b.size() == 1);
  CHECK(b[0] == AcquiredRange{4, 5, 1});
  CHECK(f.p.in_flight() == 4);
}

TEST_CASE("the start offset follows the log start, and a reset forgets what was in flight") {
  Fixture f;
  f.take("m1", 5);
  f.p.follow_log_start(3);
  CHECK(f.p.start_offset() == 3);
  CHECK_FALSE(f.p.record(2));
  f.p.follow_log_start(8);
  CHECK(f.p.start_offset() == 8);
  CHECK(f.p.end_offset() == 8);
  f.p.reset(2);
  CHECK(f.p.start_offset() == 2);
  CHECK(f.p.in_flight() == 0);
  SharePartition fresh;
  CHECK_FALSE(fresh.initialized());
  CHECK_FALSE(fresh.next_to_read(10, f.limits));
}

TEST_CASE("the durable form keeps the start offset, states and counts; locks are not kept") {
  Fixture f;
  f.take("m1", 6);
  CHECK(f.p.acknowledge("m1", 1, 1, accept, f.now, f.limits) == ErrorCode::None);
  CHECK(f.p.acknowledge("m1", 2, 2, reject, f.now, f.limits) == ErrorCode::None);
  CHECK(f.p.acknowledge("m1", 3, 3, release, f.now, f.limits) == ErrorCode::None);
  auto loaded = SharePartition::decode(f.p.encode());
  REQUIRE(loaded);
  CHECK(loaded->start_offset() == 0);
  CHECK(loaded->end_offset() == 6);
  CHECK(loaded->record(0).value() == std::pair{RecordState::available, std::int16_t{1}});
  CHECK(loaded->record(1).value().first == RecordState::acknowledged);
  CHECK(loaded->record(2).value().first == RecordState::archived);
  CHECK(loaded->record(3).value() == std::pair{RecordState::available, std::int16_t{1}});
  CHECK(loaded->record(5).value().first == RecordState::available);
  auto again = loaded->acquire("m2", 0, 9, 10, 1, f.now, f.limits);
  REQUIRE(again.size() == 1);
  CHECK(again[0] == AcquiredRange{0, 0, 2});
  const std::string bad = R"({"start":0,"end":99999999999,"runs":[]})";
  CHECK_FALSE(SharePartition::decode(std::vector<std::uint8_t>(bad.begin(), bad.end())));
  const std::string torn = R"({"start":0,"end":)";
  CHECK_FALSE(SharePartition::decode(std::vector<std::uint8_t>(torn.begin(), torn.end())));
}

TEST_CASE("a stored record whose numbers are not integers that fit is refused, not converted") {
  auto bytes = [](std::string_view text) { return std::vector<std::uint8_t>(text.begin(), text.end()); };
  CHECK(SharePartition::decode(bytes(R"({"start":5,"end":9,"runs":[[5,6,2,0]]})")));
  CHECK_FALSE(SharePartition::decode(bytes(R"({"start":5,"end":9,"runs":[[5,6,2,0],[7e88,7,4,3]]})")));
  CHECK_FALSE(SharePartition::decode(bytes(R"({"start":5.5,"end":9,"runs":[]})")));
  CHECK_FALSE(SharePartition::decode(bytes(R"({"start":5,"end":9,"runs":[[5,6,2,70000]]})")));
  CHECK_FALSE(SharePartition::decode(bytes(R"({"start":5,"end":18446744073709551615,"runs":[]})")));
}
