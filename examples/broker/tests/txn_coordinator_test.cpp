// The transaction coordinator below the wire: producer ids and epochs,
// fencing, partitions and offsets added to a transaction, commit and abort
// with their markers in the partition logs, timeouts on a clock the test
// moves, and the state kept across a restart. Over an embedded store in a
// temporary directory; the coordinator runs on an io_context the test drives.
#include <doctest/doctest.h>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "coordinator/txn_coordinator.hpp"
#include "coordinator/txn_peers.hpp"
#include "kwire/records/batch.hpp"
#include "kwire/records/builder.hpp"
#include "storage/embedded/store.hpp"
#include "support/temp_dir.hpp"

namespace asio = boost::asio;
using kwire::ErrorCode;
using kwire_broker::TxnCoordinator;
using kwire_broker::TxnState;
using kwire_broker::storage::TopicPartition;
namespace storage = kwire_broker::storage;

namespace {

using TempDir = kwire_broker::testing::TempDir;

/// A coordinator over a store in `dir`, with a clock that moves only when told.
struct Node {
  explicit Node(const std::filesystem::path& dir) {
    storage::embedded::Options o;
    o.dir = dir;
    o.flush = storage::embedded::FlushPolicy::never;
    store = storage::embedded::open(o);
    TxnCoordinator::Config c;
    c.max_timeout_ms = 60000;
    c.sweep_interval = std::chrono::hours(1);  // the test calls expire()
    c.clock = [this] { return now; };
    coordinator = std::make_unique<TxnCoordinator>(std::move(c), *store, io);
    run(coordinator->load());
  }
  ~Node() {
    coordinator->shutdown();
    io.restart();
    io.poll();
    (void)run(store->close());
  }

  /// Runs `task` on the coordinator's strand until it completes (the store
  /// finishes writes on its own thread).
  template <class T>
  T run(asio::awaitable<T> task) {
    std::optional<T> value;
    asio::co_spawn(coordinator ? asio::any_io_executor(coordinator->strand()) : io.get_executor(), std::move(task),
                   [&](std::exception_ptr e, T v) {
                     if (e) std::rethrow_exception(e);
                     value = std::move(v);
                   });
    while (!value) {
      io.restart();
      io.run_one_for(std::chrono::milliseconds(50));
    }
    return std::move(*value);
  }
  void run(asio::awaitable<void> task) {
    bool done = false;
    asio::co_spawn(asio::any_io_executor(coordinator->strand()), std::move(task), [&](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
      done = true;
    });
    while (!done) {
      io.restart();
      io.run_one_for(std::chrono::milliseconds(50));
    }
  }

  void create_topic(const std::string& name, std::int32_t partitions) {
    storage::NewTopic nt{name, partitions, {}};
    REQUIRE(run(store->topics().create_topic(std::move(nt))).ok());
  }
  std::shared_ptr<storage::PartitionLog> log(const TopicPartition& tp) {
    auto r = run(store->open_log(tp));
    REQUIRE(r.ok());
    return r.value;
  }

  TxnCoordinator::ProducerIdAndEpoch init(const std::string& id, std::int64_t pid = -1, std::int16_t epoch = -1,
                                          std::int32_t timeout_ms = 10000) {
    return run(coordinator->init_producer_id(id, timeout_ms, pid, epoch));
  }
  TxnCoordinator::AddResult add(const std::string& id, const TxnCoordinator::ProducerIdAndEpoch& p,
                                std::vector<TopicPartition> tps) {
    return run(coordinator->add_partitions(id, p.producer_id, p.producer_epoch, std::move(tps)));
  }
  ErrorCode end(const std::string& id, const TxnCoordinator::ProducerIdAndEpoch& p, bool commit) {
    return run(coordinator->end_txn(id, p.producer_id, p.producer_epoch, commit)).error;
  }
  /// EndTxn v5+ (Transactions V2): the answer names the next id and epoch.
  TxnCoordinator::ProducerIdAndEpoch end_v2(const std::string& id, const TxnCoordinator::ProducerIdAndEpoch& p,
                                            bool commit) {
    return run(coordinator->end_txn(id, p.producer_id, p.producer_epoch, commit, true));
  }
  /// The add a V2 client's first transactional produce to `tp` makes.
  ErrorCode add_v2(const std::string& id, const TxnCoordinator::ProducerIdAndEpoch& p, const TopicPartition& tp) {
    return run(coordinator->add_partitions(id, p.producer_id, p.producer_epoch, {tp}, true)).error;
  }
  /// A transactional batch of the producer appended to the partition, as
  /// Produce does once may_write() allows it.
  storage::Result<storage::AppendResult> produce(const TopicPartition& tp, const TxnCoordinator::ProducerIdAndEpoch& p,
                                                 std::int32_t seq) {
    kwire::RecordBatchOptions o;
    o.producer_id = p.producer_id;
    o.producer_epoch = p.producer_epoch;
    o.base_sequence = seq;
    o.transactional = true;
    kwire::RecordBatchBuilder b(o);
    const std::string v = "x";
    b.append(1000, std::nullopt, kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
    storage::AppendBatch batch;
    batch.bytes = b.build();
    batch.info = storage::BatchInfo::of(*kwire::RecordBatchView::parse(kwire::bytes_view(batch.bytes)));
    return run(log(tp)->append(std::move(batch)));
  }
  /// TxnOffsetCommit as the group's coordinator serves it: the transaction
  /// must hold the group's shard (V2: the commit adds it), then the group
  /// store holds the offsets until the marker.
  ErrorCode commit_offsets(const std::string& id, const TxnCoordinator::ProducerIdAndEpoch& p,
                           const std::string& group, storage::GroupStore::Offsets offsets, bool v2 = false) {
    const auto shard = kwire_broker::offsets_shard(store->groups().shard_of(group));
    const ErrorCode e =
        run(kwire_broker::verify_here(*coordinator, id, p.producer_id, p.producer_epoch, shard, v2));
    if (e != ErrorCode::None) return e;
    REQUIRE(run(store->groups().hold_txn_offsets(group, p.producer_id, p.producer_epoch, std::move(offsets))).ok());
    return e;
  }
  /// Whether a transaction holds offsets of the group for `tp`.
  bool held(const std::string& group, const TopicPartition& tp) {
    auto r = run(store->groups().held_txn_offsets(group));
    REQUIRE(r.ok());
    return std::find(r.value.begin(), r.value.end(), tp) != r.value.end();
  }
  TxnState state(const std::string& id) {
    auto t = coordinator->describe(id);
    REQUIRE(t);
    return t->state;
  }

  asio::io_context io;
  std::int64_t now = 1'000'000;
  std::unique_ptr<storage::Storage> store;
  std::unique_ptr<TxnCoordinator> coordinator;
};

/// The control record of the last batch of the partition: (is commit, producer epoch).
std::optional<std::pair<bool, std::int16_t>> last_marker(Node& n, const TopicPartition& tp);

/// The last batch's producer id.
std::int64_t last_producer_id(Node& n, const TopicPartition& tp) {
  auto r = n.run(n.log(tp)->read(storage::ReadOptions{}));
  REQUIRE(r.ok());
  auto bytes = storage::read_bytes(r.value);
  kwire::RecordSetReader rs{kwire::bytes_view(bytes)};
  kwire::RecordBatchView b;
  std::int64_t pid = -1;
  while (rs.next(b)) pid = b.producer_id();
  return pid;
}

std::optional<std::pair<bool, std::int16_t>> last_marker(Node& n, const TopicPartition& tp) {
  storage::ReadOptions o;
  auto r = n.run(n.log(tp)->read(o));
  REQUIRE(r.ok());
  auto bytes = storage::read_bytes(r.value);
  kwire::RecordSetReader rs{kwire::bytes_view(bytes)};
  kwire::RecordBatchView b, last;
  bool any = false;
  while (rs.next(b)) {
    last = b;
    any = true;
  }
  if (!any || !last.is_control()) return std::nullopt;
  auto records = last.records();
  kwire::RecordView rec;
  if (!records.next(rec)) return std::nullopt;
  auto key = kwire::parse_control_key(rec.key);
  if (!key) return std::nullopt;
  return std::pair{key->control_type() == kwire::ControlType::commit, last.producer_epoch()};
}

}  // namespace

TEST_CASE("txn coordinator: InitProducerId gives an id, bumps the epoch, checks the timeout") {
  TempDir dir{"kwire-txn"};
  Node n(dir.path);
  auto a = n.init("app");
  REQUIRE(a.error == ErrorCode::None);
  CHECK(a.producer_id >= 0);
  CHECK(a.producer_epoch == 0);
  auto b = n.init("app");
  REQUIRE(b.error == ErrorCode::None);
  CHECK(b.producer_id == a.producer_id);
  CHECK(b.producer_epoch == 1);
  CHECK(n.init("other").producer_id != a.producer_id);
  CHECK(n.init("app", -1, -1, 60001).error == ErrorCode::InvalidTransactionTimeout);
  CHECK(n.init("app", -1, -1, 0).error == ErrorCode::InvalidTransactionTimeout);

  // KIP-360: the producer bumps its own epoch; a retry of that bump gets
  // the same answer; anything else is fenced or unknown.
  auto c = n.init("app", b.producer_id, b.producer_epoch);
  REQUIRE(c.error == ErrorCode::None);
  CHECK(c.producer_epoch == 2);
  auto retry = n.init("app", b.producer_id, b.producer_epoch);
  CHECK(retry.error == ErrorCode::None);
  CHECK(retry.producer_epoch == 2);
  CHECK(n.init("app", a.producer_id, a.producer_epoch).error == ErrorCode::ProducerFenced);
  CHECK(n.init("app", a.producer_id + 1000, 0).error == ErrorCode::InvalidProducerIdMapping);
}

TEST_CASE("txn coordinator: a committed transaction ends with commit markers in its partitions") {
  TempDir dir{"kwire-txn"};
  Node n(dir.path);
  n.create_topic("t", 2);
  const TopicPartition p0{"t", 0}, p1{"t", 1};
  auto p = n.init("app");
  // Not yet added: Produce is refused.
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, p0) == ErrorCode::InvalidTxnState);
  auto added = n.add("app", p, {p0, p1});
  CHECK(added.error == ErrorCode::None);
  CHECK(added.unknown.empty());
  CHECK(n.state("app") == TxnState::ongoing);
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, p0) == ErrorCode::None);
  const TopicPartition other{"t", 5};
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, other) == ErrorCode::InvalidTxnState);
  REQUIRE(n.produce(p0, p, 0).ok());
  REQUIRE(n.produce(p1, p, 0).ok());
  CHECK(n.log(p0)->offsets().last_stable == 0);

  CHECK(n.end("app", p, true) == ErrorCode::None);
  CHECK(n.state("app") == TxnState::complete_commit);
  for (const auto& tp : {p0, p1}) {
    CHECK(n.log(tp)->offsets().last_stable == n.log(tp)->offsets().high_watermark);
    auto m = last_marker(n, tp);
    REQUIRE(m);
    CHECK(m->first);
    CHECK(m->second == p.producer_epoch);
  }
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, p0) == ErrorCode::InvalidTxnState);
  // A retried EndTxn gets the same answer; the other outcome is refused.
  CHECK(n.end("app", p, true) == ErrorCode::None);
  CHECK(n.end("app", p, false) == ErrorCode::InvalidTxnState);
  // Unknown partitions are named; the others are not attempted.
  auto unknown = n.add("app", p, {p0, TopicPartition{"nope", 0}});
  CHECK(unknown.unknown == std::set<TopicPartition>{{"nope", 0}});
  CHECK(n.state("app") == TxnState::complete_commit);
}

TEST_CASE("txn coordinator: a new producer for the id aborts its predecessor's transaction and fences it") {
  TempDir dir{"kwire-txn"};
  Node n(dir.path);
  n.create_topic("t", 1);
  const TopicPartition tp{"t", 0};
  auto zombie = n.init("app");
  REQUIRE(n.add("app", zombie, {tp}).error == ErrorCode::None);
  REQUIRE(n.produce(tp, zombie, 0).ok());

  auto fresh = n.init("app");
  REQUIRE(fresh.error == ErrorCode::None);
  CHECK(fresh.producer_id == zombie.producer_id);
  CHECK(fresh.producer_epoch == zombie.producer_epoch + 2);  // one bump to abort, one for the new producer
  auto m = last_marker(n, tp);
  REQUIRE(m);
  CHECK_FALSE(m->first);
  CHECK(m->second == zombie.producer_epoch + 1);
  auto aborted = n.run(n.log(tp)->aborted_transactions(0, 10));
  REQUIRE(aborted.value.size() == 1);
  CHECK(aborted.value[0].producer_id == zombie.producer_id);
  CHECK(aborted.value[0].first_offset == 0);

  // The zombie can do nothing more.
  CHECK(n.add("app", zombie, {tp}).error == ErrorCode::ProducerFenced);
  CHECK(n.end("app", zombie, true) == ErrorCode::ProducerFenced);
  CHECK(n.coordinator->may_write(zombie.producer_id, zombie.producer_epoch, tp) == ErrorCode::InvalidProducerEpoch);
  CHECK(n.produce(tp, zombie, 1).error == storage::Errc::invalid_producer_epoch);
  // Unlike a producer whose transaction timed out, it cannot claim the new epoch.
  CHECK(n.init("app", zombie.producer_id, zombie.producer_epoch).error == ErrorCode::ProducerFenced);
  // The new producer works.
  REQUIRE(n.add("app", fresh, {tp}).error == ErrorCode::None);
  REQUIRE(n.produce(tp, fresh, 0).ok());
  CHECK(n.end("app", fresh, false) == ErrorCode::None);
  CHECK(n.state("app") == TxnState::complete_abort);
  CHECK(n.run(n.log(tp)->aborted_transactions(0, 10)).value.size() == 2);
}

TEST_CASE("txn coordinator: a transaction past its timeout is aborted under a bumped epoch") {
  TempDir dir{"kwire-txn"};
  Node n(dir.path);
  n.create_topic("t", 1);
  const TopicPartition tp{"t", 0};
  auto p = n.init("app", -1, -1, 5000);
  REQUIRE(n.add("app", p, {tp}).error == ErrorCode::None);
  REQUIRE(n.produce(tp, p, 0).ok());
  n.now += 4000;
  n.run(n.coordinator->expire());
  CHECK(n.state("app") == TxnState::ongoing);
  n.now += 2000;
  n.run(n.coordinator->expire());
  CHECK(n.state("app") == TxnState::complete_abort);
  CHECK(n.coordinator->describe("app")->producer_epoch == p.producer_epoch + 1);
  auto m = last_marker(n, tp);
  REQUIRE(m);
  CHECK_FALSE(m->first);
  CHECK(n.log(tp)->offsets().last_stable == n.log(tp)->offsets().high_watermark);
  // The timed-out producer learns it when it tries to commit.
  CHECK(n.end("app", p, true) == ErrorCode::ProducerFenced);
  // KIP-588: it may take the bumped epoch (InitProducerId naming its own)
  // and go on.
  auto resumed = n.init("app", p.producer_id, p.producer_epoch, 5000);
  REQUIRE(resumed.error == ErrorCode::None);
  CHECK(resumed.producer_id == p.producer_id);
  CHECK(resumed.producer_epoch == p.producer_epoch + 1);
  CHECK(n.add("app", resumed, {tp}).error == ErrorCode::None);
}

TEST_CASE("txn coordinator: transactional offsets reach the group only when the transaction commits") {
  TempDir dir{"kwire-txn"};
  Node n(dir.path);
  n.create_topic("in", 1);
  const TopicPartition in{"in", 0};
  auto p = n.init("app");
  storage::CommittedOffset o;
  o.offset = 42;
  // Not added to the transaction yet.
  CHECK(n.commit_offsets("app", p, "g", {{in, o}}) == ErrorCode::InvalidTxnState);
  CHECK_FALSE(n.held("g", in));
  REQUIRE(n.run(n.coordinator->add_offsets("app", p.producer_id, p.producer_epoch, "g")) == ErrorCode::None);
  // Kafka's form: the group's shard of the offsets topic is in the transaction.
  CHECK(n.coordinator->describe("app")->partitions.count(kwire_broker::offsets_shard(0)) == 1);
  REQUIRE(n.commit_offsets("app", p, "g", {{in, o}}) == ErrorCode::None);
  CHECK(n.held("g", in));
  CHECK(n.run(n.store->groups().fetch_offsets("g")).value.empty());
  SUBCASE("commit") {
    REQUIRE(n.end("app", p, true) == ErrorCode::None);
    auto offsets = n.run(n.store->groups().fetch_offsets("g")).value;
    REQUIRE(offsets.size() == 1);
    CHECK(offsets[0].second.offset == 42);
  }
  SUBCASE("abort") {
    REQUIRE(n.end("app", p, false) == ErrorCode::None);
    CHECK(n.run(n.store->groups().fetch_offsets("g")).value.empty());
  }
  CHECK_FALSE(n.held("g", in));
}

TEST_CASE("txn coordinator: transaction state survives a restart") {
  TempDir dir{"kwire-txn"};
  TxnCoordinator::ProducerIdAndEpoch p;
  const TopicPartition tp{"t", 0};
  {
    Node n(dir.path);
    n.create_topic("t", 1);
    p = n.init("app");
    REQUIRE(n.add("app", p, {tp}).error == ErrorCode::None);
    REQUIRE(n.produce(tp, p, 0).ok());
    storage::CommittedOffset o;
    o.offset = 7;
    REQUIRE(n.run(n.coordinator->add_offsets("app", p.producer_id, p.producer_epoch, "g")) == ErrorCode::None);
    REQUIRE(n.commit_offsets("app", p, "g", {{tp, o}}) == ErrorCode::None);
  }
  Node n(dir.path);
  auto t = n.coordinator->describe("app");
  REQUIRE(t);
  CHECK(t->state == TxnState::ongoing);
  CHECK(t->producer_id == p.producer_id);
  CHECK(t->partitions == std::set<TopicPartition>{tp, kwire_broker::offsets_shard(0)});
  CHECK(n.held("g", tp));
  CHECK(n.log(tp)->offsets().last_stable == 0);
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, tp) == ErrorCode::None);
  REQUIRE(n.end("app", p, true) == ErrorCode::None);
  CHECK(n.log(tp)->offsets().last_stable == n.log(tp)->offsets().high_watermark);
  auto offsets = n.run(n.store->groups().fetch_offsets("g")).value;
  REQUIRE(offsets.size() == 1);
  CHECK(offsets[0].second.offset == 7);
  // A new id after the restart does not reuse the first's producer id.
  CHECK(n.init("second").producer_id != p.producer_id);
}

TEST_CASE("txn coordinator: a record that kept its groups' offsets itself hands them to the groups at load") {
  // Records written before the groups' coordinators held transactional
  // offsets carry the groups and the offsets: loading them moves both.
  TempDir dir{"kwire-txn"};
  TxnCoordinator::ProducerIdAndEpoch p;
  const TopicPartition tp{"t", 0};
  {
    Node n(dir.path);
    n.create_topic("t", 1);
    p = n.init("app");
    REQUIRE(n.add("app", p, {tp}).error == ErrorCode::None);
    auto t = *n.coordinator->describe("app");
    t.groups = {"g"};
    t.offsets["g"][tp].offset = 11;
    REQUIRE(n.run(n.store->transactions()->store_txn("app", kwire_broker::encode_txn(t))).ok());
  }
  Node n(dir.path);
  auto t = n.coordinator->describe("app");
  REQUIRE(t);
  CHECK(t->groups.empty());
  CHECK(t->offsets.empty());
  CHECK(t->partitions == std::set<TopicPartition>{tp, kwire_broker::offsets_shard(0)});
  CHECK(n.held("g", tp));
  REQUIRE(n.end("app", p, true) == ErrorCode::None);
  auto offsets = n.run(n.store->groups().fetch_offsets("g")).value;
  REQUIRE(offsets.size() == 1);
  CHECK(offsets[0].second.offset == 11);
  CHECK_FALSE(n.held("g", tp));
}

TEST_CASE("txn coordinator: records encode and decode") {
  kwire_broker::TxnMetadata t;
  t.id = "app";
  t.producer_id = 5;
  t.producer_epoch = 3;
  t.last_producer_id = 4;
  t.last_producer_epoch = 9;
  t.timeout_ms = 1234;
  t.state = TxnState::prepare_commit;
  t.partitions = {{"a", 0}, {"b", 3}};
  t.groups = {"g"};
  t.offsets["g"][{"a", 0}].offset = 17;
  t.start_ms = 100;
  t.update_ms = 200;
  auto d = kwire_broker::decode_txn("app", kwire_broker::encode_txn(t));
  REQUIRE(d);
  CHECK(d->producer_id == 5);
  CHECK(d->producer_epoch == 3);
  CHECK(d->last_producer_id == 4);
  CHECK(d->last_producer_epoch == 9);
  CHECK(d->timeout_ms == 1234);
  CHECK(d->state == TxnState::prepare_commit);
  CHECK(d->partitions == t.partitions);
  CHECK(d->groups == t.groups);
  CHECK(d->offsets.at("g").at({"a", 0}).offset == 17);
  CHECK(d->start_ms == 100);
  auto bytes = kwire_broker::encode_txn(t);
  bytes.pop_back();
  CHECK_FALSE(kwire_broker::decode_txn("app", bytes));
  CHECK(kwire_broker::txn_state_name(TxnState::prepare_epoch_fence) == "PrepareEpochFence");
  CHECK(kwire_broker::txn_state_of("CompleteAbort") == TxnState::complete_abort);
}

TEST_CASE("txn coordinator V2: every EndTxn bumps the epoch, markers carry it, late writes are refused") {
  TempDir dir{"kwire-txn"};
  Node n(dir.path);
  n.create_topic("t", 1);
  const TopicPartition tp{"t", 0};
  auto p = n.init("app");
  REQUIRE(p.error == ErrorCode::None);
  // The first produce adds the partition (no AddPartitionsToTxn).
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, tp) == ErrorCode::InvalidTxnState);
  REQUIRE(n.add_v2("app", p, tp) == ErrorCode::None);
  CHECK(n.state("app") == TxnState::ongoing);
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, tp) == ErrorCode::None);
  REQUIRE(n.produce(tp, p, 0).ok());

  auto next = n.end_v2("app", p, true);
  REQUIRE(next.error == ErrorCode::None);
  CHECK(next.producer_id == p.producer_id);
  CHECK(next.producer_epoch == p.producer_epoch + 1);
  auto m = last_marker(n, tp);
  REQUIRE(m);
  CHECK(m->first);
  CHECK(m->second == next.producer_epoch);  // the marker is written with the bumped epoch
  // A retry (the epoch before the bump) gets the same answer; the other
  // outcome is refused.
  auto retry = n.end_v2("app", p, true);
  CHECK(retry.error == ErrorCode::None);
  CHECK(retry.producer_epoch == next.producer_epoch);
  CHECK(n.end_v2("app", p, false).error == ErrorCode::InvalidTxnState);
  // A write of the ended transaction arriving late: refused by the
  // coordinator's check and by the partition (older than the marker).
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, tp) == ErrorCode::InvalidProducerEpoch);
  CHECK(n.produce(tp, p, 1).error == storage::Errc::invalid_producer_epoch);
  CHECK(n.add_v2("app", p, tp) == ErrorCode::ProducerFenced);

  // The next transaction goes on with the new epoch, sequences from 0.
  REQUIRE(n.add_v2("app", next, tp) == ErrorCode::None);
  REQUIRE(n.produce(tp, next, 0).ok());
  auto third = n.end_v2("app", next, false);
  REQUIRE(third.error == ErrorCode::None);
  CHECK(third.producer_epoch == next.producer_epoch + 1);
  CHECK(n.state("app") == TxnState::complete_abort);
  CHECK(n.run(n.log(tp)->aborted_transactions(0, 100)).value.size() == 1);
  // Two bumps back is no retry.
  CHECK(n.end_v2("app", p, false).error == ErrorCode::ProducerFenced);
  // Aborting a transaction that added nothing (its produce failed first)
  // ends it all the same, with a bump.
  auto empty = n.end_v2("app", third, false);
  REQUIRE(empty.error == ErrorCode::None);
  CHECK(empty.producer_epoch == third.producer_epoch + 1);
}

TEST_CASE("txn coordinator V2: an exhausted epoch rolls over to a new producer id") {
  TempDir dir{"kwire-txn"};
  const TopicPartition tp{"t", 0};
  TxnCoordinator::ProducerIdAndEpoch p;
  {
    // A record two bumps from the last epoch, as if stored long ago.
    Node n(dir.path);
    n.create_topic("t", 1);
    p = n.init("app");
    auto t = *n.coordinator->describe("app");
    t.producer_epoch = 32765;
    REQUIRE(n.run(n.store->transactions()->store_txn("app", kwire_broker::encode_txn(t))).ok());
  }
  Node n(dir.path);
  p.producer_epoch = 32765;
  REQUIRE(n.add_v2("app", p, tp) == ErrorCode::None);
  REQUIRE(n.produce(tp, p, 0).ok());
  auto last = n.end_v2("app", p, true);
  REQUIRE(last.error == ErrorCode::None);
  CHECK(last.producer_id == p.producer_id);
  CHECK(last.producer_epoch == 32766);
  REQUIRE(n.add_v2("app", last, tp) == ErrorCode::None);
  REQUIRE(n.produce(tp, last, 0).ok());
  auto rolled = n.end_v2("app", last, true);
  REQUIRE(rolled.error == ErrorCode::None);
  CHECK(rolled.producer_id != p.producer_id);
  CHECK(rolled.producer_epoch == 0);
  // The markers went out under the old id's very last epoch.
  auto m = last_marker(n, tp);
  REQUIRE(m);
  CHECK(m->second == 32767);
  CHECK(last_producer_id(n, tp) == p.producer_id);
  // A retry of that EndTxn is recognised by the old id.
  auto retry = n.end_v2("app", last, true);
  CHECK(retry.error == ErrorCode::None);
  CHECK(retry.producer_id == rolled.producer_id);
  CHECK(retry.producer_epoch == 0);
  // The new id works; the old one is fenced.
  REQUIRE(n.add_v2("app", rolled, tp) == ErrorCode::None);
  REQUIRE(n.produce(tp, rolled, 0).ok());
  CHECK(n.coordinator->may_write(last.producer_id, last.producer_epoch, tp) == ErrorCode::InvalidProducerEpoch);
  CHECK(n.end_v2("app", rolled, true).error == ErrorCode::None);
}

TEST_CASE("txn coordinator V2: TxnOffsetCommit adds its group; verification errors") {
  TempDir dir{"kwire-txn"};
  Node n(dir.path);
  n.create_topic("in", 1);
  const TopicPartition in{"in", 0};
  // Produce's verification: an unknown producer id, a partition outside
  // the transaction.
  CHECK(n.coordinator->may_write(123456, 0, in) == ErrorCode::InvalidProducerIdMapping);
  auto p = n.init("app");
  CHECK(n.coordinator->may_write(p.producer_id, p.producer_epoch, in) == ErrorCode::InvalidTxnState);
  CHECK(n.coordinator->may_write(p.producer_id, static_cast<std::int16_t>(p.producer_epoch + 1), in) ==
        ErrorCode::InvalidProducerEpoch);
  storage::CommittedOffset o;
  o.offset = 9;
  // V1 needs AddOffsetsToTxn first; V2's commit adds the group itself.
  CHECK(n.commit_offsets("app", p, "g", {{in, o}}) == ErrorCode::InvalidTxnState);
  REQUIRE(n.commit_offsets("app", p, "g", {{in, o}}, true) == ErrorCode::None);
  CHECK(n.state("app") == TxnState::ongoing);
  CHECK(n.held("g", in));
  REQUIRE(n.end_v2("app", p, true).error == ErrorCode::None);
  auto offsets = n.run(n.store->groups().fetch_offsets("g")).value;
  REQUIRE(offsets.size() == 1);
  CHECK(offsets[0].second.offset == 9);
}

TEST_CASE("txn coordinator: idle transactional ids expire from the durable state") {
  TempDir dir{"kwire-txn"};
  constexpr std::int64_t week = 7LL * 24 * 3600 * 1000;  // Kafka's default
  std::int64_t first_pid = -1;
  {
    Node n(dir.path);
    n.create_topic("t", 1);
    const TopicPartition tp{"t", 0};
    first_pid = n.init("idle").producer_id;
    auto busy = n.init("busy");
    REQUIRE(n.add("busy", busy, {tp}).error == ErrorCode::None);
    n.now += week - 1;
    n.run(n.coordinator->expire_ids());
    CHECK(n.coordinator->describe("idle"));
    n.now += 1;
    n.run(n.coordinator->expire_ids());
    CHECK_FALSE(n.coordinator->describe("idle"));
    // An open transaction keeps its id (its timeout aborts it first).
    CHECK(n.coordinator->describe("busy"));
    CHECK(n.coordinator->may_write(first_pid, 0, tp) == ErrorCode::InvalidProducerIdMapping);
  }
  // Gone from the store too.
  Node n(dir.path);
  CHECK_FALSE(n.coordinator->describe("idle"));
  CHECK(n.coordinator->describe("busy"));
  // The id starts over with a new producer id, even for a producer that
  // names its old one.
  auto again = n.init("idle", first_pid, 0);
  REQUIRE(again.error == ErrorCode::None);
  CHECK(again.producer_id != first_pid);
  CHECK(again.producer_epoch == 0);
}
