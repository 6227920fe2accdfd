// Kafka transactions on the Pulsar storage, against the test standalone,
// beyond the storage contract: in both entry formats, what a partition
// keeps of its transactions is found again by a storage opened later (a
// restart, or another gateway): the open transactions (the last stable
// offset, the producer table's checks), also one opened long before the
// log's tail, and the aborted-transactions index; markers read back as
// Kafka control batches; and what a native Pulsar reader is handed.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/this_coro.hpp>

#include "kwire_pulsar/client.hpp"
#include "pulsar_env.hpp"
#include "storage/pulsar/entry_format.hpp"
#include "storage/pulsar/open.hpp"
#include "storage_contract_support.hpp"

namespace st = kwire_broker::storage;
namespace sp = kwire_broker::storage::pulsar;
using namespace kwire_broker::storage::contract;

namespace {

std::unique_ptr<st::Storage> open_store(const std::string& ns, const std::string& format) {
  std::map<std::string, std::string> s{{"pulsarServiceUrl", pulsar_test::service_url()},
                                       {"pulsarWebServiceUrl", pulsar_test::web_url()},
                                       {"kafkaTenant", "public"},
                                       {"kafkaNamespace", ns},
                                       {"entryFormat", format},
                                       {"offsetsTopicNumPartitions", "2"}};
  return sp::open(s);
}

std::shared_ptr<st::PartitionLog> open_log(st::Storage& s, const std::string& topic) {
  auto r = run(s.open_log({topic, 0}));
  REQUIRE_MESSAGE(r.ok(), r.message);
  return r.value;
}

st::ReadResult read_log(st::PartitionLog& log, std::int64_t offset, bool read_committed) {
  st::ReadOptions o;
  o.offset = offset;
  o.read_committed = read_committed;
  auto r = run(log.read(o));
  REQUIRE_MESSAGE(r.ok(), r.message);
  return r.value;
}

/// The batches of a read as views (base offset order), CRCs checked.
std::vector<kwire::RecordBatchView> views_of(const std::vector<std::uint8_t>& bytes) {
  std::vector<kwire::RecordBatchView> out;
  kwire::RecordSetReader rs{kwire::bytes_view(bytes)};
  kwire::RecordBatchView b;
  while (rs.next(b)) {
    CHECK(b.crc_valid());
    out.push_back(b);
  }
  return out;
}

}  // namespace

TEST_CASE("transactions survive a restart of the storage, in both entry formats") {
  for (const std::string format : {"pulsar", "kafka"}) {
    CAPTURE(format);
    const auto ns = pulsar_test::unique("txn-" + format);
    {
      auto s = open_store(ns, format);
      REQUIRE(s->supports_transactions());
      REQUIRE(run(s->topics().create_topic({"t", 1, {}})).ok());
      auto log = open_log(*s, "t");
      REQUIRE(run(log->append(make_batch(1))).ok());                    // 0
      REQUIRE(run(log->append(txn_batch(7, 0, 0, 2, "a"))).ok());       // 1-2
      REQUIRE(run(log->append(txn_batch(8, 0, 0, 1, "b"))).ok());       // 3
      REQUIRE(run(log->append_marker(marker(7, 0, false, 4))).ok());    // 4: abort
      REQUIRE(run(log->append(txn_batch(9, 0, 0, 1, "c"))).ok());       // 5
      REQUIRE(run(log->append_marker(marker(9, 0, true, 4))).ok());     // 6: commit
      REQUIRE(run(log->append(make_batch(2500))).ok());                 // 7-2506: past the tail read at opening
      CHECK(log->offsets().last_stable == 3);
      CHECK(log->offsets().high_watermark == 2507);
    }
    auto s = open_store(ns, format);
    auto log = open_log(*s, "t");
    // Producer 8's transaction, opened 2500 offsets before the end, is still
    // open: it holds the last stable offset, and a plain write of its
    // producer is refused.
    CHECK(log->offsets().high_watermark == 2507);
    CHECK(log->offsets().last_stable == 3);
    BatchSpec plain;
    plain.producer_id = 8;
    plain.producer_epoch = 0;
    plain.base_sequence = 1;
    CHECK(run(log->append(make_batch(plain))).error == st::Errc::invalid_txn_state);

    auto committed = read_log(*log, 0, true);
    CHECK(committed.next_offset == 3);
    CHECK(committed.aborted == std::vector<st::AbortedTxn>{{7, 1, 4}});
    CHECK(run(log->aborted_transactions(0, 2507)).value == std::vector<st::AbortedTxn>{{7, 1, 4}});
    CHECK(run(log->aborted_transactions(5, 2507)).value.empty());

    // The markers read back as Kafka's control batches, the transactional
    // batches as transactional.
    auto all = views_of(read_log(*log, 0, false).bytes);
    REQUIRE(all.size() >= 7);
    CHECK_FALSE(all[0].is_transactional());
    CHECK(all[1].is_transactional());
    CHECK(all[1].producer_id() == 7);
    CHECK(all[2].is_transactional());
    CHECK(all[3].base_offset() == 4);
    CHECK(all[3].is_control());
    CHECK(all[3].is_transactional());
    CHECK(all[3].producer_id() == 7);
    auto records = all[3].records();
    kwire::RecordView r;
    REQUIRE(records.next(r));
    CHECK(kwire::parse_control_key(r.key)->control_type() == kwire::ControlType::abort);
    CHECK(kwire::parse_end_txn_marker(r.value)->coordinator_epoch == 4);
    CHECK(all[5].is_control());
    CHECK(all[5].base_offset() == 6);

    // Ending the open transaction releases the last stable offset; one more
    // restart finds nothing open.
    REQUIRE(run(log->append_marker(marker(8, 0, true, 4))).ok());  // 2507
    CHECK(log->offsets().last_stable == 2508);
    log.reset();
    s.reset();
    s = open_store(ns, format);
    log = open_log(*s, "t");
    CHECK(log->offsets().last_stable == 2508);
    CHECK(read_log(*log, 0, true).aborted == std::vector<st::AbortedTxn>{{7, 1, 4}});
  }
}

TEST_CASE("a native Pulsar reader sees markers as messages without payload, marked kwire.control") {
  const auto ns = pulsar_test::unique("txn-native");
  auto s = open_store(ns, "pulsar");
  REQUIRE(run(s->topics().create_topic({"t", 1, {}})).ok());
  auto log = open_log(*s, "t");
  REQUIRE(run(log->append(txn_batch(7, 0, 0, 1, "x"))).ok());
  REQUIRE(run(log->append_marker(marker(7, 0, false, 2))).ok());
  auto messages = pulsar_test::run([&]() -> kwire_pulsar::awaitable<std::vector<kwire_pulsar::Message>> {
    kwire_pulsar::ClientOptions o;
    o.service_url = pulsar_test::service_url();
    auto c = kwire_pulsar::Client::create(co_await boost::asio::this_coro::executor, o);
    auto reader = co_await c->create_reader("persistent://public/" + ns + "/t-partition-0",
                                            kwire_pulsar::MessageId::earliest(), 10);
    std::vector<kwire_pulsar::Message> out;
    for (int i = 0; i < 2; ++i) {
      auto e = co_await reader->receive_entry(std::chrono::seconds(30));
      if (!e) break;
      for (auto& m : kwire_pulsar::entry_messages(*e)) out.push_back(std::move(m));
    }
    co_await reader->close();
    c->close();
    co_return out;
  });
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].value == "x-0");
  CHECK(messages[1].value.empty());
  std::map<std::string, std::string> props(messages[1].properties.begin(), messages[1].properties.end());
  CHECK(props["kwire.control"] == "abort");
  CHECK(props["kwire.producer.id"] == "7");
  CHECK(props["kwire.txn.first"] == "0");
}
