// The storage contract on the embedded store, and what only it has:
// retention that drops whole segments, and its files, recovered after a
// crash.
#include "support/temp_dir.hpp"
#include "storage_contract.hpp"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <list>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "storage/embedded/store.hpp"

namespace kwire_broker::storage::contract {
namespace {

namespace fs = std::filesystem;

using TempDir = kwire_broker::testing::TempDir;

// Removed when the test program ends, after every store is gone.
std::list<TempDir>& temp_dirs() {
  static std::list<TempDir> dirs;
  return dirs;
}

std::unique_ptr<Storage> open_at(const fs::path& dir, std::vector<std::string>* reports = nullptr,
                                 std::int64_t index_interval_bytes = 4096) {
  embedded::Options o;
  o.dir = dir;
  o.index_interval_bytes = index_interval_bytes;
  if (reports) o.report = [reports](const std::string& s) { reports->push_back(s); };
  return embedded::open(o);
}

fs::path only_ledger(const fs::path& partition_dir) {
  std::vector<fs::path> logs;
  for (auto& e : fs::directory_iterator(partition_dir))
    if (e.path().extension() == ".log") logs.push_back(e.path());
  REQUIRE(logs.size() == 1);
  return logs.front();
}

void append_to_file(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

std::unique_ptr<Storage> open_fresh_store() { return open_at(temp_dirs().emplace_back("kwire-contract").path); }

TEST_CASE("embedded: retention by size and by time in maintain(), a segment at a time") {
  const auto now = std::chrono::system_clock::now();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  SUBCASE("by size") {
    Fixture f("sized", 1, {{"segment.bytes", "300"}, {"retention.bytes", "600"}});
    auto log = f.log();
    for (int i = 0; i < 30; ++i) REQUIRE(f.append(*log, make_batch(2, now_ms)).ok());
    f.store->maintain(now);
    auto o = log->offsets();
    CHECK(o.log_start > 0);
    CHECK(o.high_watermark == 60);
    auto from = f.read(*log, o.log_start);
    REQUIRE(from.ok());
    CHECK(from.value.size() > 0);
  }
  SUBCASE("by time") {
    Fixture f("timed", 1, {{"segment.bytes", "300"}, {"retention.ms", "60000"}});
    auto log = f.log();
    for (int i = 0; i < 20; ++i) REQUIRE(f.append(*log, make_batch(2, now_ms - 3600 * 1000)).ok());
    f.store->maintain(now);
    auto o = log->offsets();
    CHECK(o.log_start > 0);
    CHECK(o.high_watermark == 40);
  }
}

TEST_CASE("embedded: sealed ledgers get their index files whole; the active ledger is indexed in memory") {
  TempDir dir{"kwire-contract"};
  const auto partition_dir = dir.path / "public" / "default" / "topics" / "t" / "0";
  auto ledgers = [&] {
    std::vector<fs::path> logs;
    for (auto& e : fs::directory_iterator(partition_dir))
      if (e.path().extension() == ".log") logs.push_back(e.path());
    std::sort(logs.begin(), logs.end());
    return logs;
  };
  {
    auto store = open_at(dir.path);
    NewTopic nt{"t", 1, {{"segment.bytes", "600"}}};
    REQUIRE(run(store->topics().create_topic(nt)).ok());
    auto log = run(store->open_log(TopicPartition{"t", 0})).value;
    for (int i = 0; i < 40; ++i) REQUIRE(run(log->append(make_batch(2, 1000 + 10 * i))).ok());
    auto logs = ledgers();
    REQUIRE(logs.size() >= 3);
    for (std::size_t i = 0; i + 1 < logs.size(); ++i) {
      auto idx = logs[i];
      CHECK(fs::exists(idx.replace_extension(".index")));
      CHECK(fs::file_size(idx) > 0);
      CHECK(fs::exists(idx.replace_extension(".timeindex")));
    }
    auto active = logs.back();
    CHECK(!fs::exists(active.replace_extension(".index")));
    // Abandoned without close(): the active ledger is scanned at reopening.
  }
  auto store = open_at(dir.path);
  auto log = run(store->open_log(TopicPartition{"t", 0})).value;
  CHECK(log->offsets().high_watermark == 80);
  for (std::int64_t offset : {0, 17, 41, 79}) {
    auto r = run(log->read(ReadOptions{.offset = offset, .max_bytes = 1}));
    REQUIRE(r.ok());
    auto batches = batches_of(r.value.regions.empty() ? r.value.bytes : read_bytes(r.value));
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].base_offset <= offset);
    CHECK(batches[0].base_offset + 1 >= offset);
  }
  // Batch i holds offsets 2i and 2i+1 at 1000 + 10i and 1001 + 10i.
  auto by_time = run(log->offset_for_timestamp(1000 + 10 * 23));
  REQUIRE(by_time.ok());
  CHECK(by_time.value.offset == 46);
}

TEST_CASE("embedded: with flush.messages=1 appends are answered once synced, and share syncs") {
  Fixture f("synced", 1, {{"flush.messages", "1"}});
  auto log = f.log();
  // All started before any is answered: the flusher's thread syncs while
  // this thread writes, and answers each append on this io_context, which
  // must not run out of work while the answers are pending.
  boost::asio::io_context io;
  constexpr int n = 50;
  std::vector<std::optional<Result<AppendResult>>> results(n);
  for (int i = 0; i < n; ++i) {
    boost::asio::co_spawn(io, log->append(make_batch(2)), [&results, i](std::exception_ptr e, Result<AppendResult> r) {
      if (!e) results[static_cast<std::size_t>(i)] = std::move(r);
    });
  }
  io.run();
  for (int i = 0; i < n; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    REQUIRE(r.has_value());
    REQUIRE(r->ok());
    CHECK(r->value.base_offset == 2 * i);
  }
  CHECK(log->offsets().high_watermark == 2 * n);
}

TEST_CASE("embedded: a torn or corrupt ledger tail is cut off at reopening, by CRC") {
  TempDir dir{"kwire-contract"};
  const auto partition_dir = dir.path / "public" / "default" / "topics" / "t" / "0";
  {
    auto store = open_at(dir.path);
    NewTopic nt{"t", 1, {}};
    REQUIRE(run(store->topics().create_topic(nt)).ok());
    auto log = run(store->open_log(TopicPartition{"t", 0})).value;
    for (int i = 0; i < 3; ++i) {
      BatchSpec s;
      s.records = 2;
      s.tag = "good" + std::to_string(i);
      REQUIRE(run(log->append(make_batch(s))).ok());
    }
    // Abandoned without close(), as a killed broker leaves it.
  }
  auto ledger = only_ledger(partition_dir);
  const auto good_size = fs::file_size(ledger);

  SUBCASE("a batch cut short") {
    auto torn = make_batch(4).bytes;
    torn.resize(torn.size() / 2);
    append_to_file(ledger, torn);
  }
  SUBCASE("a whole batch whose CRC does not match") {
    auto bad = make_batch(2).bytes;
    kwire::set_base_offset(bad, 6);
    bad.back() ^= 0xff;
    append_to_file(ledger, bad);
  }
  SUBCASE("bytes that are no batch at all") {
    append_to_file(ledger, std::vector<std::uint8_t>(100, 0xab));
  }
  REQUIRE(fs::file_size(ledger) > good_size);

  std::vector<std::string> reports;
  auto store = open_at(dir.path, &reports);
  CHECK(fs::file_size(ledger) == good_size);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].find("truncated a torn tail") != std::string::npos);
  auto log = run(store->open_log(TopicPartition{"t", 0})).value;
  CHECK(log->offsets().high_watermark == 6);
  ReadOptions all;
  auto r = run(log->read(all));
  REQUIRE(r.ok());
  auto got = batches_of(read_bytes(r.value));
  REQUIRE(got.size() == 3);
  CHECK(got[2].base_offset == 4);
  CHECK(got[2].first_value == "good2-0");
  auto next = run(log->append(make_batch(1)));
  REQUIRE(next.ok());
  CHECK(next.value.base_offset == 6);
}

TEST_CASE("embedded: reads end at the batch boundaries a walk of every batch finds, across ledgers") {
  // Batches of 1 to 5 records in ledgers of about 1 KiB, indexed every 100
  // bytes: reads find their ends through the index and a few headers, and
  // must agree with the batches one by one.
  TempDir dir{"kwire-contract"};
  auto store = open_at(dir.path, nullptr, 100);
  REQUIRE(run(store->topics().create_topic(NewTopic{"t", 1, {{"segment.bytes", "1000"}}})).ok());
  auto log = run(store->open_log(TopicPartition{"t", 0})).value;
  struct Stored {
    std::int64_t base, last;
    std::size_t size;
  };
  std::vector<Stored> stored;
  for (int i = 0; i < 60; ++i) {
    auto b = make_batch(1 + i % 5);
    const auto size = b.bytes.size();
    auto a = run(log->append(std::move(b)));
    REQUIRE(a.ok());
    stored.push_back({a.value.base_offset, a.value.last_offset, size});
  }
  const std::int64_t hw = stored.back().last + 1;
  for (std::int64_t offset = 0; offset <= hw; offset += 3) {
    // Limits that fall inside batches, and ones that end exactly at a batch.
    std::vector<std::int32_t> limits{0, 1, 90, 250, 700, 1500, 4000, 1 << 20};
    std::size_t exact = 0;
    for (auto& s : stored) {
      if (s.last < offset) continue;
      exact += s.size;
      if (limits.size() < 14) limits.push_back(static_cast<std::int32_t>(exact));
    }
    for (std::int32_t max_bytes : limits) {
      for (bool at_least_one : {true, false}) {
        // The reference: whole batches from the one holding `offset` while
        // they fit, the first one regardless with at_least_one.
        std::vector<std::int64_t> want;
        std::size_t used = 0;
        for (auto& s : stored) {
          if (s.last < offset) continue;
          if (used + s.size > static_cast<std::size_t>(max_bytes) && !(want.empty() && at_least_one)) break;
          want.push_back(s.base);
          used += s.size;
        }
        ReadOptions o;
        o.offset = offset;
        o.max_bytes = max_bytes;
        o.at_least_one = at_least_one;
        auto r = run(log->read(o));
        REQUIRE(r.ok());
        std::vector<std::int64_t> got;
        for (auto& b : batches_of(read_bytes(r.value))) got.push_back(b.base_offset);
        INFO("offset ", offset, " max_bytes ", max_bytes, " at_least_one ", at_least_one);
        CHECK(got == want);
        CHECK(r.value.size() == used);
        const std::int64_t next = want.empty() ? offset : [&] {
          for (auto& s : stored)
            if (s.base == want.back()) return s.last + 1;
          return std::int64_t{-1};
        }();
        CHECK(r.value.next_offset == next);
      }
    }
  }
}

TEST_CASE("embedded: reads are regions of the ledgers, never past what was committed") {
  Fixture f("regions", 1, {{"segment.bytes", "400"}});
  auto log = f.log();
  for (int i = 0; i < 10; ++i) REQUIRE(f.append(*log, make_batch(3)).ok());
  auto r = run(log->read(ReadOptions{}));
  REQUIRE(r.ok());
  CHECK(r.value.bytes.empty());
  REQUIRE(r.value.regions.size() > 1);  // one per ledger
  const auto before = read_bytes(r.value);
  CHECK(batches_of(before).size() == 10);
  // Appends after the read do not reach it: the last ledger's region ends
  // where that ledger ended then.
  for (int i = 0; i < 3; ++i) REQUIRE(f.append(*log, make_batch(1)).ok());
  CHECK(read_bytes(r.value) == before);
}

TEST_CASE("embedded: a region held while its ledger is removed still reads the same bytes") {
  const auto now = std::chrono::system_clock::now();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  Fixture f("held", 1, {{"segment.bytes", "300"}, {"retention.bytes", "600"}});
  auto log = f.log();
  for (int i = 0; i < 30; ++i) REQUIRE(f.append(*log, make_batch(2, now_ms)).ok());
  auto r = run(log->read(ReadOptions{}));
  REQUIRE(r.ok());
  const auto before = read_bytes(r.value);
  REQUIRE(batches_of(before).size() == 30);
  SUBCASE("retention") {
    f.store->maintain(now);
    REQUIRE(log->offsets().log_start > 0);
  }
  SUBCASE("DeleteRecords") { REQUIRE(run(log->delete_records(-1)).ok()); }
  SUBCASE("the topic deleted") {
    REQUIRE(run(f.store->topics().delete_topic("held")).ok());
    CHECK_FALSE(run(log->read(ReadOptions{})).ok());
  }
  CHECK(read_bytes(r.value) == before);
}

TEST_CASE("embedded: data, producer state and groups survive a restart") {
  TempDir dir{"kwire-contract"};
  BatchSpec s;
  s.records = 2;
  s.producer_id = 7;
  s.producer_epoch = 0;
  s.base_sequence = 0;
  {
    auto store = open_at(dir.path);
    NewTopic nt{"t", 1, {}};
    REQUIRE(run(store->topics().create_topic(nt)).ok());
    auto log = run(store->open_log(TopicPartition{"t", 0})).value;
    REQUIRE(run(log->append(make_batch(s))).ok());
    REQUIRE(run(store->groups().store_group("g", {9})).ok());
    REQUIRE(run(store->close()).ok());
  }
  auto store = open_at(dir.path);
  auto log = run(store->open_log(TopicPartition{"t", 0})).value;
  CHECK(log->offsets().high_watermark == 2);
  auto dup = run(log->append(make_batch(s)));
  CHECK(dup.error == Errc::duplicate_sequence);
  CHECK(dup.value.base_offset == 0);
  CHECK(run(store->groups().load_groups()).value.size() == 1);
}

TEST_CASE("embedded: open transactions, the last stable offset and the aborted index survive restarts") {
  TempDir dir{"kwire-contract"};
  const auto partition_dir = dir.path / "public" / "default" / "topics" / "t" / "0";
  const TopicPartition tp{"t", 0};
  {
    auto store = open_at(dir.path);
    // Small ledgers: the open transaction's first batch is several ledgers
    // behind the log's end when the store restarts.
    NewTopic nt{"t", 1, {{"segment.bytes", "300"}}};
    REQUIRE(run(store->topics().create_topic(nt)).ok());
    auto log = run(store->open_log(tp)).value;
    REQUIRE(run(log->append(txn_batch(7, 0, 0, 2, "aborted"))).ok());  // 0-1
    REQUIRE(run(log->append_marker(marker(7, 0, false))).ok());         // 2
    REQUIRE(run(log->append(txn_batch(8, 0, 0, 1, "open"))).ok());      // 3
    for (int i = 0; i < 20; ++i) REQUIRE(run(log->append(make_batch(2))).ok());  // 4-43
    CHECK(log->offsets().last_stable == 3);
    REQUIRE(run(store->close()).ok());
  }
  std::size_t ledgers = 0;
  for (auto& e : fs::directory_iterator(partition_dir)) ledgers += e.path().extension() == ".log";
  REQUIRE(ledgers > 3);
  {
    auto store = open_at(dir.path);
    auto log = run(store->open_log(tp)).value;
    CHECK(log->offsets().high_watermark == 44);
    CHECK(log->offsets().last_stable == 3);
    CHECK(run(log->aborted_transactions(0, 44)).value == std::vector<AbortedTxn>{{7, 0, 2}});
    auto r = read_committed(*log, 0);
    REQUIRE(r.ok());
    CHECK(r.value.next_offset == 3);
    CHECK(r.value.aborted == std::vector<AbortedTxn>{{7, 0, 2}});
    // The open transaction's sequences came back too.
    CHECK(run(log->append(txn_batch(8, 0, 0, 1, "open"))).error == Errc::duplicate_sequence);
    REQUIRE(run(log->append(txn_batch(8, 0, 1, 1, "open"))).ok());  // 44
    REQUIRE(run(log->append_marker(marker(8, 0, false))).ok());      // 45
    CHECK(log->offsets().last_stable == 46);
    REQUIRE(run(store->close()).ok());
  }
  {
    auto store = open_at(dir.path);
    auto log = run(store->open_log(tp)).value;
    CHECK(log->offsets().last_stable == 46);
    CHECK(run(log->aborted_transactions(0, 46)).value == std::vector<AbortedTxn>{{7, 0, 2}, {8, 3, 45}});
    REQUIRE(run(store->close()).ok());
  }
  // An index that lost its newest entry (a crash before it was synced) gets
  // it back from the marker in the ledger.
  const auto index = partition_dir / "aborted.txnindex";
  REQUIRE(fs::file_size(index) == 48);
  fs::resize_file(index, 24);
  auto store = open_at(dir.path);
  auto log = run(store->open_log(tp)).value;
  CHECK(run(log->aborted_transactions(0, 46)).value == std::vector<AbortedTxn>{{7, 0, 2}, {8, 3, 45}});
  CHECK(fs::file_size(index) == 48);
}

TEST_CASE("embedded: an aborted-index entry past a torn ledger tail is dropped") {
  TempDir dir{"kwire-contract"};
  const auto partition_dir = dir.path / "public" / "default" / "topics" / "t" / "0";
  const TopicPartition tp{"t", 0};
  fs::path ledger;
  std::uintmax_t before_marker = 0;
  {
    auto store = open_at(dir.path);
    NewTopic nt{"t", 1, {}};
    REQUIRE(run(store->topics().create_topic(nt)).ok());
    auto log = run(store->open_log(tp)).value;
    REQUIRE(run(log->append(txn_batch(7, 0, 0, 2))).ok());
    ledger = only_ledger(partition_dir);
    before_marker = fs::file_size(ledger);
    REQUIRE(run(log->append_marker(marker(7, 0, false))).ok());
    REQUIRE(run(store->close()).ok());
  }
  // The marker is cut off, as if the process died before it reached the disk.
  fs::resize_file(ledger, before_marker + 10);
  auto store = open_at(dir.path);
  auto log = run(store->open_log(tp)).value;
  CHECK(log->offsets().high_watermark == 2);
  CHECK(log->offsets().last_stable == 0);  // the transaction is open again
  CHECK(run(log->aborted_transactions(0, 2)).value.empty());
  CHECK(fs::file_size(partition_dir / "aborted.txnindex") == 0);
}

TEST_CASE("embedded: offsets a transaction holds for a group are held across a restart") {
  TempDir dir{"kwire-held"};
  const TopicPartition tp{"t", 0};
  {
    auto store = open_at(dir.path);
    REQUIRE(run(store->groups().hold_txn_offsets("a group/with.dots", 77, 4, {{tp, CommittedOffset{5, 2, "m", 9}}})).ok());
    REQUIRE(run(store->close()).ok());
  }
  auto store = open_at(dir.path);
  auto held = run(store->groups().held_txn_offsets("a group/with.dots"));
  REQUIRE(held.ok());
  CHECK(held.value == std::vector<TopicPartition>{tp});
  REQUIRE(run(store->groups().end_txn_offsets(0, 77, 4, true)).ok());
  auto committed = run(store->groups().fetch_offsets("a group/with.dots")).value;
  REQUIRE(committed.size() == 1);
  CHECK(committed[0].second.offset == 5);
  CHECK(committed[0].second.metadata == "m");
  REQUIRE(run(store->close()).ok());
  // Ended: gone after the next restart too.
  auto again = open_at(dir.path);
  CHECK(run(again->groups().held_txn_offsets("a group/with.dots")).value.empty());
  CHECK(run(again->groups().fetch_offsets("a group/with.dots")).value.size() == 1);
}

}  // namespace kwire_broker::storage::contract
