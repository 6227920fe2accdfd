// A broker's in-place stamps on a produced batch (base offset, leader epoch,
// LogAppendTime) give exactly the bytes the builder writes for the same batch
// built with those settings, for every codec: the stamps touch the header
// only, and the builder's output is itself checked against Kafka's Java
// client (tests/records). Like Kafka, stamping LogAppendTime sets the type bit
// and maxTimestamp and keeps baseTimestamp (the producer's first timestamp),
// so the records need no rewrite even when compressed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

using namespace kwire;

namespace {

std::vector<std::uint8_t> build(RecordBatchOptions o, int n) {
  RecordBatchBuilder b(o);
  for (int i = 0; i < n; ++i) {
    std::string key = "key-" + std::to_string(i);
    std::string value(100 + 37 * i, static_cast<char>('a' + i % 26));
    RecordHeader h{"trace", as_bytes(key)};
    // Out-of-order timestamps: the first one is not the smallest.
    b.append(1700000000000 + (i % 3) * 1000 - i, as_bytes(key), as_bytes(value), std::span(&h, 1));
  }
  return b.build(&kwire::compress);
}

const Compression codecs[] = {Compression::none, Compression::gzip, Compression::snappy, Compression::lz4,
                              Compression::zstd};

}  // namespace

TEST_CASE("stamping LogAppendTime equals building with LogAppendTime") {
  constexpr std::int64_t now = 1800000000123;
  for (Compression c : codecs) {
    CAPTURE(to_string(c));
    RecordBatchOptions produced;
    produced.compression = c;
    produced.producer_id = 77;
    produced.producer_epoch = 3;
    produced.base_sequence = 40;
    auto bytes = build(produced, 9);

    RecordBatchOptions stored = produced;
    stored.base_offset = 123456789;
    stored.partition_leader_epoch = 5;
    stored.timestamp_type = TimestampType::log_append_time;
    stored.log_append_time = now;
    auto expected = build(stored, 9);

    REQUIRE(set_log_append_time(bytes, now));
    REQUIRE(set_base_offset(bytes, 123456789));
    REQUIRE(set_partition_leader_epoch(bytes, 5));
    CHECK(bytes == expected);

    auto v = *RecordBatchView::parse(bytes);
    CHECK(v.crc_valid());
    CHECK(!v.validate());
    CHECK(v.timestamp_type() == TimestampType::log_append_time);
    CHECK(v.max_timestamp() == now);
    CHECK(v.base_timestamp() == 1700000000000);  // the producer's first timestamp, kept
    std::vector<std::uint8_t> scratch;
    auto rr = v.records(scratch, &kwire::decompress);
    int n = 0;
    for (const auto& r : rr) {
      CHECK(v.timestamp_of(r) == now);
      CHECK(v.offset_of(r) == 123456789 + n);
      ++n;
    }
    CHECK(rr.ok());
    CHECK(n == 9);
  }
}

TEST_CASE("stamping twice with the same time changes nothing") {
  auto bytes = build({}, 3);
  REQUIRE(set_log_append_time(bytes, 42));
  auto once = bytes;
  REQUIRE(set_log_append_time(bytes, 42));
  CHECK(bytes == once);
  // A later stamp replaces the time and keeps the CRC right.
  REQUIRE(set_log_append_time(bytes, 43));
  CHECK(RecordBatchView::parse(bytes)->max_timestamp() == 43);
  CHECK(RecordBatchView::parse(bytes)->crc_valid());
}

TEST_CASE("base offset and leader epoch stamps keep the CRC without recomputing it") {
  auto bytes = build({}, 4);
  auto crc_before = RecordBatchView::parse(bytes)->crc();
  REQUIRE(set_base_offset(bytes, 1LL << 40));
  REQUIRE(set_partition_leader_epoch(bytes, 9));
  auto v = *RecordBatchView::parse(bytes);
  CHECK(v.crc() == crc_before);
  CHECK(v.crc_valid());
  CHECK(v.last_offset() == (1LL << 40) + 3);
}

TEST_CASE("a stamp on a truncated or legacy entry is refused and changes nothing") {
  auto bytes = build({}, 2);
  std::vector<std::uint8_t> header_only(bytes.begin(), bytes.begin() + batch_layout::header_size - 1);
  auto before = header_only;
  CHECK(!set_log_append_time(header_only, 1));
  CHECK(!set_base_offset(header_only, 1));
  CHECK(!set_partition_leader_epoch(header_only, 1));
  CHECK(header_only == before);
}
