// kwire_pulsar's Shared subscriptions against a real Pulsar standalone:
// single messages of a batch entry acknowledged alone (batch-index acks),
// entries delivered again on request with their redelivery count, and what a
// second consumer of the subscription receives of a partly acknowledged
// batch, and a consumer that asks the broker for messages itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "kwire_pulsar/admin.hpp"
#include "kwire_pulsar/client.hpp"
#include "client_support.hpp"
#include "pulsar_env.hpp"

using namespace kwire_pulsar;
using namespace pulsar_test;

namespace {

ConsumerOptions shared_subscription(const std::string& topic, const std::string& sub, const std::string& name) {
  ConsumerOptions o;
  o.topic = topic;
  o.subscription = sub;
  o.type = SubscriptionType::shared;
  o.initial_position = InitialPosition::earliest;
  o.consumer_name = name;
  return o;
}

OutgoingMessage msg(int i) {
  OutgoingMessage m;
  m.value = "v" + std::to_string(i);
  return m;
}

/// One batch entry of messages v0..v4, then single entries v5 and v6.
awaitable<void> produce(Client& client, const std::string& topic) {
  ProducerOptions po;
  po.topic = topic;
  auto p = co_await client.create_producer(po);
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(msg(i));
  co_await p->send_batch(std::move(batch));
  co_await p->send(msg(5));
  co_await p->send(msg(6));
  co_await p->close();
}

/// Receives `n` messages, by value.
awaitable<std::map<std::string, Message>> take(Consumer& c, int n) {
  std::map<std::string, Message> got;
  for (int i = 0; i < n; ++i) {
    auto m = co_await c.receive(10s);
    REQUIRE(m);
    CHECK(got.count(m->value) == 0);
    got.emplace(m->value, std::move(*m));
  }
  co_return got;
}

std::vector<std::string> values(const std::map<std::string, Message>& got) {
  std::vector<std::string> out;
  for (auto& [v, m] : got) out.push_back(v);
  return out;
}

awaitable<int> backlog(Admin& admin, const std::string& topic, const std::string& sub) {
  auto stats = co_await admin.topic_stats("public/default/" + topic);
  co_return stats["subscriptions"][sub]["msgBacklog"].get<int>();
}

}  // namespace

TEST_CASE("Shared subscription: messages of a batch acknowledged alone, entries redelivered with their count") {
  const auto topic = unique("shared-redeliver");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    Admin admin(co_await asio::this_coro::executor, web_url());
    co_await produce(*client, topic);
    auto c = co_await client->subscribe(shared_subscription(topic, "queue", "a"));

    auto got = co_await take(*c, 7);
    CHECK(values(got) == std::vector<std::string>{"v0", "v1", "v2", "v3", "v4", "v5", "v6"});
    for (auto& [v, m] : got) {
      CHECK(m.redelivery_count == 0);
      CHECK(m.id.batch_size == (v < "v5" ? 5 : 0));
    }
    // v0, v2, v4 of the batch and the single v5 acknowledged; v1, v3 and v6
    // handed back.
    const std::vector<MessageId> accepted{got["v0"].id, got["v2"].id, got["v4"].id, got["v5"].id};
    co_await c->acknowledge_messages_confirmed(accepted);
    c->redeliver({got["v1"].id, got["v3"].id, got["v6"].id});
    auto again = co_await take(*c, 3);
    CHECK(values(again) == std::vector<std::string>{"v1", "v3", "v6"});
    for (auto& [v, m] : again) CHECK(m.redelivery_count == 1);
    CHECK(again["v1"].id == got["v1"].id);  // the same message: same entry, same batch index

    // Handed back once more: the count goes on.
    c->redeliver({again["v1"].id, again["v3"].id, again["v6"].id});
    auto third = co_await take(*c, 3);
    CHECK(values(third) == std::vector<std::string>{"v1", "v3", "v6"});
    for (auto& [v, m] : third) CHECK(m.redelivery_count == 2);

    // Pulsar counts redeliveries per entry, and forgets an entry's count when
    // a message of it is acknowledged: v3 (in the batch with v1) starts over,
    // v6 (an entry of its own) goes on.
    c->acknowledge_message(third["v1"].id);
    c->redeliver({third["v3"].id, third["v6"].id});
    auto fourth = co_await take(*c, 2);
    CHECK(values(fourth) == std::vector<std::string>{"v3", "v6"});
    CHECK(fourth["v3"].redelivery_count == 1);
    CHECK(fourth["v6"].redelivery_count == 3);
    CHECK(co_await backlog(admin, topic, "queue") > 0);

    const std::vector<MessageId> last{fourth["v3"].id, fourth["v6"].id};
    co_await c->acknowledge_messages_confirmed(last);
    CHECK(co_await backlog(admin, topic, "queue") == 0);
    co_await c->close();
  });
}

TEST_CASE("Shared subscription: a second consumer gets only what the first left unacknowledged") {
  const auto topic = unique("shared-handover");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    Admin admin(co_await asio::this_coro::executor, web_url());
    co_await produce(*client, topic);
    auto a = co_await client->subscribe(shared_subscription(topic, "queue", "a"));
    auto got = co_await take(*a, 7);
    const std::vector<MessageId> accepted{got["v1"].id, got["v3"].id, got["v6"].id};
    co_await a->acknowledge_messages_confirmed(accepted);

    // a leaves with the rest unacknowledged: the broker delivers it to b,
    // the batch entry without the messages a acknowledged.
    auto b = co_await client->subscribe(shared_subscription(topic, "queue", "b"));
    co_await a->close();
    auto rest = co_await take(*b, 4);
    CHECK(values(rest) == std::vector<std::string>{"v0", "v2", "v4", "v5"});
    std::vector<MessageId> ids;
    for (auto& [v, m] : rest) ids.push_back(m.id);
    co_await b->acknowledge_messages_confirmed(ids);
    CHECK(co_await backlog(admin, topic, "queue") == 0);
    co_await b->close();
  });
}

TEST_CASE("Shared subscription: a consumer that asks for two messages leaves the rest to the others") {
  const auto topic = unique("shared-permits");
  run([&]() -> awaitable<void> {
    auto client = co_await make_client();
    Closer closer{client};
    Admin admin(co_await asio::this_coro::executor, web_url());
    ProducerOptions po;
    po.topic = topic;
    auto p = co_await client->create_producer(po);
    for (int i = 0; i < 6; ++i) co_await p->send(msg(i));  // an entry each
    co_await p->close();

    auto o = shared_subscription(topic, "queue", "a");
    o.auto_permits = false;
    auto a = co_await client->subscribe(o);
    a->permit(2);
    auto of_a = co_await take(*a, 2);
    // b asks for as many as it likes: it gets exactly what a did not ask for.
    auto b = co_await client->subscribe(shared_subscription(topic, "queue", "b"));
    auto of_b = co_await take(*b, 4);
    std::vector<std::string> all = values(of_a);
    for (auto& v : values(of_b)) all.push_back(v);
    std::sort(all.begin(), all.end());
    CHECK(all == std::vector<std::string>{"v0", "v1", "v2", "v3", "v4", "v5"});

    std::vector<MessageId> ids;
    for (auto& [v, m] : of_a) ids.push_back(m.id);
    co_await a->acknowledge_messages_confirmed(ids);
    ids.clear();
    for (auto& [v, m] : of_b) ids.push_back(m.id);
    co_await b->acknowledge_messages_confirmed(ids);
    CHECK(co_await backlog(admin, topic, "queue") == 0);
    co_await a->close();
    co_await b->close();
  });
}
