// Log compaction on the embedded store: one batch at a time
// (batch_compactor.hpp) and whole logs (Log::clean), against the rules of
// Kafka's log cleaner.
#include "support/temp_dir.hpp"
#include "storage_contract_support.hpp"
#include <doctest/doctest.h>

#include <map>

#include "kwire/records/compression.hpp"
#include "storage/embedded/batch_compactor.hpp"
#include "storage/embedded/log.hpp"
#include "storage/embedded/store.hpp"

namespace kwire_broker::storage::embedded {
namespace {

using contract::run;
using kwire_broker::testing::TempDir;

kwire::bytes_view bytes_of(const std::string& s) {
  return kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
std::string string_of(kwire::bytes_view b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

/// One record of a test batch: its key, and its value (nullopt: a tombstone).
struct Rec {
  std::string key;
  std::optional<std::string> value;
};

struct Spec {
  std::int64_t base_offset = 0;
  std::int64_t first_timestamp = 1000;
  kwire::Compression compression = kwire::Compression::none;
  std::int64_t producer_id = -1;
  bool transactional = false;
};

std::vector<std::uint8_t> batch(const std::vector<Rec>& recs, Spec spec = {}) {
  kwire::RecordBatchOptions o;
  o.base_offset = spec.base_offset;
  o.compression = spec.compression;
  o.producer_id = spec.producer_id;
  o.producer_epoch = spec.producer_id >= 0 ? 0 : -1;
  o.base_sequence = spec.producer_id >= 0 ? 0 : -1;
  o.transactional = spec.transactional;
  kwire::RecordBatchBuilder b(o);
  std::int64_t ts = spec.first_timestamp;
  for (const auto& r : recs) {
    kwire::nullable_bytes value;
    if (r.value) value = bytes_of(*r.value);
    b.append(ts++, bytes_of(r.key), value);
  }
  return b.build(&kwire::compress);
}

/// A record read back: offset, key, value (nullopt: tombstone), timestamp.
struct Seen {
  std::int64_t offset;
  std::string key;
  std::optional<std::string> value;
  std::int64_t timestamp;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> records_of(kwire::bytes_view set) {
  std::vector<Seen> out;
  kwire::RecordSetReader rs{set};
  kwire::RecordBatchView b;
  std::vector<std::uint8_t> scratch;
  while (rs.next(b)) {
    REQUIRE(b.crc_valid());
    auto reader = b.records(scratch, &kwire::decompress);
    kwire::RecordView r;
    while (reader.next(r)) {
      std::optional<std::string> v;
      if (r.value) v = string_of(*r.value);
      out.push_back({b.offset_of(r), r.key ? string_of(*r.key) : "", v, b.timestamp_of(r)});
    }
    REQUIRE(reader.ok());
  }
  REQUIRE(rs.ok());
  return out;
}

CompactionContext context(const std::map<std::string, std::int64_t>& latest, std::int64_t now = 5000) {
  CompactionContext c;
  c.latest_offset = [latest](kwire::bytes_view key) -> std::optional<std::int64_t> {
    auto it = latest.find(string_of(key));
    if (it == latest.end()) return std::nullopt;
    return it->second;
  };
  c.now_ms = now;
  c.delete_retention_ms = 1000;
  return c;
}

TEST_CASE("compaction: a batch keeps the newest record of each key, at its own offset") {
  for (auto codec : {kwire::Compression::none, kwire::Compression::gzip, kwire::Compression::snappy,
                     kwire::Compression::lz4, kwire::Compression::zstd}) {
    CAPTURE(static_cast<int>(codec));
    auto in = batch({{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}}, {.base_offset = 10, .compression = codec});
    auto view = *kwire::RecordBatchView::parse(kwire::bytes_view(in));
    std::vector<std::uint8_t> out;
    // "a" is newer at 12 (in this batch), "c" at 40 (later in the log).
    REQUIRE(compact_batch(view, context({{"a", 12}, {"b", 11}, {"c", 40}}), out) == BatchFate::rewritten);
    auto got = kwire::RecordBatchView::parse(kwire::bytes_view(out));
    REQUIRE(got);
    CHECK(got->validate() == std::nullopt);
    CHECK(got->base_offset() == 10);
    CHECK(got->last_offset() == 13);  // kept, so that offsets after it never move
    CHECK(got->record_count() == 2);
    CHECK(got->compression() == codec);
    CHECK(records_of(kwire::bytes_view(out)) == std::vector<Seen>{{11, "b", "2", 1001}, {12, "a", "3", 1002}});
  }
}

TEST_CASE("compaction: a batch with nothing superseded is left as it is; one with nothing kept is dropped") {
  auto in = batch({{"a", "1"}, {"b", "2"}}, {.base_offset = 0});
  auto view = *kwire::RecordBatchView::parse(kwire::bytes_view(in));
  std::vector<std::uint8_t> out;
  CHECK(compact_batch(view, context({{"a", 0}}), out) == BatchFate::unchanged);
  CHECK(compact_batch(view, context({{"a", 5}, {"b", 6}}), out) == BatchFate::dropped);
}

TEST_CASE("compaction: a key no later record has is kept whatever its offset") {
  // Found by the log_compaction fuzz target: a batch at a negative base
  // offset lost records "superseded" by a key that occurs nowhere.
  auto in = batch({{"a", "1"}, {"b", "2"}}, {.base_offset = -8646911284551352320});
  auto view = *kwire::RecordBatchView::parse(kwire::bytes_view(in));
  std::vector<std::uint8_t> out;
  CHECK(compact_batch(view, context({}), out) == BatchFate::unchanged);
}

TEST_CASE("compaction: a tombstone gets a delete horizon, and goes once it has passed") {
  auto in = batch({{"a", "1"}, {"gone", std::nullopt}}, {.base_offset = 0, .first_timestamp = 1000});
  auto view = *kwire::RecordBatchView::parse(kwire::bytes_view(in));
  std::vector<std::uint8_t> first;
  REQUIRE(compact_batch(view, context({}, 5000), first) == BatchFate::rewritten);
  auto marked = *kwire::RecordBatchView::parse(kwire::bytes_view(first));
  REQUIRE(marked.delete_horizon_ms());
  CHECK(*marked.delete_horizon_ms() == 6000);  // now + delete.retention.ms
  // Record timestamps survive the new timestamp base.
  CHECK(records_of(kwire::bytes_view(first)) ==
        std::vector<Seen>{{0, "a", "1", 1000}, {1, "gone", std::nullopt, 1001}});
  CHECK(marked.max_timestamp() == 1001);

  std::vector<std::uint8_t> again;
  CHECK(compact_batch(marked, context({}, 5999), again) == BatchFate::unchanged);
  REQUIRE(compact_batch(marked, context({}, 6000), again) == BatchFate::rewritten);
  CHECK(records_of(kwire::bytes_view(again)) == std::vector<Seen>{{0, "a", "1", 1000}});
}

TEST_CASE("compaction: aborted records go; a producer's last batch stays, empty; markers stay") {
  auto in = batch({{"a", "1"}, {"b", "2"}}, {.base_offset = 20, .producer_id = 7, .transactional = true});
  auto view = *kwire::RecordBatchView::parse(kwire::bytes_view(in));
  std::vector<std::uint8_t> out;
  auto ctx = context({});
  ctx.aborted = true;
  CHECK(compact_batch(view, ctx, out) == BatchFate::dropped);
  ctx.producers_last = true;
  REQUIRE(compact_batch(view, ctx, out) == BatchFate::rewritten);
  auto empty = *kwire::RecordBatchView::parse(kwire::bytes_view(out));
  CHECK(empty.record_count() == 0);
  CHECK(empty.base_offset() == 20);
  CHECK(empty.last_offset() == 21);
  CHECK(empty.producer_id() == 7);
  CHECK(empty.base_sequence() == 0);
  CHECK(empty.last_sequence() == 1);
  CHECK(empty.is_transactional());
  CHECK(empty.crc_valid());

  // Superseded records of a producer's last batch: the batch stays, empty.
  auto ctx2 = context({{"a", 99}, {"b", 99}});
  ctx2.producers_last = true;
  REQUIRE(compact_batch(view, ctx2, out) == BatchFate::rewritten);
  CHECK(kwire::RecordBatchView::parse(kwire::bytes_view(out))->record_count() == 0);

  kwire::RecordBatchOptions mo;
  mo.producer_id = 7;
  mo.producer_epoch = 0;
  mo.transactional = true;
  mo.control = true;
  kwire::RecordBatchBuilder m(mo);
  m.append_end_txn_marker(1000, kwire::ControlType::abort, 0);
  auto marker = m.build();
  CHECK(compact_batch(*kwire::RecordBatchView::parse(kwire::bytes_view(marker)), context({}), out) ==
        BatchFate::unchanged);
}

// ------------------------------------------------------------ whole logs

struct CompactedTopic {
  explicit CompactedTopic(const std::filesystem::path& d, std::string segment_bytes = "400")
      : dir(d), segment_bytes_(std::move(segment_bytes)) {
    reopen();
  }
  void reopen() {
    log.reset();
    store.reset();
    Options o;
    o.dir = dir;
    o.cleaner_enable = false;  // the test runs the passes
    // Few descriptors: ledgers are closed and opened again by name, as on a
    // broker with many partitions.
    o.files = std::make_shared<FileCache>(2);
    store = open(o);
    auto created = run(store->topics().create_topic(
        NewTopic{"c", 1,
                 {{"cleanup.policy", "compact"}, {"segment.bytes", segment_bytes_}, {"min.cleanable.dirty.ratio", "0.01"},
                  {"delete.retention.ms", "1000"}}}));
    REQUIRE((created.ok() || created.error == Errc::topic_exists));
    auto l = run(store->open_log(TopicPartition{"c", 0}));
    REQUIRE(l.ok());
    log = std::dynamic_pointer_cast<Log>(l.value);
    REQUIRE(log);
  }
  void append(std::vector<std::uint8_t> bytes) {
    AppendBatch b;
    b.bytes = std::move(bytes);
    b.info = BatchInfo::of(*kwire::RecordBatchView::parse(kwire::bytes_view(b.bytes)));
    REQUIRE(run(log->append(std::move(b))).ok());
  }
  /// Every record from `from` on, read as a consumer reads: batch after batch.
  std::vector<Seen> read_all(std::int64_t from = 0) {
    std::vector<Seen> out;
    for (std::int64_t at = from; at < log->offsets().high_watermark;) {
      ReadOptions o;
      o.offset = at;
      o.max_bytes = 100;
      auto r = run(log->read(o));
      REQUIRE(r.ok());
      auto bytes = read_bytes(r.value);
      REQUIRE(!bytes.empty());
      for (auto& s : records_of(kwire::bytes_view(bytes)))
        if (s.offset >= from) out.push_back(s);
      REQUIRE(r.value.next_offset > at);
      at = r.value.next_offset;
    }
    return out;
  }
  std::filesystem::path dir;
  std::string segment_bytes_;
  std::unique_ptr<Storage> store;
  std::shared_ptr<Log> log;
};

TEST_CASE("compaction: a log keeps the newest record of each key; offsets, reads and reopening agree") {
  TempDir dir("kwire-compaction");
  CompactedTopic t(dir.path);
  // Five rounds over keys k0..k4, then tombstones for k0 and k1; a batch
  // per round, so that ledgers (400 bytes) roll as it goes.
  std::map<std::string, Seen> newest;
  std::int64_t offset = 0, ts = 1000;
  for (int round = 0; round < 5; ++round) {
    std::vector<Rec> recs;
    for (int k = 0; k < 5; ++k) recs.push_back({"k" + std::to_string(k), "r" + std::to_string(round)});
    t.append(batch(recs, {.first_timestamp = ts}));
    for (auto& r : recs) newest[r.key] = {offset++, r.key, r.value, ts++};
  }
  t.append(batch({{"k0", std::nullopt}, {"k1", std::nullopt}}, {.first_timestamp = ts}));
  newest["k0"] = {offset++, "k0", std::nullopt, ts++};
  newest["k1"] = {offset++, "k1", std::nullopt, ts++};
  // The active ledger is never compacted: these stay, duplicates and all.
  for (int i = 0; i < 2; ++i) {
    t.append(batch({{"tail", "x" + std::to_string(i)}}, {.first_timestamp = ts}));
    newest["tail" + std::to_string(i)] = {offset++, "tail", "x" + std::to_string(i), ts++};
  }
  const auto before = t.read_all();
  REQUIRE(before.size() == static_cast<std::size_t>(offset));
  const std::int64_t hw = t.log->offsets().high_watermark;

  const std::int64_t now = 100000;
  REQUIRE(t.log->clean(now, 1 << 20) > 0);
  auto after = t.read_all();
  std::vector<Seen> expected;
  for (auto& [_, s] : newest) expected.push_back(s);
  std::sort(expected.begin(), expected.end(), [](const Seen& a, const Seen& b) { return a.offset < b.offset; });
  CHECK(after == expected);
  CHECK(t.log->offsets().high_watermark == hw);
  CHECK(t.log->offsets().log_start == 0);
  // A read at an offset that was compacted away gets the next batch that
  // remains, as from Kafka.
  CHECK(t.read_all(1).front().offset == expected.front().offset);
  // Nothing more is due until the tombstones' horizon has passed.
  CHECK(t.log->clean(now + 999, 1 << 20) == -1);
  REQUIRE(t.log->clean(now + 1000, 1 << 20) > 0);
  std::erase_if(expected, [](const Seen& s) { return !s.value && s.offset < 27; });
  CHECK(t.read_all() == expected);
  CHECK(t.log->clean(now + 2000, 1 << 20) == -1);

  // Reopened: the ledgers, their indexes and the cleaner's checkpoint agree.
  t.reopen();
  CHECK(t.read_all() == expected);
  CHECK(t.log->offsets().high_watermark == hw);
  int cleaned = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir.path)) {
    CHECK(e.path().extension() != ".cleaned");
    cleaned += e.path().filename() == "cleaner-offset";
  }
  CHECK(cleaned == 1);
  // A new round supersedes what is left and is compacted in its turn.
  for (int k = 0; k < 5; ++k) t.append(batch({{"k" + std::to_string(k), "new"}}, {.first_timestamp = ts++}));
  t.append(batch({{"roll", "y"}}, {.first_timestamp = ts++}));
  // Larger than a ledger: it starts the next one, and what is before it is sealed.
  t.append(batch(std::vector<Rec>(8, Rec{"pad", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}), {.first_timestamp = ts++}));
  REQUIRE(t.log->clean(now + 3000, 1 << 20) > 0);
  std::map<std::string, std::vector<std::string>> by_key;
  for (auto& s : t.read_all()) by_key[s.key].push_back(s.value.value_or("<tombstone>"));
  CHECK(by_key == std::map<std::string, std::vector<std::string>>{{"k0", {"new"}},
                                                                   {"k1", {"new"}},
                                                                   {"k2", {"new"}},
                                                                   {"k3", {"new"}},
                                                                   {"k4", {"new"}},
                                                                   {"tail", {"x1"}},
                                                                   {"roll", {"y"}},
                                                                   {"pad", std::vector<std::string>(8, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")}});
}

TEST_CASE("compaction: keys past log.cleaner.dedupe.buffer.size wait for the next pass, which finishes the work") {
  TempDir dir("kwire-compaction-budget");
  CompactedTopic t(dir.path, "100");  // a ledger per batch
  for (int round = 0; round < 6; ++round) {
    std::vector<Rec> recs;
    for (int k = 0; k < 5; ++k) recs.push_back({"k" + std::to_string(k), "r" + std::to_string(round)});
    t.append(batch(recs));
  }
  t.append(batch({{"active", "x"}}));
  auto keyed = [&] {
    std::size_t n = 0;
    for (auto& s : t.read_all()) n += s.key != "active";
    return n;
  };
  REQUIRE(keyed() == 30);
  // A budget of one byte: each pass maps a single ledger's keys.
  int passes = 0;
  std::vector<std::size_t> left;
  while (t.log->clean(100000, 1) >= 0) {
    left.push_back(keyed());
    REQUIRE(++passes < 20);
  }
  CHECK(passes > 1);
  CHECK(left.front() > 5);  // the first pass could not see every key's newest record
  CHECK(keyed() == 5);
  for (auto& s : t.read_all())
    if (s.key != "active") CHECK(s.value == std::optional<std::string>("r5"));
}

}  // namespace
}  // namespace kwire_broker::storage::embedded
