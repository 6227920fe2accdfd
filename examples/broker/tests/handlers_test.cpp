// Protocol handlers below the wire: requests encoded with kwire go through the
// broker's dispatch to the embedded store in a temporary directory, and the
// decoded responses are checked field by field. No sockets, no client library.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "kwire/messages/api_versions_request.hpp"
#include "kwire/messages/alter_user_scram_credentials_request.hpp"
#include "kwire/messages/alter_user_scram_credentials_response.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/delete_records_request.hpp"
#include "kwire/messages/delete_records_response.hpp"
#include "kwire/messages/describe_user_scram_credentials_request.hpp"
#include "kwire/messages/describe_user_scram_credentials_response.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/list_offsets_request.hpp"
#include "kwire/messages/list_offsets_response.hpp"
#include "kwire/messages/metadata_request.hpp"
#include "kwire/messages/metadata_response.hpp"
#include "kwire/messages/offset_commit_request.hpp"
#include "kwire/messages/offset_commit_response.hpp"
#include "kwire/messages/offset_fetch_request.hpp"
#include "kwire/messages/offset_fetch_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/records/records.hpp"
#include "support/in_process_broker.hpp"

namespace fs = std::filesystem;
using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;

namespace {

/// Error codes as kwire::ErrorCode, whatever integer type a message holds them in.
template <class E>
ErrorCode code(E e) {
  return static_cast<ErrorCode>(e);
}

using TempDir = kwire_broker::testing::TempDir;

struct Fixture {
  TempDir dir{"kwire-handlers"};
  InProcessBroker broker{dir.path};

  ErrorCode create_topic(std::string_view name, std::int32_t partitions = 1) {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    auto resp = broker.call<kwire::CreateTopicsResponse>(req, 7);
    REQUIRE(resp.topics.size() == 1);
    return code(resp.topics[0].error_code);
  }

  kwire::ProduceResponse::PartitionProduceResponse produce(std::string_view topic, const std::vector<std::uint8_t>& batch,
                                                           std::int32_t partition = 0) {
    kwire::ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& td = req.topic_data.emplace_back();
    td.name = topic;
    auto& pd = td.partition_data.emplace_back();
    pd.index = partition;
    pd.records = kwire::bytes_view(batch);
    auto resp = broker.call<kwire::ProduceResponse>(req, 11);
    REQUIRE(resp.responses.size() == 1);
    REQUIRE(resp.responses[0].partition_responses.size() == 1);
    return resp.responses[0].partition_responses[0];
  }

  kwire::FetchResponse::PartitionData fetch(std::string_view topic, std::int64_t offset) {
    kwire::FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    auto resp = broker.call<kwire::FetchResponse>(req, 12);
    REQUIRE(resp.responses.size() == 1);
    REQUIRE(resp.responses[0].partitions.size() == 1);
    return resp.responses[0].partitions[0];
  }

  kwire::ListOffsetsResponse::ListOffsetsPartitionResponse list_offset(std::string_view topic, std::int64_t timestamp) {
    kwire::ListOffsetsRequest req;
    req.replica_id = -1;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    p.timestamp = timestamp;
    auto resp = broker.call<kwire::ListOffsetsResponse>(req, 7);
    REQUIRE(resp.topics.size() == 1);
    REQUIRE(resp.topics[0].partitions.size() == 1);
    return resp.topics[0].partitions[0];
  }
};

/// A producer batch of `n` records "value-<i>" with timestamps ts, ts+1, ...
std::vector<std::uint8_t> batch_of(int n, std::int64_t ts, kwire::RecordBatchOptions options = {}) {
  kwire::RecordBatchBuilder b(options);
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back("value-" + std::to_string(i));
  for (int i = 0; i < n; ++i) b.append(ts + i, std::nullopt, kwire::as_bytes(values[static_cast<std::size_t>(i)]));
  return b.build();
}

/// The values of every record in `records` (whole batches), in order.
std::vector<std::string> values_in(kwire::bytes_view records) {
  std::vector<std::string> out;
  while (!records.empty()) {
    auto batch = kwire::RecordBatchView::parse(records);
    REQUIRE(batch);
    REQUIRE(batch->crc_valid());
    auto reader = batch->records();
    kwire::RecordView r;
    while (reader.next(r)) out.emplace_back(reinterpret_cast<const char*>(r.value->data()), r.value->size());
    REQUIRE(reader.ok());
    records = records.subspan(batch->size());
  }
  return out;
}

}  // namespace

TEST_CASE("ApiVersions lists Produce from v0 and Fetch up to v18") {
  Fixture f;
  kwire::ApiVersionsRequest req;
  req.client_software_name = "kwire-test";
  req.client_software_version = "1";
  auto resp = f.broker.call<kwire::ApiVersionsResponse>(req, 3);
  CHECK(code(resp.error_code) == ErrorCode::None);
  bool produce = false, fetch = false;
  for (auto& k : resp.api_keys) {
    if (k.api_key == 0) produce = k.min_version == 0 && k.max_version == 13;
    if (k.api_key == 1) fetch = k.max_version == 18;
  }
  CHECK(produce);
  CHECK(fetch);
}

TEST_CASE("CreateTopics and Metadata") {
  Fixture f;
  CHECK(f.create_topic("orders", 3) == ErrorCode::None);
  CHECK(f.create_topic("orders", 3) == ErrorCode::TopicAlreadyExists);
  CHECK(f.create_topic("bad/name") == ErrorCode::InvalidTopicException);

  kwire::MetadataRequest req;
  req.topics.emplace();
  req.topics->emplace_back().name = std::string_view("orders");
  req.allow_auto_topic_creation = false;
  auto resp = f.broker.call<kwire::MetadataResponse>(req, 12);
  REQUIRE(resp.topics.size() == 1);
  CHECK(code(resp.topics[0].error_code) == ErrorCode::None);
  CHECK(resp.topics[0].partitions.size() == 3);
  CHECK(resp.brokers.size() == 1);

  kwire::MetadataRequest unknown;
  unknown.topics.emplace();
  unknown.topics->emplace_back().name = std::string_view("missing");
  unknown.allow_auto_topic_creation = false;
  auto r2 = f.broker.call<kwire::MetadataResponse>(unknown, 12);
  REQUIRE(r2.topics.size() == 1);
  CHECK(code(r2.topics[0].error_code) == ErrorCode::UnknownTopicOrPartition);
}

TEST_CASE("CreateTopics naming a topic twice creates it under neither entry and answers INVALID_REQUEST once") {
  Fixture f;
  kwire::CreateTopicsRequest req;
  for (auto name : {"a", "b", "b"}) {
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = 1;
    t.replication_factor = 1;
  }
  auto resp = f.broker.call<kwire::CreateTopicsResponse>(req, 7);
  REQUIRE(resp.topics.size() == 2);
  CHECK(resp.topics[0].name == std::string_view("a"));
  CHECK(code(resp.topics[0].error_code) == ErrorCode::None);
  CHECK(resp.topics[1].name == std::string_view("b"));
  CHECK(code(resp.topics[1].error_code) == ErrorCode::InvalidRequest);

  kwire::MetadataRequest meta;
  meta.topics.emplace();
  meta.topics->emplace_back().name = std::string_view("b");
  meta.allow_auto_topic_creation = false;
  auto m = f.broker.call<kwire::MetadataResponse>(meta, 12);
  REQUIRE(m.topics.size() == 1);
  CHECK(code(m.topics[0].error_code) == ErrorCode::UnknownTopicOrPartition);
}

TEST_CASE("AlterUserScramCredentials takes a salted password of any length, as Kafka does, and refuses empty ones") {
  Fixture f;
  auto upsert = [&](std::string_view salted, std::int32_t iterations = 8192) {
    kwire::AlterUserScramCredentialsRequest req;
    auto& u = req.upsertions.emplace_back();
    u.name = "alice";
    u.mechanism = 2;  // SCRAM-SHA-512
    u.iterations = iterations;
    static const std::string salt = "my-salt";
    u.salt = kwire::as_bytes(salt);
    u.salted_password = kwire::as_bytes(salted);
    auto resp = f.broker.call<kwire::AlterUserScramCredentialsResponse>(req, 0);
    REQUIRE(resp.results.size() == 1);
    return code(resp.results[0].error_code);
  };
  static const std::string short_one = "my-salted-password", empty;
  CHECK(upsert(short_one) == ErrorCode::None);
  CHECK(upsert(empty) == ErrorCode::UnacceptableCredential);
  CHECK(upsert(short_one, 1000) == ErrorCode::UnacceptableCredential);  // below SCRAM's 4096 iterations

  kwire::DescribeUserScramCredentialsRequest dreq;
  dreq.users.emplace().emplace_back().name = "alice";
  auto d = f.broker.call<kwire::DescribeUserScramCredentialsResponse>(dreq, 0);
  REQUIRE(d.results.size() == 1);
  CHECK(code(d.results[0].error_code) == ErrorCode::None);
  REQUIRE(d.results[0].credential_infos.size() == 1);
  CHECK(d.results[0].credential_infos[0].mechanism == 2);
  CHECK(d.results[0].credential_infos[0].iterations == 8192);
}

TEST_CASE("Produce assigns offsets in order and Fetch returns the records") {
  Fixture f;
  REQUIRE(f.create_topic("t") == ErrorCode::None);
  auto a = f.produce("t", batch_of(3, 1000));
  CHECK(code(a.error_code) == ErrorCode::None);
  CHECK(a.base_offset == 0);
  auto b = f.produce("t", batch_of(2, 2000));
  CHECK(code(b.error_code) == ErrorCode::None);
  CHECK(b.base_offset == 3);

  auto p = f.fetch("t", 0);
  CHECK(code(p.error_code) == ErrorCode::None);
  CHECK(p.high_watermark == 5);
  REQUIRE(p.records);
  CHECK(values_in(*p.records) == std::vector<std::string>{"value-0", "value-1", "value-2", "value-0", "value-1"});

  // Fetching at the high watermark returns nothing; past it is out of range.
  auto at_end = f.fetch("t", 5);
  CHECK(code(at_end.error_code) == ErrorCode::None);
  CHECK((!at_end.records || at_end.records->empty()));
  CHECK(code(f.fetch("t", 6).error_code) == ErrorCode::OffsetOutOfRange);
}

TEST_CASE("a batch whose CRC does not match is refused and nothing is stored") {
  Fixture f;
  REQUIRE(f.create_topic("t") == ErrorCode::None);
  auto batch = batch_of(2, 1000);
  batch.back() ^= 0x01;  // a flipped bit in the last record's value
  CHECK(code(f.produce("t", batch).error_code) == ErrorCode::CorruptMessage);
  CHECK(f.list_offset("t", -1).offset == 0);
}

TEST_CASE("Produce to a topic that does not exist, and to the internal offsets topic") {
  Fixture f;
  CHECK(code(f.produce("missing", batch_of(1, 1000)).error_code) == ErrorCode::UnknownTopicOrPartition);
  CHECK(code(f.produce("__consumer_offsets", batch_of(1, 1000)).error_code) == ErrorCode::InvalidTopicException);
}

TEST_CASE("an idempotent retry is answered with the original offsets and stored once") {
  Fixture f;
  REQUIRE(f.create_topic("t") == ErrorCode::None);
  kwire::RecordBatchOptions o;
  o.producer_id = 1000;
  o.producer_epoch = 0;
  o.base_sequence = 0;
  auto first = f.produce("t", batch_of(2, 1000, o));
  REQUIRE(code(first.error_code) == ErrorCode::None);
  auto retry = f.produce("t", batch_of(2, 1000, o));
  CHECK(code(retry.error_code) == ErrorCode::None);
  CHECK(retry.base_offset == first.base_offset);
  CHECK(f.list_offset("t", -1).offset == 2);

  o.base_sequence = 5;  // a gap
  CHECK(code(f.produce("t", batch_of(1, 1000, o)).error_code) == ErrorCode::OutOfOrderSequenceNumber);
}

TEST_CASE("ListOffsets: earliest, latest, by timestamp; DeleteRecords moves the start") {
  Fixture f;
  REQUIRE(f.create_topic("t") == ErrorCode::None);
  f.produce("t", batch_of(3, 1000));  // offsets 0-2, timestamps 1000-1002
  f.produce("t", batch_of(3, 2000));  // offsets 3-5, timestamps 2000-2002
  CHECK(f.list_offset("t", -2).offset == 0);
  CHECK(f.list_offset("t", -1).offset == 6);
  auto by_time = f.list_offset("t", 1001);
  CHECK(by_time.offset == 1);
  CHECK(by_time.timestamp == 1001);
  CHECK(f.list_offset("t", 2001).offset == 4);
  CHECK(f.list_offset("t", 9999).offset == -1);

  kwire::DeleteRecordsRequest del;
  del.timeout_ms = 1000;
  auto& dt = del.topics.emplace_back();
  dt.name = "t";
  auto& dp = dt.partitions.emplace_back();
  dp.partition_index = 0;
  dp.offset = 4;
  auto dr = f.broker.call<kwire::DeleteRecordsResponse>(del, 2);
  REQUIRE(dr.topics.size() == 1);
  CHECK(code(dr.topics[0].partitions[0].error_code) == ErrorCode::None);
  CHECK(dr.topics[0].partitions[0].low_watermark == 4);
  CHECK(f.list_offset("t", -2).offset == 4);
  CHECK(code(f.fetch("t", 2).error_code) == ErrorCode::OffsetOutOfRange);
}

TEST_CASE("OffsetCommit outside a group membership, then OffsetFetch") {
  Fixture f;
  REQUIRE(f.create_topic("t") == ErrorCode::None);
  kwire::OffsetCommitRequest commit;
  commit.group_id = "g";
  auto& ct = commit.topics.emplace_back();
  ct.name = "t";
  auto& cp = ct.partitions.emplace_back();
  cp.partition_index = 0;
  cp.committed_offset = 42;
  cp.committed_metadata = std::string_view("meta");
  auto cr = f.broker.call<kwire::OffsetCommitResponse>(commit, 8);
  REQUIRE(cr.topics.size() == 1);
  CHECK(code(cr.topics[0].partitions[0].error_code) == ErrorCode::None);

  kwire::OffsetFetchRequest fetch;
  fetch.group_id = "g";
  fetch.topics.emplace();
  auto& ft = fetch.topics->emplace_back();
  ft.name = "t";
  ft.partition_indexes.push_back(0);
  auto fr = f.broker.call<kwire::OffsetFetchResponse>(fetch, 7);
  CHECK(code(fr.error_code) == ErrorCode::None);
  REQUIRE(fr.topics.size() == 1);
  REQUIRE(fr.topics[0].partitions.size() == 1);
  CHECK(fr.topics[0].partitions[0].committed_offset == 42);
  CHECK(fr.topics[0].partitions[0].metadata == std::string_view("meta"));
}
