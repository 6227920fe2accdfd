// kwire-broker's share queues on a real standalone, through the seam: a share
// partition is a Shared subscription named after the group. Entries come as
// Kafka batches only as far as the broker asks for records; settled records
// are acknowledged (one by one inside a batch entry, or the whole entry), an
// entry given back comes again without its settled records and with its
// redelivery count, a native Pulsar consumer of the same subscription gets
// what the broker gave back, the start offset follows the mark-delete
// position, a seek starts the queue over (a new generation), the queue
// cannot be removed while a native consumer is attached, and a batch entry
// larger than what was asked for does not leave the consumer without permits.
#include <doctest/doctest.h>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <kwire/records/builder.hpp>

#include "client_support.hpp"
#include "storage_support.hpp"

using namespace pulsar_test;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

std::vector<std::uint8_t> batch_of(const std::string& prefix, int records) {
  kwire::RecordBatchBuilder b;
  std::vector<std::string> values;
  for (int i = 0; i < records; ++i) values.push_back(prefix + std::to_string(i));
  for (auto& v : values)
    b.append(1000, std::nullopt, kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
  return b.build();
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

/// Awaits a call that must succeed.
asio::awaitable<void> must(st::Task<st::Done> call) {
  auto done = co_await std::move(call);
  REQUIRE_MESSAGE(done.ok(), done.message);
}

/// Takes from the queue until `records` records came (or 20 s passed),
/// counted as Pulsar counts permits: records not settled.
asio::awaitable<std::vector<st::QueuedBatch>> take_records(st::ShareQueue& q, std::int32_t records) {
  std::vector<st::QueuedBatch> out;
  std::int32_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (got < records && std::chrono::steady_clock::now() < deadline) {
    auto r = co_await q.take(records - got);
    REQUIRE_MESSAGE(r.ok(), r.message);
    for (auto& b : r.value) {
      got += static_cast<std::int32_t>(b.last - b.base + 1 - static_cast<std::int64_t>(b.settled.size()));
      out.push_back(std::move(b));
    }
    if (got < records) co_await pause(50ms);
  }
  co_return out;
}

}  // namespace

TEST_CASE("a share queue is a Shared subscription that the broker and native consumers share") {
  const auto ns = unique("share-queue");
  auto s = open_store("public", ns);
  REQUIRE(s->share_queues());
  create(*s, "jobs", 1);
  auto log = wait(s->open_log({"jobs", 0})).value;
  REQUIRE(log);
  for (int i = 0; i < 3; ++i) REQUIRE(wait(log->append(validated(batch_of("b" + std::to_string(i) + "-", 4)))).ok());
  const st::SharePartitionKey key{"sg", s->topics().find_topic("jobs")->id, 0};

  run([&]() -> asio::awaitable<void> {
    st::TopicPartition tp{"jobs", 0};  // named: g++ 12 mishandles temporaries in co_await
    auto opened = co_await s->share_queues()->open_share_queue(key, tp, true);
    REQUIRE_MESSAGE(opened.ok(), opened.message);
    auto q = opened.value;
    const auto generation = q->generation();

    // Asked for 12 records, the queue brings the three entries as Kafka
    // batches, and asks Pulsar for nothing more.
    auto taken = co_await take_records(*q, 12);
    REQUIRE(taken.size() == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK(taken[i].base == 4 * i);
      CHECK(taken[i].last == 4 * i + 3);
      CHECK_FALSE(taken[i].control);
      CHECK(taken[i].settled.empty());
      CHECK(taken[i].redeliveries == 0);
      auto v = kwire::RecordBatchView::parse(taken[i].bytes);
      REQUIRE(v);
      CHECK_FALSE(v->validate());
      CHECK(v->base_offset() == 4 * i);
      CHECK(v->last_offset() == 4 * i + 3);
    }

    // Entry 0 settled whole; two records of entry 1 alone, then it goes back
    // and comes again without them, delivered once before.
    std::vector<std::int64_t> first{0, 1, 2, 3}, two{4, 5}, rest{6, 7};
    co_await must(q->settle(taken[0].handle, first, true));
    co_await must(q->settle(taken[1].handle, two, false));
    co_await must(q->give_back(taken[1].handle));
    auto again = co_await take_records(*q, 2);
    REQUIRE(again.size() == 1);
    CHECK(again[0].base == 4);
    CHECK(again[0].settled == std::vector<std::int64_t>{4, 5});
    CHECK(again[0].redeliveries >= 1);
    auto start = co_await q->start_offset();
    REQUIRE_MESSAGE(start.ok(), start.message);
    CHECK(start.value == std::optional<std::int64_t>{4});

    // A native consumer joins the subscription: what the broker gives back
    // goes to it, since the broker asks for nothing.
    auto client = co_await make_client();
    Closer closer{client};
    kwire_pulsar::ConsumerOptions o;
    o.topic = "persistent://public/" + ns + "/jobs-partition-0";
    o.subscription = "sg";
    o.type = kwire_pulsar::SubscriptionType::shared;
    auto native = co_await client->subscribe(o);
    co_await must(q->give_back(taken[2].handle));
    std::vector<std::string> values;
    for (int i = 0; i < 4; ++i) {
      auto m = co_await native->receive(20s);
      REQUIRE(m);
      values.push_back(m->value);
      std::vector<kwire_pulsar::MessageId> ids{m->id};
      co_await native->acknowledge_messages_confirmed(ids);
    }
    CHECK(values == std::vector<std::string>{"b2-0", "b2-1", "b2-2", "b2-3"});
    auto more = co_await q->take(10);
    REQUIRE(more.ok());
    CHECK(more.value.empty());
    co_await must(q->settle(again[0].handle, rest, true));
    start = co_await q->start_offset();
    REQUIRE_MESSAGE(start.ok(), start.message);
    CHECK(start.value == std::optional<std::int64_t>{12});

    // Removing the queue is refused while the native consumer is attached.
    auto refused = co_await q->remove();
    CHECK(refused.error == st::Errc::in_use);
    co_await native->close();

    // A seek starts the queue over from the entry holding the offset.
    co_await must(q->seek(0));
    auto replay = co_await take_records(*q, 12);
    CHECK(q->generation() != generation);
    REQUIRE_FALSE(replay.empty());
    CHECK(replay[0].base == 0);
    co_await must(q->remove());
  });
}

TEST_CASE("a batch entry larger than what was asked for does not stop the queue") {
  const auto ns = unique("share-queue-big");
  auto s = open_store("public", ns);
  create(*s, "jobs", 1);
  auto log = wait(s->open_log({"jobs", 0})).value;
  REQUIRE(log);
  REQUIRE(wait(log->append(validated(batch_of("big-", 40)))).ok());
  const st::SharePartitionKey key{"sg", s->topics().find_topic("jobs")->id, 0};

  run([&]() -> asio::awaitable<void> {
    st::TopicPartition tp{"jobs", 0};
    auto opened = co_await s->share_queues()->open_share_queue(key, tp, true);
    REQUIRE_MESSAGE(opened.ok(), opened.message);
    auto q = opened.value;
    // Asked for 5, Pulsar brings the whole entry of 40: its count of the
    // consumer's permits is 35 below zero.
    auto first = co_await take_records(*q, 5);
    REQUIRE(first.size() == 1);
    CHECK(first[0].last - first[0].base + 1 == 40);
    std::vector<std::int64_t> none;
    co_await must(q->settle(first[0].handle, none, true));
    // The next entry (3 records) still comes when 5 are asked for.
    auto next = validated(batch_of("next-", 3));
    auto more = co_await log->append(std::move(next));
    REQUIRE_MESSAGE(more.ok(), more.message);
    auto second = co_await take_records(*q, 3);
    REQUIRE(second.size() == 1);
    CHECK(second[0].base == 40);
  });
}
