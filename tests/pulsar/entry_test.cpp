// Stored Pulsar entries read without a Pulsar: metadata parsed from the bytes
// a producer wrote, and entries turned into Kafka batches, in the malformed
// cases the pulsar_entry fuzz target found (its inputs for them are
// tests/fuzz/corpus/pulsar_entry/finding-*).
#include <doctest/doctest.h>
#include <google/protobuf/stubs/logging.h>

#include <kwire/records/batch.hpp>
#include <kwire/records/builder.hpp>
#include <kwire/records/compression.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kwire_pulsar/entry.hpp"
#include "kwire_pulsar/error.hpp"
#include "kwire_pulsar/frame.hpp"
#include "storage/pulsar/entry_format.hpp"

// The largest single allocation since it was last reset: the standard
// library's and protobuf's all go through the global operator new.
namespace {
std::size_t largest_allocation = 0;
}  // namespace

void* operator new(std::size_t n) {
  largest_allocation = std::max(largest_allocation, n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace kp = kwire_pulsar;
namespace sp = kwire_broker::storage::pulsar;

constexpr std::uint64_t publish_time = 1700000000000;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string varint(std::uint64_t v) {
  std::string s;
  for (; v >= 0x80; v >>= 7) s.push_back(static_cast<char>(v | 0x80));
  s.push_back(static_cast<char>(v));
  return s;
}

kp::Entry entry_of(kp::wire::MessageMetadata meta, std::string payload, std::uint64_t index) {
  kp::Entry e;
  e.id = {3, 4, -1, -1};
  e.index = index;
  meta.set_producer_name("gw");
  meta.set_sequence_id(0);
  meta.set_publish_time(publish_time);
  e.metadata = std::make_shared<const kp::wire::MessageMetadata>(std::move(meta));
  e.payload = std::move(payload);
  return e;
}

kp::Entry stored(const sp::EncodedEntry& e, std::uint64_t index) { return entry_of(e.metadata, e.payload, index); }

std::vector<std::uint8_t> kafka_batch(std::int64_t producer_id = -1, std::int16_t epoch = -1,
                                      std::int32_t base_sequence = -1) {
  kwire::RecordBatchOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = epoch;
  o.base_sequence = base_sequence;
  kwire::RecordBatchBuilder b(o);
  const std::string k = "k", v = "value";
  b.append(1700000000001, bytes_of(k), bytes_of(v));
  b.append(1700000000002, std::nullopt, bytes_of(v));
  return b.build();
}

kwire::RecordBatchView parsed(const std::vector<std::uint8_t>& out) {
  auto v = kwire::RecordBatchView::parse(out);
  REQUIRE(v);
  REQUIRE(v->size() == out.size());
  REQUIRE_FALSE(v->validate());
  return *v;
}

void set_property(kp::wire::MessageMetadata& m, const std::string& key, const std::string& value) {
  for (auto& kv : *m.mutable_properties())
    if (kv.key() == key) return kv.set_value(value);
  auto* kv = m.add_properties();
  kv->set_key(key);
  kv->set_value(value);
}

}  // namespace

TEST_CASE("a stored Kafka batch is served at its index's offsets, and refused once damaged") {
  auto entry = stored(sp::kafka_to_entry(kafka_batch(), sp::EntryFormat::kafka), 41);
  std::vector<std::uint8_t> out;
  sp::entry_to_kafka(entry, 41, out);
  const auto v = parsed(out);
  CHECK(v.base_offset() == 40);
  CHECK(v.last_offset() == 41);

  entry.payload.back() ^= 1;  // a byte of the last record's value
  out.clear();
  CHECK_THROWS_AS(sp::entry_to_kafka(entry, 41, out), sp::BadEntry);
  CHECK(out.empty());
}

TEST_CASE("a transaction marker is a message without payload in both formats, read back as Kafka's control batch") {
  kwire::RecordBatchOptions o;
  o.producer_id = 4242;
  o.producer_epoch = 3;
  o.transactional = true;
  o.control = true;
  kwire::RecordBatchBuilder b(o);
  b.append_end_txn_marker(1700000000005, kwire::ControlType::abort, 9);
  const auto marker = b.build();
  for (const auto format : {sp::EntryFormat::pulsar, sp::EntryFormat::kafka}) {
    auto encoded = sp::kafka_to_entry(marker, format);
    CHECK(encoded.messages == 1);
    CHECK(encoded.payload.empty());
    CHECK_FALSE(encoded.metadata.has_num_messages_in_batch());
    sp::add_entry_property(encoded, sp::txn_first_property, "30");
    const auto entry = stored(encoded, 41);
    const auto mk = sp::marker_of(*entry.metadata);
    REQUIRE(mk);
    CHECK_FALSE(mk->commit);
    CHECK(mk->producer_id == 4242);
    CHECK(mk->coordinator_epoch == 9);
    CHECK(mk->txn_first == 30);
    std::vector<std::uint8_t> out;
    sp::entry_to_kafka(entry, 41, out);
    const auto v = parsed(out);
    CHECK(v.base_offset() == 41);
    CHECK(v.is_control());
    CHECK(v.is_transactional());
    CHECK(v.producer_epoch() == 3);
    CHECK(v.max_timestamp() == 1700000000005);
    // Byte for byte what was appended, but for the base offset.
    auto expected = marker;
    kwire::set_base_offset(expected, 41);
    CHECK(out == expected);
  }
  // A marker property that is not the gateway's makes a bad entry.
  auto encoded = sp::kafka_to_entry(marker, sp::EntryFormat::pulsar);
  set_property(encoded.metadata, sp::control_property, "maybe");
  std::vector<std::uint8_t> out;
  CHECK_THROWS_AS(sp::entry_to_kafka(stored(encoded, 1), 1, out), sp::BadEntry);
}

TEST_CASE("a transactional batch stays transactional in the pulsar format") {
  kwire::RecordBatchOptions o;
  o.producer_id = 7;
  o.producer_epoch = 1;
  o.base_sequence = 0;
  o.transactional = true;
  kwire::RecordBatchBuilder b(o);
  const std::string v = "value";
  b.append(1700000000001, std::nullopt, bytes_of(v));
  std::vector<std::uint8_t> out;
  sp::entry_to_kafka(stored(sp::kafka_to_entry(b.build(), sp::EntryFormat::pulsar), 1), 1, out);
  CHECK(parsed(out).is_transactional());
  out.clear();
  sp::entry_to_kafka(stored(sp::kafka_to_entry(kafka_batch(7, 1, 0), sp::EntryFormat::pulsar), 1), 1, out);
  CHECK_FALSE(parsed(out).is_transactional());
}

TEST_CASE("Kafka producer fields that are not numbers make a bad entry") {
  const auto encoded = sp::kafka_to_entry(kafka_batch(4242, 3, 7), sp::EntryFormat::pulsar);
  std::vector<std::uint8_t> out;
  sp::entry_to_kafka(stored(encoded, 1), 1, out);
  const auto v = parsed(out);
  CHECK(v.producer_id() == 4242);
  CHECK(v.producer_epoch() == 3);
  CHECK(v.base_sequence() == 7);

  const std::pair<const char*, const char*> bad[] = {
      {sp::producer_id_property, "x"},         {sp::producer_id_property, "12x"},
      {sp::producer_id_property, " 12"},       {sp::producer_epoch_property, "+1"},
      {sp::producer_epoch_property, "40000"},  // past int16
      {sp::base_sequence_property, ""},
  };
  for (const auto& [key, value] : bad) {
    CAPTURE(key);
    CAPTURE(value);
    auto e = encoded;
    set_property(e.metadata, key, value);
    out.clear();
    CHECK_THROWS_AS(sp::entry_to_kafka(stored(e, 1), 1, out), sp::BadEntry);
  }
}

TEST_CASE("a message time past Kafka's signed range is served as no timestamp") {
  struct Case {
    std::uint64_t event_time;
    std::int64_t timestamp;
  };
  const Case cases[] = {
      {0, static_cast<std::int64_t>(publish_time)},  // no event time: the publish time
      {1700000000009, 1700000000009},
      {std::uint64_t{INT64_MAX}, INT64_MAX},
      {std::uint64_t{INT64_MAX} + 1, kwire::no_timestamp},
      {~std::uint64_t{0}, kwire::no_timestamp},
  };
  for (const auto& c : cases) {
    CAPTURE(c.event_time);
    kp::wire::MessageMetadata meta;
    if (c.event_time) meta.set_event_time(c.event_time);
    std::vector<std::uint8_t> out;
    sp::entry_to_kafka(entry_of(meta, "v", 5), 5, out);
    const auto v = parsed(out);
    auto records = v.records();
    kwire::RecordView r;
    REQUIRE(records.next(r));
    CHECK(v.timestamp_of(r) == c.timestamp);
    CHECK(v.last_offset() == 5);
  }
}

TEST_CASE("metadata declaring a KeyValue longer than itself is refused with nothing reserved for it") {
  // A KeyValue (field 1 of a message's metadata, 4 of an entry's) declared
  // 50 MB long, holding a key declared a little shorter, in a few bytes.
  const std::string long_key_value = varint(50'000'000) + "\x0a" + varint(49'999'990) + "k";
  const std::string single = std::string("\x18\x00\x0a", 3) + long_key_value;
  const std::string entry_meta = std::string("\x0a\x01p\x10\x00\x18\x00\x22", 8) + long_key_value;

  kp::wire::SingleMessageMetadata sm;
  largest_allocation = 0;
  CHECK_FALSE(kp::parse_metadata(bytes_of(single), sm));
  CHECK(largest_allocation < 4096);

  kp::wire::MessageMetadata mm;
  largest_allocation = 0;
  CHECK_FALSE(kp::parse_metadata(bytes_of(entry_meta), mm));
  CHECK(largest_allocation < 4096);

  // In a batch, as entry_messages meets it.
  std::string batch;
  kp::put_u32(batch, static_cast<std::uint32_t>(single.size()));
  batch += single;
  kp::wire::MessageMetadata meta;
  meta.set_num_messages_in_batch(1);
  const auto entry = entry_of(meta, batch, 0);
  largest_allocation = 0;
  CHECK_THROWS_AS(kp::entry_messages(entry), kp::Error);
  CHECK(largest_allocation < 4096);
}

TEST_CASE("well-formed metadata parses as protobuf parses it") {
  kp::wire::MessageMetadata meta;
  meta.set_producer_name("p");
  meta.set_sequence_id(9);
  meta.set_publish_time(publish_time);
  set_property(meta, "a", "b");
  meta.set_compression(kp::wire::ZSTD);
  meta.set_uncompressed_size(77);
  meta.set_num_messages_in_batch(2);
  const auto bytes = meta.SerializeAsString();
  kp::wire::MessageMetadata back;
  REQUIRE(kp::parse_metadata(bytes_of(bytes), back));
  CHECK(back.SerializeAsString() == bytes);
  // Cut short anywhere, it is refused as protobuf refuses it.
  google::protobuf::LogSilencer quiet;  // protobuf logs each refusal
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    kp::wire::MessageMetadata cut, reference;
    CHECK(kp::parse_metadata(bytes_of(bytes).first(n), cut) == reference.ParseFromArray(bytes.data(), static_cast<int>(n)));
  }
}

TEST_CASE("records of a batch entry delivered again keep their offsets when some were acknowledged alone") {
  // A Shared subscription delivers a batch entry again with an ack set:
  // messages 0 and 2 of 4 were acknowledged alone (their bits cleared).
  kwire::RecordBatchBuilder b;
  std::vector<std::string> values{"v0", "v1", "v2", "v3"};
  for (auto& v : values) b.append(1700000000001, std::nullopt, bytes_of(v));
  auto entry = stored(sp::kafka_to_entry(b.build(), sp::EntryFormat::pulsar), 13);
  entry.ack_set = {0b1010};
  std::vector<std::uint8_t> out;
  sp::entry_to_kafka(entry, 13, out);
  auto v = parsed(out);
  CHECK(v.base_offset() == 10);
  std::vector<std::pair<std::int64_t, std::string>> seen;
  auto records = v.records();
  kwire::RecordView r;
  while (records.next(r)) seen.emplace_back(v.offset_of(r), std::string(r.value->begin(), r.value->end()));
  CHECK_FALSE(records.error());
  CHECK(seen == std::vector<std::pair<std::int64_t, std::string>>{{11, "v1"}, {13, "v3"}});
}
