// Pulsar's payload codecs as kwire_pulsar implements them: round trips, the
// declared-size limit, and corrupt or mis-declared payloads refused with an
// error (no Pulsar needed; the Java client's side is checked end to end by
// broker_e2e.sh step 8).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "kwire_pulsar/client.hpp"
#include "kwire_pulsar/compression.hpp"

using namespace kwire_pulsar;

namespace {

std::string sample(std::size_t n) {
  std::mt19937 rng(7);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('a' + rng() % 6);  // compressible
  return s;
}

constexpr wire::CompressionType codecs[] = {wire::LZ4, wire::ZLIB, wire::ZSTD, wire::SNAPPY};

}  // namespace

TEST_CASE("each codec round-trips and shrinks a compressible payload") {
  for (auto codec : codecs) {
    CAPTURE(wire::CompressionType_Name(codec));
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{300000}}) {
      const auto in = sample(n);
      std::string packed = "prefix";
      REQUIRE(compress_payload(codec, in, packed));
      REQUIRE(packed.rfind("prefix", 0) == 0);  // appended, not replaced
      packed.erase(0, 6);
      if (n >= 4096) CHECK(packed.size() < in.size());
      CHECK(decompress_payload(codec, packed, in.size()) == in);
    }
  }
}

TEST_CASE("a declared size above the limit is refused before anything is allocated") {
  std::string packed;
  REQUIRE(compress_payload(wire::ZSTD, sample(100), packed));
  for (auto codec : codecs) {
    CAPTURE(wire::CompressionType_Name(codec));
    CHECK_THROWS_AS(decompress_payload(codec, packed, max_uncompressed_payload + 1), Error);
  }
}

TEST_CASE("corrupt payloads and wrong declared sizes are errors") {
  const auto in = sample(5000);
  for (auto codec : codecs) {
    CAPTURE(wire::CompressionType_Name(codec));
    std::string packed;
    REQUIRE(compress_payload(codec, in, packed));
    CHECK_THROWS_AS(decompress_payload(codec, packed, in.size() + 1), Error);
    CHECK_THROWS_AS(decompress_payload(codec, packed, in.size() - 1), Error);
    CHECK_THROWS_AS(decompress_payload(codec, packed.substr(0, packed.size() / 2), in.size()), Error);
    CHECK_THROWS_AS(decompress_payload(codec, std::string(64, '\xff'), in.size()), Error);
  }
  CHECK_THROWS_AS(decompress_payload(static_cast<wire::CompressionType>(9), "x", 1), Error);
}
