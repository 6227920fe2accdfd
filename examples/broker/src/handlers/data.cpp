// Produce, Fetch, ListOffsets, OffsetForLeaderEpoch and DeleteRecords.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"
#include "kwire/messages/delete_records_request.hpp"
#include "kwire/messages/delete_records_response.hpp"
#include "kwire/messages/list_offsets_request.hpp"
#include "kwire/messages/list_offsets_response.hpp"
#include "kwire/messages/offset_for_leader_epoch_request.hpp"
#include "kwire/messages/offset_for_leader_epoch_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/records/batch.hpp"
#include "kwire/records/compression.hpp"
#include "protocol/internal_topics.hpp"
#include "coordinator/txn_coordinator.hpp"
#include "core/log.hpp"
#include "handlers/fetch.hpp"
#include "handlers/pending_append.hpp"
#include "handlers/timestamps.hpp"
#include "protocol/batch_validator.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;
using storage::TopicPartition;


/// One partition's appends, queued in storage and not yet confirmed.
struct QueuedAppends {
  ProduceResponse::PartitionProduceResponse* pr = nullptr;
  TopicPartition tp;
  std::shared_ptr<storage::PartitionLog> log;
  std::vector<std::shared_ptr<PendingAppend>> appends;
};

/// A transactional batch may go to a partition its producer's open
/// transaction holds (KIP-890 part 1: a late write of an ended transaction
/// must not land after its marker), which the transactional id's coordinator
/// answers (this gateway's or another's). Produce v12+ comes from a
/// Transactions V2 client: the partition is added to the transaction then,
/// as Kafka's leader asks its coordinator to. The coordinator's errors become
/// the ones Kafka's Produce answers with: PRODUCER_FENCED as
/// INVALID_PRODUCER_EPOCH, a partition outside the transaction as
/// TRANSACTION_ABORTABLE from v11 (INVALID_TXN_STATE before), a transaction
/// still ending (or a coordinator that cannot answer) as
/// NOT_ENOUGH_REPLICAS, which clients retry.
asio::awaitable<kwire::ErrorCode> admit_transactional(Ctx& ctx, const storage::BatchInfo& info,
                                                      const TopicPartition& tp, const std::string& txn_id) {
  using kwire::ErrorCode;
  auto check = ctx.realm().verify_txn(txn_id, info.producer_id, info.producer_epoch, tp,
                                      ctx.version >= 12 && !txn_id.empty());
  const ErrorCode e = co_await std::move(check);
  switch (e) {
    case ErrorCode::None: co_return e;
    case ErrorCode::ProducerFenced: co_return ErrorCode::InvalidProducerEpoch;
    case ErrorCode::InvalidTxnState:
    case ErrorCode::TransactionAbortable:
      co_return ctx.version >= 11 ? ErrorCode::TransactionAbortable : ErrorCode::InvalidTxnState;
    case ErrorCode::InvalidProducerEpoch:
    case ErrorCode::InvalidProducerIdMapping:
    case ErrorCode::UnknownTopicOrPartition: co_return e;
    default: co_return ErrorCode::NotEnoughReplicas;
  }
}

/// Checks every batch of one partition's record set and queues the appends
/// (in order); errors go to `pr`.
asio::awaitable<void> queue_partition(Broker& b, Ctx& ctx, const storage::TopicInfo& topic, std::int16_t acks,
                                      const std::string& txn_id, ProduceResponse::PartitionProduceResponse& pr,
                                      records_view records, QueuedAppends& q) {
  TopicPartition tp{topic.name, pr.index};
  auto lr = co_await ctx.realm().log(tp);
  if (!lr.ok()) {
    pr.error_code = ctx.note(to_kafka(lr.error));
    co_return;
  }
  auto log = lr.value;
  // One validation, here and nowhere else: storage trusts what it is given.
  // A batch larger than the store keeps is refused whatever the topic's
  // setting says: sent on, it would fail (or, on Pulsar, break the bookie for
  // every topic).
  TopicRules defaults;
  defaults.max_message_bytes = b.settings().message_max_bytes;
  auto rules = TopicRules::from_configs(topic.configs, defaults);
  rules.max_message_bytes = std::min(rules.max_message_bytes, ctx.realm().store().max_batch_bytes());
  auto checked = validate_produce(records ? *records : bytes_view{}, rules,
                                  ProduceContext{.version = ctx.version, .acks = acks, .now_ms = now_ms(), .leader_epoch = 0});
  if (!checked.ok()) {
    pr.error_code = ctx.note(checked.error);
    pr.error_message = ctx.keep(std::move(checked.message));
    for (auto& e : checked.record_errors) {
      auto& re = pr.record_errors.emplace_back();
      re.batch_index = e.batch_index;
      re.batch_index_error_message = ctx.keep(std::move(e.message));
    }
    co_return;
  }
  if (ctx.realm().transactions()) {
    for (const auto& batch : checked.batches) {
      if (!batch.info.transactional) continue;
      // As Kafka's leader: a transaction already open here at this epoch was
      // checked with its first batch; its marker, the only thing that ends
      // it here, comes after every write the coordinator let through.
      if (log->in_open_txn(batch.info.producer_id, batch.info.producer_epoch)) continue;
      const auto e = co_await admit_transactional(ctx, batch.info, tp, txn_id);
      if (e != kwire::ErrorCode::None) {
        pr.error_code = ctx.note(e);
        if (e == kwire::ErrorCode::InvalidTxnState) pr.error_message = "Partition was not added to the transaction";
        if (e == kwire::ErrorCode::NotEnoughReplicas)
          pr.error_message = "Unable to verify the partition has been added to the transaction";
        co_return;
      }
    }
  }
  auto ex = co_await asio::this_coro::executor;
  q.pr = &pr;
  q.tp = tp;
  q.log = log;
  for (auto& batch : checked.batches) q.appends.push_back(PendingAppend::start(ex, log, std::move(batch)));
}

/// Awaits a partition's queued appends and fills its response. Past the
/// request's timeout the partition is answered REQUEST_TIMED_OUT, as Kafka
/// does when replication takes too long: the append may still complete, and
/// an idempotent retry of it learns how it ended.
asio::awaitable<void> finish_partition(Broker& b, Ctx& ctx, QueuedAppends& q,
                                       std::chrono::steady_clock::time_point deadline) {
  auto& pr = *q.pr;
  bool first = true;
  for (auto& a : q.appends) {
    auto done = co_await a->get_until(deadline);
    if (!done) {
      pr.error_code = ctx.note(kwire::ErrorCode::RequestTimedOut);
      pr.error_message = "the store did not confirm the append within the request's timeout";
      pr.base_offset = -1;
      pr.log_start_offset = q.log->offsets().log_start;
      co_return;
    }
    auto& r = *done;
    if (!r.ok() && r.error != storage::Errc::duplicate_sequence) {
      pr.error_code = ctx.note(to_kafka(r.error));
      if (!r.message.empty()) pr.error_message = ctx.keep(r.message);
      pr.base_offset = -1;
      pr.log_start_offset = q.log->offsets().log_start;
      co_return;
    }
    if (first) {
      pr.base_offset = r.value.base_offset;
      pr.log_append_time_ms = r.value.log_append_time;
      first = false;
    }
    b.metrics().records_in++;
  }
  pr.log_start_offset = q.log->offsets().log_start;
  b.notifier().notify(q.tp);
}

asio::awaitable<void> produce(Broker& b, Ctx& ctx, ProduceRequest& req, ProduceResponse& resp) {
  auto t0 = std::chrono::steady_clock::now();
  ctx.no_response = req.acks == 0;
  bool acks_ok = req.acks == 0 || req.acks == 1 || req.acks == -1;
  auto& catalog = ctx.realm().store().topics();
  const std::string txn_id(req.transactional_id ? *req.transactional_id : std::string_view{});
  // A transactional producer needs WRITE on its transactional id, every
  // producer WRITE on the topic (Kafka's checks, before anything else).
  const bool txn_denied =
      req.transactional_id && !allowed_on_txn(b, ctx, acl::Operation::write, *req.transactional_id);
  // Producer byte rate quota: the request's bytes count, and a client over
  // its quota is told to wait (and its connection is muted) before it sends
  // more, its records appended all the same (Kafka's way).
  if (auto wait = b.quotas().record(quota::Kind::produce, ctx.session.principal, ctx.client_id,
                                    static_cast<double>(ctx.request_bytes));
      wait > 0) {
    resp.throttle_time_ms = static_cast<std::int32_t>(wait);
    ctx.mute_for(wait);
  }
    // The response first, so that partitions can be filled in place later.
  resp.responses.resize(req.topic_data.size());
  std::vector<QueuedAppends> queued;
  for (std::size_t ti = 0; ti < req.topic_data.size(); ++ti) {
    auto& td = req.topic_data[ti];
    auto& tr = resp.responses[ti];
    tr.name = td.name;
    tr.topic_id = td.topic_id;
    tr.partition_responses.resize(td.partition_data.size());
    std::optional<storage::TopicInfo> info =
        ctx.version >= 13 ? catalog.find_topic(td.topic_id.bytes) : catalog.find_topic(std::string(td.name));
    // Kafka refuses clients' appends to its internal topics.
    const bool internal = ctx.version >= 13 ? internal_topics::find_by_id(ctx.realm(), td.topic_id.bytes).has_value()
                                            : internal_topics::is_internal(td.name);
    // By id, an unknown id stays UNKNOWN_TOPIC_ID: there is no name to check.
    const bool topic_denied = (ctx.version < 13 || info) &&
                              !allowed_on_topic(b, ctx, acl::Operation::write, info ? std::string_view(info->name) : td.name);
    for (std::size_t pi = 0; pi < td.partition_data.size(); ++pi) {
      auto& pd = td.partition_data[pi];
      auto& pr = tr.partition_responses[pi];
      pr.index = pd.index;
      pr.base_offset = -1;
      pr.log_append_time_ms = -1;
      pr.log_start_offset = -1;
      if (!acks_ok) {
        pr.error_code = ctx.note(kwire::ErrorCode::InvalidRequiredAcks);
      } else if (txn_denied) {
        pr.error_code = ctx.note(kwire::ErrorCode::TransactionalIdAuthorizationFailed);
      } else if (topic_denied) {
        pr.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
      } else if (internal) {
        pr.error_code = ctx.note(kwire::ErrorCode::InvalidTopicException);
        pr.error_message = ctx.keep("Cannot append to internal topic " + std::string(td.name));
      } else if (!info) {
        pr.error_code = ctx.note(ctx.version >= 13 ? kwire::ErrorCode::UnknownTopicId : kwire::ErrorCode::UnknownTopicOrPartition);
      } else if (pd.index < 0 || pd.index >= info->partitions) {
        pr.error_code = ctx.note(kwire::ErrorCode::UnknownTopicOrPartition);
      } else if (!ctx.realm().cluster().leads({info->name, pd.index})) {
        // Another gateway writes it: the client refreshes its metadata.
        pr.error_code = ctx.note(kwire::ErrorCode::NotLeaderOrFollower);
      } else {
        QueuedAppends q;
        co_await queue_partition(b, ctx, *info, req.acks, txn_id, pr, pd.records, q);
        if (q.pr) queued.push_back(std::move(q));
      }
    }
  }
  // Every append is queued: the connection's next request may start (its
  // appends queue behind these) while storage confirms these.
  ctx.release();
  const auto deadline = req.timeout_ms > 0 && req.acks != 0
                            ? t0 + std::chrono::milliseconds(req.timeout_ms)
                            : std::chrono::steady_clock::time_point::max();
  for (auto& q : queued) co_await finish_partition(b, ctx, q, deadline);
  b.metrics().produce_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

// ---------------------------------------------------------------------------
// ListOffsets

asio::awaitable<void> list_offsets(Broker& b, Ctx& ctx, ListOffsetsRequest& req, ListOffsetsResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    auto info = catalog.find_topic(std::string(t.name));
    auto internal = internal_topics::find(ctx.realm(), t.name);
    const bool denied = !allowed_on_topic(b, ctx, acl::Operation::describe, t.name);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.timestamp = -1;
      pr.offset = -1;
      pr.leader_epoch = -1;
      if (denied) {
        pr.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
        continue;
      }
      if (ctx.version >= 4) pr.leader_epoch = 0;
      if (internal && p.partition_index >= 0 && p.partition_index < internal->partitions) {
        // An empty log: earliest and latest are 0, no record has a timestamp.
        if (p.timestamp == -1 || p.timestamp == -2 || p.timestamp == -4 || p.timestamp == -5) pr.offset = 0;
        if (ctx.version == 0 && pr.offset >= 0) pr.old_style_offsets.push_back(pr.offset);
        continue;
      }
      if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = ctx.note(kwire::ErrorCode::UnknownTopicOrPartition);
        pr.leader_epoch = -1;
        continue;
      }
      TopicPartition tp{info->name, p.partition_index};
      auto lr = co_await ctx.realm().log(tp);
      if (!lr.ok()) {
        pr.error_code = ctx.note(to_kafka(lr.error));
        continue;
      }
      auto log = lr.value;
      auto offs = log->offsets();
      switch (p.timestamp) {
        case -1:  // latest: for read_committed, the last stable offset
          pr.offset = req.isolation_level == 1 ? offs.last_stable : offs.high_watermark;
          break;
        case -2:  // earliest
        case -4:  // earliest local
        case -5:  // earliest pending upload (nothing is tiered)
          pr.offset = offs.log_start;
          break;
        case -3: {  // max timestamp
          auto r = co_await log->max_timestamp();
          if (!r.ok()) {
            pr.error_code = ctx.note(to_kafka(r.error));
          } else {
            pr.offset = r.value.offset;
            pr.timestamp = r.value.timestamp;
          }
          break;
        }
        default: {
          if (p.timestamp < 0) {
            pr.error_code = ctx.note(kwire::ErrorCode::InvalidRequest);
            break;
          }
          auto found = co_await find_by_timestamp(*log, p.timestamp);
          if (!found.ok()) {
            pr.error_code = ctx.note(to_kafka(found.error));
          } else {
            pr.offset = found.value.offset;
            pr.timestamp = found.value.timestamp;
            // Kafka's rule: read_committed finds nothing past the last
            // stable offset.
            if (req.isolation_level == 1 && pr.offset >= offs.last_stable) pr.offset = pr.timestamp = -1;
            if (pr.offset < 0) pr.leader_epoch = -1;
          }
        }
      }
      if (ctx.version == 0 && pr.offset >= 0) pr.old_style_offsets.push_back(pr.offset);
    }
  }
}

// ---------------------------------------------------------------------------
// OffsetForLeaderEpoch: there is one leader epoch, 0, and it ends at the
// high watermark.

asio::awaitable<void> offset_for_leader_epoch(Broker& b, Ctx& ctx, OffsetForLeaderEpochRequest& req,
                                              OffsetForLeaderEpochResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.topic = t.topic;
    auto info = catalog.find_topic(std::string(t.topic));
    auto internal = internal_topics::find(ctx.realm(), t.topic);
    const bool denied = !allowed_on_topic(b, ctx, acl::Operation::describe, t.topic);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition = p.partition;
      pr.leader_epoch = -1;
      pr.end_offset = -1;
      if (denied) {
        pr.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
        continue;
      }
      if (internal && p.partition >= 0 && p.partition < internal->partitions) {
        pr.leader_epoch = 0;
        pr.end_offset = 0;
        continue;
      }
      if (!info || p.partition < 0 || p.partition >= info->partitions) {
        pr.error_code = ctx.note(kwire::ErrorCode::UnknownTopicOrPartition);
        continue;
      }
      TopicPartition tp{info->name, p.partition};
      auto lr = co_await ctx.realm().log(tp);
      if (!lr.ok()) {
        pr.error_code = ctx.note(to_kafka(lr.error));
        continue;
      }
      if (p.leader_epoch <= 0) {
        pr.leader_epoch = 0;
        pr.end_offset = lr.value->offsets().high_watermark;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// DeleteRecords

asio::awaitable<void> delete_records(Broker& b, Ctx& ctx, DeleteRecordsRequest& req, DeleteRecordsResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    auto info = catalog.find_topic(std::string(t.name));
    const bool internal = internal_topics::is_internal(t.name);
    const bool denied = !allowed_on_topic(b, ctx, acl::Operation::del, t.name);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.low_watermark = -1;
      if (denied) {
        pr.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
        continue;
      }
      if (internal) {  // as Kafka refuses to delete records of its internal topics
        pr.error_code = ctx.note(kwire::ErrorCode::InvalidTopicException);
        continue;
      }
      if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = ctx.note(kwire::ErrorCode::UnknownTopicOrPartition);
        continue;
      }
      TopicPartition tp{info->name, p.partition_index};
      auto lr = co_await ctx.realm().log(tp);
      if (!lr.ok()) {
        pr.error_code = ctx.note(to_kafka(lr.error));
        continue;
      }
      auto log = lr.value;
      auto r = co_await log->delete_records(p.offset);
      if (!r.ok()) {
        pr.error_code = ctx.note(to_kafka(r.error));
        continue;
      }
      pr.low_watermark = r.value;
    }
  }
}

}  // namespace

std::vector<HandlerEntry> data_handlers() {
  return {
      handler<ProduceRequest, produce>(3, 13, 0),
      handler<FetchRequest, fetch>(4, 18),
      handler<ListOffsetsRequest, list_offsets>(1, 11),
      handler<OffsetForLeaderEpochRequest, offset_for_leader_epoch>(0, 4),
      handler<DeleteRecordsRequest, delete_records>(0, 2),
  };
}

}  // namespace kwire_broker
