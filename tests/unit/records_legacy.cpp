// Legacy message sets (magic 0/1): encode, decode with CRC-32 (zlib's),
// compressed wrappers with relative inner offsets, conversion to magic 2.
#include <doctest/doctest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

using namespace kwire;

namespace {

struct Input {
  std::vector<std::string> keys, values;
  std::vector<LegacyRecordInput> records;
};

Input make_input(std::size_t n) {
  Input in;
  for (std::size_t i = 0; i < n; ++i) {
    in.keys.push_back("key-" + std::to_string(i));
    in.values.push_back("value " + std::string(i * 3, 'x'));
  }
  for (std::size_t i = 0; i < n; ++i) {
    LegacyRecordInput r;
    r.timestamp = 1600000000000 + static_cast<std::int64_t>(i) * 10;
    if (i != 2) r.key = as_bytes(in.keys[i]);
    if (i != 4) r.value = as_bytes(in.values[i]);
    in.records.push_back(r);
  }
  return in;
}

std::vector<LegacyMessage> read_all(bytes_view set, std::vector<std::vector<std::uint8_t>>& scratch,
                                    std::optional<DecodeError>& err) {
  std::vector<LegacyMessage> all, part;
  RecordSetReader rs(set);
  LogEntry e;
  while (rs.next_entry(e)) {
    scratch.emplace_back();
    if (auto x = read_legacy_entry(e.bytes, part, scratch.back(), &kwire::decompress, 1 << 24, e.position)) {
      err = x;
      return all;
    }
    all.insert(all.end(), part.begin(), part.end());
  }
  if (!rs.ok()) err = rs.error();
  return all;
}

}  // namespace

TEST_CASE("legacy sets round-trip for both magics, every codec, both timestamp types") {
  auto in = make_input(7);
  for (std::int8_t magic : {0, 1}) {
    for (Compression c : {Compression::none, Compression::gzip, Compression::snappy, Compression::lz4}) {
      for (TimestampType tt : {TimestampType::create_time, TimestampType::log_append_time}) {
        std::vector<std::uint8_t> set;
        REQUIRE(build_legacy_message_set(set, magic, c, tt, 1000, 1900000000000, in.records, &kwire::compress));
        std::vector<std::vector<std::uint8_t>> scratch;
        std::optional<DecodeError> err;
        auto msgs = read_all(set, scratch, err);
        REQUIRE_MESSAGE(!err, err->message());
        REQUIRE(msgs.size() == in.records.size());
        for (std::size_t i = 0; i < msgs.size(); ++i) {
          CHECK(msgs[i].magic == magic);
          CHECK(msgs[i].offset == 1000 + static_cast<std::int64_t>(i));
          std::int64_t ts = magic == 0 ? -1
                            : tt == TimestampType::log_append_time ? 1900000000000
                                                                    : in.records[i].timestamp;
          CHECK(msgs[i].timestamp == ts);
          CHECK(msgs[i].timestamp_type() == (magic == 1 ? tt : TimestampType::create_time));
          CHECK(same_bytes(msgs[i].key, in.records[i].key));
          CHECK(same_bytes(msgs[i].value, in.records[i].value));
        }
        if (c != Compression::none) {
          auto wrapper = parse_legacy_message(set);
          REQUIRE(wrapper);
          CHECK(wrapper->offset == 1006);  // the last inner offset
          CHECK(!wrapper->key);
        }
      }
    }
  }
}

TEST_CASE("legacy CRC is zlib's crc32 and every corruption in its range is caught") {
  auto in = make_input(3);
  std::vector<std::uint8_t> set;
  REQUIRE(build_legacy_message_set(set, 1, Compression::none, TimestampType::create_time, 0, -1, in.records));
  RecordSetReader rs(set);
  LogEntry e;
  REQUIRE(rs.next_entry(e));
  auto m = parse_legacy_message(e.bytes);
  REQUIRE(m);
  CHECK(m->crc == static_cast<std::uint32_t>(::crc32(0, e.bytes.data() + 16, static_cast<uInt>(e.bytes.size() - 16))));
  for (std::size_t i = 16; i < e.bytes.size(); ++i) {
    std::vector<std::uint8_t> copy(e.bytes.begin(), e.bytes.end());
    copy[i] ^= 0x20;
    DecodeError err;
    auto bad = parse_legacy_message(copy, &err);
    CHECK(!bad);
    // A flipped magic or length byte may be caught as framing first.
    CHECK((err.code == DecodeErrc::crc_mismatch || i == 16 || err.code != DecodeErrc::truncated));
  }
}

TEST_CASE("magic 1 inner offsets are relative to the wrapper's last offset") {
  auto in = make_input(4);
  std::vector<std::uint8_t> set;
  REQUIRE(build_legacy_message_set(set, 1, Compression::gzip, TimestampType::create_time, 50, -1, in.records,
                                   &kwire::compress));
  auto wrapper = parse_legacy_message(set);
  REQUIRE(wrapper);
  std::vector<std::uint8_t> inner;
  REQUIRE(!decompress(Compression::gzip, *wrapper->value, inner, 1 << 20));
  RecordSetReader rs(inner);
  LogEntry e;
  std::int64_t expect = 0;
  while (rs.next_entry(e)) CHECK(parse_legacy_message(e.bytes)->offset == expect++);
  CHECK(expect == 4);
  // Moving the wrapper moves every inner message with it.
  records_detail::store_be<std::int64_t>(set.data(), 503);
  std::vector<std::vector<std::uint8_t>> scratch;
  std::optional<DecodeError> err;
  auto msgs = read_all(set, scratch, err);
  REQUIRE(!err);
  CHECK(msgs.front().offset == 500);
  CHECK(msgs.back().offset == 503);
}

TEST_CASE("malformed legacy input is a clean error") {
  auto in = make_input(5);
  std::vector<std::uint8_t> set;
  REQUIRE(build_legacy_message_set(set, 0, Compression::snappy, TimestampType::create_time, 0, -1, in.records,
                                   &kwire::compress));
  for (std::size_t cut = 0; cut < set.size(); ++cut) {
    std::vector<std::uint8_t> part(set.begin(), set.begin() + static_cast<std::ptrdiff_t>(cut));
    std::vector<std::vector<std::uint8_t>> scratch;
    std::optional<DecodeError> err;
    read_all(part, scratch, err);
    CHECK((cut == 0 || err.has_value()));
  }
  // Nested compression is refused.
  std::vector<std::uint8_t> nested_inner;
  REQUIRE(build_legacy_message_set(nested_inner, 0, Compression::gzip, TimestampType::create_time, 0, -1, in.records,
                                   &kwire::compress));
  std::vector<std::uint8_t> packed;
  REQUIRE(compress(Compression::gzip, nested_inner, packed));
  std::vector<std::uint8_t> outer;
  legacy_detail::append_message(outer, 4, 0, 1, -1, std::nullopt, bytes_view(packed));
  std::vector<LegacyMessage> msgs;
  std::vector<std::uint8_t> scratch;
  auto err = read_legacy_entry(outer, msgs, scratch, &kwire::decompress);
  REQUIRE(err);
  CHECK(err->code == DecodeErrc::invalid_record);
}

TEST_CASE("legacy messages convert to an equivalent magic-2 batch") {
  auto in = make_input(6);
  std::vector<std::uint8_t> set;
  REQUIRE(build_legacy_message_set(set, 1, Compression::lz4, TimestampType::create_time, 200, -1, in.records,
                                   &kwire::compress));
  std::vector<std::vector<std::uint8_t>> scratch;
  std::optional<DecodeError> err;
  auto msgs = read_all(set, scratch, err);
  REQUIRE(!err);
  for (Compression c : {Compression::none, Compression::zstd}) {
    std::vector<std::uint8_t> batch;
    REQUIRE(legacy_to_batch(msgs, batch, c, &kwire::compress));
    auto v = RecordBatchView::parse(batch);
    REQUIRE(v);
    CHECK(!v->validate());
    CHECK(v->base_offset() == 200);
    CHECK(v->compression() == c);
    std::vector<std::uint8_t> buf;
    auto rr = v->records(buf, &kwire::decompress);
    std::size_t i = 0;
    for (const auto& r : rr) {
      CHECK(v->offset_of(r) == msgs[i].offset);
      CHECK(v->timestamp_of(r) == msgs[i].timestamp);
      CHECK(same_bytes(r.key, msgs[i].key));
      CHECK(same_bytes(r.value, msgs[i].value));
      ++i;
    }
    CHECK(rr.ok());
    CHECK(i == msgs.size());
  }
}
