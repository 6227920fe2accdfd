// kwire_pulsar against a real Pulsar standalone: produce, consume, readers,
// broker entry metadata indexes, seek, last message id, acknowledgements seen
// by the admin API, exclusive producers, reconnects after a topic unload, and
// messages past the broker's maxMessageSize.
#include <doctest/doctest.h>

#include "kwire_pulsar/admin.hpp"
#include "kwire_pulsar/client.hpp"
#include "client_support.hpp"
#include "pulsar_env.hpp"

using namespace kwire_pulsar;
using namespace pulsar_test;

namespace {

ProducerOptions producer(const std::string& topic, const std::string& name = {},
                         AccessMode mode = AccessMode::shared) {
  ProducerOptions o;
  o.topic = topic;
  o.name = name;
  o.access_mode = mode;
  return o;
}

ConsumerOptions subscription(const std::string& topic, const std::string& sub) {
  ConsumerOptions o;
  o.topic = topic;
  o.subscription = sub;
  o.initial_position = InitialPosition::earliest;
  return o;
}

OutgoingMessage msg(int i) {
  OutgoingMessage m;
  m.key = "k" + std::to_string(i);
  m.value = "v" + std::to_string(i);
  m.event_time = 1600000000000ULL + static_cast<std::uint64_t>(i);
  m.properties = {{"n", std::to_string(i)}, {"kind", "test"}};
  return m;
}

}  // namespace

TEST_CASE("single and batched entries round trip with continuous indexes") {
  const auto topic = unique("roundtrip");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    auto p = co_await client->create_producer(producer(topic));
    std::vector<SendReceipt> receipts;
    for (int i = 0; i < 4; ++i) receipts.push_back(co_await p->send(msg(i)));
    std::vector<OutgoingMessage> batch;
    for (int i = 4; i < 9; ++i) batch.push_back(msg(i));
    receipts.push_back(co_await p->send_batch(std::move(batch)));
    CHECK(receipts[1].id.entry == receipts[0].id.entry + 1);

    auto r = co_await client->create_reader(topic, MessageId::earliest());
    std::optional<std::uint64_t> first_index;
    for (int i = 0; i < 9; ++i) {
      auto m = co_await r->receive(10s);
      REQUIRE(m);
      CHECK(m->key == "k" + std::to_string(i));
      CHECK(m->value == "v" + std::to_string(i));
      CHECK(m->event_time == 1600000000000ULL + static_cast<std::uint64_t>(i));
      REQUIRE(m->properties.size() == 2);
      CHECK(m->properties[0] == std::pair<std::string, std::string>{"n", std::to_string(i)});
      REQUIRE(m->index);  // the broker sends entry metadata to protocol 18+
      if (!first_index) first_index = m->index;
      CHECK(*m->index == *first_index + static_cast<std::uint64_t>(i));
      if (i >= 4) CHECK(m->id.batch_index == i - 4);
    }
    CHECK(*first_index == 0);
    auto answer1 = co_await r->receive(300ms);
    CHECK_FALSE(answer1);
    auto last = co_await r->last_message_id();
    CHECK(last.ledger == receipts.back().id.ledger);
    CHECK(last.entry == receipts.back().id.entry);
    co_await r->close();
    co_await p->close();
  });
}

TEST_CASE("a reader starts at the entry it is given, or at the first one") {
  const auto topic = unique("start");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    auto p = co_await client->create_producer(producer(topic));
    std::vector<MessageId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back((co_await p->send(msg(i))).id);
    auto at = co_await client->create_reader(topic, ids[2]);
    auto m = co_await at->receive(10s);
    REQUIRE(m);
    CHECK(m->value == "v2");
    auto from_start = co_await client->create_reader(topic, MessageId::earliest());
    m = co_await from_start->receive(10s);
    REQUIRE(m);
    CHECK(m->value == "v0");
    co_await at->close();
    co_await from_start->close();
  });
}

TEST_CASE("seek, cumulative acknowledgement and the subscription's backlog") {
  const auto topic = unique("seek");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    Admin admin(co_await asio::this_coro::executor, web_url());
    auto p = co_await client->create_producer(producer(topic));
    std::vector<MessageId> ids;
    for (int i = 0; i < 8; ++i) ids.push_back((co_await p->send(msg(i))).id);

    auto o = subscription(topic, "group-a");
    auto c = co_await client->subscribe(o);
    for (int i = 0; i < 8; ++i) {
      auto m = co_await c->receive(10s);
      REQUIRE(m);
      CHECK(m->value == "v" + std::to_string(i));
    }
    co_await c->acknowledge_cumulative_confirmed(ids[4]);
    auto stats = co_await admin.topic_stats("public/default/" + topic);
    const int backlog = stats["subscriptions"]["group-a"]["msgBacklog"].get<int>();
    CHECK(backlog == 3);

    co_await c->seek(ids[2]);
    auto m = co_await c->receive(10s);
    REQUIRE(m);
    CHECK(m->value == "v2");
    co_await c->close();

    // The admin API moves the cursor too; a new consumer resumes there.
    co_await admin.reset_cursor("public/default/" + topic, "group-a", ids[6]);
    c = co_await client->subscribe(o);
    m = co_await c->receive(10s);
    REQUIRE(m);
    CHECK(m->value == "v6");
    co_await c->close();
  });
}

TEST_CASE("an exclusive producer keeps the topic; a second one is refused") {
  const auto topic = unique("exclusive");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    auto first = co_await client->create_producer(
        producer(topic, "gateway-1", AccessMode::exclusive));
    co_await first->send(msg(0));
    bool refused = false;
    try {
      co_await client->create_producer(producer(topic, "gateway-2", AccessMode::exclusive));
    } catch (const Error& e) {
      refused = true;
      CHECK((e.code() == wire::ProducerBusy || e.code() == wire::ProducerFenced));
    }
    CHECK(refused);
    co_await first->send(msg(1));
    co_await first->close();
    // Once released, another gateway can take it.
    auto second = co_await client->create_producer(
        producer(topic, "gateway-2", AccessMode::exclusive));
    co_await second->send(msg(2));
    co_await second->close();
  });
}

TEST_CASE("producers and consumers survive a topic unload (reconnect, re-lookup)") {
  const auto topic = unique("unload");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    Admin admin(co_await asio::this_coro::executor, web_url());
    // Deduplication makes the producer's resends exactly-once.
    co_await admin.request("POST", "/admin/v2/persistent/public/default/" + topic + "/deduplicationEnabled",
                           "true");
    auto p = co_await client->create_producer(producer(topic, "unload-producer"));
    auto o = subscription(topic, "s");
    auto c = co_await client->subscribe(o);
    for (int i = 0; i < 20; ++i) {
      co_await p->send(msg(i));
      if (i == 9) {
        auto r = co_await admin.request("PUT", "/admin/v2/persistent/public/default/" + topic + "/unload");
        CHECK(r.ok());
      }
    }
    std::vector<std::string> got;
    while (got.size() < 20) {
      auto m = co_await c->receive(15s);
      if (!m) break;
      got.push_back(m->value);
      c->acknowledge(m->id);
    }
    REQUIRE(got.size() == 20);
    for (int i = 0; i < 20; ++i) CHECK(got[static_cast<std::size_t>(i)] == "v" + std::to_string(i));
    auto answer2 = co_await c->receive(500ms);
    CHECK_FALSE(answer2);
    co_await c->close();
    co_await p->close();
  });
}

TEST_CASE("admin: tenants, namespaces, partitioned topics") {
  const auto tenant = unique("tenant");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    Admin admin(co_await asio::this_coro::executor, web_url());
    auto answer3 = co_await admin.create_tenant(tenant);
    CHECK(answer3);
    auto answer4 = co_await admin.create_tenant(tenant);
    CHECK_FALSE(answer4);
    auto answer5 = co_await admin.create_namespace(tenant + "/ns");
    CHECK(answer5);
    std::vector<std::pair<std::string, std::string>> props;
    props.emplace_back("entryFormat", "kafka");
    co_await admin.set_namespace_properties(tenant + "/ns", props);
    auto answer6 = co_await admin.namespace_property(tenant + "/ns", "entryFormat");
    REQUIRE(answer6);
    CHECK(*answer6 == "kafka");
    auto answer7 = co_await admin.create_partitioned_topic(tenant + "/ns/orders", 3);
    CHECK(answer7);
    auto answer8 = co_await admin.partitions(tenant + "/ns/orders");
    CHECK(answer8 == 3);
    auto answer9 = co_await client->partitions("persistent://" + tenant + "/ns/orders");
    CHECK(answer9 == 3);
    co_await admin.update_partitioned_topic(tenant + "/ns/orders", 5);
    auto answer10 = co_await client->partitions("persistent://" + tenant + "/ns/orders");
    CHECK(answer10 == 5);
    auto p = co_await client->create_producer(producer("persistent://" + tenant + "/ns/orders-partition-4"));
    co_await p->send(msg(0));
    co_await p->close();
    auto answer11 = co_await admin.create_subscription(tenant + "/ns/orders-partition-4", "g", MessageId::earliest());
    CHECK(answer11);
    auto subs = co_await admin.subscriptions(tenant + "/ns/orders-partition-4");
    REQUIRE(subs.size() == 1);
    CHECK(subs[0] == "g");
    auto stats = co_await admin.topic_stats(tenant + "/ns/orders-partition-4");
    const int backlog = stats["subscriptions"]["g"]["msgBacklog"].get<int>();
    CHECK(backlog == 1);
  });
}

TEST_CASE("a message past the broker's maxMessageSize is refused before it is sent; the producer goes on") {
  const auto topic = unique("too-large");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    auto cnx = co_await client->connection(service_url());
    const auto limit = static_cast<std::size_t>(cnx->max_message_size());
    CHECK(limit == 5u * 1024 * 1024);  // the standalone's default, as CONNECTED announces it
    auto p = co_await client->create_producer(producer(topic));
    OutgoingMessage big;
    big.value.assign(limit, 'x');
    int code = 0;
    try {
      co_await p->send(big);
    } catch (const Error& e) {
      code = e.code();
    }
    CHECK(code == Error::client_message_too_large);
    auto ok = co_await p->send(msg(1));
    auto r = co_await client->create_reader(topic, MessageId::earliest());
    auto m = co_await r->receive(10s);
    REQUIRE(m);
    CHECK(m->value == "v1");
    CHECK(m->id.entry == ok.id.entry);
    auto more = co_await r->receive(500ms);  // the refused one was never stored
    CHECK_FALSE(more);
  });
}
