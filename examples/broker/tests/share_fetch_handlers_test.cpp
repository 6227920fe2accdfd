// ShareFetch and ShareAcknowledge (KIP-932) through the broker's dispatch on
// an embedded store: records acquired by one member at a time, acknowledged
// (accept, release, reject) alone or piggybacked on a fetch, share session
// epochs, Kafka's errors for bad requests, group configs (share.auto.offset.reset,
// lock duration, delivery count limit), start offsets set by an administrator,
// and a restart that keeps the share-partition start offset.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/describe_configs_request.hpp"
#include "kwire/messages/describe_configs_response.hpp"
#include "kwire/messages/describe_share_group_offsets_request.hpp"
#include "kwire/messages/describe_share_group_offsets_response.hpp"
#include "kwire/messages/alter_share_group_offsets_request.hpp"
#include "kwire/messages/alter_share_group_offsets_response.hpp"
#include "kwire/messages/consumer_group_heartbeat_request.hpp"
#include "kwire/messages/consumer_group_heartbeat_response.hpp"
#include "kwire/messages/incremental_alter_configs_request.hpp"
#include "kwire/messages/incremental_alter_configs_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/messages/share_acknowledge_request.hpp"
#include "kwire/messages/share_acknowledge_response.hpp"
#include "kwire/messages/share_fetch_request.hpp"
#include "kwire/messages/share_fetch_response.hpp"
#include "kwire/messages/share_group_heartbeat_request.hpp"
#include "kwire/messages/share_group_heartbeat_response.hpp"
#include "kwire/records/records.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;

namespace {

const std::map<std::string, std::string> share_on{{"kwire.share.groups.enable", "true"}};

/// An acknowledgement: [first, last] with one type (1 accept, 2 release, 3 reject).
struct Ack {
  std::int64_t first, last;
  std::int8_t type;
};

struct Range {
  std::int64_t first, last;
  std::int16_t deliveries;
  friend bool operator==(const Range&, const Range&) = default;
};

struct Member {
  InProcessBroker& b;
  kwire::Uuid topic;
  std::string id;
  std::int32_t epoch = 0;  // share session epoch

  void join() {
    kwire::ShareGroupHeartbeatRequest req;
    req.group_id = "sg";
    req.member_id = id;
    req.member_epoch = 0;
    req.subscribed_topic_names.emplace().push_back("jobs");
    auto resp = b.call<kwire::ShareGroupHeartbeatResponse>(req, 1);
    REQUIRE(resp.error_code == ErrorCode::None);
  }

  kwire::ShareFetchResponse fetch(std::int32_t max_records, const std::vector<Ack>& acks = {}) {
    kwire::ShareFetchRequest req;
    req.group_id = "sg";
    req.member_id = id;
    req.share_session_epoch = epoch;
    req.max_wait_ms = 0;
    req.max_records = max_records;
    req.batch_size = max_records;
    auto& t = req.topics.emplace_back();
    t.topic_id = topic;
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    for (std::size_t i = 0; i < acks.size(); ++i) {
      auto& batch = p.acknowledgement_batches.emplace_back();
      batch.first_offset = acks[i].first;
      batch.last_offset = acks[i].last;
      batch.acknowledge_types.push_back(acks[i].type);
    }
    auto resp = b.call<kwire::ShareFetchResponse>(req, 1);
    if (resp.error_code == ErrorCode::None) ++epoch;
    return resp;
  }

  kwire::ShareAcknowledgeResponse acknowledge(const std::vector<Ack>& acks, std::optional<std::int32_t> at = {}) {
    kwire::ShareAcknowledgeRequest req;
    req.group_id = "sg";
    req.member_id = id;
    req.share_session_epoch = at ? *at : epoch;
    auto& t = req.topics.emplace_back();
    t.topic_id = topic;
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    for (std::size_t i = 0; i < acks.size(); ++i) {
      auto& batch = p.acknowledgement_batches.emplace_back();
      batch.first_offset = acks[i].first;
      batch.last_offset = acks[i].last;
      batch.acknowledge_types.push_back(acks[i].type);
    }
    auto resp = b.call<kwire::ShareAcknowledgeResponse>(req, 1);
    if (resp.error_code == ErrorCode::None && !at) ++epoch;
    return resp;
  }
};

std::vector<Range> acquired(const kwire::ShareFetchResponse& r) {
  std::vector<Range> out;
  for (auto& t : r.responses)
    for (auto& p : t.partitions)
      for (auto& a : p.acquired_records) out.push_back({a.first_offset, a.last_offset, a.delivery_count});
  return out;
}

/// The offsets the record batches of a response cover (from their headers:
/// base offset and last offset delta).
std::vector<std::int64_t> offsets_in(const kwire::ShareFetchResponse& r) {
  auto be = [](const std::uint8_t* p, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | p[i];
    return v;
  };
  std::vector<std::int64_t> out;
  for (auto& t : r.responses)
    for (auto& p : t.partitions) {
      if (!p.records) continue;
      kwire::bytes_view rest = *p.records;
      while (rest.size() >= 61) {
        const auto base = static_cast<std::int64_t>(be(rest.data(), 8));
        const auto size = 12 + be(rest.data() + 8, 4);
        const auto delta = static_cast<std::int64_t>(be(rest.data() + 23, 4));
        REQUIRE(size <= rest.size());
        for (auto o = base; o <= base + delta; ++o) out.push_back(o);
        rest = rest.subspan(size);
      }
      CHECK(rest.empty());
    }
  return out;
}

struct Fixture {
  kwire_broker::testing::TempDir dir{"kwire-share-fetch"};
  std::optional<InProcessBroker> broker{std::in_place, dir.path, share_on};
  kwire::Uuid topic;

  void create_topic() {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = "jobs";
    t.num_partitions = 1;
    t.replication_factor = 1;
    auto resp = broker->call<kwire::CreateTopicsResponse>(req, 7);
    REQUIRE(resp.topics.at(0).error_code == ErrorCode::None);
    topic = resp.topics[0].topic_id;
  }

  ErrorCode set_reset(std::string_view value) { return set_config("share.auto.offset.reset", value); }

  /// IncrementalAlterConfigs on the group "sg": set `name` (or delete it).
  ErrorCode set_config(std::string_view name, std::optional<std::string_view> value) {
    kwire::IncrementalAlterConfigsRequest req;
    auto& r = req.resources.emplace_back();
    r.resource_type = 32;  // GROUP
    r.resource_name = "sg";
    auto& c = r.configs.emplace_back();
    c.name = name;
    c.config_operation = value ? 0 : 1;
    c.value = value;
    return broker->call<kwire::IncrementalAlterConfigsResponse>(req, 1).responses.at(0).error_code;
  }

  /// DescribeConfigs of the group "sg": name -> (value, source).
  std::map<std::string, std::pair<std::string, std::int8_t>> group_configs() {
    kwire::DescribeConfigsRequest req;
    auto& r = req.resources.emplace_back();
    r.resource_type = 32;
    r.resource_name = "sg";
    auto resp = broker->call<kwire::DescribeConfigsResponse>(req, 4);
    REQUIRE(resp.results.size() == 1);
    REQUIRE(resp.results[0].error_code == ErrorCode::None);
    std::map<std::string, std::pair<std::string, std::int8_t>> out;
    for (auto& c : resp.results[0].configs)
      out[std::string(c.name)] = {std::string(c.value ? *c.value : std::string_view{}), c.config_source};
    return out;
  }

  void produce(int records) {
    kwire::RecordBatchBuilder builder;
    std::vector<std::string> values;
    for (int i = 0; i < records; ++i) values.push_back("job-" + std::to_string(i));
    for (auto& v : values) builder.append(1000, std::nullopt, kwire::as_bytes(v));
    auto batch = builder.build();
    kwire::ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& td = req.topic_data.emplace_back();
    td.name = "jobs";
    auto& pd = td.partition_data.emplace_back();
    pd.index = 0;
    pd.records = kwire::bytes_view(batch);
    auto resp = broker->call<kwire::ProduceResponse>(req, 11);
    REQUIRE(resp.responses.at(0).partition_responses.at(0).error_code == ErrorCode::None);
  }

  Member member(std::string id) {
    Member m{*broker, topic, std::move(id)};
    m.join();
    return m;
  }
};

}  // namespace

TEST_CASE("members share a partition's records, acknowledge them, and the start offset survives a restart") {
  Fixture f;
  f.create_topic();
  CHECK(f.set_reset("earliest") == ErrorCode::None);
  CHECK(f.set_reset("by_duration:PT1H") == ErrorCode::InvalidConfig);
  f.produce(5);
  f.produce(5);
  auto m1 = f.member("m1");
  auto m2 = f.member("m2");

  auto first = m1.fetch(3);
  REQUIRE(first.error_code == ErrorCode::None);
  CHECK(first.acquisition_lock_timeout_ms == 30000);
  CHECK(acquired(first) == std::vector<Range>{{0, 2, 1}});
  CHECK(offsets_in(first) == std::vector<std::int64_t>{0, 1, 2, 3, 4});  // the whole batch; the member keeps 0..2
  auto second = m2.fetch(100);
  CHECK(acquired(second) == std::vector<Range>{{3, 9, 1}});

  // Release one, accept the others: the released one comes back, delivered twice.
  auto ack = m1.acknowledge({{0, 1, 1}, {2, 2, 2}});
  REQUIRE(ack.error_code == ErrorCode::None);
  CHECK(ack.responses.at(0).partitions.at(0).error_code == ErrorCode::None);
  auto again = m1.fetch(10);
  CHECK(acquired(again) == std::vector<Range>{{2, 2, 2}});

  // Records another member holds cannot be acknowledged; the batch is refused whole.
  auto theft = m2.acknowledge({{2, 3, 1}});
  CHECK(theft.responses.at(0).partitions.at(0).error_code == ErrorCode::InvalidRecordState);
  // A rejection piggybacked on a fetch; nothing is left to hand out.
  auto rejected = m2.fetch(10, {{3, 9, 3}});
  REQUIRE(rejected.error_code == ErrorCode::None);
  REQUIRE(rejected.responses.size() == 1);
  CHECK(rejected.responses[0].partitions.at(0).acknowledge_error_code == ErrorCode::None);
  CHECK(acquired(rejected).empty());
  CHECK(m1.acknowledge({{2, 2, 1}}).responses.at(0).partitions.at(0).error_code == ErrorCode::None);

  // Session epochs and members are checked.
  CHECK(m1.acknowledge({{2, 2, 1}}, 77).error_code == ErrorCode::InvalidShareSessionEpoch);
  CHECK(m1.acknowledge({{2, 2, 1}}, 0).error_code == ErrorCode::InvalidShareSessionEpoch);
  Member ghost{*f.broker, f.topic, "ghost"};
  CHECK(ghost.fetch(1).error_code == ErrorCode::UnknownMemberId);
  Member stranger{*f.broker, f.topic, "m3"};
  stranger.join();
  stranger.epoch = 4;
  CHECK(stranger.fetch(1).error_code == ErrorCode::ShareSessionNotFound);

  // Every record is done with: the start offset is 10, and stays so.
  f.broker.reset();
  f.broker.emplace(f.dir.path, share_on);
  f.produce(2);
  auto back = f.member("m1");
  auto after = back.fetch(100);
  CHECK(acquired(after) == std::vector<Range>{{10, 11, 1}});
}

TEST_CASE("a group that never fetched starts at the latest offset by default") {
  Fixture f;
  f.create_topic();
  f.produce(4);
  auto m1 = f.member("m1");
  auto first = m1.fetch(10);
  REQUIRE(first.error_code == ErrorCode::None);
  CHECK(acquired(first).empty());
  f.produce(2);
  CHECK(acquired(m1.fetch(10)) == std::vector<Range>{{4, 5, 1}});
}

TEST_CASE("a closed share session gives back the records its member held") {
  Fixture f;
  f.create_topic();
  REQUIRE(f.set_reset("earliest") == ErrorCode::None);
  f.produce(3);
  auto m1 = f.member("m1");
  CHECK(acquired(m1.fetch(10)) == std::vector<Range>{{0, 2, 1}});
  auto closing = m1.acknowledge({{0, 0, 1}}, -1);
  REQUIRE(closing.error_code == ErrorCode::None);
  auto m2 = f.member("m2");
  CHECK(acquired(m2.fetch(10)) == std::vector<Range>{{1, 2, 2}});
}

TEST_CASE("a group's own lock duration and delivery count limit apply, are described and kept; bad ones are refused") {
  Fixture f;
  f.create_topic();
  CHECK(f.set_reset("earliest") == ErrorCode::None);
  CHECK(f.set_config("share.record.lock.duration.ms", "15000") == ErrorCode::None);
  CHECK(f.set_config("share.delivery.count.limit", "2") == ErrorCode::None);
  // Kafka's bounds (group.share.min/max.*), unknown names and a heartbeat
  // interval not below the session timeout are refused, and change nothing.
  CHECK(f.set_config("share.record.lock.duration.ms", "1000") == ErrorCode::InvalidConfig);
  CHECK(f.set_config("share.record.lock.duration.ms", "soon") == ErrorCode::InvalidConfig);
  CHECK(f.set_config("share.delivery.count.limit", "11") == ErrorCode::InvalidConfig);
  CHECK(f.set_config("share.no.such.config", "1") == ErrorCode::InvalidConfig);
  CHECK(f.set_config("share.heartbeat.interval.ms", "15000") == ErrorCode::None);
  CHECK(f.set_config("share.session.timeout.ms", "45000") == ErrorCode::None);
  CHECK(f.set_config("share.heartbeat.interval.ms", std::nullopt) == ErrorCode::None);

  auto described = f.group_configs();
  CHECK(described["share.record.lock.duration.ms"] == std::pair<std::string, std::int8_t>{"15000", 8});
  CHECK(described["share.delivery.count.limit"] == std::pair<std::string, std::int8_t>{"2", 8});
  CHECK(described["share.auto.offset.reset"] == std::pair<std::string, std::int8_t>{"earliest", 8});
  CHECK(described["share.heartbeat.interval.ms"] == std::pair<std::string, std::int8_t>{"5000", 5});  // deleted: the default
  CHECK(described["share.partition.max.record.locks"] == std::pair<std::string, std::int8_t>{"2000", 5});

  f.produce(1);
  auto m1 = f.member("m1");
  auto first = m1.fetch(10);
  REQUIRE(first.error_code == ErrorCode::None);
  CHECK(first.acquisition_lock_timeout_ms == 15000);
  CHECK(acquired(first) == std::vector<Range>{{0, 0, 1}});
  // Released twice: the second delivery was the last the group allows.
  CHECK(m1.acknowledge({{0, 0, 2}}).responses.at(0).partitions.at(0).error_code == ErrorCode::None);
  CHECK(acquired(m1.fetch(10)) == std::vector<Range>{{0, 0, 2}});
  CHECK(m1.acknowledge({{0, 0, 2}}).responses.at(0).partitions.at(0).error_code == ErrorCode::None);
  CHECK(acquired(m1.fetch(10)).empty());

  // The configs are the group's: they survive a restart.
  f.broker.reset();
  f.broker.emplace(f.dir.path, share_on);
  CHECK(f.group_configs()["share.record.lock.duration.ms"].first == "15000");
  auto back = f.member("m1");
  CHECK(back.fetch(10).acquisition_lock_timeout_ms == 15000);
}

TEST_CASE("AlterShareGroupOffsets on an id no group holds creates an empty share group with that start offset") {
  Fixture f;
  f.create_topic();
  f.produce(5);
  auto alter = [&](std::string_view group, std::int64_t start) {
    kwire::AlterShareGroupOffsetsRequest req;
    req.group_id = group;
    auto& t = req.topics.emplace_back();
    t.topic_name = "jobs";
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    p.start_offset = start;
    return f.broker->call<kwire::AlterShareGroupOffsetsResponse>(req, 0);
  };
  auto r = alter("sg", 3);
  REQUIRE(r.error_code == ErrorCode::None);
  CHECK(r.responses.at(0).partitions.at(0).error_code == ErrorCode::None);

  kwire::DescribeShareGroupOffsetsRequest dreq;
  auto& dg = dreq.groups.emplace_back();
  dg.group_id = "sg";
  dg.topics.reset();  // null: every share partition the group has
  auto d = f.broker->call<kwire::DescribeShareGroupOffsetsResponse>(dreq, 0);
  REQUIRE(d.groups.size() == 1);
  CHECK(d.groups[0].error_code == ErrorCode::None);
  REQUIRE(d.groups[0].topics.size() == 1);
  CHECK(d.groups[0].topics[0].partitions.at(0).start_offset == 3);
  // The first member starts there.
  auto m1 = f.member("m1");
  CHECK(acquired(m1.fetch(10)) == std::vector<Range>{{3, 4, 1}});

  // An id a consumer group holds is not taken.
  kwire::ConsumerGroupHeartbeatRequest creq;
  creq.group_id = "cg";
  creq.member_id = "c1";
  creq.member_epoch = 0;
  creq.rebalance_timeout_ms = 30000;
  creq.subscribed_topic_names.emplace().push_back("jobs");
  creq.topic_partitions.emplace();
  REQUIRE(f.broker->call<kwire::ConsumerGroupHeartbeatResponse>(creq, 1).error_code == ErrorCode::None);
  CHECK(alter("cg", 0).error_code == ErrorCode::GroupIdNotFound);
}
