// The storage seam's contract (storage/storage.hpp), as doctest cases that
// every backend must pass. A backend's test file defines open_fresh_store()
// and includes this header once; cases only one backend has (recovery of its
// files, say) stay in that file. So does retention by size and time: the
// embedded store drops whole segments, which the topic config segment.bytes
// sizes, while Pulsar rolls its ledgers by its own settings and the Pulsar
// store does not apply retention.ms or retention.bytes yet (its namespaces
// keep everything).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage_contract_support.hpp"

namespace kwire_broker::storage::contract {

/// A store over fresh, empty data (each call a new one).
std::unique_ptr<Storage> open_fresh_store();

/// A fresh store with one topic of `partitions` partitions.
struct Fixture {
  explicit Fixture(const std::string& topic = "t", std::int32_t partitions = 1, Configs configs = {}) {
    store = open_fresh_store();
    NewTopic nt{topic, partitions, std::move(configs)};
    auto created = run(store->topics().create_topic(std::move(nt)));
    REQUIRE(created.ok());
    info = created.value;
  }
  std::shared_ptr<PartitionLog> log(std::int32_t partition = 0) {
    auto r = run(store->open_log(TopicPartition{info.name, partition}));
    REQUIRE(r.ok());
    return r.value;
  }
  Result<AppendResult> append(PartitionLog& l, AppendBatch batch) { return run(l.append(std::move(batch))); }
  Result<ReadResult> read(PartitionLog& l, std::int64_t offset, std::int32_t max_bytes = 1 << 20,
                          bool at_least_one = true, std::int64_t end_offset = -1) {
    ReadOptions o;
    o.offset = offset;
    o.max_bytes = max_bytes;
    o.at_least_one = at_least_one;
    o.end_offset = end_offset;
    auto r = run(l.read(o));
    // Batches in memory, however the store returned them.
    if (!r.value.regions.empty()) {
      r.value.bytes = read_bytes(r.value);
      r.value.regions.clear();
    }
    return r;
  }

  std::unique_ptr<Storage> store;
  TopicInfo info;
};

TEST_CASE("storage contract: appends take consecutive offsets and read back whole") {
  Fixture f;
  auto log = f.log();
  CHECK(log->offsets().high_watermark == 0);
  auto a = f.append(*log, make_batch(2));
  auto b = f.append(*log, make_batch(3));
  auto c = f.append(*log, make_batch(1));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(a.value.base_offset == 0);
  CHECK(a.value.last_offset == 1);
  CHECK(b.value.base_offset == 2);
  CHECK(b.value.last_offset == 4);
  CHECK(c.value.base_offset == 5);
  CHECK(log->offsets().high_watermark == 6);
  CHECK(log->offsets().log_start == 0);

  auto all = f.read(*log, 0);
  REQUIRE(all.ok());
  auto got = batches_of(all.value.bytes);
  REQUIRE(got.size() == 3);
  CHECK(got[0].base_offset == 0);
  CHECK(got[1].base_offset == 2);
  CHECK(got[2].base_offset == 5);
  CHECK(got[1].records == 3);
  CHECK(all.value.next_offset == 6);
  CHECK(all.value.offsets.high_watermark == 6);

  SUBCASE("a read starts at the batch holding the offset") {
    auto mid = f.read(*log, 3);
    REQUIRE(mid.ok());
    auto m = batches_of(mid.value.bytes);
    REQUIRE(m.size() == 2);
    CHECK(m[0].base_offset == 2);
  }
  SUBCASE("reading at the high watermark returns nothing") {
    auto end = f.read(*log, 6);
    REQUIRE(end.ok());
    CHECK(end.value.bytes.empty());
    CHECK(end.value.next_offset == 6);
  }
  SUBCASE("past the high watermark is out of range") {
    auto past = f.read(*log, 7);
    CHECK(past.error == Errc::offset_out_of_range);
    CHECK(past.value.offsets.high_watermark == 6);
  }
  SUBCASE("max_bytes, at_least_one and end_offset bound a read") {
    auto one = f.read(*log, 0, 1, true);
    REQUIRE(one.ok());
    CHECK(batches_of(one.value.bytes).size() == 1);
    CHECK(one.value.next_offset == 2);
    auto none = f.read(*log, 0, 1, false);
    REQUIRE(none.ok());
    CHECK(none.value.bytes.empty());
    CHECK(none.value.next_offset == 0);
    auto upto = f.read(*log, 0, 1 << 20, true, 2);
    REQUIRE(upto.ok());
    auto u = batches_of(upto.value.bytes);
    REQUIRE(u.size() == 1);
    CHECK(u[0].base_offset == 0);
  }
}

TEST_CASE("storage contract: appends started before any is awaited keep their order") {
  Fixture f;
  auto log = f.log();
  constexpr int n = 6;
  std::vector<Result<AppendResult>> results(n);
  boost::asio::io_context io;
  for (int i = 0; i < n; ++i) {
    BatchSpec s;
    s.records = 1 + i % 3;
    s.tag = "b" + std::to_string(i);
    boost::asio::co_spawn(io, log->append(make_batch(s)), [&results, i](std::exception_ptr e, Result<AppendResult> r) {
      REQUIRE(!e);
      results[static_cast<std::size_t>(i)] = std::move(r);
    });
  }
  io.run();
  std::int64_t next = 0;
  for (int i = 0; i < n; ++i) {
    auto& r = results[static_cast<std::size_t>(i)];
    REQUIRE(r.ok());
    CHECK(r.value.base_offset == next);
    next = r.value.last_offset + 1;
  }
  auto all = f.read(*log, 0);
  REQUIRE(all.ok());
  auto got = batches_of(all.value.bytes);
  REQUIRE(got.size() == n);
  for (int i = 0; i < n; ++i) CHECK(got[static_cast<std::size_t>(i)].first_value == "b" + std::to_string(i) + "-0");
}

TEST_CASE("storage contract: timestamps") {
  Fixture f;
  auto log = f.log();
  auto empty = run(log->max_timestamp());
  REQUIRE(empty.ok());
  CHECK(empty.value.offset == -1);

  REQUIRE(f.append(*log, make_batch(2, 1000)).ok());  // offsets 0-1, ts 1000-1001
  REQUIRE(f.append(*log, make_batch(3, 5000)).ok());  // offsets 2-4, ts 5000-5002
  REQUIRE(f.append(*log, make_batch(1, 3000)).ok());  // offset 5, ts 3000

  auto at = run(log->offset_for_timestamp(1500));
  REQUIRE(at.ok());
  CHECK(at.value.offset == 2);
  CHECK(at.value.timestamp == 5002);
  auto first = run(log->offset_for_timestamp(0));
  REQUIRE(first.ok());
  CHECK(first.value.offset == 0);
  auto later = run(log->offset_for_timestamp(9000));
  REQUIRE(later.ok());
  CHECK(later.value.offset == -1);

  auto max = run(log->max_timestamp());
  REQUIRE(max.ok());
  CHECK(max.value.timestamp == 5002);
  CHECK(max.value.offset == 4);

  // A later batch with a larger timestamp takes over.
  REQUIRE(f.append(*log, make_batch(2, 7000)).ok());  // offsets 6-7, ts 7000-7001
  auto newer = run(log->max_timestamp());
  REQUIRE(newer.ok());
  CHECK(newer.value.timestamp == 7001);
  CHECK(newer.value.offset == 7);
}

TEST_CASE("storage contract: delete_records moves the log start") {
  Fixture f;
  auto log = f.log();
  for (int i = 0; i < 3; ++i) REQUIRE(f.append(*log, make_batch(2)).ok());
  auto d = run(log->delete_records(2));
  REQUIRE(d.ok());
  CHECK(d.value == 2);
  CHECK(log->offsets().log_start == 2);
  CHECK(f.read(*log, 0).error == Errc::offset_out_of_range);
  auto from = f.read(*log, 2);
  REQUIRE(from.ok());
  CHECK(batches_of(from.value.bytes).front().base_offset == 2);
  CHECK(run(log->delete_records(7)).error == Errc::offset_out_of_range);
  auto all = run(log->delete_records(-1));
  REQUIRE(all.ok());
  CHECK(all.value == 6);
  CHECK(log->offsets().log_start == 6);
  auto next = f.append(*log, make_batch(1));
  REQUIRE(next.ok());
  CHECK(next.value.base_offset == 6);
}

TEST_CASE("storage contract: maintain() drops nothing that is not due") {
  const auto now = std::chrono::system_clock::now();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // Small segments, so that a backend which rolls by segment.bytes has many.
  Fixture f("kept", 1, {{"segment.bytes", "300"}});
  auto log = f.log();
  for (int i = 0; i < 20; ++i) REQUIRE(f.append(*log, make_batch(2, now_ms)).ok());
  f.store->maintain(now);
  CHECK(log->offsets().log_start == 0);
  CHECK(log->offsets().high_watermark == 40);
}

TEST_CASE("storage contract: idempotent producers") {
  Fixture f;
  auto log = f.log();
  auto batch = [](std::int16_t epoch, std::int32_t seq, int records) {
    BatchSpec s;
    s.records = records;
    s.producer_id = 42;
    s.producer_epoch = epoch;
    s.base_sequence = seq;
    return make_batch(s);
  };
  auto first = f.append(*log, batch(0, 0, 3));
  REQUIRE(first.ok());
  CHECK(first.value.base_offset == 0);

  auto dup = f.append(*log, batch(0, 0, 3));
  CHECK(dup.error == Errc::duplicate_sequence);
  CHECK(dup.value.base_offset == 0);
  CHECK(dup.value.last_offset == 2);
  CHECK(log->offsets().high_watermark == 3);

  CHECK(f.append(*log, batch(0, 5, 1)).error == Errc::out_of_order_sequence);
  auto next = f.append(*log, batch(0, 3, 2));
  REQUIRE(next.ok());
  CHECK(next.value.base_offset == 3);

  auto bumped = f.append(*log, batch(1, 0, 1));
  REQUIRE(bumped.ok());
  CHECK(f.append(*log, batch(0, 5, 1)).error == Errc::invalid_producer_epoch);
  CHECK(log->offsets().high_watermark == 6);
}

// Transactions: only on backends that keep them (supports_transactions()).

/// Reads with isolation_level=1 (read_committed), batches in memory.
inline Result<ReadResult> read_committed(PartitionLog& l, std::int64_t offset) {
  ReadOptions o;
  o.offset = offset;
  o.read_committed = true;
  auto r = run(l.read(o));
  if (!r.value.regions.empty()) {
    r.value.bytes = read_bytes(r.value);
    r.value.regions.clear();
  }
  return r;
}

TEST_CASE("storage contract: an open transaction holds the last stable offset until its marker") {
  Fixture f;
  if (!f.store->supports_transactions()) return;
  auto log = f.log();
  REQUIRE(f.append(*log, make_batch(2)).ok());  // 0-1
  CHECK(log->offsets().last_stable == 2);
  auto t = f.append(*log, txn_batch(7, 0, 0, 3));  // 2-4
  REQUIRE(t.ok());
  CHECK(t.value.base_offset == 2);
  REQUIRE(f.append(*log, make_batch(1)).ok());  // 5
  CHECK(log->offsets().high_watermark == 6);
  CHECK(log->offsets().last_stable == 2);

  auto committed = read_committed(*log, 0);
  REQUIRE(committed.ok());
  CHECK(committed.value.next_offset == 2);
  CHECK(batches_of(committed.value.bytes).size() == 1);
  CHECK(committed.value.offsets.last_stable == 2);
  // read_uncommitted sees everything.
  CHECK(batches_of(f.read(*log, 0).value.bytes).size() == 3);

  REQUIRE(f.append(*log, txn_batch(7, 0, 3, 1)).ok());  // 6: the same transaction
  auto m = run(log->append_marker(marker(7, 0, true, 5)));
  REQUIRE(m.ok());
  CHECK(m.value.base_offset == 7);
  CHECK(log->offsets().high_watermark == 8);
  CHECK(log->offsets().last_stable == 8);

  auto all = read_committed(*log, 0);
  REQUIRE(all.ok());
  CHECK(all.value.next_offset == 8);
  CHECK(all.value.aborted.empty());
  // The marker: a transactional control batch of one control record in
  // Kafka's format.
  kwire::RecordSetReader rs{kwire::bytes_view(all.value.bytes)};
  kwire::RecordBatchView b, last;
  while (rs.next(b)) last = b;
  CHECK(last.base_offset() == 7);
  CHECK(last.is_control());
  CHECK(last.is_transactional());
  CHECK(last.producer_id() == 7);
  CHECK(last.producer_epoch() == 0);
  CHECK(last.crc_valid());
  auto records = last.records();
  kwire::RecordView r;
  REQUIRE(records.next(r));
  auto key = kwire::parse_control_key(r.key);
  REQUIRE(key);
  CHECK(key->version == 0);
  CHECK(key->control_type() == kwire::ControlType::commit);
  auto value = kwire::parse_end_txn_marker(r.value);
  REQUIRE(value);
  CHECK(value->version == 0);
  CHECK(value->coordinator_epoch == 5);
  CHECK_FALSE(records.next(r));
}

TEST_CASE("storage contract: aborted transactions are indexed and returned with read_committed reads") {
  Fixture f;
  if (!f.store->supports_transactions()) return;
  auto log = f.log();
  REQUIRE(f.append(*log, txn_batch(7, 0, 0, 2, "a")).ok());  // 0-1
  REQUIRE(f.append(*log, txn_batch(8, 0, 0, 2, "b")).ok());  // 2-3
  REQUIRE(f.append(*log, txn_batch(7, 0, 2, 1, "a")).ok());  // 4
  auto abort = run(log->append_marker(marker(7, 0, false)));  // 5
  REQUIRE(abort.ok());
  CHECK(abort.value.base_offset == 5);
  CHECK(log->offsets().last_stable == 2);  // producer 8 is still open

  auto r = read_committed(*log, 0);
  REQUIRE(r.ok());
  CHECK(r.value.next_offset == 2);
  REQUIRE(r.value.aborted.size() == 1);
  CHECK(r.value.aborted[0] == AbortedTxn{7, 0, 5});

  REQUIRE(run(log->append_marker(marker(8, 0, true))).ok());  // 6
  CHECK(log->offsets().last_stable == 7);
  r = read_committed(*log, 0);
  REQUIRE(r.ok());
  CHECK(r.value.next_offset == 7);
  REQUIRE(r.value.aborted.size() == 1);
  CHECK(r.value.aborted[0] == AbortedTxn{7, 0, 5});
  // Past the abort marker nothing is aborted.
  r = read_committed(*log, 6);
  REQUIRE(r.ok());
  CHECK(r.value.aborted.empty());

  auto q = run(log->aborted_transactions(0, 7));
  REQUIRE(q.ok());
  CHECK(q.value == std::vector<AbortedTxn>{{7, 0, 5}});
  CHECK(run(log->aborted_transactions(6, 7)).value.empty());
  CHECK(run(log->aborted_transactions(3, 4)).value == std::vector<AbortedTxn>{{7, 0, 5}});

  // A producer's next transaction in the partition starts after the marker.
  REQUIRE(f.append(*log, txn_batch(7, 0, 3, 1, "c")).ok());  // 7
  CHECK(log->offsets().last_stable == 7);
  REQUIRE(run(log->append_marker(marker(7, 0, false))).ok());  // 8
  CHECK(run(log->aborted_transactions(0, 9)).value == std::vector<AbortedTxn>{{7, 0, 5}, {7, 7, 8}});
}

TEST_CASE("storage contract: transactional batches keep sequences; markers are fenced by epoch") {
  Fixture f;
  if (!f.store->supports_transactions()) return;
  auto log = f.log();
  REQUIRE(f.append(*log, txn_batch(7, 1, 0, 2)).ok());
  auto dup = f.append(*log, txn_batch(7, 1, 0, 2));
  CHECK(dup.error == Errc::duplicate_sequence);
  CHECK(dup.value.base_offset == 0);
  CHECK(f.append(*log, txn_batch(7, 1, 5, 1)).error == Errc::out_of_order_sequence);
  CHECK(f.append(*log, txn_batch(7, 0, 2, 1)).error == Errc::invalid_producer_epoch);

  // A plain write from a producer whose transaction is open here.
  BatchSpec plain;
  plain.producer_id = 7;
  plain.producer_epoch = 1;
  plain.base_sequence = 2;
  CHECK(f.append(*log, make_batch(plain)).error == Errc::invalid_txn_state);

  // A marker from an older producer epoch (a zombie's) is refused.
  CHECK(run(log->append_marker(marker(7, 0, false))).error == Errc::invalid_producer_epoch);
  CHECK(log->offsets().last_stable == 0);
  // The coordinator fencing the producer aborts with the epoch bumped.
  REQUIRE(run(log->append_marker(marker(7, 2, false, 3))).ok());
  CHECK(log->offsets().last_stable == log->offsets().high_watermark);
  // From then on the old epoch cannot write, and an older coordinator's
  // marker is refused.
  CHECK(f.append(*log, txn_batch(7, 1, 2, 1)).error == Errc::invalid_producer_epoch);
  CHECK(run(log->append_marker(marker(7, 2, true, 2))).error == Errc::coordinator_fenced);
  // The new epoch starts its sequences at 0.
  CHECK_FALSE(f.append(*log, txn_batch(7, 2, 1, 1)).ok());
  REQUIRE(f.append(*log, txn_batch(7, 2, 0, 1)).ok());
  REQUIRE(run(log->append_marker(marker(7, 2, true, 3))).ok());
  CHECK(log->offsets().last_stable == log->offsets().high_watermark);
}

TEST_CASE("storage contract: topics") {
  auto store = open_fresh_store();
  auto& topics = store->topics();
  NewTopic nt{"orders", 2, {{"retention.ms", "1000"}}};
  auto created = run(topics.create_topic(nt));
  REQUIRE(created.ok());
  CHECK(created.value.partitions == 2);
  CHECK(created.value.configs.at("retention.ms") == "1000");
  CHECK(run(topics.create_topic(nt)).error == Errc::topic_exists);
  NewTopic none{"empty", 0, {}};
  CHECK(run(topics.create_topic(none)).error == Errc::invalid_partitions);

  auto by_name = topics.find_topic(std::string("orders"));
  REQUIRE(by_name);
  CHECK(by_name->id == created.value.id);
  auto by_id = topics.find_topic(created.value.id);
  REQUIRE(by_id);
  CHECK(by_id->name == "orders");
  CHECK(!topics.find_topic(std::string("nope")));

  auto listed = run(topics.list_topics());
  REQUIRE(listed.ok());
  REQUIRE(listed.value.size() == 1);
  CHECK(listed.value[0].name == "orders");

  auto grown = run(topics.add_partitions("orders", 3));
  REQUIRE(grown.ok());
  CHECK(grown.value.partitions == 3);
  CHECK(run(topics.add_partitions("orders", 2)).error == Errc::invalid_partitions);
  CHECK(run(topics.add_partitions("nope", 5)).error == Errc::unknown_topic);
  CHECK(run(store->open_log(TopicPartition{"orders", 2})).ok());
  CHECK(run(store->open_log(TopicPartition{"orders", 3})).error == Errc::unknown_topic);

  std::vector<ConfigChange> changes{{"retention.ms", ConfigChange::Op::remove, ""},
                                    {"cleanup.policy", ConfigChange::Op::set, "delete"}};
  auto altered = run(topics.alter_configs("orders", changes));
  REQUIRE(altered.ok());
  CHECK(altered.value.configs.count("retention.ms") == 0);
  CHECK(altered.value.configs.at("cleanup.policy") == "delete");
  CHECK(topics.find_topic(std::string("orders"))->configs.at("cleanup.policy") == "delete");

  auto held = run(store->open_log(TopicPartition{"orders", 0}));
  REQUIRE(held.ok());
  CHECK(run(topics.delete_topic("orders")).ok());
  CHECK(!topics.find_topic(std::string("orders")));
  CHECK(run(topics.delete_topic("orders")).error == Errc::unknown_topic);
  CHECK(run(store->open_log(TopicPartition{"orders", 0})).error == Errc::unknown_topic);
  CHECK(run(held.value->append(make_batch(1))).error == Errc::unknown_topic);
  CHECK(run(topics.list_topics()).value.empty());
}

TEST_CASE("storage contract: the data location is named; partition sizes grow with appends") {
  Fixture f("sized", 2);
  const auto where = f.store->data_location();
  CHECK_FALSE(where.name.empty());
  CHECK(where.usable_bytes <= where.total_bytes);
  auto before = run(f.store->partition_sizes("sized"));
  REQUIRE(before.ok());
  REQUIRE(before.value.size() == 2);
  auto log = f.log(1);
  for (int i = 0; i < 3; ++i) REQUIRE(f.append(*log, make_batch(5)).ok());
  auto after = run(f.store->partition_sizes("sized"));
  REQUIRE(after.ok());
  REQUIRE(after.value.size() == 2);
  CHECK(after.value[0] == before.value[0]);
  CHECK(after.value[1] > 0);
  CHECK(after.value[1] > before.value[1]);
  CHECK(run(f.store->partition_sizes("nope")).error == Errc::unknown_topic);
}

TEST_CASE("storage contract: groups and committed offsets") {
  auto store = open_fresh_store();
  auto& groups = store->groups();
  std::vector<std::uint8_t> blob{1, 2, 3};
  REQUIRE(run(groups.store_group("g1", blob)).ok());
  auto loaded = run(groups.load_groups());
  REQUIRE(loaded.ok());
  REQUIRE(loaded.value.size() == 1);
  CHECK(loaded.value[0].group_id == "g1");
  CHECK(loaded.value[0].data == blob);

  CommittedOffset at5{5, 0, "meta", 1234};
  CommittedOffset at9{9, -1, "", 5678};
  GroupStore::Offsets first{{TopicPartition{"t", 0}, at5}, {TopicPartition{"t", 1}, at9}};
  REQUIRE(run(groups.commit_offsets("g1", first)).ok());
  GroupStore::Offsets later{{TopicPartition{"t", 0}, at9}};
  REQUIRE(run(groups.commit_offsets("g2", later)).ok());
  REQUIRE(run(groups.commit_offsets("g1", later)).ok());

  auto fetched = run(groups.fetch_offsets("g1"));
  REQUIRE(fetched.ok());
  std::map<TopicPartition, CommittedOffset> got(fetched.value.begin(), fetched.value.end());
  REQUIRE(got.size() == 2);
  CHECK(got[TopicPartition{"t", 0}].offset == 9);
  CHECK(got[TopicPartition{"t", 1}].offset == 9);
  CHECK(got[TopicPartition{"t", 1}].commit_timestamp == 5678);

  auto ids = run(groups.list_groups());
  REQUIRE(ids.ok());
  std::sort(ids.value.begin(), ids.value.end());
  CHECK(ids.value == std::vector<std::string>{"g1", "g2"});

  std::vector<TopicPartition> drop{{"t", 1}};
  REQUIRE(run(groups.delete_offsets("g1", drop)).ok());
  CHECK(run(groups.fetch_offsets("g1")).value.size() == 1);

  REQUIRE(run(groups.delete_group("g1")).ok());
  CHECK(run(groups.load_groups()).value.empty());
  CHECK(run(groups.fetch_offsets("g1")).value.empty());
  auto unknown = run(groups.fetch_offsets("never"));
  REQUIRE(unknown.ok());
  CHECK(unknown.value.empty());
  CHECK(run(groups.list_groups()).value == std::vector<std::string>{"g2"});
}

TEST_CASE("storage contract: offsets a transaction holds for a group until it ends") {
  auto store = open_fresh_store();
  auto& groups = store->groups();
  const TopicPartition t0{"t", 0}, t1{"t", 1};
  CommittedOffset at3{3, 0, "m", 100}, at7{7, 1, "", 200}, at8{8, 1, "x", 300};
  REQUIRE(run(groups.commit_offsets("g", {{t0, at3}})).ok());
  // Producer 5 (epoch 2) holds offsets for g in two commits (the second adds
  // and overrides), producer 6 (epoch 0) for g and for h.
  REQUIRE(run(groups.hold_txn_offsets("g", 5, 2, {{t0, at7}})).ok());
  REQUIRE(run(groups.hold_txn_offsets("g", 5, 2, {{t0, at8}, {t1, at7}})).ok());
  REQUIRE(run(groups.hold_txn_offsets("g", 6, 0, {{t1, at3}})).ok());
  REQUIRE(run(groups.hold_txn_offsets("h", 6, 0, {{t0, at3}})).ok());
  // A fenced producer's hold, older than the one there, is refused.
  CHECK(run(groups.hold_txn_offsets("g", 5, 1, {{t1, at3}})).error == Errc::invalid_producer_epoch);
  auto held = run(groups.held_txn_offsets("g"));
  REQUIRE(held.ok());
  std::sort(held.value.begin(), held.value.end());
  CHECK(held.value == std::vector<TopicPartition>{t0, t1, t1});
  // Held offsets are not committed ones.
  CHECK(run(groups.fetch_offsets("g")).value.size() == 1);
  CHECK(run(groups.fetch_offsets("g")).value[0].second.offset == 3);

  auto committed = [&](const std::string& group) {
    auto r = run(groups.fetch_offsets(group));
    REQUIRE(r.ok());
    return std::map<TopicPartition, CommittedOffset>(r.value.begin(), r.value.end());
  };
  // A marker of an older transaction of producer 5 leaves the hold alone.
  REQUIRE(run(groups.end_txn_offsets(groups.shard_of("g"), 5, 1, true)).ok());
  CHECK(committed("g").size() == 1);
  // Producer 5 commits at epoch 2 on g's shard: its offsets become g's.
  REQUIRE(run(groups.end_txn_offsets(groups.shard_of("g"), 5, 2, true)).ok());
  auto g = committed("g");
  CHECK(g[t0].offset == 8);
  CHECK(g[t0].metadata == "x");
  CHECK(g[t1].offset == 7);
  CHECK(run(groups.held_txn_offsets("g")).value == std::vector<TopicPartition>{t1});
  // Producer 6 aborts on every shard: dropped, nothing committed.
  for (std::int32_t shard = 0; shard < groups.shard_count(); ++shard)
    REQUIRE(run(groups.end_txn_offsets(shard, 6, 0, false)).ok());
  CHECK(run(groups.held_txn_offsets("g")).value.empty());
  CHECK(run(groups.held_txn_offsets("h")).value.empty());
  CHECK(committed("g")[t1].offset == 7);
  CHECK(committed("h").empty());
  // Ending a transaction that holds nothing is done at once.
  CHECK(run(groups.end_txn_offsets(0, 12345, 0, true)).ok());

  // A hold written after its transaction ended (a fenced producer's, at an
  // older epoch) is dropped by the next transaction's marker, not committed.
  REQUIRE(run(groups.hold_txn_offsets("g", 9, 3, {{t0, at3}})).ok());
  REQUIRE(run(groups.end_txn_offsets(groups.shard_of("g"), 9, 5, true)).ok());
  CHECK(run(groups.held_txn_offsets("g")).value.empty());
  CHECK(committed("g")[t0].offset == 8);
  // A newer epoch's hold replaces an older one's.
  REQUIRE(run(groups.hold_txn_offsets("g", 10, 0, {{t0, at3}, {t1, at3}})).ok());
  REQUIRE(run(groups.hold_txn_offsets("g", 10, 1, {{t0, at7}})).ok());
  CHECK(run(groups.held_txn_offsets("g")).value == std::vector<TopicPartition>{t0});
  // Deleting the group drops what is held for it.
  REQUIRE(run(groups.delete_group("g")).ok());
  CHECK(run(groups.held_txn_offsets("g")).value.empty());
  REQUIRE(run(groups.end_txn_offsets(groups.shard_of("g"), 10, 1, true)).ok());
  CHECK(committed("g").empty());
}

TEST_CASE("storage contract: SCRAM credentials and ACL bindings") {
  auto store = open_fresh_store();
  auto* creds = store->credentials();
  auto* acls = store->acls();
  if (!creds || !acls) return;  // a backend that keeps neither offers neither (sasl.cpp, acls.cpp)

  ScramCredential alice{"alice", 2, 8192, {1, 2, 3}, std::vector<std::uint8_t>(64, 7), std::vector<std::uint8_t>(64, 9)};
  ScramCredential bob{"bob/ns", 1, 4096, {4}, std::vector<std::uint8_t>(32, 0), std::vector<std::uint8_t>(32, 255)};
  REQUIRE(run(creds->put_scram(alice)).ok());
  REQUIRE(run(creds->put_scram(bob)).ok());
  auto found = creds->find_scram("alice", 2);
  REQUIRE(found);
  CHECK(found->iterations == 8192);
  CHECK(found->salt == alice.salt);
  CHECK(found->stored_key == alice.stored_key);
  CHECK(found->server_key == alice.server_key);
  CHECK_FALSE(creds->find_scram("alice", 1));
  auto found_bob = creds->find_scram("bob/ns", 1);
  REQUIRE(found_bob);
  CHECK(found_bob->server_key == bob.server_key);
  alice.iterations = 10000;
  REQUIRE(run(creds->put_scram(alice)).ok());
  found = creds->find_scram("alice", 2);
  REQUIRE(found);
  CHECK(found->iterations == 10000);
  CHECK(creds->scram_credentials().size() == 2);
  REQUIRE(run(creds->delete_scram("alice", 2)).ok());
  REQUIRE(run(creds->delete_scram("nobody", 2)).ok());
  CHECK_FALSE(creds->find_scram("alice", 2));
  CHECK(creds->scram_credentials().size() == 1);

  AclBinding read{2, "orders", 3, "User:alice", "*", 3, 3};
  AclBinding deny{2, "", 4, "User:*", "10.0.0.1", 2, 2};  // an empty name and odd codes are kept as they are
  auto before = acls->acls();
  REQUIRE(run(acls->add_acls({read, deny, read})).ok());
  CHECK(before->empty());  // a snapshot stays as it was
  auto now = acls->acls();
  REQUIRE(now->size() == 2);
  CHECK(std::count(now->begin(), now->end(), read) == 1);
  CHECK(std::count(now->begin(), now->end(), deny) == 1);
  REQUIRE(run(acls->remove_acls({read, AclBinding{1, "x", 3, "User:y", "*", 2, 3}})).ok());
  now = acls->acls();
  REQUIRE(now->size() == 1);
  CHECK(now->front() == deny);
}

TEST_CASE("storage contract: producer id blocks do not overlap") {
  auto store = open_fresh_store();
  auto a = run(store->allocate_producer_ids(10));
  auto b = run(store->allocate_producer_ids(1));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value >= 0);
  CHECK((b.value >= a.value + 10 || b.value + 1 <= a.value));
}

TEST_CASE("storage contract: after close every call fails with closed") {
  Fixture f;
  auto log = f.log();
  REQUIRE(f.append(*log, make_batch(1)).ok());
  REQUIRE(run(f.store->close()).ok());
  CHECK(f.append(*log, make_batch(1)).error == Errc::closed);
  CHECK(f.read(*log, 0).error == Errc::closed);
  CHECK(run(log->max_timestamp()).error == Errc::closed);
  CHECK(run(f.store->open_log(TopicPartition{"t", 0})).error == Errc::closed);
  CHECK(run(f.store->allocate_producer_ids(1)).error == Errc::closed);
  NewTopic nt{"late", 1, {}};
  CHECK(run(f.store->topics().create_topic(nt)).error == Errc::closed);
  CHECK(run(f.store->topics().list_topics()).error == Errc::closed);
  GroupStore::Offsets offsets{{TopicPartition{"t", 0}, CommittedOffset{1, -1, "", 0}}};
  CHECK(run(f.store->groups().commit_offsets("g", offsets)).error == Errc::closed);
  CHECK(run(f.store->groups().fetch_offsets("g")).error == Errc::closed);
  CHECK(run(f.store->groups().load_groups()).error == Errc::closed);
  if (auto* creds = f.store->credentials())
    CHECK(run(creds->put_scram(ScramCredential{"u", 1, 4096, {1}, {2}, {3}})).error == Errc::closed);
  if (auto* acls = f.store->acls())
    CHECK(run(acls->add_acls({AclBinding{2, "t", 3, "User:u", "*", 3, 3}})).error == Errc::closed);
}

}  // namespace kwire_broker::storage::contract

// The share partitions' cases, in a file of their own.
#include "storage_contract_share_states.hpp"
