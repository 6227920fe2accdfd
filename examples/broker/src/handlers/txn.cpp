// The transaction APIs: AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
// EndTxn, DescribeTransactions, ListTransactions, DescribeProducers and
// WriteTxnMarkers (which tools use to end a hanging transaction). InitProducerId is in handlers/core.cpp; the state
// machine is coordinator/txn_coordinator.hpp, whose operations run on its
// strand. Offered only where the store keeps transactions.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include <re2/re2.h>

#include "coordinator/group_coordinator.hpp"
#include "coordinator/txn_coordinator.hpp"
#include "coordinator/txn_peers.hpp"
#include "core/cluster.hpp"
#include "handlers/consumer_groups.hpp"
#include "kwire/messages/add_offsets_to_txn_request.hpp"
#include "kwire/messages/add_offsets_to_txn_response.hpp"
#include "kwire/messages/add_partitions_to_txn_request.hpp"
#include "kwire/messages/add_partitions_to_txn_response.hpp"
#include "kwire/messages/describe_producers_request.hpp"
#include "kwire/messages/describe_producers_response.hpp"
#include "kwire/messages/describe_transactions_request.hpp"
#include "kwire/messages/describe_transactions_response.hpp"
#include "kwire/messages/end_txn_request.hpp"
#include "kwire/messages/end_txn_response.hpp"
#include "kwire/messages/list_transactions_request.hpp"
#include "kwire/messages/list_transactions_response.hpp"
#include "kwire/messages/txn_offset_commit_request.hpp"
#include "kwire/messages/txn_offset_commit_response.hpp"
#include "kwire/messages/write_txn_markers_request.hpp"
#include "kwire/messages/write_txn_markers_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/internal_topics.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;
using storage::TopicPartition;

/// The longest TransactionalIdPattern accepted (bytes), as for the regular
/// expressions of consumer group subscriptions.
constexpr std::size_t max_transactional_id_pattern = 1024;

/// Clients before these versions know no PRODUCER_FENCED: they get
/// INVALID_PRODUCER_EPOCH, as Kafka answers them.
ErrorCode for_version(ErrorCode e, std::int16_t version, std::int16_t fenced_from) {
  return e == ErrorCode::ProducerFenced && version < fenced_from ? ErrorCode::InvalidProducerEpoch : e;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// One transaction's partitions added (or, verify_only, checked as Produce
/// would): the error of each partition.
asio::awaitable<std::map<TopicPartition, ErrorCode>> add_or_verify(Broker& b, Ctx& ctx, std::string id,
                                                                   std::int64_t producer_id, std::int16_t epoch,
                                                                   bool verify_only,
                                                                   std::vector<TopicPartition> partitions) {
  std::map<TopicPartition, ErrorCode> out;
  // A client needs WRITE on the transactional id, then on every topic: one
  // topic refused leaves the others not attempted (Kafka's answer). From v4
  // the caller is a broker, let through by CLUSTER_ACTION (the caller's
  // check).
  const bool client = ctx.version < 4;
  if (client && !allowed_on_txn(b, ctx, acl::Operation::write, id)) {
    for (const auto& tp : partitions) out[tp] = ErrorCode::TransactionalIdAuthorizationFailed;
    co_return out;
  }
  std::set<std::string> denied;
  for (const auto& tp : partitions)
    if (client && !allowed_on_topic(b, ctx, acl::Operation::write, tp.topic)) denied.insert(tp.topic);
  if (!denied.empty()) {
    for (const auto& tp : partitions)
      out[tp] = denied.count(tp.topic) ? ErrorCode::TopicAuthorizationFailed : ErrorCode::OperationNotAttempted;
    co_return out;
  }
  auto* c = ctx.realm().transactions();
  if (!c) {
    for (const auto& tp : partitions) out[tp] = ErrorCode::UnsupportedVersion;
    co_return out;
  }
  if (verify_only) {
    // As Kafka's coordinator answers a leader's verification: a partition
    // outside the transaction TRANSACTION_ABORTABLE, another epoch
    // PRODUCER_FENCED.
    for (const auto& tp : partitions) {
      auto check = verify_here(*c, id, producer_id, epoch, tp, false);
      auto e = co_await std::move(check);
      if (e == ErrorCode::InvalidTxnState) e = ErrorCode::TransactionAbortable;
      if (e == ErrorCode::InvalidProducerEpoch) e = ErrorCode::ProducerFenced;
      out[tp] = e;
    }
    co_return out;
  }
  // Version 5 is what a broker sends for a Transactions V2 produce.
  auto op = c->add_partitions(std::move(id), producer_id, epoch, partitions, ctx.version >= 5);
  const auto r = co_await asio::co_spawn(c->strand(), std::move(op), asio::use_awaitable);
  for (const auto& tp : partitions) {
    ErrorCode e = r.error;
    if (e == ErrorCode::None && !r.unknown.empty())
      e = r.unknown.count(tp) ? ErrorCode::UnknownTopicOrPartition : ErrorCode::OperationNotAttempted;
    out[tp] = e;
  }
  co_return out;
}

template <class Topics, class Results>
void fill_results(Ctx& ctx, const Topics& topics, const std::map<TopicPartition, ErrorCode>& errors, Results& out) {
  for (const auto& t : topics) {
    auto& tr = out.emplace_back();
    tr.name = t.name;
    for (const auto p : t.partitions) {
      auto& pr = tr.results_by_partition.emplace_back();
      pr.partition_index = p;
      auto it = errors.find({std::string(t.name), p});
      pr.partition_error_code = ctx.note(it == errors.end() ? ErrorCode::None : for_version(it->second, ctx.version, 2));
    }
  }
}

template <class Topics>
std::vector<TopicPartition> partitions_of(const Topics& topics) {
  std::vector<TopicPartition> out;
  for (const auto& t : topics)
    for (const auto p : t.partitions) out.push_back({std::string(t.name), p});
  return out;
}

// Versions 0-3 are the clients' (one transaction); 4 and later the brokers'
// (a batch of transactions, each added or only verified).
asio::awaitable<void> add_partitions_to_txn(Broker& b, Ctx& ctx, AddPartitionsToTxnRequest& req,
                                            AddPartitionsToTxnResponse& resp) {
  if (ctx.version <= 3) {
    auto op = add_or_verify(b, ctx, std::string(req.v3_and_below_transactional_id), req.v3_and_below_producer_id,
                            req.v3_and_below_producer_epoch, false, partitions_of(req.v3_and_below_topics));
    const auto errors = co_await std::move(op);
    fill_results(ctx, req.v3_and_below_topics, errors, resp.results_by_topic_v3_and_below);
    co_return;
  }
  // From v4 the caller is a broker: CLUSTER_ACTION on the cluster.
  if (!allowed_on_cluster(b, ctx, acl::Operation::cluster_action)) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    co_return;
  }
  for (const auto& txn : req.transactions) {
    auto op = add_or_verify(b, ctx, std::string(txn.transactional_id), txn.producer_id, txn.producer_epoch,
                            txn.verify_only, partitions_of(txn.topics));
    const auto errors = co_await std::move(op);
    auto& tr = resp.results_by_transaction.emplace_back();
    tr.transactional_id = txn.transactional_id;
    fill_results(ctx, txn.topics, errors, tr.topic_results);
  }
}

asio::awaitable<void> add_offsets_to_txn(Broker& b, Ctx& ctx, AddOffsetsToTxnRequest& req,
                                         AddOffsetsToTxnResponse& resp) {
  if (!allowed_on_txn(b, ctx, acl::Operation::write, req.transactional_id)) {
    resp.error_code = ctx.note(ErrorCode::TransactionalIdAuthorizationFailed);
    co_return;
  }
  if (!allowed_on_group(b, ctx, acl::Operation::read, req.group_id)) {
    resp.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  auto* c = ctx.realm().transactions();
  if (!c) {
    resp.error_code = ctx.note(ErrorCode::UnsupportedVersion);
    co_return;
  }
  auto op = c->add_offsets(std::string(req.transactional_id), req.producer_id, req.producer_epoch,
                           std::string(req.group_id));
  const ErrorCode e = co_await asio::co_spawn(c->strand(), std::move(op), asio::use_awaitable);
  resp.error_code = ctx.note(for_version(e, ctx.version, 2));
}

asio::awaitable<void> txn_offset_commit(Broker& b, Ctx& ctx, TxnOffsetCommitRequest& req,
                                        TxnOffsetCommitResponse& resp) {
  auto* c = ctx.realm().transactions();
  auto& catalog = ctx.realm().store().topics();
  std::string group(req.group_id);
  ErrorCode error = c ? ErrorCode::None : ErrorCode::UnsupportedVersion;
  // WRITE on the transactional id, READ on the group, READ on each topic.
  if (!allowed_on_txn(b, ctx, acl::Operation::write, req.transactional_id))
    error = ErrorCode::TransactionalIdAuthorizationFailed;
  else if (!allowed_on_group(b, ctx, acl::Operation::read, group))
    error = ErrorCode::GroupAuthorizationFailed;
  if (error == ErrorCode::None && group.empty()) error = ErrorCode::InvalidGroupId;
  if (error == ErrorCode::None && !ctx.realm().cluster().coordinates(group)) error = ErrorCode::NotCoordinator;
  if (error == ErrorCode::None && ctx.version >= 3) {
    // The member and generation (or member epoch), when given, as for a
    // plain offset commit, in a group of either protocol.
    auto& groups = ctx.realm().groups();
    std::string member(req.member_id);
    std::optional<std::string> instance;
    if (req.group_instance_id) instance = std::string(*req.group_instance_id);
    co_await asio::co_spawn(
        groups.strand(),
        [&]() -> asio::awaitable<void> {
          const auto epoch = req.generation_id_or_member_epoch;
          if (auto e = check_consumer_offsets(groups, group, member, epoch)) error = *e;
          else error = groups.check_commit(groups.find(group), member, epoch, instance);
          co_return;
        },
        asio::use_awaitable);
  }
  storage::GroupStore::Offsets offsets;
  const auto now = wall_ms();
  // v6 names topics by id.
  auto topic_of = [&](const TxnOffsetCommitRequest::TxnOffsetCommitRequestTopic& t) {
    return ctx.version >= 6 ? catalog.find_topic(t.topic_id.bytes) : catalog.find_topic(std::string(t.name));
  };
  auto topic_denied = [&](const std::optional<storage::TopicInfo>& info) {
    return info && !allowed_on_topic(b, ctx, acl::Operation::read, info->name);
  };
  for (const auto& t : req.topics) {
    auto info = topic_of(t);
    if (topic_denied(info)) continue;
    for (const auto& p : t.partitions) {
      if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) continue;
      storage::CommittedOffset o;
      o.offset = p.committed_offset;
      o.leader_epoch = ctx.version >= 2 ? p.committed_leader_epoch : -1;
      o.metadata = p.committed_metadata ? std::string(*p.committed_metadata) : std::string();
      o.commit_timestamp = now;
      offsets.emplace_back(TopicPartition{info->name, p.partition_index}, std::move(o));
    }
  }
  if (error == ErrorCode::None && !offsets.empty()) {
    // The transaction must hold the group's shard of the offsets topic
    // (AddOffsetsToTxn; from v5, a Transactions V2 client's, the commit adds
    // it), which the id's coordinator checks, as Kafka's group coordinator
    // asks it. The offsets are then held here until its marker ends them.
    const auto shard = offsets_shard(ctx.realm().store().groups().shard_of(group));
    auto check = ctx.realm().verify_txn(std::string(req.transactional_id), req.producer_id, req.producer_epoch,
                                        shard, ctx.version >= 5);
    error = co_await std::move(check);
    switch (error) {
      case ErrorCode::None:
      case ErrorCode::InvalidProducerIdMapping:
      case ErrorCode::CoordinatorLoadInProgress: break;
      case ErrorCode::ProducerFenced: error = ErrorCode::InvalidProducerEpoch; break;
      // A group outside the transaction: TRANSACTION_ABORTABLE for clients
      // that know it (v4+), as Kafka's verification answers.
      case ErrorCode::InvalidTxnState:
      case ErrorCode::TransactionAbortable:
        error = ctx.version >= 4 ? ErrorCode::TransactionAbortable : ErrorCode::InvalidTxnState;
        break;
      case ErrorCode::InvalidProducerEpoch: break;
      // A transaction still ending, or a coordinator that could not be
      // asked: retriable for the client.
      default: error = ErrorCode::CoordinatorNotAvailable;
    }
    auto& groups = ctx.realm().store().groups();
    if (error == ErrorCode::None) {
      auto hold = groups.hold_txn_offsets(group, req.producer_id, req.producer_epoch, std::move(offsets));
      const auto held = co_await std::move(hold);
      if (!held.ok())
        error = held.error == storage::Errc::invalid_producer_epoch ? ErrorCode::InvalidProducerEpoch
                                                                    : ErrorCode::CoordinatorNotAvailable;
    }
    if (error == ErrorCode::None) {
      // The transaction may have ended (timed out, fenced) while the hold was
      // written: a hold after its marker would be left behind. Asked again,
      // a coordinator that no longer has it open makes the hold go.
      auto again = ctx.realm().verify_txn(std::string(req.transactional_id), req.producer_id, req.producer_epoch,
                                          shard, false);
      const ErrorCode e = co_await std::move(again);
      if (e == ErrorCode::InvalidTxnState || e == ErrorCode::TransactionAbortable || e == ErrorCode::ProducerFenced ||
          e == ErrorCode::InvalidProducerEpoch || e == ErrorCode::InvalidProducerIdMapping) {
        auto drop = groups.end_txn_offsets(shard.partition, req.producer_id, req.producer_epoch, false);
        (void)co_await std::move(drop);
        error = e == ErrorCode::ProducerFenced ? ErrorCode::InvalidProducerEpoch
                : e == ErrorCode::InvalidTxnState && ctx.version >= 4 ? ErrorCode::TransactionAbortable
                : e;
      }
    }
  }
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    tr.topic_id = t.topic_id;
    auto info = topic_of(t);
    const ErrorCode unknown = ctx.version >= 6 && !info ? ErrorCode::UnknownTopicId : ErrorCode::UnknownTopicOrPartition;
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      const bool known = info && p.partition_index >= 0 && p.partition_index < info->partitions;
      pr.error_code = ctx.note(error != ErrorCode::None ? error
                               : topic_denied(info)      ? ErrorCode::TopicAuthorizationFailed
                               : known                   ? ErrorCode::None
                                                         : unknown);
    }
  }
}

asio::awaitable<void> end_txn(Broker& b, Ctx& ctx, EndTxnRequest& req, EndTxnResponse& resp) {
  if (!allowed_on_txn(b, ctx, acl::Operation::write, req.transactional_id)) {
    resp.error_code = ctx.note(ErrorCode::TransactionalIdAuthorizationFailed);
    co_return;
  }
  auto* c = ctx.realm().transactions();
  if (!c) {
    resp.error_code = ctx.note(ErrorCode::UnsupportedVersion);
    co_return;
  }
  // v5+ is Transactions V2: every end bumps the epoch, and the answer
  // names the producer id and epoch of the next transaction.
  auto op = c->end_txn(std::string(req.transactional_id), req.producer_id, req.producer_epoch, req.committed,
                       ctx.version >= 5);
  const auto r = co_await asio::co_spawn(c->strand(), std::move(op), asio::use_awaitable);
  resp.error_code = ctx.note(for_version(r.error, ctx.version, 2));
  if (ctx.version >= 5) {
    resp.producer_id = r.error == ErrorCode::None ? r.producer_id : -1;
    resp.producer_epoch = r.error == ErrorCode::None ? r.producer_epoch : std::int16_t{-1};
  }
}

asio::awaitable<void> describe_transactions(Broker& b, Ctx& ctx, DescribeTransactionsRequest& req,
                                            DescribeTransactionsResponse& resp) {
  auto* c = ctx.realm().transactions();
  for (const auto id : req.transactional_ids) {
    auto& ts = resp.transaction_states.emplace_back();
    ts.transactional_id = id;
    ts.transaction_state = "";
    ts.transaction_start_time_ms = -1;
    ts.producer_id = -1;
    ts.producer_epoch = -1;
    if (!allowed_on_txn(b, ctx, acl::Operation::describe, id)) {
      ts.error_code = ctx.note(ErrorCode::TransactionalIdAuthorizationFailed);
      continue;
    }
    if (c) {
      // Coordinated here, and its shard loaded (with several gateways a
      // shard loads when this one takes it over).
      auto ready = c->ready_for(std::string(id));
      const ErrorCode e = co_await asio::co_spawn(c->strand(), std::move(ready), asio::use_awaitable);
      if (e != ErrorCode::None) {
        ts.error_code = ctx.note(e);
        continue;
      }
    }
    auto t = c ? c->describe(std::string(id)) : std::nullopt;
    if (!t) {
      ts.error_code = ctx.note(ErrorCode::TransactionalIdNotFound);
      continue;
    }
    ts.transaction_state = txn_state_name(t->state);
    ts.transaction_timeout_ms = t->timeout_ms;
    ts.transaction_start_time_ms = t->start_ms;
    ts.producer_id = t->producer_id;
    ts.producer_epoch = t->producer_epoch;
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& tp : t->partitions) by_topic[tp.topic].push_back(tp.partition);
    for (auto& [topic, parts] : by_topic) {
      auto& td = ts.topics.emplace_back();
      td.topic = ctx.keep(topic);
      for (auto p : parts) td.partitions.push_back(p);
    }
  }
  co_return;
}

asio::awaitable<void> list_transactions(Broker& b, Ctx& ctx, ListTransactionsRequest& req,
                                        ListTransactionsResponse& resp) {
  auto* c = ctx.realm().transactions();
  std::vector<TxnState> states;
  for (const auto name : req.state_filters) {
    if (auto s = txn_state_of(name)) states.push_back(*s);
    else resp.unknown_state_filters.push_back(name);
  }
  if (!c) co_return;
  // v2 (KIP-1152): the ids a regular expression matches whole. Kafka compiles
  // it with RE2/J, whose syntax is RE2's, so a pattern means here what it
  // means there; one it cannot compile is INVALID_REGULAR_EXPRESSION.
  std::unique_ptr<RE2> pattern;
  if (req.transactional_id_pattern && !req.transactional_id_pattern->empty()) {
    const std::string_view text = *req.transactional_id_pattern;
    // A client's pattern is compiled on the request's thread: its size is
    // bounded (and RE2 bounds the memory of what it compiles).
    if (text.size() > max_transactional_id_pattern) {
      resp.error_code = ctx.note(ErrorCode::InvalidRegularExpression);
      co_return;
    }
    RE2::Options options;
    options.set_log_errors(false);
    pattern = std::make_unique<RE2>(re2::StringPiece(text.data(), text.size()), options);
    if (!pattern->ok()) {
      resp.error_code = ctx.note(ErrorCode::InvalidRegularExpression);
      co_return;
    }
  }
  const auto now = wall_ms();
  for (auto& t : c->list()) {
    if (!states.empty() && std::find(states.begin(), states.end(), t.state) == states.end()) continue;
    if (!req.producer_id_filters.empty() &&
        std::find(req.producer_id_filters.begin(), req.producer_id_filters.end(), t.producer_id) ==
            req.producer_id_filters.end())
      continue;
    // v1: transactions running for longer than the duration.
    if (req.duration_filter >= 0 && (t.start_ms < 0 || now - t.start_ms < req.duration_filter)) continue;
    if (pattern && !RE2::FullMatch(t.id, *pattern)) continue;
    if (!allowed_on_txn(b, ctx, acl::Operation::describe, t.id)) continue;  // listed only where describable
    auto& ts = resp.transaction_states.emplace_back();
    ts.transactional_id = ctx.keep(t.id);
    ts.producer_id = t.producer_id;
    ts.transaction_state = txn_state_name(t.state);
  }
}

asio::awaitable<void> describe_producers(Broker& b, Ctx& ctx, DescribeProducersRequest& req,
                                         DescribeProducersResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    auto info = catalog.find_topic(std::string(t.name));
    const bool denied = !allowed_on_topic(b, ctx, acl::Operation::read, t.name);
    for (const auto p : t.partition_indexes) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p;
      if (denied) {
        pr.error_code = ctx.note(ErrorCode::TopicAuthorizationFailed);
        continue;
      }
      if (!info || p < 0 || p >= info->partitions) {
        pr.error_code = ctx.note(ErrorCode::UnknownTopicOrPartition);
        continue;
      }
      TopicPartition tp{info->name, p};  // named: g++ 12 mishandles temporaries in co_await
      auto lr = co_await ctx.realm().log(tp);
      if (!lr.ok()) {
        pr.error_code = ctx.note(to_kafka(lr.error));
        continue;
      }
      for (const auto& s : lr.value->producers()) {
        auto& ps = pr.active_producers.emplace_back();
        ps.producer_id = s.producer_id;
        ps.producer_epoch = s.producer_epoch;
        ps.last_sequence = s.last_sequence;
        ps.last_timestamp = s.last_timestamp;
        ps.coordinator_epoch = s.coordinator_epoch;
        ps.current_txn_start_offset = s.txn_start_offset;
      }
    }
  }
}

// Markers written straight into partitions, as a transaction coordinator
// (or a tool aborting a hanging transaction) asks a partition leader to.
asio::awaitable<void> write_txn_markers(Broker& b, Ctx& ctx, WriteTxnMarkersRequest& req,
                                        WriteTxnMarkersResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  // Markers are a broker's or an admin tool's: CLUSTER_ACTION on the cluster.
  const bool denied = !allowed_on_cluster(b, ctx, acl::Operation::cluster_action);
  const auto view = ctx.realm().cluster().view();
  for (const auto& m : req.markers) {
    auto& mr = resp.markers.emplace_back();
    mr.producer_id = m.producer_id;
    storage::TxnMarker marker;
    marker.producer_id = m.producer_id;
    marker.producer_epoch = m.producer_epoch;
    marker.coordinator_epoch = m.coordinator_epoch;
    marker.commit = m.transaction_result;
    marker.v2 = ctx.version >= 2 && m.transaction_version >= 2;
    for (const auto& t : m.topics) {
      auto& tr = mr.topics.emplace_back();
      tr.name = t.name;
      auto info = catalog.find_topic(std::string(t.name));
      for (const auto p : t.partition_indexes) {
        auto& pr = tr.partitions.emplace_back();
        pr.partition_index = p;
        if (denied) {
          pr.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
          continue;
        }
        if (t.name == internal_topics::group_offsets) {
          // A shard of the offsets topic: the transaction's offsets held
          // for its groups end, where this gateway coordinates them.
          auto& groups = ctx.realm().store().groups();
          if (p < 0 || p >= groups.shard_count()) {
            pr.error_code = ctx.note(ErrorCode::UnknownTopicOrPartition);
            continue;
          }
          if (view.coordinator_of_shard(p) != view.self()) {
            pr.error_code = ctx.note(ErrorCode::NotLeaderOrFollower);
            continue;
          }
          auto end = groups.end_txn_offsets(p, marker.producer_id, storage::txn_epoch(marker), marker.commit);
          auto r = co_await std::move(end);
          pr.error_code = ctx.note(to_kafka(r.error));
          continue;
        }
        if (!info || p < 0 || p >= info->partitions) {
          pr.error_code = ctx.note(ErrorCode::UnknownTopicOrPartition);
          continue;
        }
        TopicPartition tp{info->name, p};  // named: g++ 12 mishandles temporaries in co_await
        if (view.leader_of(tp) != view.self()) {  // only a partition's leader writes it
          pr.error_code = ctx.note(ErrorCode::NotLeaderOrFollower);
          continue;
        }
        auto lr = co_await ctx.realm().log(tp);
        if (!lr.ok()) {
          pr.error_code = ctx.note(to_kafka(lr.error));
          continue;
        }
        auto append = lr.value->append_marker(marker);
        auto r = co_await std::move(append);
        pr.error_code = ctx.note(to_kafka(r.error));
        if (r.ok()) b.notifier().notify(tp);
      }
    }
  }
}

template <class Req, asio::awaitable<void> (*Fn)(Broker&, Ctx&, Req&, kwire::response_of_t<Req>&)>
HandlerEntry txn_api(std::int16_t min, std::int16_t max) {
  auto e = handler<Req, Fn>(min, max);
  e.transactional = true;
  return e;
}

}  // namespace

std::vector<HandlerEntry> txn_handlers() {
  return {
      txn_api<AddPartitionsToTxnRequest, add_partitions_to_txn>(0, 5),
      txn_api<AddOffsetsToTxnRequest, add_offsets_to_txn>(0, 4),
      txn_api<TxnOffsetCommitRequest, txn_offset_commit>(0, 6),
      // v5 is Transactions V2 (ApiVersions finalizes transaction.version 2).
      txn_api<EndTxnRequest, end_txn>(0, 5),
      txn_api<DescribeTransactionsRequest, describe_transactions>(0, 0),
      txn_api<ListTransactionsRequest, list_transactions>(0, 2),
      txn_api<DescribeProducersRequest, describe_producers>(0, 0),
      txn_api<WriteTxnMarkersRequest, write_txn_markers>(0, 2),
  };
}

}  // namespace kwire_broker
