// kwire-broker's Pulsar storage against a real standalone, through the seam
// only: offsets from the broker entry index (and the writer's derivation
// checked against a reader), both entry formats, native Pulsar messages as
// Kafka batches, idempotent retries across a restart and a hand-over between
// gateways, exclusive writers, committed offsets mirrored to subscriptions,
// share partitions' state across restarts and gateways, namespace isolation,
// and batches past what Pulsar stores. The groups' shards are in
// group_shard_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <thread>
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <kwire/records/batch.hpp>
#include <kwire/records/builder.hpp>

#include "kwire_pulsar/admin.hpp"
#include "kwire_pulsar/client.hpp"
#include "pulsar_env.hpp"
#include "storage_support.hpp"
#include "storage/pulsar/entry_format.hpp"
#include "storage/pulsar/open.hpp"

namespace st = kwire_broker::storage;
namespace sp = kwire_broker::storage::pulsar;
using namespace pulsar_test;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<st::PartitionLog> open_log(st::Storage& s, const std::string& topic, int p) {
  auto r = wait(s.open_log({topic, p}));
  REQUIRE_MESSAGE(r.ok(), r.message);
  return r.value;
}

struct Rec {
  std::string key, value;
  std::int64_t ts;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::vector<std::uint8_t> make_batch(const std::vector<Rec>& recs, std::int64_t pid = -1, std::int16_t epoch = -1,
                                     std::int32_t seq = -1) {
  kwire::RecordBatchOptions o;
  o.producer_id = pid;
  o.producer_epoch = epoch;
  o.base_sequence = seq;
  kwire::RecordBatchBuilder b(o);
  for (auto& r : recs) {
    std::vector<kwire::RecordHeader> hs;
    for (auto& [k, v] : r.headers)
      hs.push_back({k, kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(v.data()), v.size())});
    b.append(r.ts, kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(r.key.data()), r.key.size()),
             kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(r.value.data()), r.value.size()), hs);
  }
  return b.build();
}

struct ReadRecord {
  std::int64_t offset;
  std::string key, value;
  std::int64_t ts;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::string str(kwire::bytes_view b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

/// Every record of the returned batches, checking each batch's CRC.
std::vector<ReadRecord> records_of(const std::vector<std::uint8_t>& bytes) {
  std::vector<ReadRecord> out;
  kwire::bytes_view rest(bytes);
  while (!rest.empty()) {
    auto v = kwire::RecordBatchView::parse(rest);
    REQUIRE(v);
    CHECK_FALSE(v->validate());
    auto rr = v->records();
    kwire::RecordView r;
    while (rr.next(r)) {
      ReadRecord x{v->offset_of(r), r.key ? str(*r.key) : "", r.value ? str(*r.value) : "", v->timestamp_of(r), {}};
      for (const auto& h : r.headers()) x.headers.emplace_back(std::string(h.key), h.value ? str(*h.value) : "");
      out.push_back(std::move(x));
    }
    CHECK_FALSE(rr.error());
    rest = rest.subspan(v->bytes().size());
  }
  return out;
}

st::ReadResult read_at(st::PartitionLog& log, std::int64_t offset, std::int32_t max_bytes = 1 << 20) {
  st::ReadOptions o;
  o.offset = offset;
  o.max_bytes = max_bytes;
  auto r = wait(log.read(o));
  REQUIRE_MESSAGE(r.ok(), r.message);
  return r.value;
}

template <class F>
auto on_client(F f) {
  return run([&]() -> kwire_pulsar::awaitable<typename decltype(f(nullptr))::value_type> {
    kwire_pulsar::ClientOptions o;
    o.service_url = service_url();
    auto c = kwire_pulsar::Client::create(co_await boost::asio::this_coro::executor, o);
    struct Closer {
      std::shared_ptr<kwire_pulsar::Client> c;
      ~Closer() { c->close(); }
    } closer{c};
    co_return co_await f(c);
  });
}

}  // namespace

TEST_CASE("kafka batches in pulsar format: offsets, reads, native consumers") {
  const auto ns = unique("ns");
  auto s = open_store("public", ns);
  create(*s, "orders", 2);
  auto info = s->topics().find_topic("orders");
  REQUIRE(info);
  CHECK(info->partitions == 2);
  CHECK(info->configs.at("retention.ms") == "-1");

  auto log = open_log(*s, "orders", 1);
  std::int64_t expected = 0;
  for (int b = 0; b < 6; ++b) {
    std::vector<Rec> recs;
    for (int i = 0; i <= b % 3; ++i)
      recs.push_back({"k" + std::to_string(expected + i), "v" + std::to_string(expected + i),
                      1700000000000 + expected + i, {{"h", std::to_string(b)}}});
    auto r = wait(log->append(validated(make_batch(recs))));
    REQUIRE_MESSAGE(r.ok(), r.message);
    CHECK(r.value.base_offset == expected);
    CHECK(r.value.last_offset == expected + static_cast<std::int64_t>(recs.size()) - 1);
    expected += static_cast<std::int64_t>(recs.size());
  }
  CHECK(log->offsets().high_watermark == expected);

  // What the writer derived is what a reader sees (offsets from the index).
  auto all = records_of(read_at(*log, 0).bytes);
  REQUIRE(all.size() == static_cast<std::size_t>(expected));
  for (std::int64_t i = 0; i < expected; ++i) {
    auto& r = all[static_cast<std::size_t>(i)];
    CHECK(r.offset == i);
    CHECK(r.key == "k" + std::to_string(i));
    CHECK(r.value == "v" + std::to_string(i));
    CHECK(r.ts == 1700000000000 + i);
    REQUIRE(r.headers.size() == 1);
  }

  // A fresh storage (cold cache) finds an offset in the middle of a batch.
  s.reset();
  auto s2 = open_store("public", ns);
  auto log2 = open_log(*s2, "orders", 1);
  CHECK(log2->offsets().high_watermark == expected);
  auto mid = records_of(read_at(*log2, 7).bytes);
  REQUIRE_FALSE(mid.empty());
  CHECK(mid.front().offset <= 7);
  CHECK(mid.back().offset == expected - 1);

  // Native Pulsar consumers read key, value, event time and properties.
  auto seen = on_client([&](std::shared_ptr<kwire_pulsar::Client> c) -> kwire_pulsar::awaitable<int> {
    auto r = co_await c->create_reader("persistent://public/" + ns + "/orders-partition-1",
                                       kwire_pulsar::MessageId::earliest());
    int n = 0;
    for (;;) {
      auto m = co_await r->receive(3s);
      if (!m) break;
      CHECK(m->key == "k" + std::to_string(n));
      CHECK(m->value == "v" + std::to_string(n));
      CHECK(m->event_time == 1700000000000ULL + static_cast<std::uint64_t>(n));
      REQUIRE(m->properties.size() == 1);
      CHECK(m->properties[0].first == "h");
      CHECK(m->index == static_cast<std::uint64_t>(n));
      ++n;
    }
    co_await r->close();
    co_return n;
  });
  CHECK(seen == expected);
}

TEST_CASE("seeking a fetch to an offset: Pulsar's lookup by index, or O(log n) entries read") {
  const auto ns = unique("seek");
  constexpr int n = 256;
  std::size_t total = 0;
  {
    auto s = open_store("public", ns);
    create(*s, "big", 1);
    auto log = open_log(*s, "big", 0);
    for (int i = 0; i < n; ++i) {
      // Entries of 1, 2 and 3 records: offsets fall inside entries too.
      std::vector<Rec> recs;
      for (int k = 0; k <= i % 3; ++k) recs.push_back({"k", std::to_string(i) + "." + std::to_string(k), 1000 + i, {}});
      total += recs.size();
      auto r = wait(log->append(validated(make_batch(recs))));
      REQUIRE(r.ok());
    }
  }
  // What each offset holds, by reading the partition through.
  std::vector<ReadRecord> all;
  {
    auto s = open_store("public", ns);
    auto log = open_log(*s, "big", 0);
    for (std::int64_t at = 0; at < static_cast<std::int64_t>(total);) {
      auto recs = records_of(read_at(*log, at).bytes);
      REQUIRE_FALSE(recs.empty());
      all.insert(all.end(), recs.begin(), recs.end());
      at = recs.back().offset + 1;
    }
  }
  REQUIRE(all.size() == total);
  for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i].offset == static_cast<std::int64_t>(i));
  for (const std::string lookup : {"rest", "search"}) {
    CAPTURE(lookup);
    std::map<std::string, std::string> cfg{{"pulsarServiceUrl", service_url()},
                                           {"pulsarWebServiceUrl", web_url()},
                                           {"kafkaTenant", "public"},
                                           {"kafkaNamespace", ns},
                                           {"offsetsTopicNumPartitions", "2"},
                                           {"indexLookup", lookup}};
    auto s = sp::open(cfg);  // nothing cached
    auto log = open_log(*s, "big", 0);
    for (std::int64_t target : {std::int64_t{137}, std::int64_t{1}, std::int64_t{0}, std::int64_t{250},
                                static_cast<std::int64_t>(all.size() - 1)}) {
      const auto before = sp::entries_probed(*log);
      auto recs = records_of(read_at(*log, target, 64).bytes);
      const auto probed = sp::entries_probed(*log) - before;
      // The batch holding the offset comes first (it may start before it).
      REQUIRE_FALSE(recs.empty());
      CHECK(recs.front().offset <= target);
      auto it = std::find_if(recs.begin(), recs.end(), [&](const ReadRecord& r) { return r.offset >= target; });
      REQUIRE(it != recs.end());
      CHECK(it->offset == target);
      CHECK(it->value == all[static_cast<std::size_t>(target)].value);
      MESSAGE(lookup << ": offset " << target << ": " << probed << " entries probed of " << n);
      if (lookup == "rest") CHECK(probed == 0);
      else CHECK(probed <= 9);  // log2(256) + 1
    }
    // Timestamps: the first batch at or after a time, by the same search.
    auto t = wait(log->offset_for_timestamp(1000 + 77));
    REQUIRE(t.ok());
    CHECK(all[static_cast<std::size_t>(t.value.offset)].value == "77.0");
  }
}

TEST_CASE("native Pulsar producers' messages read as Kafka batches with continuous offsets") {
  const auto ns = unique("native");
  auto s = open_store("public", ns);
  create(*s, "events", 1);
  on_client([&](std::shared_ptr<kwire_pulsar::Client> c) -> kwire_pulsar::awaitable<int> {
    kwire_pulsar::ProducerOptions po;
    po.topic = "persistent://public/" + ns + "/events-partition-0";
    auto p = co_await c->create_producer(po);
    for (int i = 0; i < 3; ++i) {
      kwire_pulsar::OutgoingMessage m;
      m.key = "n" + std::to_string(i);
      m.value = "native-" + std::to_string(i);
      m.event_time = 1600000000000ULL + static_cast<std::uint64_t>(i);
      m.properties.push_back({"p", std::to_string(i)});
      co_await p->send(m);
    }
    std::vector<kwire_pulsar::OutgoingMessage> batch;
    for (int i = 3; i < 8; ++i) {
      kwire_pulsar::OutgoingMessage m;
      m.key = "n" + std::to_string(i);
      m.value = "native-" + std::to_string(i);
      m.event_time = 1600000000000ULL + static_cast<std::uint64_t>(i);
      batch.push_back(m);
    }
    co_await p->send_batch(batch);
    co_await p->close();
    co_return 0;
  });
  auto log = open_log(*s, "events", 0);
  CHECK(log->offsets().high_watermark == 8);
  auto recs = records_of(read_at(*log, 0).bytes);
  REQUIRE(recs.size() == 8);
  for (int i = 0; i < 8; ++i) {
    CHECK(recs[static_cast<std::size_t>(i)].offset == i);
    CHECK(recs[static_cast<std::size_t>(i)].key == "n" + std::to_string(i));
    CHECK(recs[static_cast<std::size_t>(i)].value == "native-" + std::to_string(i));
    CHECK(recs[static_cast<std::size_t>(i)].ts == 1600000000000 + i);
  }
  CHECK(recs[1].headers == std::vector<std::pair<std::string, std::string>>{{"p", "1"}});
  // Kafka appends continue the same offsets.
  auto r = wait(log->append(validated(make_batch({{"x", "y", 1, {}}}))));
  REQUIRE_MESSAGE(r.ok(), r.message);
  CHECK(r.value.base_offset == 8);
}

TEST_CASE("an entry the gateway cannot read does not keep the partition from opening") {
  const auto ns = unique("badentry");
  {
    auto s = open_store("public", ns);
    create(*s, "events", 1);
  }
  // A native producer's message that claims to be a transaction marker
  // without being one: the gateway cannot read it as a Kafka batch.
  on_client([&](std::shared_ptr<kwire_pulsar::Client> c) -> kwire_pulsar::awaitable<int> {
    kwire_pulsar::ProducerOptions po;
    po.topic = "persistent://public/" + ns + "/events-partition-0";
    auto p = co_await c->create_producer(po);
    kwire_pulsar::OutgoingMessage m;
    m.value = "not a marker";
    m.properties.push_back({sp::control_property, "maybe"});
    co_await p->send(m);
    co_await p->close();
    co_return 0;
  });
  // A gateway opening the partition rebuilds its producer table from the
  // log's tail, which holds the entry: it skips it and appends after it.
  auto s = open_store("public", ns);
  auto log = open_log(*s, "events", 0);
  CHECK(log->offsets().high_watermark == 1);
  auto r = wait(log->append(validated(make_batch({{"k", "v", 1, {}}}, 42, 0, 0))));
  REQUIRE_MESSAGE(r.ok(), r.message);
  CHECK(r.value.base_offset == 1);
  auto aborted = wait(log->aborted_transactions(0, 2));
  REQUIRE_MESSAGE(aborted.ok(), aborted.message);
  CHECK(aborted.value.empty());
}

TEST_CASE("kafka entry format keeps the batch bytes") {
  const auto ns = unique("kfmt");
  auto s = open_store("public", ns, "kafka");
  create(*s, "raw", 1);
  auto log = open_log(*s, "raw", 0);
  auto b1 = make_batch({{"a", "1", 10, {{"x", "y"}}}, {"b", "2", 11, {}}});
  auto b2 = make_batch({{"c", "3", 12, {}}});
  REQUIRE(wait(log->append(validated(b1))).ok());
  auto r2 = wait(log->append(validated(b2)));
  REQUIRE(r2.ok());
  CHECK(r2.value.base_offset == 2);
  auto got = read_at(*log, 0);
  kwire::set_base_offset(b2, 2);
  std::vector<std::uint8_t> expected_bytes = b1;
  expected_bytes.insert(expected_bytes.end(), b2.begin(), b2.end());
  CHECK(got.bytes == expected_bytes);
  CHECK(got.next_offset == 3);
}

TEST_CASE("idempotent retries are detected, also after a restart") {
  const auto ns = unique("idem");
  auto batch0 = make_batch({{"k", "v0", 1, {}}}, 4242, 0, 0);
  auto batch1 = make_batch({{"k", "v1", 2, {}}, {"k", "v2", 3, {}}}, 4242, 0, 1);
  {
    auto s = open_store("public", ns);
    create(*s, "t", 1);
    auto log = open_log(*s, "t", 0);
    REQUIRE(wait(log->append(validated(batch0))).ok());
    REQUIRE(wait(log->append(validated(batch1))).ok());
    auto dup = wait(log->append(validated(batch1)));
    CHECK(dup.error == st::Errc::duplicate_sequence);
    CHECK(dup.value.base_offset == 1);
  }
  auto s = open_store("public", ns);
  auto log = open_log(*s, "t", 0);
  auto dup = wait(log->append(validated(batch1)));
  CHECK(dup.error == st::Errc::duplicate_sequence);
  CHECK(dup.value.base_offset == 1);
  auto gap = wait(log->append(validated(make_batch({{"k", "v9", 9, {}}}, 4242, 0, 7))));
  CHECK(gap.error == st::Errc::out_of_order_sequence);
  auto next = wait(log->append(validated(make_batch({{"k", "v3", 4, {}}}, 4242, 0, 3))));
  REQUIRE(next.ok());
  CHECK(next.value.base_offset == 3);
  CHECK(records_of(read_at(*log, 0).bytes).size() == 4);
}

TEST_CASE("one writer per partition: a second gateway is fenced") {
  const auto ns = unique("fence");
  auto a = open_store("public", ns, "pulsar", "gw-a");
  create(*a, "t", 1);
  auto la = open_log(*a, "t", 0);
  REQUIRE(wait(la->append(validated(make_batch({{"k", "a", 1, {}}})))).ok());
  auto b = open_store("public", ns, "pulsar", "gw-b");
  auto lb = open_log(*b, "t", 0);
  auto refused = wait(lb->append(validated(make_batch({{"k", "b", 2, {}}}))));
  CHECK(refused.error == st::Errc::unavailable);
  a.reset();  // the first gateway goes away
  auto taken = wait(lb->append(validated(make_batch({{"k", "b", 3, {}}}))));
  REQUIRE_MESSAGE(taken.ok(), taken.message);
  CHECK(taken.value.base_offset == 1);
}

TEST_CASE("a gateway taking over a partition it had open knows the previous writer's batches") {
  // The second gateway opens the log early (as it does to mirror a group's
  // committed offsets) and becomes the writer only after the first one wrote
  // more: a retry of the first one's last batch must be a duplicate, and the
  // producer's next batch must follow it.
  const auto ns = unique("takeover");
  auto a = open_store("public", ns, "pulsar", "gw-a");
  create(*a, "t", 1);
  auto la = open_log(*a, "t", 0);
  auto b = open_store("public", ns, "pulsar", "gw-b");
  auto lb = open_log(*b, "t", 0);
  auto batch0 = make_batch({{"k", "v0", 1, {}}}, 777, 3, 0);
  auto batch1 = make_batch({{"k", "v1", 2, {}}, {"k", "v2", 3, {}}}, 777, 3, 1);
  REQUIRE(wait(la->append(validated(batch0))).ok());
  REQUIRE(wait(la->append(validated(batch1))).ok());
  la.reset();
  a.reset();  // the first gateway goes away before answering the producer
  auto retry = wait(lb->append(validated(batch1)));
  CHECK_MESSAGE(retry.error == st::Errc::duplicate_sequence, retry.message);
  CHECK(retry.value.base_offset == 1);
  auto next = wait(lb->append(validated(make_batch({{"k", "v3", 4, {}}}, 777, 3, 3))));
  REQUIRE_MESSAGE(next.ok(), next.message);
  CHECK(next.value.base_offset == 3);
  auto all = records_of(read_at(*lb, 0).bytes);
  REQUIRE(all.size() == 4);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].offset == static_cast<std::int64_t>(i));
}

TEST_CASE("committed offsets survive a restart and show as the subscription's backlog, until deleted") {
  const auto ns = unique("groups");
  {
    auto s = open_store("public", ns);
    create(*s, "t", 1);
    auto log = open_log(*s, "t", 0);
    for (int i = 0; i < 10; ++i)
      REQUIRE(wait(log->append(validated(make_batch({{"k", std::to_string(i), i + 1, {}}})))).ok());
    std::vector<std::uint8_t> blob{1, 2, 3};
    REQUIRE(wait(s->groups().store_group("g1", blob)).ok());
    st::CommittedOffset c;
    c.offset = 6;
    c.metadata = "m";
    std::vector<std::pair<st::TopicPartition, st::CommittedOffset>> offs{{{"t", 0}, c}};
    REQUIRE(wait(s->groups().commit_offsets("g1", offs)).ok());
  }
  auto s = open_store("public", ns);
  auto f = wait(s->groups().fetch_offsets("g1"));
  REQUIRE(f.ok());
  REQUIRE(f.value.size() == 1);
  CHECK(f.value[0].second.offset == 6);
  CHECK(f.value[0].second.metadata == "m");
  auto groups = wait(s->groups().load_groups());
  REQUIRE(groups.ok());
  REQUIRE(groups.value.size() == 1);
  CHECK(groups.value[0].data == std::vector<std::uint8_t>{1, 2, 3});
  const int backlog = run([&]() -> kwire_pulsar::awaitable<int> {
    kwire_pulsar::Admin admin(co_await boost::asio::this_coro::executor, web_url());
    auto stats = co_await admin.topic_stats("public/" + ns + "/t-partition-0");
    co_return stats["subscriptions"]["g1"]["msgBacklog"].get<int>();
  });
  CHECK(backlog == 4);  // records 6..9
  // Deleting the group takes its subscription away (applied by shutdown at
  // the latest).
  REQUIRE(wait(s->groups().delete_group("g1")).ok());
  s.reset();
  const auto subs = run([&]() -> kwire_pulsar::awaitable<std::vector<std::string>> {
    kwire_pulsar::Admin admin(co_await boost::asio::this_coro::executor, web_url());
    co_return co_await admin.subscriptions("public/" + ns + "/t-partition-0");
  });
  CHECK(std::find(subs.begin(), subs.end(), "g1") == subs.end());
}

TEST_CASE("share partitions' state survives a restart and moves with the group's shard to another gateway") {
  const auto ns = unique("shares");
  using Key = st::SharePartitionKey;
  using Blob = std::vector<std::uint8_t>;
  auto loaded = [](st::Storage& s) {
    auto r = wait(s.share_states()->load_share_states());
    REQUIRE_MESSAGE(r.ok(), r.message);
    std::map<Key, Blob> out;
    for (auto& b : r.value) out[b.key] = b.data;
    return out;
  };
  st::TopicId id{};
  id[0] = 0xab;
  id[15] = 0x01;
  const Key k0{"sq", id, 0}, k1{"sq", id, 1};
  auto a = open_store("public", ns, "pulsar", "gw-a");
  REQUIRE(a->supports_share_groups());
  REQUIRE(wait(a->share_states()->store_share_state(k0, Blob{1})).ok());
  REQUIRE(wait(a->share_states()->store_share_state(k1, Blob{2})).ok());
  auto b = open_store("public", ns, "pulsar", "gw-b");
  CHECK(loaded(*b) == std::map<Key, Blob>{{k0, Blob{1}}, {k1, Blob{2}}});
  // The first gateway coordinates the group: the second one cannot write.
  CHECK(wait(b->share_states()->store_share_state(k1, Blob{9})).error == st::Errc::unavailable);
  REQUIRE(wait(a->share_states()->store_share_state(k0, Blob{3})).ok());
  a.reset();  // it goes away; the second one takes the shard over
  REQUIRE(wait(b->share_states()->store_share_state(k1, Blob{4})).ok());
  CHECK(loaded(*b) == std::map<Key, Blob>{{k0, Blob{3}}, {k1, Blob{4}}});
  REQUIRE(wait(b->share_states()->delete_share_state(k0)).ok());
  b.reset();
  auto c = open_store("public", ns, "pulsar", "gw-c");
  CHECK(loaded(*c) == std::map<Key, Blob>{{k1, Blob{4}}});
}

TEST_CASE("a namespace's storage sees only its own topics") {
  const auto tenant_a = unique("tena"), tenant_b = unique("tenb");
  auto a = open_store(tenant_a, "kafka");
  auto b = open_store(tenant_b, "kafka");
  create(*a, "secret", 1);
  CHECK(a->topics().find_topic("secret"));
  CHECK_FALSE(b->topics().find_topic("secret"));
  auto r = wait(b->open_log({"secret", 0}));
  CHECK(r.error == st::Errc::unknown_topic);
  auto list = wait(b->topics().list_topics());
  REQUIRE(list.ok());
  CHECK(list.value.empty());
}

TEST_CASE("a topic created or deleted while the catalog is listed stays as the gateway left it") {
  const auto ns = unique("listing");
  auto s = open_store("public", ns);
  auto& catalog = s->topics();
  // Some topics, so that a listing (one request per topic) outlasts a create.
  for (int i = 0; i < 6; ++i) create(*s, "base-" + std::to_string(i), 1);
  for (int round = 0; round < 6; ++round) {
    const auto name = "during-" + std::to_string(round);
    boost::asio::io_context io;
    int done = 0;
    auto count = [&done](std::exception_ptr e, auto r) {
      REQUIRE_FALSE(e);
      REQUIRE_MESSAGE(r.ok(), r.message);
      ++done;
    };
    // The listing starts first: what it lists predates the create.
    boost::asio::co_spawn(io, catalog.list_topics(), count);
    boost::asio::co_spawn(io, catalog.create_topic(st::NewTopic{name, 1, {}}), count);
    io.run();
    REQUIRE(done == 2);
    CHECK_MESSAGE(catalog.find_topic(name), name << " forgotten by a listing that began before it was created");
    io.restart();
    done = 0;
    boost::asio::co_spawn(io, catalog.list_topics(), count);
    boost::asio::co_spawn(io, catalog.delete_topic(name), count);
    io.run();
    REQUIRE(done == 2);
    CHECK_MESSAGE(!catalog.find_topic(name), name << " brought back by a listing that began before it was deleted");
  }
  auto list = wait(catalog.list_topics());
  REQUIRE(list.ok());
  CHECK(list.value.size() == 6);
}

TEST_CASE("batches past what Pulsar stores are refused before they reach it; the offsets go to the next batch") {
  const auto ns = unique("ns");
  auto s = open_store("public", ns);
  create(*s, "big", 1);
  auto log = open_log(*s, "big", 0);
  // A standalone's broker takes 5 MiB messages, its bookie 5 MiB frames.
  const auto limit = s->max_batch_bytes();
  MESSAGE("max batch bytes: " << limit);
  CHECK(limit > 5 * 1024 * 1024 - 64 * 1024);
  CHECK(limit < 5 * 1024 * 1024);

  auto append = [&](std::vector<std::uint8_t> batch) {
    return wait(log->append(validated(std::move(batch))));
  };
  // One record past the limit.
  auto r = append(make_batch({{"k", std::string(static_cast<std::size_t>(limit), 'x'), 1700000000000, {}}}));
  CHECK(r.error == st::Errc::batch_too_large);
  // Within the limit as a Kafka batch, past it as a Pulsar entry: many empty
  // records, each a few bytes in Kafka and more as Pulsar message metadata.
  std::vector<Rec> tiny(450000, Rec{"", "", 1700000000000, {}});
  auto many = make_batch(tiny);
  REQUIRE(static_cast<std::int64_t>(many.size()) <= limit);
  REQUIRE(sp::encoded_size(sp::kafka_to_entry(many, sp::EntryFormat::pulsar)) > 5 * 1024 * 1024);
  r = append(std::move(many));
  CHECK(r.error == st::Errc::batch_too_large);
  CHECK(log->offsets().high_watermark == 0);

  // The refused batches took no offsets; one just under the limit is stored.
  const std::string near(static_cast<std::size_t>(limit - 200), 'n');
  r = append(make_batch({{"k", near, 1700000000000, {}}}));
  REQUIRE_MESSAGE(r.ok(), r.message);
  CHECK(r.value.base_offset == 0);
  r = append(make_batch({{"k", "after", 1700000000001, {}}}));
  REQUIRE_MESSAGE(r.ok(), r.message);
  CHECK(r.value.base_offset == 1);
  auto all = records_of(read_at(*log, 0, 8 << 20).bytes);
  REQUIRE(all.size() == 2);
  CHECK(all[0].value == near);
  CHECK(all[1].offset == 1);
  CHECK(all[1].value == "after");
}

TEST_CASE("appends started together get offsets in the order they started, and are awaited later") {
  const auto ns = unique("order");
  auto s = open_store("public", ns);
  create(*s, "t", 1);
  auto log = open_log(*s, "t", 0);
  constexpr int n = 40;
  std::vector<st::Result<st::AppendResult>> results(n);
  boost::asio::io_context io;
  // Every append starts (and takes its place) before any of them completes:
  // the caller pipelines them as a produce request with many batches does.
  for (int i = 0; i < n; ++i) {
    std::vector<Rec> recs(static_cast<std::size_t>(1 + i % 3), Rec{"k", std::to_string(i), 1700000000000 + i, {}});
    boost::asio::co_spawn(io, log->append(validated(make_batch(recs))),
                          [&results, i](std::exception_ptr e, st::Result<st::AppendResult> r) {
                            REQUIRE_FALSE(e);
                            results[static_cast<std::size_t>(i)] = std::move(r);
                          });
  }
  io.run();
  std::int64_t expected = 0;
  for (int i = 0; i < n; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    REQUIRE_MESSAGE(r.ok(), r.message);
    CHECK(r.value.base_offset == expected);
    expected = r.value.last_offset + 1;
  }
  CHECK(log->offsets().high_watermark == expected);
  std::vector<ReadRecord> all;
  for (std::int64_t at = 0; at < expected;) {
    auto recs = records_of(read_at(*log, at).bytes);
    REQUIRE_FALSE(recs.empty());
    all.insert(all.end(), recs.begin(), recs.end());
    at = recs.back().offset + 1;
  }
  REQUIRE(all.size() == static_cast<std::size_t>(expected));
  std::size_t k = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < 1 + i % 3; ++j) CHECK(all[k++].value == std::to_string(i));
}

TEST_CASE("after close every call fails with closed") {
  const auto ns = unique("closed");
  auto s = open_store("public", ns);
  create(*s, "t", 1);
  auto log = open_log(*s, "t", 0);
  REQUIRE(wait(log->append(validated(make_batch({{"k", "v", 1, {}}})))).ok());
  REQUIRE(wait(s->close()).ok());
  CHECK(wait(log->append(validated(make_batch({{"k", "w", 2, {}}})))).error == st::Errc::closed);
  st::ReadOptions o;
  CHECK(wait(log->read(o)).error == st::Errc::closed);
  CHECK(wait(s->topics().list_topics()).error == st::Errc::closed);
  CHECK(wait(s->groups().fetch_offsets("g")).error == st::Errc::closed);
  CHECK(wait(s->open_log({"t", 0})).error == st::Errc::closed);
}
