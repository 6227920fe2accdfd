// Codecs: round trips, output bounds, broken input, and the framings real
// producers use (xerial and raw snappy, Kafka's old LZ4 header checksum,
// concatenated gzip members and zstd frames).
#include <doctest/doctest.h>
#include <zlib.h>
#include <lz4frame.h>

#include <random>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

using namespace kwire;

namespace {

std::vector<std::uint8_t> sample(std::size_t n, bool compressible, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = compressible ? static_cast<std::uint8_t>("abcabcabd"[rng() % 9]) : static_cast<std::uint8_t>(rng());
  return v;
}

const Compression all_codecs[] = {Compression::gzip, Compression::snappy, Compression::lz4, Compression::zstd};

}  // namespace

TEST_CASE("every codec round-trips inputs of many sizes") {
  for (Compression c : all_codecs) {
    for (std::size_t n : {0u, 1u, 100u, 32768u, 32769u, 65536u, 65537u, 300000u}) {
      for (bool compressible : {true, false}) {
        auto in = sample(n, compressible, static_cast<std::uint32_t>(n));
        std::vector<std::uint8_t> packed, out;
        REQUIRE(compress(c, in, packed));
        auto e = decompress(c, packed, out, 1 << 24);
        CHECK_MESSAGE(!e, to_string(c), " n=", n, ": ", e ? e->message() : "");
        CHECK(out == in);
      }
    }
  }
}

TEST_CASE("output larger than the limit is limit_exceeded, at any limit") {
  auto in = sample(200000, true, 1);
  for (Compression c : all_codecs) {
    std::vector<std::uint8_t> packed, out;
    REQUIRE(compress(c, in, packed));
    for (std::size_t limit : {0u, 1u, 1000u, 65536u, 199999u}) {
      auto e = decompress(c, packed, out, limit);
      REQUIRE_MESSAGE(e, to_string(c), " limit ", limit);
      CHECK(e->code == DecodeErrc::limit_exceeded);
      CHECK(out.size() <= limit + 1);
    }
    CHECK(!decompress(c, packed, out, 200000));
    CHECK(out.size() == 200000);
  }
}

TEST_CASE("a highly compressible bomb stops at the limit without taking its size in memory") {
  std::vector<std::uint8_t> zeros(64 << 20, 0);  // 64 MiB of zeros
  for (Compression c : all_codecs) {
    std::vector<std::uint8_t> packed, out;
    REQUIRE(compress(c, zeros, packed));
    CHECK(packed.size() < zeros.size() / 20);
    auto e = decompress(c, packed, out, 1 << 20);
    REQUIRE(e);
    CHECK(e->code == DecodeErrc::limit_exceeded);
    CHECK(out.capacity() <= (std::size_t{2} << 20));
  }
}

TEST_CASE("truncated or corrupt compressed input fails cleanly") {
  auto in = sample(50000, true, 2);
  for (Compression c : all_codecs) {
    std::vector<std::uint8_t> packed, out;
    REQUIRE(compress(c, in, packed));
    std::size_t failures = 0, cuts = 0;
    for (std::size_t cut = 0; cut < packed.size(); cut += 1 + cut / 16) {
      ++cuts;
      std::vector<std::uint8_t> part(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(cut));
      // The 16-byte xerial header alone is a complete, empty snappy stream.
      bool complete_empty_stream = c == Compression::snappy && cut == 16;
      if (decompress(c, part, out, 1 << 24) || complete_empty_stream) ++failures;
    }
    CHECK_MESSAGE(failures == cuts, to_string(c));
    // Flipped bytes either fail or (for codecs without a checksum) produce
    // some output; they never crash or exceed the limit.
    std::mt19937 rng(3);
    for (int i = 0; i < 300; ++i) {
      auto copy = packed;
      copy[rng() % copy.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
      auto e = decompress(c, copy, out, 1 << 17);
      if (!e) CHECK(out.size() <= (1u << 17));
    }
  }
}

TEST_CASE("snappy: xerial framing is what Java writes; raw blocks are read too") {
  auto in = sample(70000, true, 4);
  std::vector<std::uint8_t> framed, raw, out;
  REQUIRE(snappy_compress_xerial(in, framed));
  const std::uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  CHECK(std::equal(header, header + 16, framed.begin()));
  // 70000 bytes in 32 KiB chunks: three blocks.
  std::size_t pos = 16, blocks = 0;
  while (pos < framed.size()) {
    pos += 4 + records_detail::load_be<std::uint32_t>(framed.data() + pos);
    ++blocks;
  }
  CHECK(pos == framed.size());
  CHECK(blocks == 3);
  REQUIRE(snappy_compress_raw(in, raw));
  CHECK(!snappy_decompress(raw, out, 1 << 20));
  CHECK(out == in);
  // A block claiming a huge length is refused before allocating it.
  std::vector<std::uint8_t> liar = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
  auto e = snappy_decompress(liar, out, SIZE_MAX);
  REQUIRE(e);
  CHECK(out.size() < 1000);
}

TEST_CASE("lz4: Kafka's frame settings, and the magic-0 header checksum is accepted") {
  auto in = sample(150000, true, 5);
  std::vector<std::uint8_t> packed, out;
  REQUIRE(lz4_compress(in, packed));
  CHECK(crc_detail::load_le32(packed.data()) == 0x184D2204u);
  CHECK(packed[4] == 0x60);  // version 1, independent blocks, no checksums, no size
  CHECK(packed[5] == 0x40);  // 64 KiB blocks
  // liblz4 itself reads our frame.
  LZ4F_dctx* d = nullptr;
  LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
  std::vector<std::uint8_t> ref(in.size());
  std::size_t dn = ref.size(), sn = packed.size();
  CHECK(LZ4F_decompress(d, ref.data(), &dn, packed.data(), &sn, nullptr) == 0);
  LZ4F_freeDecompressionContext(d);
  CHECK(ref == in);
  // The old checksum covers the frame magic as well.
  auto old = packed;
  old[6] = static_cast<std::uint8_t>(xxh32(old.data(), 6, 0) >> 8);
  REQUIRE(old[6] != packed[6]);
  CHECK(!lz4_decompress(old, out, 1 << 20));
  CHECK(out == in);
  auto bad = packed;
  bad[6] ^= 0x55;
  auto e = lz4_decompress(bad, out, 1 << 20);
  REQUIRE(e);
  CHECK(e->code == DecodeErrc::decompression_failed);
}

TEST_CASE("xxh32 matches liblz4's frame header checksum") {
  // liblz4 writes the standard checksum; re-deriving it checks our xxh32.
  for (std::size_t n : {1u, 1000u}) {
    auto in = sample(n, true, 6);
    std::vector<std::uint8_t> packed;
    REQUIRE(lz4_compress(in, packed));
    CHECK(packed[6] == static_cast<std::uint8_t>(xxh32(packed.data() + 4, 2, 0) >> 8));
  }
}

TEST_CASE("gzip: Java's header, zlib-compatible stream, concatenated members") {
  auto in = sample(40000, true, 7);
  std::vector<std::uint8_t> packed, out;
  REQUIRE(gzip_compress(in, packed));
  const std::uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  CHECK(std::equal(header, header + 10, packed.begin()));
  // zlib's own gzip reader agrees.
  std::vector<std::uint8_t> ref(in.size());
  z_stream z{};
  inflateInit2(&z, 31);
  z.next_in = packed.data();
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = ref.data();
  z.avail_out = static_cast<uInt>(ref.size());
  CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
  inflateEnd(&z);
  CHECK(ref == in);
  auto twice = packed;
  twice.insert(twice.end(), packed.begin(), packed.end());
  CHECK(!gzip_decompress(twice, out, 1 << 20));
  CHECK(out.size() == 2 * in.size());
  auto trailing = packed;
  trailing.push_back(0);
  CHECK(gzip_decompress(trailing, out, 1 << 20));
}

TEST_CASE("zstd: frames without content size; concatenated frames") {
  auto in = sample(10000, true, 8);
  std::vector<std::uint8_t> packed, out;
  REQUIRE(zstd_compress(in, packed));
  CHECK(ZSTD_getFrameContentSize(packed.data(), packed.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
  auto twice = packed;
  twice.insert(twice.end(), packed.begin(), packed.end());
  CHECK(!zstd_decompress(twice, out, 1 << 20));
  CHECK(out.size() == 2 * in.size());
}

TEST_CASE("compressed batches: build, validate, iterate from the caller's buffer") {
  for (Compression c : all_codecs) {
    RecordBatchOptions o;
    o.compression = c;
    o.base_offset = 100;
    RecordBatchBuilder b(o);
    std::vector<std::string> values;
    for (int i = 0; i < 500; ++i) values.push_back("value number " + std::to_string(i));
    for (int i = 0; i < 500; ++i) {
      RecordHeader h{"h", as_bytes(values[static_cast<std::size_t>(i)])};
      b.append(1700000000000 + i, as_bytes("k"), as_bytes(values[static_cast<std::size_t>(i)]), {&h, 1});
    }
    auto bytes = b.build(&kwire::compress);
    auto v = RecordBatchView::parse(bytes);
    REQUIRE(v);
    CHECK(v->compression() == c);
    CHECK(!v->validate());
    CHECK(bytes.size() < b.uncompressed_records().size());
    // Without a decompressor the reader says so.
    auto plain = v->records();
    RecordView r;
    CHECK(!plain.next(r));
    CHECK(plain.error()->code == DecodeErrc::decompression_failed);
    std::vector<std::uint8_t> scratch;
    auto rr = v->records(scratch, &kwire::decompress);
    int i = 0;
    for (const auto& rec : rr) {
      CHECK(v->offset_of(rec) == 100 + i);
      CHECK(std::equal(rec.value->begin(), rec.value->end(), as_bytes(values[static_cast<std::size_t>(i)]).begin()));
      CHECK(rec.value->data() >= scratch.data());  // views into the caller's buffer
      ++i;
    }
    CHECK(rr.ok());
    CHECK(i == 500);
    // A limit below the inflated size is a clean error.
    auto small = v->records(scratch, &kwire::decompress, 1000);
    CHECK(!small.next(r));
    CHECK(small.error()->code == DecodeErrc::limit_exceeded);
    // Builder without a compressor refuses a compressed batch.
    std::vector<std::uint8_t> out;
    CHECK(!b.build(out));
    CHECK(out.empty());
  }
}
