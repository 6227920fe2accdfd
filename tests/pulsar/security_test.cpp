// SCRAM credentials, ACL bindings and client quotas of kwire-broker's Pulsar
// storage against the test standalone: two gateways on one namespace see
// each other's changes as Pulsar delivers them (adds and removals, both
// ways), and a gateway opened later loads what is there; malformed messages
// on the topic are ignored. The seam's common cases are in the storage contract.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <thread>
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/this_coro.hpp>

#include "kwire_pulsar/client.hpp"
#include "pulsar_env.hpp"
#include "storage/pulsar/open.hpp"
#include "storage/pulsar/security_record.hpp"
#include "storage/pulsar/security_store.hpp"

namespace st = kwire_broker::storage;
namespace sp = kwire_broker::storage::pulsar;
namespace kp = kwire_pulsar;
using namespace pulsar_test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<st::Storage> open_gateway(const std::string& ns, const std::string& name) {
  std::map<std::string, std::string> s{{"pulsarServiceUrl", service_url()},
                                       {"pulsarWebServiceUrl", web_url()},
                                       {"kafkaTenant", "public"},
                                       {"kafkaNamespace", ns},
                                       {"offsetsTopicNumPartitions", "1"},
                                       {"gatewayName", name}};
  return sp::open(s);
}

template <class T>
st::Result<T> wait(st::Task<T> task) {
  return run([&]() -> boost::asio::awaitable<st::Result<T>> { co_return co_await std::move(task); });
}

/// Whether `done()` holds within 30 s: a change reaches another gateway when
/// Pulsar delivers it to that gateway's reader.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 600; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

bool has(const st::AclStore& acls, const st::AclBinding& b) {
  auto all = acls.acls();
  return std::find(all->begin(), all->end(), b) != all->end();
}

}  // namespace

TEST_CASE("a credential or binding changed through one gateway reaches the others; a new one loads them") {
  const auto ns = unique("security");
  auto a = open_gateway(ns, "gw-a");
  auto b = open_gateway(ns, "gw-b");
  REQUIRE(a->credentials());
  REQUIRE(b->acls());

  st::ScramCredential carol{"carol", 2, 8192, {9, 8, 7}, std::vector<std::uint8_t>(64, 1),
                            std::vector<std::uint8_t>(64, 2)};
  REQUIRE(wait(a->credentials()->put_scram(carol)).ok());
  CHECK(a->credentials()->find_scram("carol", 2));  // at once where it was made
  REQUIRE(eventually([&] { return b->credentials()->find_scram("carol", 2).has_value(); }));
  auto seen = b->credentials()->find_scram("carol", 2);
  CHECK(seen->iterations == 8192);
  CHECK(seen->salt == carol.salt);
  CHECK(seen->stored_key == carol.stored_key);
  CHECK(seen->server_key == carol.server_key);

  st::AclBinding read{2, "orders", 3, "User:carol", "*", 3, 3};
  st::AclBinding deny{2, "secret", 3, "User:carol", "*", 3, 2};
  REQUIRE(wait(a->acls()->add_acls({read, deny})).ok());
  REQUIRE(eventually([&] { return has(*b->acls(), read) && has(*b->acls(), deny); }));

  // The other way: removals made through the second gateway.
  REQUIRE(wait(b->acls()->remove_acls({read})).ok());
  CHECK_FALSE(has(*b->acls(), read));
  REQUIRE(eventually([&] { return !has(*a->acls(), read); }));
  CHECK(has(*a->acls(), deny));
  carol.iterations = 4096;
  REQUIRE(wait(b->credentials()->put_scram(carol)).ok());
  REQUIRE(eventually([&] {
    auto c = a->credentials()->find_scram("carol", 2);
    return c && c->iterations == 4096;
  }));
  REQUIRE(wait(b->credentials()->delete_scram("carol", 2)).ok());
  REQUIRE(eventually([&] { return !a->credentials()->find_scram("carol", 2); }));

  // A gateway opened now loads the topic: what is left, nothing removed.
  auto c = open_gateway(ns, "gw-c");
  CHECK_FALSE(c->credentials()->find_scram("carol", 2));
  auto all = c->acls()->acls();
  REQUIRE(all->size() == 1);
  CHECK(all->front() == deny);
}

TEST_CASE("client quota values changed through one gateway reach the others; a new one loads them") {
  const auto ns = unique("quotas");
  auto a = open_gateway(ns, "gw-a");
  auto b = open_gateway(ns, "gw-b");
  REQUIRE(a->quotas());
  const st::QuotaEntity alice{{"user", "alice"}};
  const st::QuotaEntity defaults{{"client-id", std::nullopt}, {"user", std::nullopt}};
  auto value = [](const st::QuotaStore& q, const st::QuotaEntity& e, const std::string& key) -> std::optional<double> {
    for (const auto& v : *q.quotas())
      if (v.entity == e && v.key == key) return v.value;
    return std::nullopt;
  };
  REQUIRE(wait(a->quotas()->alter_quotas({{alice, "producer_byte_rate", 1024.0},
                                          {alice, "request_percentage", 12.5},
                                          {defaults, "consumer_byte_rate", 2048.0}}))
              .ok());
  CHECK(value(*a->quotas(), alice, "producer_byte_rate") == 1024.0);  // at once where it was made
  REQUIRE(eventually([&] { return b->quotas()->quotas()->size() == 3; }));
  CHECK(value(*b->quotas(), alice, "request_percentage") == 12.5);
  CHECK(value(*b->quotas(), defaults, "consumer_byte_rate") == 2048.0);

  // The other way: a value changed and one removed through the second gateway.
  REQUIRE(wait(b->quotas()->alter_quotas({{alice, "producer_byte_rate", 4096.0}, {alice, "request_percentage", {}}})).ok());
  REQUIRE(eventually([&] { return value(*a->quotas(), alice, "producer_byte_rate") == 4096.0; }));
  REQUIRE(eventually([&] { return !value(*a->quotas(), alice, "request_percentage"); }));

  auto c = open_gateway(ns, "gw-c");
  auto all = c->quotas()->quotas();
  REQUIRE(all->size() == 2);
  CHECK(value(*c->quotas(), alice, "producer_byte_rate") == 4096.0);
  CHECK(value(*c->quotas(), defaults, "consumer_byte_rate") == 2048.0);
}

TEST_CASE("malformed messages on the security topic are ignored") {
  const auto ns = unique("security-bad");
  auto a = open_gateway(ns, "gw-a");
  auto topic = "persistent://public/__kafka/__kwire_security_" + ns;
  st::AclBinding good{2, "t", 3, "User:u", "*", 3, 3};
  run([&]() -> boost::asio::awaitable<void> {
    auto ex = co_await boost::asio::this_coro::executor;
    kp::ClientOptions o;
    o.service_url = service_url();
    auto client = kp::Client::create(ex, o);
    kp::ProducerOptions po;
    po.topic = topic;
    auto p = co_await client->create_producer(po);
    const std::vector<std::pair<std::string, std::string>> messages{
        {"scram/3/x", "{}"},                                   // an unknown mechanism
        {"scram/1/x", "{\"iterations\":4096,\"salt\":[256]}"},  // not a byte
        {"scram/2/y", "not json"},
        {"acl/[2,\"t\",3]", "{}"},                              // too short
        {"acl/[2,\"t\",3,\"User:u\",\"*\",3,300]", "{}"},         // not an int8
        {"other", "{}"},                                       // not a key of ours
        {"acl/[2, \"u\",3,\"User:u\",\"*\",3,3]", "{}"},         // not in the writer's form
        {"scram/01/x", "{\"iterations\":4096,\"salt\":[1],\"stored_key\":[2],\"server_key\":[3]}"},  // nor this
        {"quota/[[[\"user\",\"u\"]],\"producer_byte_rate\"]", "{\"value\":\"x\"}"},  // not a number
        {"quota/[[[\"group\",\"g\"]],\"producer_byte_rate\"]", "{\"value\":1}"},   // not an entity type
        {"quota/[[[\"user\",\"u\"],[\"client-id\",\"c\"]],\"k\"]", "{\"value\":1}"},  // parts out of order
        {"quota/[[[\"user\",\"\"]],\"k\"]", "{\"value\":1}"},                     // an empty name
        {"quota/[[[\"user\", \"u\"]],\"k\"]", "{\"value\":1}"},                   // not in the writer's form
        {"acl/[2,\"t\",3,\"User:u\",\"*\",3,3]", "{}"},           // a good one, last
    };
    for (const auto& [k, v] : messages) {
      kp::OutgoingMessage m;
      m.key = k;
      m.value = v;
      co_await p->send(m);
    }
    co_await p->close();
    client->close();
  });
  REQUIRE(eventually([&] { return has(*a->acls(), good); }));
  CHECK(a->acls()->acls()->size() == 1);
  CHECK(a->credentials()->scram_credentials().empty());
  CHECK(a->quotas()->quotas()->empty());
  // The key the store itself writes for that binding is the one sent above.
  CHECK(sp::acl_key(good) == "acl/[2,\"t\",3,\"User:u\",\"*\",3,3]");
}
