// The transaction APIs through the broker's dispatch (Broker::handle) on an
// embedded store, no sockets: what Produce, Fetch with isolation_level=1 and
// ListOffsets for read_committed answer before and after a transaction ends,
// and the transaction errors on the wire.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kwire/messages/add_offsets_to_txn_request.hpp"
#include "kwire/messages/add_offsets_to_txn_response.hpp"
#include "kwire/messages/add_partitions_to_txn_request.hpp"
#include "kwire/messages/add_partitions_to_txn_response.hpp"
#include "kwire/messages/api_versions_request.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/consumer_group_heartbeat_request.hpp"
#include "kwire/messages/consumer_group_heartbeat_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/end_txn_request.hpp"
#include "kwire/messages/end_txn_response.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/find_coordinator_request.hpp"
#include "kwire/messages/find_coordinator_response.hpp"
#include "kwire/messages/init_producer_id_request.hpp"
#include "kwire/messages/init_producer_id_response.hpp"
#include "kwire/messages/list_offsets_request.hpp"
#include "kwire/messages/list_offsets_response.hpp"
#include "kwire/messages/list_transactions_request.hpp"
#include "kwire/messages/list_transactions_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/messages/txn_offset_commit_request.hpp"
#include "kwire/messages/txn_offset_commit_response.hpp"
#include "kwire/records/records.hpp"
#include "support/in_process_broker.hpp"
#include "support/temp_dir.hpp"

using kwire::ErrorCode;
using kwire_broker::testing::InProcessBroker;

namespace {

template <class E>
ErrorCode code(E e) {
  return static_cast<ErrorCode>(e);
}

struct Fixture {
  kwire_broker::testing::TempDir dir{"kwire-txn-handlers"};
  InProcessBroker broker{dir.path};
  std::int64_t pid = -1;
  std::int16_t epoch = -1;

  Fixture() {
    kwire::CreateTopicsRequest req;
    auto& t = req.topics.emplace_back();
    t.name = "t";
    t.num_partitions = 1;
    t.replication_factor = 1;
    REQUIRE(code(broker.call<kwire::CreateTopicsResponse>(req, 7).topics.at(0).error_code) == ErrorCode::None);
    kwire::InitProducerIdRequest init;
    init.transactional_id = "app";
    init.transaction_timeout_ms = 60000;
    auto r = broker.call<kwire::InitProducerIdResponse>(init, 4);
    REQUIRE(code(r.error_code) == ErrorCode::None);
    pid = r.producer_id;
    epoch = r.producer_epoch;
  }

  ErrorCode add_partition(std::int16_t with_epoch) {
    kwire::AddPartitionsToTxnRequest req;
    req.v3_and_below_transactional_id = "app";
    req.v3_and_below_producer_id = pid;
    req.v3_and_below_producer_epoch = with_epoch;
    auto& t = req.v3_and_below_topics.emplace_back();
    t.name = "t";
    t.partitions.push_back(0);
    auto r = broker.call<kwire::AddPartitionsToTxnResponse>(req, 3);
    return code(r.results_by_topic_v3_and_below.at(0).results_by_partition.at(0).partition_error_code);
  }

  /// A transactional batch from the producer; version 12 is a
  /// Transactions V2 client's.
  kwire::ProduceResponse::PartitionProduceResponse produce(std::int32_t seq, std::int16_t version = 11) {
    kwire::RecordBatchOptions o;
    o.producer_id = pid;
    o.producer_epoch = epoch;
    o.base_sequence = seq;
    o.transactional = true;
    kwire::RecordBatchBuilder b(o);
    b.append(1000, std::nullopt, kwire::as_bytes(std::string_view("in-a-transaction")));
    b.append(1001, std::nullopt, kwire::as_bytes(std::string_view("in-a-transaction")));
    batch = b.build();
    kwire::ProduceRequest req;
    req.transactional_id = "app";
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& td = req.topic_data.emplace_back();
    td.name = "t";
    auto& pd = td.partition_data.emplace_back();
    pd.index = 0;
    pd.records = kwire::bytes_view(batch);
    return broker.call<kwire::ProduceResponse>(req, version).responses.at(0).partition_responses.at(0);
  }

  ErrorCode end(bool commit, std::int16_t with_epoch, std::int16_t version = 3) {
    return code(end_response(commit, with_epoch, version).error_code);
  }
  kwire::EndTxnResponse end_response(bool commit, std::int16_t with_epoch, std::int16_t version) {
    kwire::EndTxnRequest req;
    req.transactional_id = "app";
    req.producer_id = pid;
    req.producer_epoch = with_epoch;
    req.committed = commit;
    return broker.call<kwire::EndTxnResponse>(req, version);
  }

  kwire::FetchResponse::PartitionData fetch(std::int8_t isolation) {
    kwire::FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.isolation_level = isolation;
    auto& t = req.topics.emplace_back();
    t.topic = "t";
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.fetch_offset = 0;
    p.partition_max_bytes = 1 << 20;
    return broker.call<kwire::FetchResponse>(req, 12).responses.at(0).partitions.at(0);
  }

  std::int64_t latest(std::int8_t isolation) {
    kwire::ListOffsetsRequest req;
    req.replica_id = -1;
    req.isolation_level = isolation;
    auto& t = req.topics.emplace_back();
    t.name = "t";
    t.partitions.emplace_back().timestamp = -1;
    return broker.call<kwire::ListOffsetsResponse>(req, 7).topics.at(0).partitions.at(0).offset;
  }

  std::vector<std::uint8_t> batch;
};

/// Record batches in a fetched record set: (base offset, is control).
std::vector<std::pair<std::int64_t, bool>> batches_in(const kwire::FetchResponse::PartitionData& p) {
  std::vector<std::pair<std::int64_t, bool>> out;
  if (!p.records) return out;
  kwire::RecordSetReader rs{*p.records};
  kwire::RecordBatchView b;
  while (rs.next(b)) out.emplace_back(b.base_offset(), b.is_control());
  return out;
}

}  // namespace

TEST_CASE("transactions on the wire: ApiVersions and FindCoordinator offer them") {
  Fixture f;
  auto versions = f.broker.call<kwire::ApiVersionsResponse>(kwire::ApiVersionsRequest{}, 3);
  auto has = [&](kwire::ApiKey key) {
    return std::any_of(versions.api_keys.begin(), versions.api_keys.end(),
                       [&](const auto& k) { return k.api_key == static_cast<std::int16_t>(key); });
  };
  CHECK(has(kwire::ApiKey::EndTxn));
  CHECK(has(kwire::ApiKey::AddPartitionsToTxn));
  CHECK(has(kwire::ApiKey::DescribeTransactions));
  // Transactions V2, as Kafka 4 finalizes it.
  auto feature = std::find_if(versions.finalized_features.begin(), versions.finalized_features.end(),
                              [](const auto& k) { return k.name == "transaction.version"; });
  REQUIRE(feature != versions.finalized_features.end());
  CHECK(feature->max_version_level == 2);
  CHECK(feature->min_version_level == 2);
  auto supported = std::find_if(versions.supported_features.begin(), versions.supported_features.end(),
                                [](const auto& k) { return k.name == "transaction.version"; });
  REQUIRE(supported != versions.supported_features.end());
  CHECK(supported->min_version == 0);
  CHECK(supported->max_version == 2);
  kwire::FindCoordinatorRequest find;
  find.key_type = 1;
  find.coordinator_keys.push_back("app");
  auto found = f.broker.call<kwire::FindCoordinatorResponse>(find, 4);
  REQUIRE(found.coordinators.size() == 1);
  CHECK(code(found.coordinators[0].error_code) == ErrorCode::None);
  CHECK(found.coordinators[0].node_id == 1);
}

TEST_CASE("transactions on the wire: read_committed before and after an abort") {
  Fixture f;
  // Not added to the transaction: refused, nothing stored (KIP-890 part 1:
  // TRANSACTION_ABORTABLE for clients that know it, from Produce v11).
  CHECK(code(f.produce(0, 10).error_code) == ErrorCode::InvalidTxnState);
  CHECK(code(f.produce(0, 11).error_code) == ErrorCode::TransactionAbortable);
  CHECK(f.latest(0) == 0);
  REQUIRE(f.add_partition(f.epoch) == ErrorCode::None);
  auto p = f.produce(0);
  REQUIRE(code(p.error_code) == ErrorCode::None);
  CHECK(p.base_offset == 0);

  // Open: read_committed sees nothing yet.
  auto open = f.fetch(1);
  CHECK(code(open.error_code) == ErrorCode::None);
  CHECK(open.high_watermark == 2);
  CHECK(open.last_stable_offset == 0);
  CHECK(batches_in(open).empty());
  CHECK(batches_in(f.fetch(0)).size() == 1);
  CHECK(f.latest(1) == 0);
  CHECK(f.latest(0) == 2);

  // A fenced epoch cannot end it (older clients hear INVALID_PRODUCER_EPOCH).
  CHECK(f.end(false, static_cast<std::int16_t>(f.epoch + 1)) == ErrorCode::ProducerFenced);
  CHECK(f.end(false, static_cast<std::int16_t>(f.epoch + 1), 1) == ErrorCode::InvalidProducerEpoch);
  REQUIRE(f.end(false, f.epoch) == ErrorCode::None);

  auto done = f.fetch(1);
  CHECK(done.high_watermark == 3);
  CHECK(done.last_stable_offset == 3);
  CHECK(batches_in(done) == std::vector<std::pair<std::int64_t, bool>>{{0, false}, {2, true}});
  REQUIRE(done.aborted_transactions);
  REQUIRE(done.aborted_transactions->size() == 1);
  CHECK((*done.aborted_transactions)[0].producer_id == f.pid);
  CHECK((*done.aborted_transactions)[0].first_offset == 0);
  CHECK(f.latest(1) == 3);
  // read_uncommitted gets no aborted transactions.
  auto plain = f.fetch(0);
  CHECK((!plain.aborted_transactions || plain.aborted_transactions->empty()));

  // The transaction is over: another write needs the partition added again.
  CHECK(code(f.produce(1).error_code) == ErrorCode::TransactionAbortable);
  CHECK(f.add_partition(static_cast<std::int16_t>(f.epoch + 1)) == ErrorCode::ProducerFenced);
}

TEST_CASE("transactions on the wire: V2 adds the partition on produce and bumps the epoch on EndTxn") {
  Fixture f;
  // Produce v12 from a V2 client: the partition joins the transaction.
  auto p = f.produce(0, 12);
  REQUIRE(code(p.error_code) == ErrorCode::None);
  CHECK(f.fetch(1).last_stable_offset == 0);
  auto ended = f.end_response(true, f.epoch, 5);
  REQUIRE(code(ended.error_code) == ErrorCode::None);
  CHECK(ended.producer_id == f.pid);
  CHECK(ended.producer_epoch == f.epoch + 1);
  auto done = f.fetch(1);
  CHECK(done.last_stable_offset == done.high_watermark);
  CHECK(batches_in(done) == std::vector<std::pair<std::int64_t, bool>>{{0, false}, {2, true}});
  // A retry of that EndTxn gets the same answer.
  auto retry = f.end_response(true, f.epoch, 5);
  CHECK(code(retry.error_code) == ErrorCode::None);
  CHECK(retry.producer_epoch == f.epoch + 1);
  // A late write of the ended transaction (its old epoch) is refused.
  CHECK(code(f.produce(1, 12).error_code) == ErrorCode::InvalidProducerEpoch);
  // The next transaction, with the new epoch.
  const auto old_epoch = f.epoch;
  f.epoch = ended.producer_epoch;
  REQUIRE(code(f.produce(0, 12).error_code) == ErrorCode::None);
  auto aborted = f.end_response(false, f.epoch, 5);
  REQUIRE(code(aborted.error_code) == ErrorCode::None);
  CHECK(aborted.producer_epoch == f.epoch + 1);
  CHECK(f.end(false, old_epoch, 5) == ErrorCode::ProducerFenced);
  auto after = f.fetch(1);
  REQUIRE(after.aborted_transactions);
  CHECK(after.aborted_transactions->size() == 1);
}

TEST_CASE("transactions on the wire: TxnOffsetCommit from a member of a consumer-protocol group") {
  Fixture f;
  kwire::ConsumerGroupHeartbeatRequest hb;
  hb.group_id = "eos";
  hb.member_id = "m1";
  hb.member_epoch = 0;
  hb.rebalance_timeout_ms = 30000;
  hb.subscribed_topic_names.emplace().push_back("t");
  hb.topic_partitions.emplace();
  const auto joined = f.broker.call<kwire::ConsumerGroupHeartbeatResponse>(hb, 1);
  REQUIRE(code(joined.error_code) == ErrorCode::None);
  const auto member_epoch = joined.member_epoch;
  REQUIRE(member_epoch > 0);

  kwire::AddOffsetsToTxnRequest add;
  add.transactional_id = "app";
  add.producer_id = f.pid;
  add.producer_epoch = f.epoch;
  add.group_id = "eos";
  REQUIRE(code(f.broker.call<kwire::AddOffsetsToTxnResponse>(add, 3).error_code) == ErrorCode::None);

  auto commit = [&](std::string_view member, std::int32_t epoch) {
    kwire::TxnOffsetCommitRequest req;
    req.transactional_id = "app";
    req.group_id = "eos";
    req.producer_id = f.pid;
    req.producer_epoch = f.epoch;
    req.member_id = member;
    req.generation_id_or_member_epoch = epoch;
    auto& t = req.topics.emplace_back();
    t.name = "t";
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    p.committed_offset = 1;
    auto r = f.broker.call<kwire::TxnOffsetCommitResponse>(req, 4);
    return code(r.topics.at(0).partitions.at(0).error_code);
  };
  // The member with its epoch, as a KIP-848 consumer's groupMetadata() gives
  // them to the producer; a stale epoch and a stranger are refused with the
  // consumer protocol's errors.
  CHECK(commit("m1", member_epoch) == ErrorCode::None);
  CHECK(commit("m1", member_epoch + 5) == ErrorCode::StaleMemberEpoch);
  CHECK(commit("stranger", member_epoch) == ErrorCode::UnknownMemberId);
}

TEST_CASE("transactions on the wire: ListTransactions' TransactionalIdPattern is an RE2 expression matching whole ids") {
  Fixture f;  // transactional id "app"
  kwire::InitProducerIdRequest init;
  init.transactional_id = "app-2";
  init.transaction_timeout_ms = 60000;
  REQUIRE(code(f.broker.call<kwire::InitProducerIdResponse>(init, 4).error_code) == ErrorCode::None);
  struct Listed {
    ErrorCode error;
    std::vector<std::string> ids;
  };
  auto list = [&](std::optional<std::string_view> pattern) {
    kwire::ListTransactionsRequest req;
    req.transactional_id_pattern = pattern;
    auto r = f.broker.call<kwire::ListTransactionsResponse>(req, 2);
    Listed out{code(r.error_code), {}};
    for (auto& t : r.transaction_states) out.ids.emplace_back(t.transactional_id);
    std::sort(out.ids.begin(), out.ids.end());
    return out;
  };
  using Ids = std::vector<std::string>;
  CHECK(list(std::nullopt).ids == Ids{"app", "app-2"});
  CHECK(list("").ids == Ids{"app", "app-2"});  // empty: no filter, as null
  // The whole id must match, as Java's Matcher.matches().
  CHECK(list("app").ids == Ids{"app"});
  CHECK(list("pp").ids.empty());
  CHECK(list("app-\\d").ids == Ids{"app-2"});
  // RE2/J syntax that ECMAScript lacks: inline flags and quoting.
  CHECK(list("(?i)APP").ids == Ids{"app"});
  CHECK(list("\\Qapp-\\E.*").ids == Ids{"app-2"});
  // What RE2/J refuses is refused, even where other engines accept it
  // (backreferences), and so is an unbounded pattern.
  CHECK(list("(a)pp\\1").error == ErrorCode::InvalidRegularExpression);
  CHECK(list("app(").error == ErrorCode::InvalidRegularExpression);
  std::string huge = "app";
  while (huge.size() <= 1024) huge += "|app";
  CHECK(list(huge).error == ErrorCode::InvalidRegularExpression);
  CHECK(list(huge).ids.empty());
}
