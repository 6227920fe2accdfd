// The decode memory budget: what decoding may allocate is bounded before it is
// allocated, the default bound admits every message the schemas allow, and a
// tighter one refuses input made of tiny elements (array amplification) or of
// unknown tagged fields, with the field named in the error.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory_resource>
#include <string>
#include <type_traits>
#include <vector>

#include "kwire/codec.hpp"
#include "kwire/framing/request.hpp"
#include "kwire/messages/all.hpp"
#include "kwire/messages/dispatch.hpp"
#include "../support/counting_resource.hpp"

using namespace kwire;

namespace {

template <class T>
struct array_of : std::false_type {};
template <class T>
struct array_of<array<T>> : std::true_type {
  using elem = T;
};
template <class T>
struct array_of<std::optional<array<T>>> : std::true_type {
  using elem = T;
};
template <class T>
concept Struct = requires(std::int16_t v, bool f) { T::min_size(v, f); };

/// The largest (element size in memory) / (its smallest encoding) over every
/// array reachable in a message at a version.
struct Worst {
  double ratio = 0;
  std::string where;
};

template <class T>
void walk(std::int16_t v, bool flex, const std::string& path, Worst& w);

template <class T>
void element(std::int16_t v, bool flex, const std::string& path, Worst& w) {
  std::size_t min = 0;
  if constexpr (Struct<T>) {
    min = T::min_size(v, flex);
  } else if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, nullable_string>) {
    min = flex ? 1 : 2;  // an empty string's length prefix
  } else if constexpr (std::is_same_v<T, Uuid>) {
    min = 16;
  } else {
    static_assert(std::is_arithmetic_v<T>, "an array element kind this test does not know");
    min = sizeof(T);
  }
  REQUIRE_MESSAGE(min > 0, path);
  const double r = static_cast<double>(sizeof(T)) / static_cast<double>(min);
  if (r > w.ratio) w = {r, path + " v" + std::to_string(v)};
  if constexpr (Struct<T>) walk<T>(v, flex, path, w);
}

template <class T>
void walk(std::int16_t v, bool flex, const std::string& path, Worst& w) {
  T t;
  T::visit_fields(t, [&](const FieldInfo& fi, auto& member) {
    using M = std::remove_cvref_t<decltype(member)>;
    if (!fi.present(v)) return;
    if constexpr (array_of<M>::value)
      element<typename array_of<M>::elem>(v, flex, path + "." + std::string(fi.name), w);
    else if constexpr (Struct<M>)
      walk<M>(v, flex, path + "." + std::string(fi.name), w);
  });
}


/// A Produce v9 request of `n` topics with empty names and no partitions:
/// three bytes each on the wire, a whole TopicProduceData in memory.
std::vector<std::uint8_t> empty_topics_produce(std::size_t n) {
  ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 1000;
  req.topic_data.resize(n);
  std::vector<std::uint8_t> out;
  REQUIRE_FALSE(encode_into(req, 9, out));
  return out;
}

}  // namespace

TEST_CASE("the default budget admits every message the schemas allow") {
  // The bound holds if no element costs more memory per byte of its smallest
  // encoding than the ratio (kept unknown tags cost sizeof(RawTaggedField)
  // per two bytes at least).
  Worst w;
  for (std::int16_t key = 0; key < 200; ++key) {
    auto each = [&]<class M>(std::type_identity<M>) {
      for (std::int16_t v = M::min_version; v <= M::max_version; ++v)
        walk<M>(v, is_flexible<M>(v), std::string(M::message_name), w);
    };
    with_request_type(key, each);
    with_response_type(key, each);
  }
  const double tags = static_cast<double>(sizeof(RawTaggedField)) / 2;
  MESSAGE("largest element ratio " << w.ratio << " at " << w.where << "; unknown tags " << tags);
  CHECK(w.ratio <= static_cast<double>(default_memory_ratio));
  CHECK(tags <= static_cast<double>(default_memory_ratio));
}

TEST_CASE("array amplification: a tighter budget refuses tiny elements before allocating them") {
  const auto body = empty_topics_produce(100000);
  CHECK(body.size() < 400000);
  ProduceRequest req;
  kwire_test::CountingResource mem;
  SUBCASE("the default budget decodes it, within its bound") {
    auto r = decode(req, body, 9, DecodeOptions{.memory = &mem});
    REQUIRE(r);
    CHECK(req.topic_data.size() == 100000);
    CHECK(mem.allocated <= default_memory_limit(body.size()));
  }
  SUBCASE("four times the input is not enough, and nothing past the budget is allocated") {
    const std::size_t limit = 4 * body.size();
    auto r = decode(req, body, 9, DecodeOptions{.memory = &mem, .max_memory = limit});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == DecodeErrc::limit_exceeded);
    CHECK(r.error().path == "TopicData");
    CHECK(mem.allocated <= limit);
  }
}

TEST_CASE("nested arrays share one budget") {
  // One topic with many partitions without records: the partitions' array is
  // charged against what the topics' array left.
  ProduceRequest req;
  req.acks = -1;
  req.topic_data.resize(1);
  req.topic_data[0].name = "t";
  req.topic_data[0].partition_data.resize(50000);
  std::vector<std::uint8_t> body;
  REQUIRE_FALSE(encode_into(req, 9, body));
  ProduceRequest out;
  auto r = decode(out, body, 9, DecodeOptions{.max_memory = 1000 + 50000 * 8});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == DecodeErrc::limit_exceeded);
  CHECK(r.error().path == "TopicData[0].PartitionData");
  CHECK(decode(out, body, 9, DecodeOptions{.max_memory = 2 * sizeof(ProduceRequest::TopicProduceData) +
                                                         50000 * sizeof(ProduceRequest::PartitionProduceData)}));
}

TEST_CASE("unknown tagged fields count against the budget") {
  // A request header (v2) carrying 20000 unknown tags of two bytes each.
  std::vector<std::uint8_t> frame = {0, 3, 0, 12, 0, 0, 0, 7, 0, 1, 'c'};
  std::uint32_t n = 20000;
  while (n >= 0x80) {
    frame.push_back(static_cast<std::uint8_t>(n | 0x80));
    n >>= 7;
  }
  frame.push_back(static_cast<std::uint8_t>(n));
  for (std::uint32_t tag = 0; tag < 20000; ++tag) {
    std::uint32_t t = tag + 1000;  // tags a header does not know
    while (t >= 0x80) {
      frame.push_back(static_cast<std::uint8_t>(t | 0x80));
      t >>= 7;
    }
    frame.push_back(static_cast<std::uint8_t>(t));
    frame.push_back(0);  // empty value
  }
  SUBCASE("the default budget keeps them") {
    RequestFrame f;
    REQUIRE(read_request_header(frame, f));
    CHECK(f.header.unknown_tags.size() == 20000);
  }
  SUBCASE("a header budget refuses them") {
    Reader r(frame);
    r.set_memory_limit(64 << 10);
    RequestHeader h;
    h.decode_from(r, 2, true);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error()->code == DecodeErrc::limit_exceeded);
  }
}
