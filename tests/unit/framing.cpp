// Frame splitting: whole frames found without copying, partial frames wait for
// more bytes, sizes above the limit or negative are rejected before buffering.
#include <doctest/doctest.h>

#include <kwire/framing/frame.hpp>
#include <kwire/framing/request.hpp>
#include <kwire/messages/metadata_request.hpp>

#include <vector>

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

TEST_CASE("nesting deeper than the reader allows is an error, not a stack overflow") {
  std::vector<std::uint8_t> none;
  kwire::Reader r(none);
  std::size_t entered = 0;
  while (r.enter(0)) ++entered;
  CHECK(entered == kwire::Reader::max_depth);
  CHECK(r.error()->code == kwire::DecodeErrc::too_deep);
}
