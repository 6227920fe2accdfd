// The produce-side batch validator, rule by rule, on batches from kwire's
// builder and damaged copies of them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"
#include "protocol/batch_validator.hpp"

using namespace kwire;
using kwire_broker::ProduceContext;
using kwire_broker::TopicRules;
using kwire_broker::validate_produce;

namespace {

constexpr std::int64_t now = 1800000000000;

struct Spec {
  RecordBatchOptions options;
  int records = 3;
  std::int64_t first_ts = now - 5000;
  bool keys = true;
};

std::vector<std::uint8_t> batch(Spec s = {}) {
  RecordBatchBuilder b(s.options);
  for (int i = 0; i < s.records; ++i) {
    std::string key = "k" + std::to_string(i), value(200, static_cast<char>('a' + i));
    b.append(s.first_ts + i, s.keys ? nullable_bytes(as_bytes(key)) : std::nullopt, as_bytes(value));
  }
  return b.build(&kwire::compress);
}

ProduceContext ctx(std::int16_t version = 11) { return {.version = version, .acks = -1, .now_ms = now, .leader_epoch = 7}; }

kwire_broker::Validation check(const std::vector<std::uint8_t>& bytes, TopicRules rules = {},
                               ProduceContext c = ctx()) {
  return validate_produce(bytes_view(bytes), rules, c);
}

void put32(std::vector<std::uint8_t>& b, std::size_t at, std::int32_t v) { records_detail::store_be(b.data() + at, v); }

}  // namespace

TEST_CASE("a well-formed batch passes, gets the leader epoch and keeps everything else") {
  Spec s;
  s.options.producer_id = 5;
  s.options.producer_epoch = 1;
  s.options.base_sequence = 10;
  auto in = batch(s);
  auto v = check(in);
  REQUIRE(v.ok());
  REQUIRE(v.batches.size() == 1);
  auto& out = v.batches[0];
  auto expected = in;
  set_partition_leader_epoch(expected, 7);
  CHECK(out.bytes == expected);
  CHECK(out.info.record_count == 3);
  CHECK(out.info.last_offset_delta == 2);
  CHECK(out.info.max_timestamp == now - 5000 + 2);
  CHECK(out.info.producer_id == 5);
  CHECK(out.info.base_sequence == 10);
  CHECK(!out.info.log_append_time);
  CHECK(v.log_append_time == -1);
}

TEST_CASE("LogAppendTime topics get the broker's time, stamped as the builder writes it") {
  for (Compression c : {Compression::none, Compression::lz4, Compression::zstd}) {
    CAPTURE(to_string(c));
    Spec s;
    s.options.compression = c;
    auto in = batch(s);
    TopicRules rules;
    rules.timestamp_type = TimestampType::log_append_time;
    rules.timestamp_before_max_ms = 1;  // not applied under LogAppendTime
    auto v = check(in, rules);
    REQUIRE(v.ok());
    CHECK(v.log_append_time == now);
    Spec built = s;
    built.options.timestamp_type = TimestampType::log_append_time;
    built.options.log_append_time = now;
    built.options.partition_leader_epoch = 7;
    CHECK(v.batches[0].bytes == batch(built));
    CHECK(v.batches[0].info.log_append_time);
    CHECK(v.batches[0].info.max_timestamp == now);
  }
}

TEST_CASE("CreateTime: a wrong maxTimestamp is corrected to the records' maximum") {
  auto in = batch();
  records_detail::store_be<std::int64_t>(in.data() + batch_layout::max_timestamp, 1);
  refresh_crc(in);
  auto v = check(in);
  REQUIRE(v.ok());
  auto view = *RecordBatchView::parse(v.batches[0].bytes);
  CHECK(view.max_timestamp() == now - 5000 + 2);
  CHECK(view.crc_valid());
}

TEST_CASE("acks other than -1, 0 and 1") {
  auto c = ctx();
  c.acks = 2;
  CHECK(check(batch(), {}, c).error == ErrorCode::InvalidRequiredAcks);
}

TEST_CASE("exactly one whole magic-2 batch") {
  auto one = batch();
  SUBCASE("no records") {
    CHECK(validate_produce(std::nullopt, {}, ctx()).error == ErrorCode::InvalidRecord);
    CHECK(check({}).error == ErrorCode::InvalidRecord);
  }
  SUBCASE("cut short") {
    auto cut = one;
    cut.resize(cut.size() - 1);
    CHECK(check(cut).error == ErrorCode::InvalidRecord);
    cut.resize(10);
    CHECK(check(cut).error == ErrorCode::InvalidRecord);
  }
  SUBCASE("two batches") {
    auto two = one;
    two.insert(two.end(), one.begin(), one.end());
    auto v = check(two);
    CHECK(v.error == ErrorCode::InvalidRecord);
    CHECK(v.message.find("exactly one record batch") != std::string::npos);
  }
  SUBCASE("a partial second batch") {
    auto tail = one;
    tail.insert(tail.end(), one.begin(), one.begin() + 20);
    CHECK(check(tail).error == ErrorCode::InvalidRecord);
  }
  SUBCASE("legacy magic 1") {
    std::vector<std::uint8_t> legacy;
    LegacyRecordInput r{now, std::nullopt, as_bytes(std::string_view("v"))};
    REQUIRE(build_legacy_message_set(legacy, 1, Compression::none, TimestampType::create_time, 0, -1,
                                     std::span(&r, 1)));
    auto v = check(legacy);
    CHECK(v.error == ErrorCode::InvalidRecord);
    CHECK(v.message.find("magic version 2") != std::string::npos);
  }
  SUBCASE("a magic no Kafka knows") {
    auto bad = one;
    bad[batch_layout::magic] = 3;
    CHECK(check(bad).error == ErrorCode::CorruptMessage);
  }
  SUBCASE("a batch length below any header") {
    auto bad = one;
    put32(bad, batch_layout::batch_length, 5);
    CHECK(check(bad).error == ErrorCode::CorruptMessage);
  }
}

TEST_CASE("sizes: max.message.bytes, then segment.bytes") {
  auto in = batch();
  TopicRules rules;
  rules.max_message_bytes = static_cast<std::int64_t>(in.size()) - 1;
  CHECK(check(in, rules).error == ErrorCode::MessageTooLarge);
  rules.max_message_bytes = static_cast<std::int64_t>(in.size());
  CHECK(check(in, rules).ok());
  rules.segment_bytes = static_cast<std::int64_t>(in.size()) - 1;
  CHECK(check(in, rules).error == ErrorCode::RecordListTooLarge);
}

TEST_CASE("the CRC covers attributes to the end") {
  auto in = batch();
  in.back() ^= 1;
  auto v = check(in);
  CHECK(v.error == ErrorCode::CorruptMessage);
  CHECK(v.message.find("CRC") != std::string::npos);
}

TEST_CASE("codecs: known ids only, zstd from Produce v7") {
  Spec s;
  s.options.compression = Compression::zstd;
  auto z = batch(s);
  CHECK(check(z, {}, ctx(7)).ok());
  CHECK(check(z, {}, ctx(6)).error == ErrorCode::UnsupportedCompressionType);
  auto bad = batch();
  records_detail::store_be<std::uint16_t>(bad.data() + batch_layout::attributes, 5);
  refresh_crc(bad);
  CHECK(check(bad).error == ErrorCode::CorruptMessage);
  SUBCASE("compressed data that does not inflate") {
    s.options.compression = Compression::gzip;
    auto g = batch(s);
    for (std::size_t i = batch_layout::header_size + 12; i < g.size(); ++i) g[i] = 0x5a;
    refresh_crc(g);
    CHECK(check(g).error == ErrorCode::CorruptMessage);
  }
}

TEST_CASE("the header agrees with itself") {
  SUBCASE("record count other than lastOffsetDelta + 1") {
    auto in = batch();
    put32(in, batch_layout::record_count, 2);
    refresh_crc(in);
    CHECK(check(in).error == ErrorCode::InvalidRecord);
  }
  SUBCASE("records fewer than the count says") {
    auto in = batch();
    put32(in, batch_layout::record_count, 4);
    put32(in, batch_layout::last_offset_delta, 3);
    refresh_crc(in);
    CHECK(check(in).error == ErrorCode::InvalidRecord);
  }
  SUBCASE("control batches are the broker's") {
    RecordBatchOptions o;
    o.producer_id = 1;
    o.producer_epoch = 0;
    o.transactional = true;
    o.control = true;
    RecordBatchBuilder b(o);
    b.append_end_txn_marker(now, ControlType::commit, 0);
    auto v = check(b.build());
    CHECK(v.error == ErrorCode::InvalidRecord);
    CHECK(v.message.find("control") != std::string::npos);
  }
  SUBCASE("a producer id without a sequence") {
    Spec s;
    s.options.producer_id = 9;
    CHECK(check(batch(s)).error == ErrorCode::InvalidRecord);
  }
  SUBCASE("a transaction without a producer id") {
    Spec s;
    s.options.transactional = true;
    CHECK(check(batch(s)).error == ErrorCode::InvalidRecord);
  }
  SUBCASE("a transactional batch with its producer fields passes") {
    Spec s;
    s.options.producer_id = 9;
    s.options.producer_epoch = 0;
    s.options.base_sequence = 0;
    s.options.transactional = true;
    auto v = check(batch(s));
    REQUIRE(v.ok());
    CHECK(v.batches[0].info.transactional);
  }
}

TEST_CASE("records: offset deltas 0, 1, 2, ... with per-record errors") {
  // Records at deltas 0 and 2, the header claiming two records at 0..1.
  RecordBatchBuilder b;
  b.append_with_offset(0, now, as_bytes(std::string_view("a")), as_bytes(std::string_view("x")));
  b.append_with_offset(2, now, as_bytes(std::string_view("b")), as_bytes(std::string_view("y")));
  auto in = b.build();
  put32(in, batch_layout::last_offset_delta, 1);
  refresh_crc(in);
  auto v = check(in);
  CHECK(v.error == ErrorCode::InvalidRecord);
  REQUIRE(v.record_errors.size() == 1);
  CHECK(v.record_errors[0].batch_index == 1);
  CHECK(v.batches.empty());
}

TEST_CASE("records: CreateTime timestamps within message.timestamp.before/after.max.ms") {
  TopicRules rules;
  rules.timestamp_before_max_ms = 60000;
  rules.timestamp_after_max_ms = 1000;
  Spec old;
  old.first_ts = now - 60001;  // the first record is too old, the next two are in range
  auto v = check(batch(old), rules);
  CHECK(v.error == ErrorCode::InvalidTimestamp);
  REQUIRE(v.record_errors.size() == 1);
  CHECK(v.record_errors[0].batch_index == 0);

  Spec future;
  future.first_ts = now + 999;  // records at +999 (in range), +1000 (in range), +1001
  v = check(batch(future), rules);
  CHECK(v.error == ErrorCode::InvalidTimestamp);
  REQUIRE(v.record_errors.size() == 1);
  CHECK(v.record_errors[0].batch_index == 2);

  SUBCASE("no timestamp (-1) is not checked") {
    RecordBatchBuilder b;
    b.append(no_timestamp, std::nullopt, as_bytes(std::string_view("v")));
    CHECK(check(b.build(), rules).ok());
  }
  SUBCASE("the defaults take anything not over an hour ahead") {
    Spec ancient;
    ancient.first_ts = 0;
    CHECK(check(batch(ancient)).ok());
    Spec ahead;
    ahead.first_ts = now + 3600001;
    CHECK(check(batch(ahead)).error == ErrorCode::InvalidTimestamp);
  }
}

TEST_CASE("records: a timestamp error outranks other record errors") {
  TopicRules rules;
  rules.compacted = true;
  rules.timestamp_before_max_ms = 0;
  Spec s;
  s.keys = false;
  s.first_ts = now - 10;
  auto v = check(batch(s), rules);
  CHECK(v.error == ErrorCode::InvalidTimestamp);
  CHECK(v.record_errors.size() == 6);  // three missing keys, three timestamps
}

TEST_CASE("records: compacted topics need keys, also inside compressed batches") {
  TopicRules rules;
  rules.compacted = true;
  Spec s;
  s.keys = false;
  s.options.compression = Compression::snappy;
  auto v = check(batch(s), rules);
  CHECK(v.error == ErrorCode::InvalidRecord);
  CHECK(v.record_errors.size() == 3);
  s.keys = true;
  CHECK(check(batch(s), rules).ok());
}

TEST_CASE("topic rules from Kafka's config names") {
  auto r = TopicRules::from_configs({{"max.message.bytes", "1000"},
                                     {"segment.bytes", "2000"},
                                     {"message.timestamp.type", "LogAppendTime"},
                                     {"message.timestamp.before.max.ms", "5"},
                                     {"message.timestamp.after.max.ms", "6"},
                                     {"cleanup.policy", "compact,delete"}});
  CHECK(r.max_message_bytes == 1000);
  CHECK(r.segment_bytes == 2000);
  CHECK(r.timestamp_type == TimestampType::log_append_time);
  CHECK(r.timestamp_before_max_ms == 5);
  CHECK(r.timestamp_after_max_ms == 6);
  CHECK(r.compacted);
  auto d = TopicRules::from_configs({{"max.message.bytes", "junk"}});
  CHECK(d.max_message_bytes == TopicRules{}.max_message_bytes);
  CHECK(!d.compacted);
}
