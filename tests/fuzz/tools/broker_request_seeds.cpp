// Writes the broker_request fuzz target's seeds: short request sequences for
// the main APIs, encoded with kwire, frames joined by the target's separator.
// Not built by CMake (tests/fuzz builds every *.cpp beside its CMakeLists as a
// target); from the repository root:
//   clang++ -std=c++20 -Iinclude tests/fuzz/tools/broker_request_seeds.cpp -o seeds
//   ./seeds tests/fuzz/corpus/broker_request
// Keep `separator` equal to broker_request.cpp's.
#include <climits>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kwire/framing/request.hpp"
#include "kwire/messages/api_versions_request.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/delete_records_request.hpp"
#include "kwire/messages/delete_topics_request.hpp"
#include "kwire/messages/describe_configs_request.hpp"
#include "kwire/messages/describe_groups_request.hpp"
#include "kwire/messages/describe_topic_partitions_request.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/find_coordinator_request.hpp"
#include "kwire/messages/heartbeat_request.hpp"
#include "kwire/messages/init_producer_id_request.hpp"
#include "kwire/messages/join_group_request.hpp"
#include "kwire/messages/list_groups_request.hpp"
#include "kwire/messages/list_offsets_request.hpp"
#include "kwire/messages/metadata_request.hpp"
#include "kwire/messages/offset_commit_request.hpp"
#include "kwire/messages/offset_fetch_request.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/records/builder.hpp"

namespace {

constexpr std::string_view separator = "\xf0KWf";

struct Seq {
  std::vector<std::uint8_t> bytes;
  std::int32_t correlation_id = 0;

  template <class M>
  Seq& add(const M& body, std::int16_t version) {
    kwire::RequestHeader h;
    h.request_api_key = static_cast<std::int16_t>(M::api_key);
    h.request_api_version = version;
    h.correlation_id = ++correlation_id;
    h.client_id = std::string_view("seed");
    std::vector<std::uint8_t> frame;
    if (kwire::encode_request_frame(body, h, frame)) {
      std::fprintf(stderr, "cannot encode api %d v%d\n", h.request_api_key, version);
      std::exit(1);
    }
    if (!bytes.empty()) bytes.insert(bytes.end(), separator.begin(), separator.end());
    bytes.insert(bytes.end(), frame.begin() + 4, frame.end());  // the body after the size prefix
    return *this;
  }
};

kwire::CreateTopicsRequest create(std::string_view name, std::int32_t partitions) {
  kwire::CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.num_partitions = partitions;
  t.replication_factor = 1;
  return req;
}

kwire::ProduceRequest produce(std::string_view topic, const std::vector<std::uint8_t>& batch, std::int16_t acks) {
  kwire::ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = 1000;
  auto& td = req.topic_data.emplace_back();
  td.name = topic;
  auto& pd = td.partition_data.emplace_back();
  pd.index = 0;
  pd.records = kwire::bytes_view(batch);
  return req;
}

kwire::FetchRequest fetch(std::string_view topic, std::int64_t offset) {
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
  return req;
}

kwire::ListOffsetsRequest list_offsets(std::string_view topic, std::int64_t timestamp) {
  kwire::ListOffsetsRequest req;
  req.replica_id = -1;
  auto& t = req.topics.emplace_back();
  t.name = topic;
  auto& p = t.partitions.emplace_back();
  p.partition_index = 0;
  p.timestamp = timestamp;
  return req;
}

std::vector<std::uint8_t> batch(int n, kwire::RecordBatchOptions options = {}) {
  kwire::RecordBatchBuilder b(options);
  static const std::string key = "k", value = "value";
  for (int i = 0; i < n; ++i) b.append(1700000000000 + i, kwire::as_bytes(key), kwire::as_bytes(value));
  return b.build();
}

void write(const std::string& dir, const std::string& name, const Seq& s) {
  std::ofstream(dir + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(s.bytes.data()), static_cast<std::streamsize>(s.bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const auto three = batch(3);

  {
    kwire::ApiVersionsRequest av;
    av.client_software_name = std::string_view("seed");
    av.client_software_version = std::string_view("1");
    kwire::MetadataRequest all;  // null topics: all of them
    all.topics = std::nullopt;
    write(dir, "api_versions_metadata", Seq{}.add(av, 3).add(kwire::ApiVersionsRequest{}, 0).add(all, 12).add(all, 1));
  }
  {
    kwire::MetadataRequest one;
    one.topics.emplace().emplace_back().name = std::string_view("t");
    write(dir, "create_produce_fetch",
          Seq{}.add(create("t", 2), 7).add(produce("t", three, -1), 9).add(fetch("t", 0), 12).add(one, 12));
    // A fetch session: opened by a full fetch, continued with a changed and
    // a forgotten partition, closed. The target reseeds session ids with 1
    // for every input, so the session gets the first id of that sequence.
    std::mt19937 ids(1);
    const std::int32_t session = std::uniform_int_distribution<std::int32_t>(1, INT32_MAX)(ids);
    auto open = fetch("t", 0);
    open.session_epoch = 0;
    auto second = open.topics[0].partitions[0];
    second.partition = 1;
    open.topics[0].partitions.push_back(second);
    auto next = fetch("t", 2);
    next.session_id = session;
    next.session_epoch = 1;
    auto& gone = next.forgotten_topics_data.emplace_back();
    gone.topic = "t";
    gone.partitions.push_back(1);
    auto again = fetch("t", 0);
    again.topics.clear();
    again.session_id = session;
    again.session_epoch = 2;
    auto close = fetch("t", 0);
    close.session_id = session;
    close.session_epoch = -1;
    write(dir, "fetch_session",
          Seq{}.add(create("t", 2), 7).add(produce("t", three, -1), 9).add(open, 12).add(next, 12).add(again, 12).add(close, 12));
    write(dir, "produce_fetch_old_versions",
          Seq{}.add(create("t", 1), 2).add(produce("t", three, 1), 3).add(fetch("t", 0), 4).add(produce("t", three, 0), 7));
  }
  {
    kwire::DeleteRecordsRequest dr;
    dr.timeout_ms = 1000;
    auto& t = dr.topics.emplace_back();
    t.name = "t";
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    p.offset = 2;
    kwire::DeleteTopicsRequest dt;
    dt.topic_names.push_back("t");
    dt.timeout_ms = 1000;
    write(dir, "list_offsets_delete",
          Seq{}
              .add(create("t", 1), 5)
              .add(produce("t", three, -1), 8)
              .add(list_offsets("t", -1), 7)
              .add(list_offsets("t", -2), 1)
              .add(list_offsets("t", 1700000000001), 4)
              .add(dr, 2)
              .add(dt, 3));
  }
  {
    // Pages of DescribeTopicPartitions: all topics two partitions at a time,
    // the cursor followed, a named unknown topic.
    kwire::DescribeTopicPartitionsRequest first;
    first.response_partition_limit = 2;
    auto rest = first;
    kwire::DescribeTopicPartitionsRequest::Cursor at;
    at.topic_name = "t";
    at.partition_index = 2;
    rest.cursor = at;
    kwire::DescribeTopicPartitionsRequest named;
    named.topics.emplace_back().name = "t";
    named.topics.emplace_back().name = "u";
    write(dir, "describe_topic_partitions",
          Seq{}.add(create("t", 3), 7).add(first, 0).add(rest, 0).add(named, 0));
  }
  {
    kwire::InitProducerIdRequest ip;
    ip.transaction_timeout_ms = 60000;
    kwire::RecordBatchOptions o;
    o.producer_id = 0;
    o.producer_epoch = 0;
    o.base_sequence = 0;
    write(dir, "idempotent_produce", Seq{}.add(create("t", 1), 7).add(ip, 4).add(produce("t", batch(2, o), -1), 11));
  }
  {
    kwire::FindCoordinatorRequest fc;  // v0-3: one key
    fc.key = "g";
    kwire::FindCoordinatorRequest fcs;  // v4 on: a list
    fcs.coordinator_keys.push_back("g");
    kwire::JoinGroupRequest jg;
    jg.group_id = "g";
    jg.session_timeout_ms = 10;
    jg.rebalance_timeout_ms = 10;
    jg.protocol_type = "consumer";
    auto& p = jg.protocols.emplace_back();
    p.name = "range";
    static const std::vector<std::uint8_t> meta{0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0};
    p.metadata = kwire::bytes_view(meta);
    kwire::HeartbeatRequest hb;
    hb.group_id = "g";
    hb.generation_id = 1;
    hb.member_id = "m";
    kwire::DescribeGroupsRequest dg;
    dg.groups.push_back("g");
    write(dir, "groups",
          Seq{}.add(fc, 1).add(fcs, 4).add(jg, 3).add(jg, 7).add(hb, 4).add(dg, 5).add(kwire::ListGroupsRequest{}, 4));
  }
  {
    kwire::OffsetCommitRequest oc;
    oc.group_id = "g";
    oc.generation_id_or_member_epoch = -1;
    auto& t = oc.topics.emplace_back();
    t.name = "t";
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    p.committed_offset = 2;
    kwire::OffsetFetchRequest of;
    of.group_id = "g";
    auto& ft = of.topics.emplace().emplace_back();
    ft.name = "t";
    ft.partition_indexes.push_back(0);
    kwire::OffsetFetchRequest of8;
    auto& g = of8.groups.emplace_back();
    g.group_id = "g";
    g.topics = std::nullopt;
    write(dir, "offsets", Seq{}.add(create("t", 1), 7).add(oc, 8).add(of, 7).add(of8, 8).add(oc, 2));
  }
  {
    auto ct = create("c", 1);
    auto& c = ct.topics[0].configs.emplace_back();
    c.name = "cleanup.policy";
    c.value = std::string_view("compact");
    kwire::DescribeConfigsRequest dc;
    auto& r = dc.resources.emplace_back();
    r.resource_type = 2;  // topic
    r.resource_name = "c";
    auto& b = dc.resources.emplace_back();
    b.resource_type = 4;  // broker
    b.resource_name = "1";
    auto dc0 = dc;
    dc.include_synonyms = true;
    write(dir, "configs", Seq{}.add(ct, 7).add(dc, 4).add(dc0, 0));
  }
  return 0;
}
