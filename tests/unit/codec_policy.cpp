// Behaviour the schemas leave to the codec: ignorable fields, tags outside
// their taggedVersions, header versions, trailing bytes, and the lifetime of
// decoded views.
#include <doctest/doctest.h>

#include <kwire/codec.hpp>
#include <kwire/framing/request.hpp>
#include <kwire/messages/all.hpp>

#include <algorithm>
#include <bit>
#include <iterator>
#include <memory_resource>
#include <type_traits>
#include <vector>

using namespace std::literals;

TEST_CASE("an ignorable field the version lacks is dropped; a non-ignorable one is an error") {
  kwire::FetchResponse r;
  r.throttle_time_ms = 5;  // versions 1+, ignorable
  auto v0 = kwire::encode(r, 0);
  REQUIRE(v0);
  kwire::FetchResponse back;
  REQUIRE(kwire::decode(back, v0.bytes, 0));
  CHECK(back.throttle_time_ms == 0);

  r.session_id = 7;  // versions 7+, not ignorable
  auto v6 = kwire::encode(r, 6);
  REQUIRE_FALSE(v6);
  CHECK(v6.error->code == kwire::EncodeErrc::field_not_in_version);
  CHECK(v6.error->field == "SessionId");
  CHECK(kwire::encode(r, 7));
  r.session_id = 0;  // the default is fine anywhere
  CHECK(kwire::encode(r, 6));
}

TEST_CASE("null where a version does not allow it is an encode error") {
  kwire::RequestHeader h;
  h.request_api_key = 3;
  h.client_id = std::nullopt;  // nullable in every version: fine
  CHECK(kwire::encode(h, 1));
  kwire::MetadataRequest m;
  m.topics = std::nullopt;  // null = all topics, allowed from v1
  CHECK(kwire::encode(m, 1));
  auto v0 = kwire::encode(m, 0);
  REQUIRE_FALSE(v0);
  CHECK(v0.error->code == kwire::EncodeErrc::null_not_allowed);
}

TEST_CASE("a known tag below its taggedVersions is kept as an unknown tag") {
  // BrokerHeartbeatRequest is flexible from v0, OfflineLogDirs is tag 0 from v1.
  kwire::BrokerHeartbeatRequest req;
  req.broker_id = 1;
  req.offline_log_dirs.push_back(kwire::Uuid{{1, 2, 3}});
  auto v1 = kwire::encode(req, 1);
  REQUIRE(v1);
  // The same bytes read as v0: the field is not interpreted, but kept.
  kwire::BrokerHeartbeatRequest as_v0;
  REQUIRE(kwire::decode(as_v0, v1.bytes, 0));
  CHECK(as_v0.offline_log_dirs.empty());
  REQUIRE(as_v0.unknown_tags.size() == 1);
  CHECK(as_v0.unknown_tags[0].tag == 0);
  auto rewritten = kwire::encode(as_v0, 0);
  REQUIRE(rewritten);
  CHECK(rewritten.bytes == v1.bytes);
  // Encoding the known field into v0 is an error (it is not ignorable).
  auto bad = kwire::encode(req, 0);
  REQUIRE_FALSE(bad);
  CHECK(bad.error->field == "OfflineLogDirs");
}

TEST_CASE("header versions follow the API version") {
  CHECK(kwire::request_header_version(0, 8) == 1);   // Produce v8: not flexible
  CHECK(kwire::request_header_version(0, 9) == 2);   // Produce v9: flexible
  CHECK(kwire::request_header_version(7, 0) == 0);   // ControlledShutdown v0
  CHECK(kwire::response_header_version(0, 9) == 1);
  CHECK(kwire::response_header_version(18, 3) == 0);  // ApiVersions: always v0
  CHECK(kwire::response_header_version(18, 0) == 0);
  CHECK(kwire::request_header_version(18, 3) == 2);
  CHECK(kwire::request_header_version(18, 99) == 2);  // above the newest: like the newest
}

TEST_CASE("the client id stays a non-compact string in header v2") {
  kwire::RequestHeader h;
  h.request_api_key = 18;
  h.request_api_version = 3;
  h.correlation_id = 42;
  h.client_id = "cli"sv;
  auto b = kwire::encode(h, 2);
  REQUIRE(b);
  // key(2) version(2) correlation(4) client id: int16 length 3 + "cli", then 0 tags
  std::vector<std::uint8_t> expect{0, 18, 0, 3, 0, 0, 0, 42, 0, 3, 'c', 'l', 'i', 0};
  CHECK(b.bytes == expect);

  kwire::ApiVersionsRequest body;
  body.client_software_name = "kwire"sv;
  body.client_software_version = "1"sv;
  std::vector<std::uint8_t> frame;
  REQUIRE_FALSE(kwire::encode_request_frame(body, h, frame));
  kwire::RequestFrame parsed;
  REQUIRE(kwire::read_request_header(kwire::bytes_view(frame).subspan(4), parsed));
  CHECK(parsed.header_version == 2);
  CHECK(parsed.header.correlation_id == 42);
  CHECK(parsed.header.client_id == "cli");
  kwire::ApiVersionsRequest decoded;
  REQUIRE(kwire::decode(decoded, parsed.body, 3));
  CHECK(decoded.client_software_name == "kwire");
}

TEST_CASE("ApiVersions responses use header v0 even when flexible") {
  kwire::ApiVersionsResponse resp;
  std::vector<std::uint8_t> frame;
  REQUIRE_FALSE(kwire::encode_response_frame(resp, 18, 3, 7, frame));
  // size(4) then correlation id, directly followed by the body's error code:
  // no tagged-field byte from a v1 header.
  CHECK(frame[4 + 3] == 7);
  kwire::ResponseFrame parsed;
  REQUIRE(kwire::read_response_header(kwire::bytes_view(frame).subspan(4), 18, 3, parsed));
  CHECK(parsed.body.size() == kwire::encoded_size(resp, 3).size);
}

TEST_CASE("error codes are typed, stay int16 on the wire, and keep codes Kafka does not name") {
  static_assert(std::is_same_v<decltype(kwire::HeartbeatResponse::error_code), kwire::ErrorCode>);
  using AddPartitionsResult = kwire::AddPartitionsToTxnResponse::AddPartitionsToTxnPartitionResult;
  static_assert(std::is_same_v<decltype(AddPartitionsResult::partition_error_code), kwire::ErrorCode>);
  using TopicResult = kwire::CreateTopicsResponse::CreatableTopicResult;
  static_assert(std::is_same_v<decltype(TopicResult::topic_config_error_code), kwire::ErrorCode>);
  static_assert(std::is_same_v<decltype(kwire::ShareFetchResponse::PartitionData::acknowledge_error_code),
                               kwire::ErrorCode>);
  static_assert(std::is_same_v<decltype(kwire::ProduceRequest::acks), std::int16_t>);  // other int16s stay plain

  kwire::HeartbeatResponse hb;  // v0: the error code alone
  CHECK(hb.error_code == kwire::ErrorCode::None);
  CHECK(kwire::encode(hb, 0).bytes == std::vector<std::uint8_t>{0, 0});
  hb.error_code = kwire::ErrorCode::RebalanceInProgress;
  CHECK(kwire::encode(hb, 0).bytes == std::vector<std::uint8_t>{0, 27});
  // A code from a newer Kafka, and one below Kafka's lowest: kept as they came.
  using Bytes = std::vector<std::uint8_t>;
  for (const Bytes& wire : {Bytes{0x7f, 0x00}, Bytes{0xff, 0xfe}}) {
    kwire::HeartbeatResponse back;
    REQUIRE(kwire::decode(back, wire, 0));
    CHECK(static_cast<std::uint16_t>(back.error_code) == (wire[0] << 8 | wire[1]));
    CHECK(kwire::find_error(back.error_code) == nullptr);
    CHECK(kwire::encode(back, 0).bytes == wire);
  }

  // A tagged error code is written only when it is not None.
  kwire::CreateTopicsResponse ct;
  ct.topics.emplace_back().name = "t"sv;
  auto plain = kwire::encode(ct, 5);
  REQUIRE(plain);
  ct.topics[0].topic_config_error_code = kwire::ErrorCode::InvalidConfig;
  auto tagged = kwire::encode(ct, 5);
  REQUIRE(tagged);
  CHECK(tagged.bytes.size() == plain.bytes.size() + 4);  // tag, size, int16
  kwire::CreateTopicsResponse back;
  REQUIRE(kwire::decode(back, tagged.bytes, 5));
  CHECK(back.topics[0].topic_config_error_code == kwire::ErrorCode::InvalidConfig);
}

TEST_CASE("trailing bytes and unsupported versions are decode errors") {
  kwire::HeartbeatRequest hb;
  hb.group_id = "g"sv;
  auto b = kwire::encode(hb, 0);
  REQUIRE(b);
  b.bytes.push_back(0);
  kwire::HeartbeatRequest out;
  auto r = kwire::decode(out, b.bytes, 0);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == kwire::DecodeErrc::trailing_bytes);
  auto r2 = kwire::decode(out, b.bytes, 99);
  REQUIRE_FALSE(r2);
  CHECK(r2.error().code == kwire::DecodeErrc::unsupported_version);
}

TEST_CASE("decode errors name the field and offset") {
  kwire::MetadataRequest m;
  m.topics.emplace();
  m.topics->push_back({});
  m.topics->back().name = "orders"sv;
  auto b = kwire::encode(m, 4);
  REQUIRE(b);
  b.bytes.resize(b.bytes.size() - 3);  // cut inside the topic name... and what follows
  kwire::MetadataRequest out;
  auto r = kwire::decode(out, b.bytes, 4);
  REQUIRE_FALSE(r);
  CHECK(r.error().path == "Topics[0].Name");
  CHECK(r.error().offset == 4);  // the name's length prefix, after the array count
  CHECK(r.error().code == kwire::DecodeErrc::length_exceeds_input);
}

namespace {
/// A FetchResponse v12 with one partition whose DivergingEpoch (a tagged
/// struct) is set: fixed runs, arrays, records and a known tagged field.
kwire::FetchResponse fetch_with_tags() {
  kwire::FetchResponse f;
  f.throttle_time_ms = 5;
  auto& t = f.responses.emplace_back();
  t.topic = "orders"sv;
  auto& p = t.partitions.emplace_back();
  p.partition_index = 3;
  p.high_watermark = 100;
  p.last_stable_offset = 90;
  p.log_start_offset = 1;
  p.diverging_epoch.epoch = 1;
  p.diverging_epoch.end_offset = 2;
  static const std::uint8_t records[] = {9, 9, 9};
  p.records = kwire::bytes_view(records);
  return f;
}

/// What a TracingReader reports when it decodes all of `in`: the reference
/// for the errors kwire::decode() gives after its fast pass.
template <class M>
kwire::DecodeError traced_error(kwire::bytes_view in, std::int16_t v) {
  std::pmr::monotonic_buffer_resource arena;
  kwire::TracingReader t(in, &arena);
  M m;
  m.decode_from(t, v, kwire::is_flexible<M>(v));
  if (t.ok() && t.remaining() != 0) t.fail(kwire::DecodeErrc::trailing_bytes);
  return t.ok() ? kwire::DecodeError{} : *t.error();
}
}  // namespace

TEST_CASE("a decode error is named by decoding again with a TracingReader") {
  auto wire = kwire::encode(fetch_with_tags(), 12);
  REQUIRE(wire);
  // Every cut of the message: the same code, offset and path as a reader that
  // tracks the path all along.
  for (std::size_t n = 0; n < wire.bytes.size(); ++n) {
    kwire::bytes_view cut(wire.bytes.data(), n);
    kwire::FetchResponse out;
    auto r = kwire::decode(out, cut, 12);
    REQUIRE_FALSE(r);
    auto want = traced_error<kwire::FetchResponse>(cut, 12);
    CAPTURE(n);
    CHECK(r.error().code == want.code);
    CHECK(r.error().offset == want.offset);
    CHECK(r.error().path == want.path);
  }
}

TEST_CASE("a cut inside a run of fixed-width fields names the first field cut, at its offset") {
  auto wire = kwire::encode(fetch_with_tags(), 12);
  REQUIRE(wire);
  // v12 begins with ThrottleTimeMs (4), ErrorCode (2) and SessionId (4), one
  // run: cut in the middle of SessionId.
  kwire::bytes_view cut(wire.bytes.data(), 8);
  kwire::FetchResponse out;
  auto r = kwire::decode(out, cut, 12);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == kwire::DecodeErrc::truncated);
  CHECK(r.error().offset == 6);
  CHECK(r.error().path == "SessionId");
  CHECK(out.throttle_time_ms == 5);  // the fields before it were read
}

TEST_CASE("an error inside a known tagged field is named through it") {
  auto wire = kwire::encode(fetch_with_tags(), 12);
  REQUIRE(wire);
  // DivergingEpoch: tag 0, size 13 (epoch, end offset, empty tags). Declare
  // 12 bytes: its own tag section is then cut off by the field's size.
  const std::uint8_t field[] = {0x00, 0x0d, 0x00, 0x00, 0x00, 0x01};
  auto at = std::search(wire.bytes.begin(), wire.bytes.end(), std::begin(field), std::end(field));
  REQUIRE(at != wire.bytes.end());
  at[1] = 0x0c;
  kwire::FetchResponse out;
  auto r = kwire::decode(out, wire.bytes, 12);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == kwire::DecodeErrc::truncated);
  CHECK(r.error().offset == static_cast<std::size_t>(at - wire.bytes.begin()) + 2 + 12);
  CHECK(r.error().path == "Responses[0].Partitions[0].DivergingEpoch");
}

TEST_CASE("decode_from names an error's field when the message starts inside the buffer") {
  kwire::RequestHeader h;
  h.request_api_key = 3;
  h.request_api_version = 12;
  h.correlation_id = 7;
  h.client_id = "client"sv;
  auto wire = kwire::encode(h, 2);
  REQUIRE(wire);
  std::vector<std::uint8_t> buf{0xaa, 0xbb, 0xcc};
  buf.insert(buf.end(), wire.bytes.begin(), wire.bytes.end() - 4);  // cut inside the client id
  kwire::Reader r(buf);
  r.raw(3);
  kwire::RequestHeader out;
  kwire::decode_from(r, out, 2);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error()->code == kwire::DecodeErrc::length_exceeds_input);
  CHECK(r.error()->offset == 3 + 8);
  CHECK(r.error()->path == "ClientId");
}

namespace {
/// Counts what is allocated through it.
class CountingResource : public std::pmr::memory_resource {
 public:
  int allocations = 0;

 private:
  void* do_allocate(std::size_t n, std::size_t a) override {
    ++allocations;
    return std::pmr::new_delete_resource()->allocate(n, a);
  }
  void do_deallocate(void* p, std::size_t n, std::size_t a) override {
    std::pmr::new_delete_resource()->deallocate(p, n, a);
  }
  bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override { return this == &o; }
};
}  // namespace

TEST_CASE("lifetime: strings and records view the input; only arrays allocate, from the caller's resource") {
  kwire::ProduceRequest req;
  req.acks = -1;
  req.topic_data.emplace_back();
  req.topic_data[0].name = "orders"sv;
  req.topic_data[0].partition_data.emplace_back();
  static const std::uint8_t batch[] = {1, 2, 3, 4, 5};
  req.topic_data[0].partition_data[0].records = kwire::bytes_view(batch);
  auto wire = kwire::encode(req, 9);
  REQUIRE(wire);

  CountingResource counting;
  kwire::ProduceRequest view;
  REQUIRE(kwire::decode(view, wire.bytes, 9, &counting));
  CHECK(counting.allocations == 2);  // topic_data and partition_data, nothing else
  CHECK(view.topic_data.get_allocator().resource() == &counting);
  CHECK(view.topic_data[0].partition_data.get_allocator().resource() == &counting);

  auto inside = [&](const void* p) {
    auto* b = static_cast<const std::uint8_t*>(p);
    return b >= wire.bytes.data() && b < wire.bytes.data() + wire.bytes.size();
  };
  CHECK(inside(view.topic_data[0].name.data()));
  CHECK(inside(view.topic_data[0].partition_data[0].records->data()));
  // The views alias the buffer: changing the buffer changes what they show.
  // (Destroying it would leave them dangling; keep the buffer while you use them.)
  auto at = static_cast<std::size_t>(reinterpret_cast<const std::uint8_t*>(view.topic_data[0].name.data()) -
                                     wire.bytes.data());
  wire.bytes[at] = 'O';
  CHECK(view.topic_data[0].name == "Orders");
}

TEST_CASE("an arena takes every array of a decoded message") {
  kwire::MetadataResponse md;
  for (int t = 0; t < 3; ++t) {
    auto& topic = md.topics.emplace_back();
    topic.name = "t"sv;
    for (int p = 0; p < 4; ++p) topic.partitions.emplace_back().replica_nodes = {1, 2, 3};
  }
  auto wire = kwire::encode(md, 12);
  REQUIRE(wire);
  std::array<std::byte, 16384> storage;
  std::pmr::monotonic_buffer_resource arena(storage.data(), storage.size(), std::pmr::null_memory_resource());
  kwire::MetadataResponse out;
  REQUIRE(kwire::decode(out, wire.bytes, 12, &arena));
  CHECK(out == md);
}

TEST_CASE("trailing bytes can be allowed, as Kafka's broker allows them") {
  // librdkafka's Metadata v13 request for all topics: a compact null topics
  // array followed by the three bytes of a 4-byte count it never shrank, then
  // what it meant to send. Kafka reads the first four bytes and ignores the rest.
  std::vector<std::uint8_t> body{0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
  kwire::MetadataRequest strict;
  auto r = kwire::decode(strict, body, 13);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == kwire::DecodeErrc::trailing_bytes);
  kwire::MetadataRequest lenient;
  auto ok = kwire::decode(lenient, body, 13, kwire::DecodeOptions{.allow_trailing_bytes = true});
  REQUIRE(ok);
  CHECK(ok.trailing_bytes() == 3);
  CHECK_FALSE(lenient.topics.has_value());
  CHECK_FALSE(lenient.allow_auto_topic_creation);
}

TEST_CASE("messages are equal when they encode the same: a NaN value equals itself") {
  // A fuzz finding: AlterClientQuotas carries a float64, and NaN != NaN made a
  // message unequal to its own round trip.
  kwire::AlterClientQuotasRequest req;
  auto& entry = req.entries.emplace_back();
  auto& op = entry.ops.emplace_back();
  op.key = "producer_byte_rate";
  op.value = std::bit_cast<double>(std::uint64_t{0xffffffffffffffff});  // a NaN
  auto bytes = kwire::encode(req, 1);
  REQUIRE(bytes);
  kwire::AlterClientQuotasRequest back;
  REQUIRE(kwire::decode(back, bytes.bytes, 1));
  CHECK(back == req);
  op.value = std::bit_cast<double>(std::uint64_t{0x7ff8000000000001});  // another NaN: other bytes
  CHECK_FALSE(back == req);
}
