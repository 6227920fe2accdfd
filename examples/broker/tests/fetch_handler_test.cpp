// Fetch through the broker's dispatch (Broker::handle) on an embedded store,
// without sockets: record sets leave as regions of the ledger files, a reply
// being written outlives the ledgers it reads, and incremental fetch sessions
// (KIP-227) carry only what changed.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/delete_records_request.hpp"
#include "kwire/messages/delete_records_response.hpp"
#include "kwire/messages/delete_topics_request.hpp"
#include "kwire/messages/delete_topics_response.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/records/records.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

using kwire::ErrorCode;
using kwire_broker::Reply;
using kwire_broker::ReplyPiece;
using kwire_broker::testing::InProcessBroker;

namespace {

struct Fixture {
  explicit Fixture(std::map<std::string, std::string> overrides = {}) : broker(dir.path, overrides) {}
  kwire_broker::testing::TempDir dir{"kwire-fetch"};
  InProcessBroker broker;

  kwire::Uuid create_topic(std::string_view name, std::int32_t partitions, std::string_view segment_bytes = "") {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    if (!segment_bytes.empty()) {
      auto& c = t.configs.emplace_back();
      c.name = "segment.bytes";
      c.value = segment_bytes;
    }
    auto resp = broker.call<kwire::CreateTopicsResponse>(req, 7);
    REQUIRE(resp.topics.at(0).error_code == ErrorCode::None);
    return resp.topics[0].topic_id;
  }

  void produce(std::string_view topic, std::int32_t partition, int records, const std::string& tag) {
    kwire::RecordBatchBuilder b;
    std::vector<std::string> values;
    for (int i = 0; i < records; ++i) values.push_back(tag + "-" + std::to_string(i));
    for (auto& v : values) b.append(1000, std::nullopt, kwire::as_bytes(v));
    auto batch = b.build();
    kwire::ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& td = req.topic_data.emplace_back();
    td.name = topic;
    auto& pd = td.partition_data.emplace_back();
    pd.index = partition;
    pd.records = kwire::bytes_view(batch);
    auto resp = broker.call<kwire::ProduceResponse>(req, 11);
    REQUIRE(resp.responses.at(0).partition_responses.at(0).error_code == ErrorCode::None);
  }
};

/// A fetch of `topic` partitions {partition: offset}, in a session or not.
kwire::FetchRequest fetch_request(std::string_view topic, const std::map<std::int32_t, std::int64_t>& partitions,
                                  std::int32_t session_id = 0, std::int32_t epoch = -1) {
  kwire::FetchRequest req;
  req.max_wait_ms = 0;
  req.min_bytes = 0;
  req.max_bytes = 1 << 20;
  req.session_id = session_id;
  req.session_epoch = epoch;
  if (!partitions.empty()) {
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    for (auto [p, offset] : partitions) {
      auto& fp = t.partitions.emplace_back();
      fp.partition = p;
      fp.fetch_offset = offset;
      fp.partition_max_bytes = 1 << 20;
    }
  }
  return req;
}

std::vector<std::string> values_in(const kwire::records_view& records) {
  std::vector<std::string> out;
  kwire::RecordSetReader rs(kwire::records_bytes(records));
  kwire::RecordBatchView batch;
  while (rs.next(batch)) {
    REQUIRE(batch.crc_valid());
    auto reader = batch.records();
    kwire::RecordView r;
    while (reader.next(r)) out.emplace_back(reinterpret_cast<const char*>(r.value->data()), r.value->size());
  }
  return out;
}

/// partition -> number of records, for every partition a response carries.
std::map<std::int32_t, std::size_t> carried(const kwire::FetchResponse& resp) {
  std::map<std::int32_t, std::size_t> out;
  for (auto& t : resp.responses)
    for (auto& p : t.partitions) out[p.partition_index] = values_in(p.records).size();
  return out;
}

}  // namespace

TEST_CASE("record sets leave as regions of the ledger files") {
  Fixture f;
  f.create_topic("t", 1);
  for (int i = 0; i < 3; ++i) f.produce("t", 0, 2, "v" + std::to_string(i));
  auto reply = f.broker.handle_frame(InProcessBroker::request_frame(fetch_request("t", {{0, 0}}), 12, 1));
  REQUIRE(reply.kind == Reply::Kind::respond);
  std::size_t file_bytes = 0;
  for (auto& p : reply.pieces)
    if (p.kind == ReplyPiece::Kind::file) file_bytes += p.size;
  CHECK(file_bytes > 0);
  CHECK(reply.frame.size() + file_bytes == reply.size());  // the rest is what the encoder wrote
  auto frame = kwire_broker::flatten(reply);
  kwire::FetchResponse resp;
  InProcessBroker::decode_response(resp, frame, 12);
  auto& pd = resp.responses.at(0).partitions.at(0);
  CHECK(pd.records->size() == file_bytes);
  CHECK(values_in(pd.records) == std::vector<std::string>{"v0-0", "v0-1", "v1-0", "v1-1", "v2-0", "v2-1"});
}

TEST_CASE("a reply being written outlives the ledgers it reads") {
  Fixture f;
  f.create_topic("gone", 1, "200");  // a ledger every few batches
  for (int i = 0; i < 8; ++i) f.produce("gone", 0, 2, "v" + std::to_string(i));
  auto reply = f.broker.handle_frame(InProcessBroker::request_frame(fetch_request("gone", {{0, 0}}), 12, 1));
  const auto before = kwire_broker::flatten(reply);
  kwire::DeleteRecordsRequest del;
  auto& dt = del.topics.emplace_back();
  dt.name = "gone";
  dt.partitions.emplace_back().offset = -1;  // everything: the ledgers go
  CHECK(f.broker.call<kwire::DeleteRecordsResponse>(del, 2).topics.at(0).partitions.at(0).error_code == ErrorCode::None);
  kwire::DeleteTopicsRequest dtr;
  dtr.topic_names.push_back("gone");
  CHECK(f.broker.call<kwire::DeleteTopicsResponse>(dtr, 5).responses.at(0).error_code == ErrorCode::None);
  CHECK(kwire_broker::flatten(reply) == before);
  kwire::FetchResponse resp;
  InProcessBroker::decode_response(resp, before, 12);
  CHECK(values_in(resp.responses.at(0).partitions.at(0).records).size() == 16);
}

TEST_CASE("a fetch session: the full fetch opens it, incremental fetches carry what changed") {
  Fixture f;
  f.create_topic("s", 3);
  f.produce("s", 0, 2, "a");
  auto full = f.broker.call<kwire::FetchResponse>(fetch_request("s", {{0, 0}, {1, 0}, {2, 0}}, 0, 0), 12);
  CHECK(full.error_code == ErrorCode::None);
  const auto id = full.session_id;
  REQUIRE(id > 0);
  CHECK(carried(full) == std::map<std::int32_t, std::size_t>{{0, 2}, {1, 0}, {2, 0}});
  // The client moves partition 0's offset on; nothing new anywhere.
  auto r = f.broker.call<kwire::FetchResponse>(fetch_request("s", {{0, 2}}, id, 1), 12);
  CHECK(r.session_id == id);
  CHECK(r.responses.empty());
  // Records on partition 1: only it is carried, read from the session's offset.
  f.produce("s", 1, 3, "b");
  r = f.broker.call<kwire::FetchResponse>(fetch_request("s", {}, id, 2), 12);
  CHECK(carried(r) == std::map<std::int32_t, std::size_t>{{1, 3}});
  // Partition 1 forgotten: new records there are not fetched.
  auto forget = fetch_request("s", {{1, 3}}, id, 3);
  forget.topics.clear();
  auto& ft = forget.forgotten_topics_data.emplace_back();
  ft.topic = "s";
  ft.partitions.push_back(1);
  r = f.broker.call<kwire::FetchResponse>(forget, 12);
  CHECK(r.responses.empty());
  f.produce("s", 1, 1, "c");
  f.produce("s", 2, 1, "d");
  r = f.broker.call<kwire::FetchResponse>(fetch_request("s", {}, id, 4), 12);
  CHECK(carried(r) == std::map<std::int32_t, std::size_t>{{2, 1}});
  // Errors end nothing but the request.
  r = f.broker.call<kwire::FetchResponse>(fetch_request("s", {}, id, 4), 12);
  CHECK(r.error_code == ErrorCode::InvalidFetchSessionEpoch);
  CHECK(r.session_id == 0);
  r = f.broker.call<kwire::FetchResponse>(fetch_request("s", {}, id + 1, 1), 12);
  CHECK(r.error_code == ErrorCode::FetchSessionIdNotFound);
  r = f.broker.call<kwire::FetchResponse>(fetch_request("s", {}, id, 5), 13);
  CHECK(r.error_code == ErrorCode::FetchSessionTopicIdError);
  CHECK(f.broker.broker().metrics().incremental_fetches.load() == 4);
  CHECK(f.broker.broker().fetch_sessions().sessions() == 1);
  // Epoch -1 closes it.
  r = f.broker.call<kwire::FetchResponse>(fetch_request("s", {{0, 0}}, id, -1), 12);
  CHECK(r.session_id == 0);
  CHECK(f.broker.broker().fetch_sessions().sessions() == 0);
}

TEST_CASE("Fetch v13+: sessions by topic id; unknown ids answered UNKNOWN_TOPIC_ID") {
  Fixture f;
  auto id = f.create_topic("ids", 2);
  f.produce("ids", 1, 2, "x");
  auto req = fetch_request("", {{0, 0}, {1, 0}}, 0, 0);
  req.topics[0].topic_id = id;
  auto full = f.broker.call<kwire::FetchResponse>(req, 16);
  REQUIRE(full.session_id > 0);
  REQUIRE(full.responses.size() == 1);
  CHECK(full.responses[0].topic_id == id);
  CHECK(carried(full) == std::map<std::int32_t, std::size_t>{{0, 0}, {1, 2}});
  f.produce("ids", 0, 1, "y");
  auto inc = f.broker.call<kwire::FetchResponse>(fetch_request("", {}, full.session_id, 1), 16);
  REQUIRE(inc.responses.size() == 1);
  CHECK(inc.responses[0].topic_id == id);
  // Partition 1 is at offset 0 in the session still: its records come again.
  CHECK(carried(inc) == std::map<std::int32_t, std::size_t>{{0, 1}, {1, 2}});
  auto unknown = fetch_request("", {{0, 0}}, 0, -1);
  unknown.topics[0].topic_id.bytes[3] = 0x5a;
  auto u = f.broker.call<kwire::FetchResponse>(unknown, 16);
  CHECK(u.responses.at(0).partitions.at(0).error_code == ErrorCode::UnknownTopicId);
}

TEST_CASE("max.incremental.fetch.session.cache.slots=0: full fetches get no session") {
  Fixture f(std::map<std::string, std::string>{{"max.incremental.fetch.session.cache.slots", "0"}});
  f.create_topic("t", 1);
  auto r = f.broker.call<kwire::FetchResponse>(fetch_request("t", {{0, 0}}, 0, 0), 12);
  CHECK(r.error_code == ErrorCode::None);
  CHECK(r.session_id == 0);
  CHECK(r.responses.at(0).partitions.size() == 1);
}
