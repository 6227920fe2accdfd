// AlterClientQuotas and DescribeClientQuotas through the real dispatch:
// Kafka's checks and error messages, validate_only, removal, describe
// filters (exact, default, any; strict), who may call them, the values kept
// across a restart; and the byte rate quotas they set, enforced on Produce
// and Fetch (throttle_time_ms, the connection muted).
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "kwire/messages/alter_client_quotas_request.hpp"
#include "kwire/messages/alter_client_quotas_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/describe_client_quotas_request.hpp"
#include "kwire/messages/describe_client_quotas_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/records/records.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;
using kwire_broker::testing::TempDir;

namespace {

using Entity = std::vector<std::pair<std::string, std::optional<std::string>>>;
struct Op {
  std::string key;
  double value = 0;
  bool remove = false;
};

struct Result {
  ErrorCode error;
  std::string message;
};

struct Client {
  InProcessBroker& broker;

  void as(std::string principal) { broker.session().principal = std::move(principal); }

  std::vector<Result> alter(std::vector<std::pair<Entity, std::vector<Op>>> entries, bool validate_only = false,
                            std::int16_t v = 1) {
    kwire::AlterClientQuotasRequest req;
    req.validate_only = validate_only;
    for (const auto& [entity, ops] : entries) {
      auto& e = req.entries.emplace_back();
      for (const auto& [type, name] : entity) {
        auto& d = e.entity.emplace_back();
        d.entity_type = type;
        d.entity_name = name ? kwire::nullable_string(*name) : std::nullopt;
      }
      for (const auto& op : ops) {
        auto& o = e.ops.emplace_back();
        o.key = op.key;
        o.value = op.value;
        o.remove = op.remove;
      }
    }
    auto resp = broker.call<kwire::AlterClientQuotasResponse>(req, v);
    std::vector<Result> out;
    for (const auto& e : resp.entries) out.push_back({e.error_code, std::string(e.error_message.value_or(""))});
    return out;
  }

  Result set(Entity entity, std::string key, double value) {
    auto r = alter({{std::move(entity), {{std::move(key), value}}}});
    REQUIRE(r.size() == 1);
    return r[0];
  }

  /// The response, and its entries as "type=name,...: key=value,...".
  std::pair<Result, std::vector<std::string>> describe(
      std::vector<std::tuple<std::string, std::int8_t, std::optional<std::string>>> components, bool strict = false,
      std::int16_t v = 1) {
    kwire::DescribeClientQuotasRequest req;
    req.strict = strict;
    for (const auto& [type, match_type, match] : components) {
      auto& c = req.components.emplace_back();
      c.entity_type = type;
      c.match_type = match_type;
      c.match = match ? kwire::nullable_string(*match) : std::nullopt;
    }
    auto resp = broker.call<kwire::DescribeClientQuotasResponse>(req, v);
    std::vector<std::string> listed;
    if (resp.entries) {
      for (const auto& e : *resp.entries) {
        std::string s;
        for (const auto& d : e.entity)
          s += std::string(d.entity_type) + "=" + (d.entity_name ? std::string(*d.entity_name) : "<default>") + ",";
        s += ":";
        for (const auto& val : e.values) s += " " + std::string(val.key) + "=" + std::to_string(std::llround(val.value));
        listed.push_back(s);
      }
      std::sort(listed.begin(), listed.end());
    }
    return {{resp.error_code, std::string(resp.error_message.value_or(""))}, listed};
  }

  std::vector<std::string> all() { return describe({}).second; }

  void create_topic(std::string_view name) {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = 1;
    t.replication_factor = 1;
    REQUIRE(broker.call<kwire::CreateTopicsResponse>(req, 7).topics.at(0).error_code == ErrorCode::None);
  }

  kwire::ProduceResponse produce(std::string_view topic, std::size_t value_bytes) {
    kwire::RecordBatchBuilder b;
    const std::string value(value_bytes, 'x');
    b.append(1000, std::nullopt, kwire::as_bytes(std::string_view(value)));
    auto batch = b.build();
    kwire::ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& td = req.topic_data.emplace_back();
    td.name = topic;
    auto& pd = td.partition_data.emplace_back();
    pd.index = 0;
    pd.records = kwire::bytes_view(batch);
    return broker.call<kwire::ProduceResponse>(req, 11);
  }

  kwire::FetchResponse fetch(std::string_view topic) {
    kwire::FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.partition_max_bytes = 1 << 20;
    return broker.call<kwire::FetchResponse>(req, 12);
  }
};

const std::map<std::string, std::string> secured{
    {"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
    {"super.users", "User:admin"}};

const Entity user_alice{{"user", "alice"}};

}  // namespace

TEST_CASE("AlterClientQuotas sets and removes values that DescribeClientQuotas lists; validate_only changes nothing") {
  TempDir dir("kwire-quotas-alter");
  InProcessBroker broker(dir.path);
  Client c{broker};
  for (std::int16_t v : {0, 1}) {
    CAPTURE(v);
    CHECK(c.alter({{user_alice, {{"producer_byte_rate", 1024}, {"request_percentage", 12.5}}}}, false, v)[0].error ==
          ErrorCode::None);
  }
  CHECK(c.set({{"client-id", std::nullopt}}, "consumer_byte_rate", 2048).error == ErrorCode::None);
  CHECK(c.set({{"user", "alice"}, {"client-id", "app"}}, "producer_byte_rate", 10).error == ErrorCode::None);
  CHECK(c.set({{"user", std::nullopt}}, "controller_mutation_rate", 3).error == ErrorCode::None);
  CHECK(c.set({{"ip", "10.1.2.3"}}, "connection_creation_rate", 5).error == ErrorCode::None);
  CHECK(c.set({{"ip", std::nullopt}}, "connection_creation_rate", 50).error == ErrorCode::None);
  CHECK(c.all() == std::vector<std::string>{
                       "client-id=<default>,: consumer_byte_rate=2048",
                       "client-id=app,user=alice,: producer_byte_rate=10",
                       "ip=10.1.2.3,: connection_creation_rate=5",
                       "ip=<default>,: connection_creation_rate=50",
                       "user=<default>,: controller_mutation_rate=3",
                       "user=alice,: producer_byte_rate=1024 request_percentage=13",
                   });

  // validate_only: checked, answered, not stored.
  auto checked = c.alter({{user_alice, {{"consumer_byte_rate", 99}}}, {{{"user", "bob"}}, {{"bogus", 1}}}}, true);
  REQUIRE(checked.size() == 2);
  CHECK(checked[0].error == ErrorCode::None);
  CHECK(checked[1].error == ErrorCode::InvalidRequest);
  CHECK(c.describe({{"user", 0, "alice"}}, true).second ==
        std::vector<std::string>{"user=alice,: producer_byte_rate=1024 request_percentage=13"});

  // Removing a value (and one that is not there); the entity goes with its last value.
  CHECK(c.alter({{user_alice, {{"request_percentage", 0, true}, {"consumer_byte_rate", 0, true}}}})[0].error ==
        ErrorCode::None);
  CHECK(c.describe({{"user", 0, "alice"}}, true).second == std::vector<std::string>{"user=alice,: producer_byte_rate=1024"});
  CHECK(c.alter({{user_alice, {{"producer_byte_rate", 0, true}}}})[0].error == ErrorCode::None);
  CHECK(c.describe({{"user", 0, "alice"}}, true).second.empty());
}

TEST_CASE("AlterClientQuotas refuses what Kafka refuses, per entity, with Kafka's messages") {
  TempDir dir("kwire-quotas-invalid");
  InProcessBroker broker(dir.path);
  Client c{broker};
  auto refused = [&](Entity entity, std::string key, double value) {
    auto r = c.set(std::move(entity), std::move(key), value);
    CHECK(r.error == ErrorCode::InvalidRequest);
    return r.message;
  };
  CHECK(refused({{"user", "u"}}, "bogus", 1) == "Invalid configuration key bogus");
  CHECK(refused({{"user", "u"}}, "connection_creation_rate", 1) == "Invalid configuration key connection_creation_rate");
  CHECK(refused({{"ip", "10.0.0.1"}}, "producer_byte_rate", 1) == "Invalid configuration key producer_byte_rate");
  CHECK(refused({{"user", "u"}}, "producer_byte_rate", 0) == "Quota producer_byte_rate must be greater than 0");
  CHECK(refused({{"user", "u"}}, "request_percentage", -1) == "Quota request_percentage must be greater than 0");
  CHECK(refused({{"user", "u"}}, "producer_byte_rate", 1.5) == "producer_byte_rate cannot be a fractional value.");
  CHECK(refused({{"user", "u"}}, "consumer_byte_rate", 1e19) == "Proposed value for consumer_byte_rate is too large for a LONG.");
  CHECK(refused({{"ip", "10.0.0.1"}}, "connection_creation_rate", 3e9) ==
        "Proposed value for connection_creation_rate is too large for an INT.");
  CHECK(refused({{"user", "u"}}, "request_percentage", std::numeric_limits<double>::infinity()) ==
        "Quota request_percentage must be a finite number");
  CHECK(refused({}, "producer_byte_rate", 1) == "Invalid empty client quota entity");
  CHECK(refused({{"group", "g"}}, "producer_byte_rate", 1) == "Unhandled client quota entity type: group");
  CHECK(refused({{"user", ""}}, "producer_byte_rate", 1) == "Empty user not supported");
  CHECK(refused({{"user", "a"}, {"user", "b"}}, "producer_byte_rate", 1) ==
        "Invalid client quota entity, duplicate entity entry user");
  CHECK(refused({{"ip", "10.0.0.1"}, {"user", "u"}}, "producer_byte_rate", 1) ==
        "Invalid quota entity combination, IP entity should not be combined with User or ClientId");
  CHECK(refused({{"ip", "not an address"}}, "connection_creation_rate", 1) ==
        "not an address is not a valid IP or resolvable host.");
  // A duplicate key refuses the entity; the other entities of the request
  // are applied; an entity named twice is refused once, unchanged.
  auto r = c.alter({{user_alice, {{"producer_byte_rate", 5}, {"producer_byte_rate", 6}}},
                    {{{"user", "bob"}}, {{"producer_byte_rate", 7}}},
                    {{{"client-id", "x"}}, {{"consumer_byte_rate", 8}}},
                    {{{"client-id", "x"}}, {{"consumer_byte_rate", 9}}}});
  REQUIRE(r.size() == 3);
  CHECK(r[0].error == ErrorCode::InvalidRequest);
  CHECK(r[0].message == "Duplicate quota key producer_byte_rate not updating quota for this entity user=alice");
  CHECK(r[1].error == ErrorCode::None);
  CHECK(r[2].error == ErrorCode::InvalidRequest);
  CHECK(r[2].message == "Ignoring duplicate entity client-id=x");
  // A valid value beside an invalid one: nothing of the entity is stored.
  CHECK(c.alter({{{{"user", "carol"}}, {{"producer_byte_rate", 5}, {"bogus", 1}}}})[0].error == ErrorCode::InvalidRequest);
  CHECK(c.all() == std::vector<std::string>{"user=bob,: producer_byte_rate=7"});
}

TEST_CASE("DescribeClientQuotas filters: exact, default, any; strict; Kafka's errors") {
  TempDir dir("kwire-quotas-describe");
  InProcessBroker broker(dir.path);
  Client c{broker};
  c.set({{"user", "alice"}}, "producer_byte_rate", 1);
  c.set({{"user", std::nullopt}}, "producer_byte_rate", 2);
  c.set({{"user", "alice"}, {"client-id", "app"}}, "producer_byte_rate", 3);
  c.set({{"user", std::nullopt}, {"client-id", std::nullopt}}, "producer_byte_rate", 4);
  c.set({{"client-id", "app"}}, "producer_byte_rate", 5);
  c.set({{"ip", std::nullopt}}, "connection_creation_rate", 6);
  constexpr std::int8_t exact = 0, by_default = 1, any = 2;
  using V = std::vector<std::string>;
  CHECK(c.describe({{"user", exact, "alice"}}).second ==
        V{"client-id=app,user=alice,: producer_byte_rate=3", "user=alice,: producer_byte_rate=1"});
  CHECK(c.describe({{"user", exact, "alice"}}, true).second == V{"user=alice,: producer_byte_rate=1"});
  CHECK(c.describe({{"user", by_default, std::nullopt}}, true).second == V{"user=<default>,: producer_byte_rate=2"});
  CHECK(c.describe({{"user", by_default, std::nullopt}, {"client-id", by_default, std::nullopt}}).second ==
        V{"client-id=<default>,user=<default>,: producer_byte_rate=4"});
  CHECK(c.describe({{"user", any, std::nullopt}}, true).second ==
        V{"user=<default>,: producer_byte_rate=2", "user=alice,: producer_byte_rate=1"});
  CHECK(c.describe({{"client-id", any, std::nullopt}}).second ==
        V{"client-id=<default>,user=<default>,: producer_byte_rate=4", "client-id=app,: producer_byte_rate=5",
          "client-id=app,user=alice,: producer_byte_rate=3"});
  CHECK(c.describe({{"ip", any, std::nullopt}}).second == V{"ip=<default>,: connection_creation_rate=6"});
  CHECK(c.describe({}).second.size() == 6);
  CHECK(c.describe({}, true).second.empty());
  CHECK(c.describe({{"user", exact, "nobody"}}).second.empty());

  auto error = [&](std::vector<std::tuple<std::string, std::int8_t, std::optional<std::string>>> components) {
    return c.describe(std::move(components)).first;
  };
  auto e = error({{"user", exact, std::nullopt}});
  CHECK(e.error == ErrorCode::InvalidRequest);
  CHECK(e.message == "Request specified MATCH_TYPE_EXACT, but set match string to null.");
  CHECK(error({{"user", by_default, "x"}}).message == "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.");
  CHECK(error({{"user", any, "x"}}).message == "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.");
  CHECK(error({{"user", 7, std::nullopt}}).message == "Unknown match type 7");
  CHECK(error({{"user", any, std::nullopt}, {"user", any, std::nullopt}}).message ==
        "Entity type user cannot appear more than once in the filter.");
  CHECK(error({{"", any, std::nullopt}}).message == "Invalid empty entity type.");
  e = error({{"group", any, std::nullopt}});
  CHECK(e.error == ErrorCode::UnsupportedVersion);
  CHECK(e.message == "Unsupported entity type group");
  CHECK(error({{"ip", any, std::nullopt}, {"user", any, std::nullopt}}).error == ErrorCode::InvalidRequest);
}

TEST_CASE("with an authorizer: DESCRIBE_CONFIGS and ALTER_CONFIGS on the cluster; values kept across a restart") {
  TempDir dir("kwire-quotas-auth");
  {
    InProcessBroker broker(dir.path, secured);
    Client c{broker};
    c.as("User:alice");
    auto r = c.set(user_alice, "producer_byte_rate", 1);
    CHECK(r.error == ErrorCode::ClusterAuthorizationFailed);
    CHECK(r.message == "Cluster authorization failed.");
    CHECK(c.describe({}).first.error == ErrorCode::ClusterAuthorizationFailed);
    c.as("User:admin");
    CHECK(c.set(user_alice, "producer_byte_rate", 1).error == ErrorCode::None);
    CHECK(c.set({{"client-id", std::nullopt}}, "consumer_byte_rate", 2.0).error == ErrorCode::None);
  }
  InProcessBroker broker(dir.path, secured);
  Client c{broker};
  c.as("User:admin");
  CHECK(c.all() == std::vector<std::string>{"client-id=<default>,: consumer_byte_rate=2",
                                            "user=alice,: producer_byte_rate=1"});
  // Enforced from the start: the client id's default quota applies.
  CHECK(broker.broker().quotas().any(kwire_broker::quota::Kind::fetch));
}

TEST_CASE("a producer over its quota gets throttle_time_ms and its connection is muted; its records are kept") {
  TempDir dir("kwire-quotas-produce");
  InProcessBroker broker(dir.path);
  Client c{broker};
  c.create_topic("t");
  auto free = c.produce("t", 4000);
  CHECK(free.throttle_time_ms == 0);
  CHECK(broker.session().muted_until == std::chrono::steady_clock::time_point{});
  // The in-process client's id; 100 B/s: a 4000-byte request is 400 B/s over 10 s.
  REQUIRE(c.set({{"client-id", "in-process"}}, "producer_byte_rate", 100).error == ErrorCode::None);
  auto throttled = c.produce("t", 4000);
  CHECK(throttled.responses.at(0).partition_responses.at(0).error_code == ErrorCode::None);
  CHECK(throttled.responses.at(0).partition_responses.at(0).base_offset == 1);
  CHECK(throttled.throttle_time_ms > 10000);  // (400 - 100) / 100 × 10 s, capped at 11 s
  CHECK(throttled.throttle_time_ms <= 11000);
  CHECK(broker.session().muted_until > std::chrono::steady_clock::now() + std::chrono::seconds(5));
  // Under the quota of another client id, or without a quota, it is not throttled.
  broker.reset_session();
  REQUIRE(c.alter({{{{"client-id", "in-process"}}, {{"producer_byte_rate", 0, true}}}})[0].error == ErrorCode::None);
  REQUIRE(c.set({{"client-id", "other"}}, "producer_byte_rate", 1).error == ErrorCode::None);
  CHECK(c.produce("t", 4000).throttle_time_ms == 0);
  CHECK(broker.session().muted_until == std::chrono::steady_clock::time_point{});
}

TEST_CASE("a consumer over its quota gets no records, throttle_time_ms, and the same records later") {
  TempDir dir("kwire-quotas-fetch");
  InProcessBroker broker(dir.path);
  Client c{broker};
  c.create_topic("t");
  REQUIRE(c.produce("t", 3000).responses.at(0).partition_responses.at(0).error_code == ErrorCode::None);
  auto has_records = [](const kwire::FetchResponse& r) {
    return !r.responses.empty() && r.responses.at(0).partitions.at(0).records->size() > 3000;
  };
  // A user default: 400 B/s for ANONYMOUS, this session's user. The batch
  // (~3 KB over 10 s) fits; the same again does not.
  REQUIRE(c.set({{"user", std::nullopt}}, "consumer_byte_rate", 400).error == ErrorCode::None);
  auto first = c.fetch("t");
  CHECK(first.throttle_time_ms == 0);
  CHECK(has_records(first));
  auto throttled = c.fetch("t");
  CHECK(throttled.throttle_time_ms > 0);
  CHECK(throttled.responses.empty());
  CHECK(broker.session().muted_until > std::chrono::steady_clock::now());
  // The records not sent were not counted: under a higher quota they come.
  REQUIRE(c.set({{"user", std::nullopt}}, "consumer_byte_rate", 700).error == ErrorCode::None);
  broker.reset_session();
  auto again = c.fetch("t");
  CHECK(again.throttle_time_ms == 0);  // 6 KB over 10 s
  CHECK(has_records(again));
  // A batch larger than the quota allows over all its windows would never
  // go out empty-handed: it is sent, with the wait.
  REQUIRE(c.set({{"user", std::nullopt}}, "consumer_byte_rate", 100).error == ErrorCode::None);
  auto big = c.fetch("t");
  CHECK(big.throttle_time_ms > 0);
  CHECK(has_records(big));
}
