// Frame splitting: whole frames found without copying, partial frames wait for
// more bytes, sizes above the limit or negative are rejected before buffering.
#include <doctest/doctest.h>

#include <kwire/framing/frame.hpp>
#include <kwire/framing/request.hpp>
#include <kwire/messages/api_versions_response.hpp>
#include <kwire/messages/fetch_response.hpp>
#include <kwire/messages/metadata_request.hpp>
#include <kwire/messages/metadata_response.hpp>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

using namespace std::literals;

TEST_CASE("frames are split from a stream in order, as views") {
  kwire::MetadataRequest md;
  kwire::RequestHeader h;
  h.request_api_key = static_cast<std::int16_t>(kwire::MetadataRequest::api_key);
  h.client_id = "c";
  std::vector<std::uint8_t> stream;
  for (std::int16_t v : {std::int16_t{4}, std::int16_t{9}, std::int16_t{12}}) {
    h.request_api_version = v;
    h.correlation_id = v * 10;
    REQUIRE_FALSE(kwire::encode_request_frame(md, h, stream));
  }
  kwire::FrameSplitter splitter;
  kwire::bytes_view rest(stream);
  std::vector<std::int32_t> seen;
  while (!rest.empty()) {
    auto st = splitter.next(rest);
    REQUIRE(st.kind == kwire::FrameStatus::complete);
    CHECK(st.frame.data() == rest.data() + 4);
    kwire::RequestFrame f;
    REQUIRE(kwire::read_request_header(st.frame, f));
    kwire::MetadataRequest body;
    REQUIRE(kwire::decode(body, f.body, f.header.request_api_version));
    seen.push_back(f.header.correlation_id);
    rest = rest.subspan(st.consumed);
  }
  CHECK(seen == std::vector<std::int32_t>{40, 90, 120});

  // Every cut inside the stream asks for more bytes, and says how many.
  for (std::size_t cut = 0; cut < 4; ++cut) CHECK(splitter.next(kwire::bytes_view(stream).first(cut)).needed == 4);
  auto first = splitter.next(stream);
  for (std::size_t cut = 4; cut < first.consumed; ++cut) {
    auto st = splitter.next(kwire::bytes_view(stream).first(cut));
    CHECK(st.kind == kwire::FrameStatus::need_more);
    CHECK(st.needed == first.consumed);
  }
}

TEST_CASE("the frame size limit is enforced from the size prefix alone") {
  kwire::FrameSplitter splitter(1024);
  std::vector<std::uint8_t> at_limit{0, 0, 4, 0};  // 1024: allowed, needs the bytes
  auto ok = splitter.next(at_limit);
  CHECK(ok.kind == kwire::FrameStatus::need_more);
  CHECK(ok.needed == 1028);
  std::vector<std::uint8_t> over{0, 0, 4, 1};  // 1025
  auto big = splitter.next(over);
  REQUIRE(big.kind == kwire::FrameStatus::failed);
  CHECK(big.error->code == kwire::DecodeErrc::frame_too_large);
  std::vector<std::uint8_t> negative{0xff, 0xff, 0xff, 0xfe};
  auto neg = splitter.next(negative);
  REQUIRE(neg.kind == kwire::FrameStatus::failed);
  CHECK(neg.error->code == kwire::DecodeErrc::invalid_frame_size);
  CHECK(kwire::FrameSplitter().max_frame_size() == kwire::default_max_frame_size);
}

TEST_CASE("a request header for an unknown API or version still yields the correlation id") {
  // api key 999, version 3, correlation 77, client id "x"
  std::vector<std::uint8_t> frame{0x03, 0xe7, 0, 3, 0, 0, 0, 77, 0, 1, 'x', 0xde, 0xad};
  kwire::RequestFrame f;
  REQUIRE(kwire::read_request_header(frame, f));
  CHECK(f.header.correlation_id == 77);
  CHECK(f.header_version == 1);
  CHECK(f.body.size() == 2);
  std::vector<std::uint8_t> truncated{0, 18, 0};
  CHECK_FALSE(kwire::read_request_header(truncated, f));
}

TEST_CASE("a request's API key, version and correlation id are read without decoding its whole header") {
  kwire::RequestHeader h;
  h.request_api_key = 3;
  h.request_api_version = 12;
  h.correlation_id = -5;
  h.client_id = "client"sv;
  std::vector<std::uint8_t> stream;
  REQUIRE_FALSE(kwire::encode_request_frame(kwire::MetadataRequest{}, h, stream));
  kwire::bytes_view frame = kwire::bytes_view(stream).subspan(4);
  kwire::RequestPrefix p;
  REQUIRE(kwire::peek_request_header(frame, p));
  CHECK(p.api_key == kwire::ApiKey::Metadata);
  CHECK(p.api_key == kwire::MetadataRequest::api_key);
  CHECK(p.api_version == 12);
  CHECK(p.correlation_id == -5);

  // Only the first 8 bytes count: a key kwire does not know, and nothing after.
  std::vector<std::uint8_t> unknown{0x03, 0xe7, 0x80, 0x00, 0x7f, 0xff, 0xff, 0xff};
  REQUIRE(kwire::peek_request_header(unknown, p));
  CHECK(static_cast<std::int16_t>(p.api_key) == 999);
  CHECK(kwire::find_api(p.api_key) == nullptr);
  CHECK(p.api_version == -32768);
  CHECK(p.correlation_id == 0x7fffffff);

  // Shorter than 8 bytes: truncated, at the field that is cut; `out` untouched.
  for (std::size_t n = 0; n < 8; ++n) {
    INFO(n);
    kwire::RequestPrefix q{kwire::ApiKey::Fetch, 4, 9};
    auto r = kwire::peek_request_header(frame.first(n), q);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == kwire::DecodeErrc::truncated);
    CHECK(r.error().offset == (n < 2 ? 0u : n < 4 ? 2u : 4u));
    CHECK(r.error().path == (n < 2 ? "RequestApiKey" : n < 4 ? "RequestApiVersion" : "CorrelationId"));
    CHECK(q.api_key == kwire::ApiKey::Fetch);
    CHECK(q.correlation_id == 9);
    // The full header read reports the same.
    kwire::RequestFrame f;
    auto full = kwire::read_request_header(frame.first(n), f);
    REQUIRE_FALSE(full);
    CHECK(full.error().path == r.error().path);
  }
}

namespace {
/// The bytes of a response frame written by hand: size, correlation id, a
/// tagged-field count of 0 for header v1, then the body.
std::vector<std::uint8_t> by_hand(std::int32_t correlation_id, bool header_v1, const std::vector<std::uint8_t>& body) {
  std::vector<std::uint8_t> out;
  auto be32 = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
  };
  be32(static_cast<std::uint32_t>(4 + (header_v1 ? 1 : 0) + body.size()));
  be32(static_cast<std::uint32_t>(correlation_id));
  if (header_v1) out.push_back(0);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
}  // namespace

TEST_CASE("a response frame carries the header version its API version asks for") {
  kwire::MetadataResponse md;
  md.cluster_id = "c"sv;
  md.topics.emplace_back().error_code = kwire::ErrorCode::UnknownTopicOrPartition;
  for (std::int16_t v : {std::int16_t{8}, std::int16_t{9}, std::int16_t{12}}) {
    INFO(v);
    std::vector<std::uint8_t> frame;
    REQUIRE_FALSE(kwire::encode_response_frame(md, v, 0x01020304, frame));
    CHECK(frame == by_hand(0x01020304, v >= 9, kwire::encode(md, v).bytes));  // Metadata is flexible from v9
    // The same as naming the API key at run time.
    std::vector<std::uint8_t> by_key;
    REQUIRE_FALSE(kwire::encode_response_frame(md, 3, v, 0x01020304, by_key));
    CHECK(by_key == frame);
    // And it reads back.
    kwire::ResponseFrame rf;
    REQUIRE(kwire::read_response_header(kwire::bytes_view(frame).subspan(4), 3, v, rf));
    CHECK(rf.header.correlation_id == 0x01020304);
    kwire::MetadataResponse back;
    REQUIRE(kwire::decode(back, rf.body, v));
    CHECK(back == md);
  }
  // ApiVersions answers with header v0 even in its flexible versions, so that a
  // client that does not know the broker's versions yet can read it.
  kwire::ApiVersionsResponse av;
  av.error_code = kwire::ErrorCode::UnsupportedVersion;
  std::vector<std::uint8_t> frame;
  REQUIRE_FALSE(kwire::encode_response_frame(av, 3, 7, frame));
  CHECK(frame == by_hand(7, false, kwire::encode(av, 3).bytes));
}

TEST_CASE("response frames are appended, and nothing is when the body cannot be encoded") {
  std::vector<std::uint8_t> out{0xaa, 0xbb};
  kwire::FetchResponse ok;
  REQUIRE_FALSE(kwire::encode_response_frame(ok, 6, 1, out));
  const auto first = out;
  CHECK(std::vector<std::uint8_t>(first.begin(), first.begin() + 2) == std::vector<std::uint8_t>{0xaa, 0xbb});
  CHECK(std::vector<std::uint8_t>(first.begin() + 2, first.end()) == by_hand(1, false, kwire::encode(ok, 6).bytes));

  kwire::FetchResponse bad;
  bad.session_id = 7;  // versions 7+, not ignorable
  auto e = kwire::encode_response_frame(bad, 6, 2, out);
  REQUIRE(e);
  CHECK(e->code == kwire::EncodeErrc::field_not_in_version);
  CHECK(e->field == "SessionId");
  CHECK(out == first);
  auto unsupported = kwire::encode_response_frame(ok, 99, 3, out);
  REQUIRE(unsupported);
  CHECK(unsupported->code == kwire::EncodeErrc::unsupported_version);
  CHECK(out == first);
}

TEST_CASE("nesting deeper than the reader allows is an error, not a stack overflow") {
  std::vector<std::uint8_t> none;
  kwire::TracingReader r(none);
  std::size_t entered = 0;
  while (r.enter(0)) ++entered;
  CHECK(entered == kwire::TracingReader::max_depth);
  CHECK(r.error()->code == kwire::DecodeErrc::too_deep);
}

TEST_CASE("messages made mostly of record sets: the same bytes, appended without a zero fill") {
  // encode_into() and the frame encoders append large byte fields with a
  // growing writer when they make up most of the message; the bytes must be
  // those of a plain write into a buffer of the exact size, after whatever the
  // vector already held.
  std::vector<std::vector<std::uint8_t>> sets;
  for (std::size_t n : std::initializer_list<std::size_t>{0, 1, 100, 511, 512, 513, 4096, 70000}) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + n);
    sets.push_back(std::move(b));
  }
  for (std::int16_t v : {std::int16_t{4}, std::int16_t{11}, std::int16_t{12}, std::int16_t{16}}) {
    for (std::size_t first = 0; first < sets.size(); ++first) {
      kwire::FetchResponse resp;
      auto& topic = resp.responses.emplace_back();
      if (v <= 12)
        topic.topic = "t";
      else
        topic.topic_id.bytes[0] = 1;
      // From `first` on, every set, each in a partition with small fields
      // around it (and the empty partitions between the large ones).
      for (std::size_t i = first; i < sets.size(); ++i) {
        auto& part = topic.partitions.emplace_back();
        part.partition_index = static_cast<std::int32_t>(i);
        part.high_watermark = 1000 + static_cast<std::int64_t>(i);
        part.records = kwire::bytes_view(sets[i]);
        topic.partitions.emplace_back().partition_index = -static_cast<std::int32_t>(i);
      }
      auto size = kwire::encoded_size(resp, v);
      REQUIRE(size);
      std::vector<std::uint8_t> plain(size.size);
      kwire::encode_to_buffer(resp, v, plain.data(), plain.size());

      std::vector<std::uint8_t> appended{1, 2, 3};
      REQUIRE_FALSE(kwire::encode_into(resp, v, appended));
      REQUIRE(appended.size() == 3 + plain.size());
      CHECK(std::equal(plain.begin(), plain.end(), appended.begin() + 3));
      CHECK(appended[0] == 1);
      CHECK(appended[2] == 3);

      std::vector<std::uint8_t> frame{9};
      REQUIRE_FALSE(kwire::encode_response_frame(resp, v, 77, frame));
      kwire::FetchResponse back;
      kwire::ResponseFrame rf;
      REQUIRE(kwire::read_response_header(kwire::bytes_view(frame).subspan(5), kwire::ApiKey::Fetch, v, rf));
      CHECK(rf.header.correlation_id == 77);
      CHECK(std::equal(plain.begin(), plain.end(), rf.body.begin(), rf.body.end()));
      REQUIRE(kwire::decode(back, rf.body, v));
      CHECK(back == resp);
    }
  }
}
