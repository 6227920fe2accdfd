// Client quota enforcement below the wire: the sampled rate and the throttle
// time Kafka computes from it, on a clock the test moves; which quota applies
// to a user and client id, by Kafka's eight levels; whose rate it is.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/client_quotas.hpp"

using namespace kwire_broker;
using quota::ClientQuotas;
using quota::Kind;
using storage::ClientQuota;
using storage::QuotaEntity;

namespace {

QuotaEntity user(std::optional<std::string> name) { return {{"user", std::move(name)}}; }
QuotaEntity client(std::optional<std::string> name) { return {{"client-id", std::move(name)}}; }
QuotaEntity user_client(std::optional<std::string> u, std::optional<std::string> c) {
  return {{"client-id", std::move(c)}, {"user", std::move(u)}};
}

std::shared_ptr<const std::vector<ClientQuota>> values(std::vector<ClientQuota> v) {
  return std::make_shared<const std::vector<ClientQuota>>(std::move(v));
}

struct FakeClock {
  std::int64_t now = 1'000'000;
  std::function<std::int64_t()> fn() {
    return [this] { return now; };
  }
};

}  // namespace

TEST_CASE("a rate spans at least samples - 1 windows, then the time its live samples cover") {
  quota::SampledRate r(11, 1000);
  r.record(5000, 0);
  CHECK(r.span_ms(0) == 10000);
  CHECK(r.rate(0) == doctest::Approx(500.0));
  // One sample per window: after 12.5 s the oldest live one began at 2 s.
  for (int s = 1; s <= 12; ++s) r.record(1000, s * 1000);
  CHECK(r.span_ms(12500) == 10500);  // samples of 2 s ... 12 s; the first two expired
  CHECK(r.rate(12500) == doctest::Approx(11 * 1000 / 10.5));
  // All expired: nothing left, the span is back to its least.
  CHECK(r.rate(40000) == 0.0);
  CHECK(r.span_ms(40000) == 10000);
}

TEST_CASE("the throttle time brings the rate back to the quota over the span, capped") {
  CHECK(quota::throttle_ms(1000, 1000, 10000, 11000) == 0);
  CHECK(quota::throttle_ms(1100, 1000, 10000, 11000) == 1000);
  CHECK(quota::throttle_ms(2000, 1000, 10500, 11000) == 10500);
  CHECK(quota::throttle_ms(1e9, 1000, 10000, 11000) == 11000);
}

TEST_CASE("ClientQuotas counts bytes per rate and answers Kafka's throttle time") {
  FakeClock clock;
  ClientQuotas q({.samples = 11, .window_ms = 1000}, clock.fn());
  CHECK_FALSE(q.any(Kind::produce));
  CHECK(q.record(Kind::produce, "User:alice", "app", 1e9) == 0);  // no quota: nothing counted
  q.update(values({{client("app"), "producer_byte_rate", 1000}}));
  CHECK(q.any(Kind::produce));
  CHECK_FALSE(q.any(Kind::fetch));
  CHECK(q.record(Kind::produce, "User:alice", "app", 5000) == 0);   // 500 B/s over 10 s
  CHECK(q.record(Kind::produce, "User:alice", "app", 6000) == 1000);  // 1100 B/s: (1100-1000)/1000 × 10 s
  // Other client ids are not held to it; the fetch side has no quota.
  CHECK(q.record(Kind::produce, "User:alice", "other", 1e6) == 0);
  CHECK(q.record(Kind::fetch, "User:alice", "app", 1e6) == 0);
  // The client id's rate is every user's.
  CHECK(q.record(Kind::produce, "User:bob", "app", 0) == 1000);
  // Once the samples expire the client is within its quota again.
  clock.now += 11000;
  CHECK(q.record(Kind::produce, "User:alice", "app", 100) == 0);
  // A request far above the quota waits no longer than the whole window.
  CHECK(q.record(Kind::produce, "User:alice", "app", 1e9) == q.max_throttle_ms());
  CHECK(q.max_throttle_ms() == 11000);
  CHECK(*q.max_in_window(Kind::produce, "User:x", "app") == doctest::Approx(10000.0));
  CHECK_FALSE(q.max_in_window(Kind::fetch, "User:x", "app"));
}

TEST_CASE("a fetch answered without its records takes them back") {
  FakeClock clock;
  ClientQuotas q({.samples = 11, .window_ms = 1000}, clock.fn());
  q.update(values({{user(std::nullopt), "consumer_byte_rate", 100}}));
  CHECK(q.record(Kind::fetch, "User:carol", "c1", 900) == 0);
  const auto wait = q.record(Kind::fetch, "User:carol", "c2", 300);  // user quota: shared by her clients
  CHECK(wait == 2000);                                                // 120 B/s over 10 s
  q.unrecord(Kind::fetch, "User:carol", "c2", 300);
  CHECK(q.record(Kind::fetch, "User:carol", "c2", 100) == 0);  // 1000 B in 10 s: at the quota
  // A default user's quota is each user's own.
  CHECK(q.record(Kind::fetch, "User:dave", "c1", 1000) == 0);
}

TEST_CASE("changed values apply to the rates already measured") {
  FakeClock clock;
  ClientQuotas q({.samples = 11, .window_ms = 1000}, clock.fn());
  q.update(values({{client("app"), "producer_byte_rate", 1000}}));
  CHECK(q.record(Kind::produce, "User:a", "app", 10000) == 0);
  q.update(values({{client("app"), "producer_byte_rate", 500}}));
  CHECK(q.record(Kind::produce, "User:a", "app", 0) == 10000);  // 1000 B/s against 500
  q.update(values({}));
  CHECK_FALSE(q.any(Kind::produce));
  CHECK(q.record(Kind::produce, "User:a", "app", 1e9) == 0);
}

TEST_CASE("Kafka's precedence: user and client id, then the user's, then defaults, then the client id's") {
  std::vector<ClientQuota> all{
      {user_client("u", "c"), "producer_byte_rate", 1},
      {user_client("u", std::nullopt), "producer_byte_rate", 2},
      {user("u"), "producer_byte_rate", 3},
      {user_client(std::nullopt, "c"), "producer_byte_rate", 4},
      {user_client(std::nullopt, std::nullopt), "producer_byte_rate", 5},
      {user(std::nullopt), "producer_byte_rate", 6},
      {client("c"), "producer_byte_rate", 7},
      {client(std::nullopt), "producer_byte_rate", 8},
      {{{"ip", "10.0.0.1"}}, "connection_creation_rate", 9},
  };
  // Each level applies while the ones above it are gone; whose rate it is
  // says whether the user's clients, or the client id's users, share it.
  const std::vector<std::tuple<double, std::string, std::string>> expected{
      {1, "u", "c"}, {2, "u", "c"}, {3, "u", ""}, {4, "u", "c"}, {5, "u", "c"}, {6, "u", ""}, {7, "", "c"}, {8, "", "c"},
  };
  for (std::size_t level = 0; level < expected.size(); ++level) {
    CAPTURE(level);
    std::vector<ClientQuota> left(all.begin() + static_cast<std::ptrdiff_t>(level), all.end());
    quota::QuotaIndex index(left);
    auto applied = index.resolve("producer_byte_rate", "u", "c");
    REQUIRE(applied);
    CHECK(applied->limit == std::get<0>(expected[level]));
    CHECK(applied->user == std::get<1>(expected[level]));
    CHECK(applied->client_id == std::get<2>(expected[level]));
  }
  quota::QuotaIndex index(all);
  CHECK(index.resolve("producer_byte_rate", "other", "c")->limit == 4);       // default user with client id c
  CHECK(index.resolve("producer_byte_rate", "u", "other")->limit == 2);       // u's default client id
  CHECK(index.resolve("producer_byte_rate", "other", "other")->limit == 5);   // both defaults
  CHECK_FALSE(index.resolve("consumer_byte_rate", "u", "c"));                  // each key on its own
  CHECK_FALSE(quota::QuotaIndex({{{{"ip", std::nullopt}}, "connection_creation_rate", 1}}).has("connection_creation_rate"));
  // Without defaults, a client id's quota is found for any user.
  quota::QuotaIndex only_client({{client("c"), "consumer_byte_rate", 7}});
  CHECK(only_client.resolve("consumer_byte_rate", "ANONYMOUS", "c")->limit == 7);
  CHECK_FALSE(only_client.resolve("consumer_byte_rate", "ANONYMOUS", "d"));
}

TEST_CASE("the user of a principal is its name") {
  CHECK(quota::user_of("User:alice") == "alice");
  CHECK(quota::user_of("User:ANONYMOUS") == "ANONYMOUS");
  CHECK(quota::user_of("alice") == "alice");
}
