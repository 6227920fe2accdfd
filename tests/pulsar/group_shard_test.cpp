// The shards of kwire-broker's Pulsar group store against the test
// standalone: offsets a transaction holds, moved with a shard to another
// gateway and ended by its coordinator, a transaction's end that runs while
// its offsets are being held, and a shard taken over (after a start, or by
// another gateway) while calls for its groups and transactional ids come in.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <thread>
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "pulsar_env.hpp"
#include "storage_support.hpp"

namespace st = kwire_broker::storage;
using namespace pulsar_test;
using namespace std::chrono_literals;

TEST_CASE("offsets a transaction holds move with the group's shard; the new coordinator ends them") {
  const auto ns = unique("held");
  const st::TopicPartition tp{"t", 0};
  st::CommittedOffset at5;
  at5.offset = 5;
  at5.metadata = "m";
  auto a = open_store("public", ns, "pulsar", "gw-a");
  REQUIRE(wait(a->groups().hold_txn_offsets("g", 42, 0, {{tp, at5}})).ok());
  REQUIRE(wait(a->groups().hold_txn_offsets("g", 43, 0, {{tp, at5}})).ok());
  auto b = open_store("public", ns, "pulsar", "gw-b");
  // The first gateway coordinates the group: the second cannot end them.
  const auto shard = b->groups().shard_of("g");
  CHECK_FALSE(wait(b->groups().end_txn_offsets(shard, 42, 0, true)).ok());
  const auto first_epoch = wait(a->groups().shard_epoch(shard));
  REQUIRE(first_epoch.ok());
  a.reset();  // it goes away; the second one takes the shard over
  // ... under a newer epoch, which its transactions' markers carry.
  const auto second_epoch = wait(b->groups().shard_epoch(shard));
  REQUIRE_MESSAGE(second_epoch.ok(), second_epoch.message);
  CHECK(second_epoch.value > first_epoch.value);
  auto held = wait(b->groups().held_txn_offsets("g"));
  REQUIRE_MESSAGE(held.ok(), held.message);
  CHECK(held.value == std::vector<st::TopicPartition>{tp, tp});
  REQUIRE(wait(b->groups().end_txn_offsets(shard, 42, 0, true)).ok());
  REQUIRE(wait(b->groups().end_txn_offsets(shard, 43, 0, false)).ok());
  b.reset();
  // Ended in one entry with the offsets: a third gateway reads them
  // committed and nothing held.
  auto c = open_store("public", ns, "pulsar", "gw-c");
  CHECK(wait(c->groups().held_txn_offsets("g")).value.empty());
  auto committed = wait(c->groups().fetch_offsets("g"));
  REQUIRE(committed.ok());
  REQUIRE(committed.value.size() == 1);
  CHECK(committed.value[0].second.offset == 5);
  CHECK(committed.value[0].second.metadata == "m");
}

TEST_CASE("a transaction's commit that comes while its offsets are being held commits them") {
  const auto ns = unique("held-ending");
  const st::TopicPartition tp{"t", 0};
  st::CommittedOffset at7;
  at7.offset = 7;
  auto s = open_store("public", ns, "pulsar", "gw-a");
  const auto shard = s->groups().shard_of("g");
  // The shard taken first: neither call below waits for it.
  REQUIRE(wait(s->groups().fetch_offsets("g")).ok());
  // The marker's end is started right after the hold, so it runs while the
  // hold's write is on its way to Pulsar: the hold came first, and is the
  // transaction's.
  boost::asio::io_context io;
  std::optional<st::Result<st::Done>> held, ended;
  boost::asio::co_spawn(io, s->groups().hold_txn_offsets("g", 42, 3, {{tp, at7}}),
                        [&held](std::exception_ptr e, st::Result<st::Done> r) {
                          REQUIRE_FALSE(e);
                          held = std::move(r);
                        });
  boost::asio::co_spawn(io, s->groups().end_txn_offsets(shard, 42, 3, true),
                        [&ended](std::exception_ptr e, st::Result<st::Done> r) {
                          REQUIRE_FALSE(e);
                          ended = std::move(r);
                        });
  io.run();
  REQUIRE(held);
  REQUIRE(ended);
  REQUIRE_MESSAGE(held->ok(), held->message);
  REQUIRE_MESSAGE(ended->ok(), ended->message);
  // Committed and no longer held, here and in the log a gateway taking
  // over reads.
  auto check = [&](st::Storage& store) {
    auto holds = wait(store.groups().held_txn_offsets("g"));
    REQUIRE_MESSAGE(holds.ok(), holds.message);
    CHECK(holds.value.empty());
    auto committed = wait(store.groups().fetch_offsets("g"));
    REQUIRE_MESSAGE(committed.ok(), committed.message);
    REQUIRE(committed.value.size() == 1);
    CHECK(committed.value[0].first == tp);
    CHECK(committed.value[0].second.offset == 7);
  };
  check(*s);
  s.reset();
  auto next = open_store("public", ns, "pulsar", "gw-b");
  check(*next);
}

TEST_CASE("a gateway taking a group's shard over answers for its groups only once it has read the shard") {
  const auto ns = unique("held-taking");
  const st::TopicPartition tp{"t", 0};
  st::CommittedOffset at5;
  at5.offset = 5;
  {
    auto a = open_store("public", ns, "pulsar", "gw-a");
    const auto shard = a->groups().shard_of("g");
    REQUIRE(wait(a->groups().hold_txn_offsets("g", 42, 0, {{tp, at5}})).ok());
    // Another group of the shard holds many offsets: reading the shard
    // again takes a while.
    std::string other;
    for (int i = 0; other.empty() || a->groups().shard_of(other) != shard; ++i) other = "f" + std::to_string(i);
    st::GroupStore::Offsets many;
    for (int p = 0; p < 200; ++p) many.push_back({st::TopicPartition{"u", p}, at5});
    for (std::int64_t producer = 1; producer <= 100; ++producer)
      REQUIRE(wait(a->groups().hold_txn_offsets(other, producer, 0, many)).ok());
  }
  auto b = open_store("public", ns, "pulsar", "gw-b");
  REQUIRE(wait(b->groups().load_groups()).ok());
  // One call takes the shard over; calls that come meanwhile must not see
  // the shard cleared for its reading (no hold: a marker would end nothing,
  // and an offset fetch requiring stable offsets would be answered).
  boost::asio::io_context io;
  bool taken = false;
  boost::asio::co_spawn(io, b->groups().fetch_offsets("g"),
                        [&taken](std::exception_ptr e, st::Result<st::GroupStore::Offsets> r) {
                          REQUIRE_FALSE(e);
                          REQUIRE_MESSAGE(r.ok(), r.message);
                          taken = true;
                        });
  int asked = 0, answered = 0, without = 0;
  while (!taken) {
    ++asked;
    boost::asio::co_spawn(io, b->groups().held_txn_offsets("g"),
                          [&](std::exception_ptr e, st::Result<std::vector<st::TopicPartition>> r) {
                            REQUIRE_FALSE(e);
                            REQUIRE_MESSAGE(r.ok(), r.message);
                            ++answered;
                            if (r.value != std::vector<st::TopicPartition>{tp}) ++without;
                          });
    io.poll();
    std::this_thread::sleep_for(1ms);  // paces the questions over the taking
  }
  io.restart();
  io.run();
  CHECK(answered == asked);
  CHECK(without == 0);
}

TEST_CASE("a gateway taking a transactional id's shard over answers its record only once it has read the shard") {
  // What a restarted gateway's transaction coordinator asks when it loads
  // the shard and, at once, a producer of the id asks for it too: both must
  // get the id's last record, not one of the shard read half way (a stale
  // producer epoch, whose markers the partitions then refuse for ever).
  const auto ns = unique("txn-taking");
  const std::string id = "producer-a";
  std::vector<std::uint8_t> last;
  {
    auto a = open_store("public", ns, "pulsar", "gw-a");
    auto* txns = a->transactions();
    REQUIRE(txns);
    for (int i = 0; i < 300; ++i) {
      last = {static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i & 255)};
      REQUIRE(wait(txns->store_txn(id, last)).ok());
    }
  }
  auto b = open_store("public", ns, "pulsar", "gw-b");
  auto* txns = b->transactions();
  REQUIRE(txns);
  const auto shard = b->groups().shard_of(id);
  REQUIRE(wait(b->groups().load_groups()).ok());  // every shard read once, none taken yet
  boost::asio::io_context io;
  int asked = 0, answered = 0, stale = 0;
  bool taken = false;
  auto check = [&](std::exception_ptr e, st::Result<std::vector<st::TxnBlob>> r) {
    REQUIRE_FALSE(e);
    REQUIRE_MESSAGE(r.ok(), r.message);
    ++answered;
    if (r.value.size() != 1 || r.value[0].transactional_id != id || r.value[0].data != last) ++stale;
  };
  ++asked;
  boost::asio::co_spawn(io, txns->load_shard_txns(shard),
                        [&](std::exception_ptr e, st::Result<std::vector<st::TxnBlob>> r) {
                          check(e, std::move(r));
                          taken = true;
                        });
  while (!taken) {
    ++asked;
    boost::asio::co_spawn(io, txns->load_shard_txns(shard), check);
    io.poll();
    std::this_thread::sleep_for(1ms);  // paces the questions over the taking
  }
  io.restart();
  io.run();
  CHECK(answered == asked);
  CHECK(stale == 0);
}
