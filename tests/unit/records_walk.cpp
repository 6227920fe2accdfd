// walk_record_set: a mixed record set (legacy messages, then magic-2 batches
// of several codecs) is read in order with absolute offsets; errors stop it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kwire/records/walk.hpp"

using namespace kwire;

TEST_CASE("walking a mixed record set visits every entry and record in order") {
  std::vector<std::uint8_t> set;
  std::vector<LegacyRecordInput> legacy(2);
  legacy[0] = {1600000000000, as_bytes("a"), as_bytes("old-1")};
  legacy[1] = {1600000000001, std::nullopt, as_bytes("old-2")};
  REQUIRE(build_legacy_message_set(set, 1, Compression::gzip, TimestampType::create_time, 0, -1, legacy,
                                   &kwire::compress));
  std::int64_t next = 2;
  for (Compression c : {Compression::none, Compression::snappy, Compression::zstd}) {
    RecordBatchOptions o;
    o.base_offset = next;
    o.compression = c;
    RecordBatchBuilder b(o);
    RecordHeader h{"trace", as_bytes("t")};
    for (int i = 0; i < 3; ++i) b.append(1700000000000 + next + i, as_bytes("k"), as_bytes("new"), {&h, 1});
    REQUIRE(b.build(set, &kwire::compress));
    next += 3;
  }
  int entries = 0, v2 = 0;
  std::vector<std::int64_t> offsets;
  std::size_t headers = 0;
  auto err = walk_record_set(
      set,
      [&](const WalkedEntry& e) {
        ++entries;
        if (e.batch) ++v2;
      },
      [&](const WalkedRecord& r) {
        offsets.push_back(r.offset);
        headers += r.headers.size();
      });
  CHECK_MESSAGE(!err, err->message());
  CHECK(entries == 4);
  CHECK(v2 == 3);
  REQUIRE(offsets.size() == 11);
  for (std::size_t i = 0; i < offsets.size(); ++i) CHECK(offsets[i] == static_cast<std::int64_t>(i));
  CHECK(headers == 9);

  // A corrupted byte in the second batch stops the walk with a CRC error
  // that points at that batch.
  RecordSetReader rs(set);
  LogEntry e;
  rs.next_entry(e);
  rs.next_entry(e);
  auto copy = set;
  copy[e.position + e.bytes.size() - 1] ^= 1;
  std::size_t seen = 0;
  auto bad = walk_record_set(copy, [](const WalkedEntry&) {}, [&](const WalkedRecord&) { ++seen; });
  REQUIRE(bad);
  CHECK(bad->code == DecodeErrc::crc_mismatch);
  CHECK(bad->offset == e.position + batch_layout::crc);
  CHECK(seen == 2);
}
