#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "kwire/records/crc32c.hpp"

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

}  // namespace

TEST_CASE("crc32c matches the published check values") {
  // The check value of the CRC catalogue and the iSCSI vectors of RFC 3720 B.4.
  CHECK(kwire::crc32c::value(bytes_of("123456789")) == 0xE3069283u);
  CHECK(kwire::crc32c::value({}) == 0u);
  std::vector<std::uint8_t> v(32, 0x00);
  CHECK(kwire::crc32c::value(v) == 0x8A9136AAu);
  std::fill(v.begin(), v.end(), 0xFF);
  CHECK(kwire::crc32c::value(v) == 0x62A8AB43u);
  for (std::size_t i = 0; i < 32; ++i) v[i] = static_cast<std::uint8_t>(i);
  CHECK(kwire::crc32c::value(v) == 0x46DD794Eu);
  for (std::size_t i = 0; i < 32; ++i) v[i] = static_cast<std::uint8_t>(31 - i);
  CHECK(kwire::crc32c::value(v) == 0x113FDB5Cu);
  const std::uint8_t iscsi_read[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
      0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(kwire::crc32c::value(iscsi_read) == 0xD9963A56u);
  CHECK(kwire::crc32c::extend_portable(0, iscsi_read, 48) == 0xD9963A56u);
}

TEST_CASE("crc32c extend continues a checksum and combine joins two") {
  auto data = random_bytes(10000, 7);
  std::uint32_t whole = kwire::crc32c::value(data);
  for (std::size_t cut : {0u, 1u, 7u, 100u, 4097u, 9999u, 10000u}) {
    std::uint32_t a = kwire::crc32c::extend(0, data.data(), cut);
    CHECK(kwire::crc32c::extend(a, data.data() + cut, data.size() - cut) == whole);
    std::uint32_t b = kwire::crc32c::extend(0, data.data() + cut, data.size() - cut);
    CHECK(kwire::crc32c::combine(a, b, data.size() - cut) == whole);
  }
}

TEST_CASE("crc32c hardware path equals the portable one for every length and alignment") {
  if (!kwire::crc32c::hardware_available()) {
    MESSAGE("no SSE4.2/PCLMUL on this CPU: only the portable path is in use");
    return;
  }
  auto data = random_bytes(4096 + 16, 42);
  std::size_t mismatches = 0;
  for (std::size_t align = 0; align < 16; ++align) {
    for (std::size_t len = 0; len <= 4096; ++len) {
      const std::uint8_t* p = data.data() + align;
      std::uint32_t seed = static_cast<std::uint32_t>(len * 2654435761u);
      if (kwire::crc32c::extend_hardware(seed, p, len) != kwire::crc32c::extend_portable(seed, p, len)) ++mismatches;
    }
  }
  CHECK(mismatches == 0);
  // Each hardware path on its own, since extend_hardware picks by length.
  std::size_t sse_mismatches = 0, fold_mismatches = 0, fold_runs = 0;
  for (std::size_t align = 0; align < 16; ++align) {
    for (std::size_t len = 0; len <= 4096; ++len) {
      const std::uint8_t* p = data.data() + align;
      std::uint32_t seed = static_cast<std::uint32_t>(len * 40503u + align);
      std::uint32_t want = kwire::crc32c::extend_portable(seed, p, len);
      if (kwire::crc32c::extend_sse42(seed, p, len) != want) ++sse_mismatches;
      if (len >= 256 && kwire::crc32c::vpclmul_available()) {
        ++fold_runs;
        if (kwire::crc32c::extend_vpclmul(seed, p, len) != want) ++fold_mismatches;
      }
    }
  }
  CHECK(sse_mismatches == 0);
  CHECK(fold_mismatches == 0);
  if (!kwire::crc32c::vpclmul_available()) MESSAGE("no AVX-512 VPCLMULQDQ: folding path not exercised");
  // Long inputs take the widest interleaved tier several times.
  auto big = random_bytes(1 << 20, 3);
  CHECK(kwire::crc32c::extend_hardware(0, big.data(), big.size()) ==
        kwire::crc32c::extend_portable(0, big.data(), big.size()));
  CHECK(kwire::crc32c::extend_sse42(0, big.data(), big.size()) ==
        kwire::crc32c::extend_portable(0, big.data(), big.size()));
}

TEST_CASE("crc32 (IEEE) equals zlib's crc32") {
  CHECK(kwire::crc32::value(bytes_of("123456789")) == 0xCBF43926u);
  auto data = random_bytes(5000, 11);
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t len : {0u, 1u, 3u, 8u, 15u, 64u, 1000u, 4990u}) {
      auto z = static_cast<std::uint32_t>(::crc32(0L, data.data() + align, static_cast<uInt>(len)));
      CHECK(kwire::crc32::value({data.data() + align, len}) == z);
    }
  }
}
