// Magic-2 batches without compression: builder and view agree on every field,
// iteration is zero-copy, in-place updates keep the batch valid, and corrupt
// or truncated input is always a clean error.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kwire/records/records.hpp"

using namespace kwire;

namespace {

struct Rec {
  std::int64_t timestamp;
  std::optional<std::string> key, value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

nullable_bytes nb(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return as_bytes(*s);
}

std::string str(bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::vector<std::uint8_t> build(const RecordBatchOptions& o, const std::vector<Rec>& recs) {
  RecordBatchBuilder b(o);
  for (const auto& r : recs) {
    std::vector<RecordHeader> hs;
    for (const auto& [k, v] : r.headers) hs.push_back({k, nb(v)});
    b.append(r.timestamp, nb(r.key), nb(r.value), hs);
  }
  return b.build();
}

std::vector<Rec> random_records(std::mt19937& rng, std::size_t n) {
  std::vector<Rec> v;
  auto rnd_str = [&](std::size_t max) {
    std::string s(rng() % (max + 1), '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  };
  std::int64_t ts = 1700000000000 + static_cast<std::int64_t>(rng() % 100000);
  for (std::size_t i = 0; i < n; ++i) {
    Rec r;
    r.timestamp = ts + static_cast<std::int64_t>(rng() % 2000) - 1000;
    if (rng() % 4) r.key = rnd_str(20);
    if (rng() % 5) r.value = rnd_str(300);
    std::size_t h = rng() % 3;
    for (std::size_t j = 0; j < h; ++j) {
      std::optional<std::string> hv;
      if (rng() % 3) hv = rnd_str(10);
      r.headers.emplace_back(rnd_str(8), hv);
    }
    v.push_back(std::move(r));
  }
  return v;
}

// Reads a batch back and compares every record with what was appended.
void check_round_trip(const std::vector<std::uint8_t>& bytes, const RecordBatchOptions& o, const std::vector<Rec>& recs) {
  DecodeError err;
  auto view = RecordBatchView::parse(bytes, &err);
  REQUIRE_MESSAGE(view, err.message());
  CHECK(view->size() == bytes.size());
  CHECK(!view->validate());
  CHECK(view->base_offset() == o.base_offset);
  CHECK(view->partition_leader_epoch() == o.partition_leader_epoch);
  CHECK(view->magic() == 2);
  CHECK(view->producer_id() == o.producer_id);
  CHECK(view->producer_epoch() == o.producer_epoch);
  CHECK(view->base_sequence() == o.base_sequence);
  CHECK(view->is_transactional() == o.transactional);
  CHECK(view->is_control() == o.control);
  CHECK(view->record_count() == static_cast<std::int32_t>(recs.size()));
  CHECK(view->last_offset_delta() == static_cast<std::int32_t>(recs.size()) - 1);
  std::int64_t max_ts = -1;
  for (const auto& r : recs) max_ts = std::max(max_ts, r.timestamp);
  CHECK(view->max_timestamp() == (o.timestamp_type == TimestampType::log_append_time ? o.log_append_time : max_ts));
  CHECK(view->base_timestamp() == recs.front().timestamp);
  auto reader = view->records();
  std::size_t i = 0;
  for (const RecordView& r : reader) {
    REQUIRE(i < recs.size());
    CHECK(view->offset_of(r) == o.base_offset + static_cast<std::int64_t>(i));
    if (o.timestamp_type == TimestampType::create_time) CHECK(view->timestamp_of(r) == recs[i].timestamp);
    REQUIRE(r.key.has_value() == recs[i].key.has_value());
    if (r.key) CHECK(str(*r.key) == *recs[i].key);
    REQUIRE(r.value.has_value() == recs[i].value.has_value());
    if (r.value) {
      CHECK(str(*r.value) == *recs[i].value);
      // Zero-copy: the value points into the batch itself.
      CHECK(r.value->data() >= bytes.data());
      CHECK(r.value->data() + r.value->size() <= bytes.data() + bytes.size());
    }
    REQUIRE(r.headers().size() == recs[i].headers.size());
    std::size_t j = 0;
    for (const auto& h : r.headers()) {
      CHECK(std::string(h.key) == recs[i].headers[j].first);
      REQUIRE(h.value.has_value() == recs[i].headers[j].second.has_value());
      if (h.value) CHECK(str(*h.value) == *recs[i].headers[j].second);
      ++j;
    }
    ++i;
  }
  CHECK_MESSAGE(reader.ok(), reader.error()->message());
  CHECK(i == recs.size());
}

// Every record of every batch of a record set, with errors surfaced.
std::optional<DecodeError> read_everything(bytes_view set) {
  RecordSetReader rs(set);
  RecordBatchView b;
  while (rs.next(b)) {
    if (auto e = b.validate()) return e;
    auto rr = b.records();
    RecordView r;
    while (rr.next(r)) {
      for (const auto& h : r.headers()) (void)h;
    }
    if (!rr.ok()) return rr.error();
  }
  return rs.error();
}

}  // namespace

TEST_CASE("a built batch reads back with every header field and record") {
  RecordBatchOptions o;
  o.base_offset = 1234567890123;
  o.partition_leader_epoch = 17;
  o.producer_id = 4242;
  o.producer_epoch = 3;
  o.base_sequence = 99;
  std::vector<Rec> recs = {
      {1700000000000, "k1", "v1", {{"h1", "x"}, {"h2", std::nullopt}}},
      {1700000000005, std::nullopt, "v2", {}},
      {1699999999990, "k3", std::nullopt, {{"", ""}}},
  };
  auto bytes = build(o, recs);
  check_round_trip(bytes, o, recs);
  auto v = *RecordBatchView::parse(bytes);
  CHECK(v.compression() == Compression::none);
  CHECK(v.timestamp_type() == TimestampType::create_time);
  CHECK(!v.has_delete_horizon());
  CHECK(v.last_offset() == o.base_offset + 2);
  CHECK(v.last_sequence() == 101);
  CHECK(v.batch_length() == static_cast<std::int32_t>(bytes.size() - 12));
  CHECK(v.crc() == crc32c::value(bytes_view(bytes).subspan(21)));
}

TEST_CASE("random batches round-trip") {
  std::mt19937 rng(1);
  for (int iter = 0; iter < 200; ++iter) {
    RecordBatchOptions o;
    o.base_offset = static_cast<std::int64_t>(rng() % 1000000);
    o.partition_leader_epoch = static_cast<std::int32_t>(rng() % 100) - 1;
    if (rng() % 2) {
      o.producer_id = rng() % 100000;
      o.producer_epoch = static_cast<std::int16_t>(rng() % 10);
      o.base_sequence = static_cast<std::int32_t>(rng() % 1000);
      o.transactional = rng() % 2;
    }
    if (rng() % 4 == 0) {
      o.timestamp_type = TimestampType::log_append_time;
      o.log_append_time = 1800000000000;
    }
    auto recs = random_records(rng, 1 + rng() % 30);
    check_round_trip(build(o, recs), o, recs);
  }
}

TEST_CASE("every single-byte corruption inside the CRC range is detected") {
  std::mt19937 rng(2);
  RecordBatchOptions o;
  auto recs = random_records(rng, 5);
  auto bytes = build(o, recs);
  for (std::size_t i = batch_layout::attributes; i < bytes.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xFF}) {
      auto copy = bytes;
      copy[i] ^= flip;
      auto v = RecordBatchView::parse(copy);
      REQUIRE(v);
      auto e = v->validate();
      REQUIRE(e);
      CHECK(e->code == DecodeErrc::crc_mismatch);
      CHECK(e->offset == batch_layout::crc);
    }
  }
  // Bytes outside the CRC either break framing or are the fields a broker
  // may rewrite; a corrupted stored CRC is itself a mismatch.
  for (std::size_t i = batch_layout::crc; i < batch_layout::attributes; ++i) {
    auto copy = bytes;
    copy[i] ^= 0x5A;
    CHECK(RecordBatchView::parse(copy)->validate()->code == DecodeErrc::crc_mismatch);
  }
}

TEST_CASE("truncation at every offset is a clean error, never a crash") {
  std::mt19937 rng(3);
  std::vector<std::uint8_t> set;
  for (int i = 0; i < 3; ++i) {
    RecordBatchOptions o;
    o.base_offset = i * 100;
    auto b = build(o, random_records(rng, 4));
    set.insert(set.end(), b.begin(), b.end());
  }
  REQUIRE(!read_everything(set));
  for (std::size_t cut = 1; cut < set.size(); ++cut) {
    std::vector<std::uint8_t> part(set.begin(), set.begin() + static_cast<std::ptrdiff_t>(cut));
    bool at_boundary = false;
    {
      RecordSetReader probe(set);
      LogEntry e;
      while (probe.next_entry(e))
        if (e.position + e.bytes.size() == cut) at_boundary = true;
    }
    auto e = read_everything(part);
    if (at_boundary) {
      CHECK(!e);
    } else {
      REQUIRE(e);
      CHECK(e->code == DecodeErrc::truncated);
      CHECK(e->offset <= cut);
    }
    // A fetch response may legitimately end inside a batch.
    RecordSetReader lenient(part, {.allow_partial_tail = true});
    RecordBatchView b;
    while (lenient.next(b)) {
    }
    CHECK(lenient.ok());
    CHECK(lenient.truncated_tail() == !at_boundary);
  }
}

TEST_CASE("record-level inconsistencies are reported with offset and field") {
  RecordBatchOptions o;
  std::vector<Rec> recs = {{1000, "key", "value", {{"h", "v"}}}};
  auto bytes = build(o, recs);
  auto refresh = [](std::vector<std::uint8_t>& b) { REQUIRE(refresh_crc(b)); };

  SUBCASE("record count larger than the records") {
    auto copy = bytes;
    copy[batch_layout::record_count + 3] = 2;
    refresh(copy);
    auto v = RecordBatchView::parse(copy);
    auto rr = v->records();
    RecordView r;
    CHECK(rr.next(r));
    CHECK(!rr.next(r));
    REQUIRE(rr.error());
    CHECK(rr.error()->code == DecodeErrc::truncated);
  }
  SUBCASE("record count smaller than the records") {
    auto copy = bytes;
    copy[batch_layout::record_count + 3] = 0;
    refresh(copy);
    auto rr = RecordBatchView::parse(copy)->records();
    RecordView r;
    CHECK(!rr.next(r));
    REQUIRE(rr.error());
    CHECK(rr.error()->code == DecodeErrc::invalid_record);
  }
  SUBCASE("huge record count is rejected before reading") {
    auto copy = bytes;
    copy[batch_layout::record_count] = 0x7f;
    refresh(copy);
    auto e = RecordBatchView::parse(copy)->validate();
    REQUIRE(e);
    CHECK(e->code == DecodeErrc::length_exceeds_input);
    CHECK(e->path == "recordCount");
  }
  SUBCASE("negative record count") {
    auto copy = bytes;
    copy[batch_layout::record_count] = 0xff;
    refresh(copy);
    CHECK(RecordBatchView::parse(copy)->validate()->code == DecodeErrc::invalid_length);
  }
  SUBCASE("key length past the record") {
    auto copy = bytes;
    // length(1) attrs(1) tsDelta(1) offsetDelta(1) keyLen(1): key length is byte 65.
    REQUIRE(copy[batch_layout::header_size + 4] == 6);  // zigzag(3)
    copy[batch_layout::header_size + 4] = 0x7e;          // 63
    refresh(copy);
    auto rr = RecordBatchView::parse(copy)->records();
    RecordView r;
    CHECK(!rr.next(r));
    REQUIRE(rr.error());
    CHECK(rr.error()->code == DecodeErrc::length_exceeds_input);
    CHECK(rr.error()->offset == batch_layout::header_size + 4);
    CHECK(rr.error()->path == "records[0].key");
  }
  SUBCASE("unknown compression codec") {
    auto copy = bytes;
    copy[batch_layout::attributes + 1] |= 0x07;
    refresh(copy);
    CHECK(RecordBatchView::parse(copy)->validate()->code == DecodeErrc::invalid_record);
  }
  SUBCASE("wrong magic") {
    auto copy = bytes;
    copy[batch_layout::magic] = 3;
    DecodeError e;
    CHECK(!RecordBatchView::parse(copy, &e));
    CHECK(e.code == DecodeErrc::invalid_record);
    CHECK(e.offset == batch_layout::magic);
  }
  SUBCASE("batch length below the header") {
    auto copy = bytes;
    copy[batch_layout::batch_length + 3] = 10;
    copy[batch_layout::batch_length + 2] = 0;
    DecodeError e;
    CHECK(!RecordBatchView::parse(copy, &e));
    CHECK(e.code == DecodeErrc::invalid_length);
  }
}

TEST_CASE("in-place broker updates") {
  std::mt19937 rng(4);
  RecordBatchOptions o;
  auto recs = random_records(rng, 6);
  auto bytes = build(o, recs);
  auto original = bytes;

  SUBCASE("base offset and leader epoch leave everything else alone") {
    REQUIRE(set_base_offset(bytes, 987654321));
    REQUIRE(set_partition_leader_epoch(bytes, 42));
    auto v = *RecordBatchView::parse(bytes);
    CHECK(v.base_offset() == 987654321);
    CHECK(v.partition_leader_epoch() == 42);
    CHECK(!v.validate());
    CHECK(std::equal(bytes.begin() + batch_layout::magic, bytes.end(), original.begin() + batch_layout::magic));
  }
  SUBCASE("log append time sets the type bit, the max timestamp and the CRC") {
    REQUIRE(set_log_append_time(bytes, 1900000000000));
    auto v = *RecordBatchView::parse(bytes);
    CHECK(v.timestamp_type() == TimestampType::log_append_time);
    CHECK(v.max_timestamp() == 1900000000000);
    CHECK(!v.validate());
    auto rr = v.records();
    for (const auto& r : rr) CHECK(v.timestamp_of(r) == 1900000000000);
    CHECK(rr.ok());
    // Only attributes, maxTimestamp and the CRC changed.
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      bool may_change = (i >= batch_layout::crc && i < batch_layout::crc + 4) ||
                        (i >= batch_layout::attributes && i < batch_layout::attributes + 2) ||
                        (i >= batch_layout::max_timestamp && i < batch_layout::max_timestamp + 8);
      if (!may_change) CHECK(bytes[i] == original[i]);
    }
    // Back to create time restores the original bytes when the timestamp is too.
    REQUIRE(set_max_timestamp(bytes, TimestampType::create_time, RecordBatchView::parse(original)->max_timestamp()));
    CHECK(bytes == original);
  }
  SUBCASE("too-short or non-v2 input is refused untouched") {
    std::vector<std::uint8_t> small(10, 0);
    CHECK(!set_base_offset(small, 1));
    auto copy = bytes;
    copy[batch_layout::magic] = 1;
    auto before = copy;
    CHECK(!set_log_append_time(copy, 5));
    CHECK(copy == before);
  }
}

TEST_CASE("transaction markers are control batches with typed key and value") {
  RecordBatchOptions o;
  o.base_offset = 500;
  o.producer_id = 77;
  o.producer_epoch = 2;
  o.transactional = true;
  o.control = true;
  o.partition_leader_epoch = 9;
  RecordBatchBuilder b(o);
  b.append_end_txn_marker(1700000000123, ControlType::commit, 15);
  auto bytes = b.build();
  auto v = *RecordBatchView::parse(bytes);
  CHECK(!v.validate());
  CHECK(v.is_control());
  CHECK(v.is_transactional());
  auto rr = v.records();
  RecordView r;
  REQUIRE(rr.next(r));
  auto key = parse_control_key(r.key);
  REQUIRE(key);
  CHECK(key->version == 0);
  CHECK(key->control_type() == ControlType::commit);
  auto marker = parse_end_txn_marker(r.value);
  REQUIRE(marker);
  CHECK(marker->version == 0);
  CHECK(marker->coordinator_epoch == 15);
  CHECK(!rr.next(r));
  CHECK(rr.ok());
  CHECK(!parse_control_key(std::nullopt));
  std::uint8_t short_key[3] = {0, 0, 1};
  CHECK(!parse_control_key(bytes_view(short_key)));
}

TEST_CASE("delete horizon is stored in baseTimestamp") {
  RecordBatchOptions o;
  o.delete_horizon_ms = 1750000000000;
  std::vector<Rec> recs = {{1700000000000, "a", "b", {}}, {1700000000500, "c", std::nullopt, {}}};
  auto bytes = build(o, recs);
  auto v = *RecordBatchView::parse(bytes);
  CHECK(v.has_delete_horizon());
  CHECK(v.delete_horizon_ms() == 1750000000000);
  auto rr = v.records();
  std::size_t i = 0;
  for (const auto& r : rr) CHECK(v.timestamp_of(r) == recs[i++].timestamp);
  CHECK(i == 2);
}

TEST_CASE("record sets: several batches, legacy entries flagged, empty builder") {
  std::mt19937 rng(5);
  std::vector<std::uint8_t> set;
  for (int i = 0; i < 4; ++i) {
    RecordBatchOptions o;
    o.base_offset = i * 10;
    auto b = build(o, random_records(rng, 3));
    set.insert(set.end(), b.begin(), b.end());
  }
  RecordSetReader rs(set);
  RecordBatchView b;
  int n = 0;
  while (rs.next(b)) {
    CHECK(b.base_offset() == n * 10);
    CHECK(b.bytes().data() >= set.data());  // views, not copies
    ++n;
  }
  CHECK(rs.ok());
  CHECK(n == 4);
  CHECK(rs.position() == set.size());

  RecordBatchBuilder empty;
  CHECK(empty.build().empty());

  auto copy = set;
  copy[batch_layout::magic] = 1;
  RecordSetReader legacy(copy);
  CHECK(!legacy.next(b));
  CHECK(legacy.error()->code == DecodeErrc::invalid_record);
}

TEST_CASE("assign_offsets numbers the batches of a produce request in place") {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> set;
  std::vector<std::size_t> counts = {3, 1, 7};
  for (std::size_t n : counts) {
    auto b = build({}, random_records(rng, n));
    set.insert(set.end(), b.begin(), b.end());
  }
  auto before = set;
  auto r = assign_offsets(set, 1000, 5);
  REQUIRE(!r.error);
  CHECK(r.next_offset == 1011);
  RecordSetReader rs(set);
  RecordBatchView b;
  std::int64_t expect = 1000;
  std::size_t i = 0;
  while (rs.next(b)) {
    CHECK(b.base_offset() == expect);
    CHECK(b.partition_leader_epoch() == 5);
    CHECK(!b.validate());
    expect += static_cast<std::int64_t>(counts[i++]);
  }
  CHECK(i == 3);
  // A set that does not frame is left untouched.
  auto broken = before;
  broken.pop_back();
  auto copy = broken;
  auto bad = assign_offsets(broken, 0, 0);
  REQUIRE(bad.error);
  CHECK(bad.error->code == DecodeErrc::truncated);
  CHECK(broken == copy);
}

TEST_CASE("a reset builder builds the same batch as a fresh one") {
  std::mt19937 rng(6);
  auto first = random_records(rng, 5);
  auto second = random_records(rng, 3);
  RecordBatchOptions o1, o2;
  o2.base_offset = 99;
  o2.producer_id = 3;
  o2.producer_epoch = 0;
  o2.base_sequence = 0;
  RecordBatchBuilder b(o1);
  for (const auto& r : first) b.append(r.timestamp, nb(r.key), nb(r.value));
  CHECK(!b.build().empty());
  b.reset(o2);
  for (const auto& r : second) {
    std::vector<RecordHeader> hs;
    for (const auto& [k, v] : r.headers) hs.push_back({k, nb(v)});
    b.append(r.timestamp, nb(r.key), nb(r.value), hs);
  }
  CHECK(b.build() == build(o2, second));
}

TEST_CASE("builder rejects what Kafka's builder rejects") {
  RecordBatchBuilder b;
  b.append_with_offset(5, 1, std::nullopt, std::nullopt);
  CHECK_THROWS(b.append_with_offset(5, 1, std::nullopt, std::nullopt));
  CHECK_THROWS(b.append(-5, std::nullopt, std::nullopt));
  CHECK_THROWS(b.append_end_txn_marker(1, ControlType::abort, 0));
}

TEST_CASE("offsets and timestamps from extreme wire values wrap as Java's long arithmetic does") {
  // Any values a valid CRC covers (and baseOffset, which it does not) must
  // give defined results: Kafka's Java code wraps, so kwire does too.
  auto batch = build({}, {{0, "a", "1", {}}, {5, "b", "2", {}}});
  set_base_offset(batch, INT64_MAX);
  records_detail::store_be<std::int64_t>(batch.data() + batch_layout::base_timestamp, INT64_MAX);
  refresh_crc(batch);
  auto v = RecordBatchView::parse(batch);
  REQUIRE(v);
  CHECK_FALSE(v->validate());
  CHECK(v->last_offset() == INT64_MIN);  // MAX + 1
  CHECK(v->next_offset() == INT64_MIN + 1);
  std::vector<std::uint8_t> scratch;
  auto rr = v->records(scratch, nullptr);
  RecordView r;
  std::vector<std::int64_t> offsets, timestamps;
  while (rr.next(r)) {
    offsets.push_back(v->offset_of(r));
    timestamps.push_back(v->timestamp_of(r));
  }
  CHECK(rr.ok());
  CHECK(offsets == std::vector<std::int64_t>{INT64_MAX, INT64_MIN});
  CHECK(timestamps == std::vector<std::int64_t>{INT64_MAX, INT64_MIN + 4});
}
