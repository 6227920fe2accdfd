// Scatter encoding (kwire/scatter.hpp): for every message and version, the
// pieces concatenated are byte for byte the plain encoding, whichever byte
// fields are left as external holes or borrowed; whole response frames too;
// and an external's bytes are never read.
#include <doctest/doctest.h>

#include <kwire/codec.hpp>
#include <kwire/framing/request.hpp>
#include <kwire/messages/dispatch.hpp>
#include <kwire/messages/fetch_response.hpp>
#include <kwire/messages/produce_response.hpp>
#include <kwire/scatter.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "../support/random_message.hpp"

namespace {

constexpr int samples_per_version = 10;

/// A size pass that notes every byte field it is given.
class RecordingSizer : public kwire::Sizer {
 public:
  void raw(kwire::bytes_view b) {
    Sizer::raw(b);
    if (!b.empty()) seen.push_back(b);
  }
  void raw(std::string_view s) { raw(kwire::as_bytes(s)); }
  std::vector<kwire::bytes_view> seen;
};

/// Every other non-empty byte field of `msg` (unique addresses), to leave
/// out as externals.
template <class M>
std::vector<kwire::bytes_view> some_fields(const M& msg, std::int16_t version) {
  RecordingSizer r;
  msg.encode_to(r, version, kwire::is_flexible<M>(version));
  std::vector<kwire::bytes_view> out;
  std::map<const std::uint8_t*, bool> addresses;
  for (std::size_t i = 0; i < r.seen.size(); ++i) {
    if (i % 2 == 1 || addresses.count(r.seen[i].data())) continue;
    addresses[r.seen[i].data()] = true;
    out.push_back(r.seen[i]);
  }
  return out;
}

std::vector<std::uint8_t> concatenate(const kwire::Scattered& s, const std::vector<kwire::bytes_view>& externals) {
  std::vector<std::uint8_t> out;
  s.concatenate(out, [&](std::size_t i, std::vector<std::uint8_t>& o) {
    o.insert(o.end(), externals.at(i).begin(), externals.at(i).end());
  });
  return out;
}

template <class M>
void check_all_versions(kwire::testing::RandomMessages& rnd, int& checked) {
  for (int v = M::min_version; v <= M::max_version; ++v) {
    const auto version = static_cast<std::int16_t>(v);
    for (int i = 0; i < samples_per_version; ++i) {
      M msg;
      rnd.fill(msg, version, kwire::is_flexible<M>(version));
      auto plain = kwire::encode(msg, version);
      INFO(M::message_name, " v", v, " sample ", i);
      REQUIRE(plain);
      const auto externals = some_fields(msg, version);
      // Nothing left out, everything borrowed, some fields external with the
      // rest borrowed from 8 bytes.
      for (const auto& options : {kwire::ScatterOptions{}, kwire::ScatterOptions{.borrow_from = 1},
                                  kwire::ScatterOptions{.externals = externals, .borrow_from = 8}}) {
        kwire::Scattered s;
        REQUIRE_FALSE(kwire::encode_scattered(msg, version, s, options));
        CHECK(s.size() == plain.bytes.size());
        CHECK(concatenate(s, externals) == plain.bytes);
        std::size_t own = 0;
        for (const auto& p : s.pieces)
          if (p.kind == kwire::ScatterPiece::Kind::buffer) own += p.size;
        CHECK(own == s.buffer.size());
      }
      ++checked;
    }
  }
}

template <class M>
void check_frame(const M& resp, std::int16_t version, const std::vector<kwire::bytes_view>& externals) {
  std::vector<std::uint8_t> plain;
  const auto key = static_cast<std::int16_t>(M::api_key);
  REQUIRE_FALSE(kwire::encode_response_frame(resp, key, version, 77, plain));
  kwire::Scattered s;
  REQUIRE_FALSE(kwire::encode_response_frame_scattered(resp, key, version, 77, s, {.externals = externals}));
  CHECK(concatenate(s, externals) == plain);
}

}  // namespace

TEST_CASE("scattered encodings concatenate to the plain encoding, every message and version") {
  kwire::testing::RandomMessages rnd(20261201);
  int checked = 0;
  kwire::for_each_message_type([&]<class M>(std::type_identity<M>) { check_all_versions<M>(rnd, checked); });
  MESSAGE("checked ", checked, " random messages");
  CHECK(checked > 4000);
}

TEST_CASE("Fetch and Produce response frames: record sets as externals") {
  std::vector<std::uint8_t> a(3000, 0xab), b(70, 0xcd), c(1, 0xef);
  std::vector<kwire::bytes_view> externals{a, b, c};
  kwire::FetchResponse fetch;
  auto& t = fetch.responses.emplace_back();
  t.topic = "orders";
  for (int i = 0; i < 4; ++i) {
    auto& p = t.partitions.emplace_back();
    p.partition_index = i;
    p.high_watermark = 100 + i;
    // One partition without records (null), the others each an external.
    if (i < 3) p.records = externals[static_cast<std::size_t>(i)];
  }
  for (std::int16_t v = 4; v <= kwire::FetchResponse::max_version; ++v) {
    INFO("Fetch v", v);
    fetch.session_id = v >= 7 ? 12 : 0;
    if (v >= 13) {
      t.topic = {};
      t.topic_id.bytes[0] = 1;
    }
    check_frame(fetch, v, externals);
    kwire::Scattered s;
    REQUIRE_FALSE(kwire::encode_response_frame_scattered(fetch, 1, v, 77, s, {.externals = externals}));
    // Three holes, in order, with the encoder's bytes around them.
    std::vector<std::size_t> holes;
    for (auto& p : s.pieces)
      if (p.kind == kwire::ScatterPiece::Kind::external) holes.push_back(p.external);
    CHECK(holes == std::vector<std::size_t>{0, 1, 2});
    CHECK(s.buffer.size() == s.size() - a.size() - b.size() - c.size());
  }
  kwire::ProduceResponse produce;
  auto& pr = produce.responses.emplace_back();
  pr.name = "orders";
  auto& pp = pr.partition_responses.emplace_back();
  pp.error_message = std::string_view("a message long enough to borrow");
  for (std::int16_t v = 3; v <= kwire::ProduceResponse::max_version; ++v) {
    INFO("Produce v", v);
    check_frame(produce, v, {});
    std::vector<kwire::bytes_view> message{kwire::as_bytes(*pp.error_message)};
    check_frame(produce, v, message);
  }
}

TEST_CASE("an external's bytes are never read") {
  // A record set at an address that faults when read: the encoder only
  // compares addresses.
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* p = ::mmap(nullptr, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  const kwire::bytes_view stand_in(static_cast<const std::uint8_t*>(p), 4 * page - 3);
  kwire::FetchResponse fetch;
  auto& part = fetch.responses.emplace_back().partitions.emplace_back();
  part.records = stand_in;
  std::vector<kwire::bytes_view> externals{stand_in};
  kwire::Scattered s;
  REQUIRE_FALSE(kwire::encode_response_frame_scattered(fetch, 1, 16, 5, s, {.externals = externals}));
  CHECK(s.size() == s.buffer.size() + stand_in.size());
  REQUIRE(s.pieces.size() == 3);
  CHECK(s.pieces[1].kind == kwire::ScatterPiece::Kind::external);
  CHECK(s.pieces[1].size == stand_in.size());
  ::munmap(p, 4 * page);
}

TEST_CASE("a message that cannot be encoded leaves nothing") {
  kwire::FetchResponse fetch;
  fetch.responses.emplace_back().partitions.emplace_back().records = std::nullopt;
  fetch.responses[0].partitions[0].preferred_read_replica = 3;  // only from v11
  kwire::Scattered s;
  s.buffer.assign(10, 1);
  CHECK(kwire::encode_scattered(fetch, 10, s));
  CHECK(s.buffer.empty());
  CHECK(s.pieces.empty());
  CHECK(kwire::encode_response_frame_scattered(fetch, 1, 10, 1, s));
  CHECK(s.pieces.empty());
}
