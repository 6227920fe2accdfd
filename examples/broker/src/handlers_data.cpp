// Produce, Fetch, ListOffsets, OffsetForLeaderEpoch and DeleteRecords.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "broker.hpp"
#include "kwire/messages/delete_records_request.hpp"
#include "kwire/messages/delete_records_response.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/list_offsets_request.hpp"
#include "kwire/messages/list_offsets_response.hpp"
#include "kwire/messages/offset_for_leader_epoch_request.hpp"
#include "kwire/messages/offset_for_leader_epoch_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/records/batch.hpp"
#include "kwire/records/compression.hpp"
#include "internal_topics.hpp"
#include "log.hpp"
#include "timestamps.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;
using storage::TopicPartition;

constexpr kwire::ErrorCode invalid_required_acks = kwire::ErrorCode::InvalidRequiredAcks;
constexpr kwire::ErrorCode invalid_record = kwire::ErrorCode::InvalidRecord;

/// Checks one batch as Kafka's log validator does before it is appended: the
/// CRC and header (kwire::RecordBatchView::validate), then every record,
/// inflating compressed ones, with offset deltas 0, 1, 2, ... Returns the
/// Kafka error and a message, or none.
std::pair<kwire::ErrorCode, std::string> validate_batch(bytes_view bytes, std::vector<std::uint8_t>& scratch) {
  kwire::DecodeError e;
  auto view = kwire::RecordBatchView::parse(bytes, &e);
  if (!view) return {err::corrupt_message, e.message()};
  if (auto bad = view->validate()) return {err::corrupt_message, bad->message()};
  if (view->is_control()) return {invalid_record, "control batches cannot be produced"};
  auto reader = view->records(scratch, &kwire::decompress);
  kwire::RecordView rec;
  std::int32_t expect = 0;
  while (reader.next(rec)) {
    if (rec.offset_delta != expect) {
      return {invalid_record, "record " + std::to_string(expect) + " has offset delta " + std::to_string(rec.offset_delta)};
    }
    ++expect;
  }
  if (!reader.ok()) return {invalid_record, reader.error()->message()};
  if (expect != view->record_count()) return {invalid_record, "record count does not match the records"};
  return {err::none, {}};
}

std::int64_t topic_config_int(const storage::TopicInfo& t, const char* key, std::int64_t fallback) {
  auto it = t.configs.find(key);
  if (it == t.configs.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (...) {
    return fallback;
  }
}

/// One partition's appends, queued in storage and not yet confirmed.
struct QueuedAppends {
  ProduceResponse::PartitionProduceResponse* pr = nullptr;
  TopicPartition tp;
  std::shared_ptr<storage::PartitionLog> log;
  std::vector<std::shared_ptr<storage::Deferred<storage::AppendResult>>> appends;
};

/// Checks every batch of one partition's record set and queues the appends
/// (in order); errors go to `pr`.
asio::awaitable<void> queue_partition(Broker& b, Ctx& ctx, const storage::TopicInfo& topic,
                                      ProduceResponse::PartitionProduceResponse& pr, records_view records,
                                      QueuedAppends& q) {
  TopicPartition tp{topic.name, pr.index};
  auto lr = co_await ctx.realm().log(tp);
  if (!lr.ok()) {
    pr.error_code = ctx.note(to_kafka(lr.error));
    co_return;
  }
  auto log = lr.value;
  if (!records || records->empty()) {
    pr.error_code = ctx.note(err::corrupt_message);
    pr.error_message = "no records";
    co_return;
  }
  bool log_append = false;
  if (auto it = topic.configs.find("message.timestamp.type"); it != topic.configs.end())
    log_append = it->second == "LogAppendTime";
  // A batch larger than the store keeps is refused here, whatever the
  // topic's setting says: sent on, it would fail (or, on Pulsar, break the
  // bookie for every topic).
  auto max_bytes = std::min(topic_config_int(topic, "max.message.bytes", b.settings().message_max_bytes),
                            ctx.realm().store().max_batch_bytes());

  // Split the record set into batches and check each before appending any.
  std::vector<bytes_view> batches;
  bytes_view rest = *records;
  while (!rest.empty()) {
    if (rest.size() < storage::batch::header_size) {
      pr.error_code = ctx.note(err::corrupt_message);
      co_return;
    }
    auto h = storage::BatchHeader::parse(rest);
    if (rest[storage::batch::magic_at] != 2) {
      pr.error_code = ctx.note(err::unsupported_for_message_format);
      pr.error_message = "only record batches of magic 2 are accepted";
      co_return;
    }
    if (!h || h->total_size() > rest.size()) {
      pr.error_code = ctx.note(err::corrupt_message);
      co_return;
    }
    if (static_cast<std::int64_t>(h->total_size()) > max_bytes) {
      pr.error_code = ctx.note(err::message_too_large);
      co_return;
    }
    if (h->record_count <= 0 || h->last_offset_delta != h->record_count - 1) {
      pr.error_code = ctx.note(err::corrupt_message);
      pr.error_message = "record count does not match the offset delta";
      co_return;
    }
    batches.push_back(rest.first(h->total_size()));
    rest = rest.subspan(h->total_size());
  }
  std::vector<std::uint8_t> scratch;
  for (auto bv : batches) {
    auto [code, why] = validate_batch(bv, scratch);
    if (code != err::none) {
      pr.error_code = ctx.note(code);
      pr.error_message = ctx.keep(why);
      co_return;
    }
  }
  auto ex = co_await asio::this_coro::executor;
  q.pr = &pr;
  q.tp = tp;
  q.log = log;
  for (auto bv : batches) {
    std::vector<std::uint8_t> bytes(bv.begin(), bv.end());
    storage::batch::put_be(bytes.data() + storage::batch::leader_epoch_at, 0, 4);  // our only leader epoch
    storage::AppendOptions opts;
    opts.log_append_time = log_append;
    q.appends.push_back(storage::Deferred<storage::AppendResult>::start(
        ex, [&](auto done) { log->append(std::move(bytes), opts, std::move(done)); }));
  }
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
      pr.error_code = ctx.note(err::request_timed_out);
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
    for (std::size_t pi = 0; pi < td.partition_data.size(); ++pi) {
      auto& pd = td.partition_data[pi];
      auto& pr = tr.partition_responses[pi];
      pr.index = pd.index;
      pr.base_offset = -1;
      pr.log_append_time_ms = -1;
      pr.log_start_offset = -1;
      if (!acks_ok) {
        pr.error_code = ctx.note(invalid_required_acks);
      } else if (internal) {
        pr.error_code = ctx.note(err::invalid_topic_exception);
        pr.error_message = ctx.keep("Cannot append to internal topic " + std::string(td.name));
      } else if (!info) {
        pr.error_code = ctx.note(ctx.version >= 13 ? err::unknown_topic_id : err::unknown_topic_or_partition);
      } else if (pd.index < 0 || pd.index >= info->partitions) {
        pr.error_code = ctx.note(err::unknown_topic_or_partition);
      } else if (!ctx.realm().cluster().leads({info->name, pd.index})) {
        // Another gateway writes it: the client refreshes its metadata.
        pr.error_code = ctx.note(err::not_leader_or_follower);
      } else {
        QueuedAppends q;
        co_await queue_partition(b, ctx, *info, pr, pd.records, q);
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
// Fetch

struct FetchSlot {
  std::string topic;
  bool known = false;
  FetchResponse::PartitionData* out = nullptr;
  std::int64_t offset = 0;
  std::int32_t max_bytes = 0;
};

asio::awaitable<void> fetch(Broker& b, Ctx& ctx, FetchRequest& req, FetchResponse& resp) {
  auto t0 = std::chrono::steady_clock::now();
  auto& catalog = ctx.realm().store().topics();
  resp.session_id = 0;
  // Incremental fetch sessions (KIP-227) are refused the way Kafka refuses
  // them when its session cache is full: full fetches get session id 0, and
  // a request naming a session is answered FETCH_SESSION_ID_NOT_FOUND.
  if (req.session_id != 0) {
    resp.error_code = ctx.note(err::fetch_session_id_not_found);
    co_return;
  }
  if (req.session_epoch > 0) {
    resp.error_code = ctx.note(err::invalid_fetch_session_epoch);
    co_return;
  }
  std::vector<FetchSlot> slots;
  std::set<TopicPartition> wanted;
  resp.responses.reserve(req.topics.size());
  for (auto& ft : req.topics) {
    auto& tr = resp.responses.emplace_back();
    tr.topic = ft.topic;
    tr.topic_id = ft.topic_id;
    std::optional<storage::TopicInfo> info =
        ctx.version >= 13 ? catalog.find_topic(ft.topic_id.bytes) : catalog.find_topic(std::string(ft.topic));
    std::optional<storage::TopicInfo> internal =
        ctx.version >= 13 ? internal_topics::find_by_id(ctx.realm(), ft.topic_id.bytes) : internal_topics::find(ctx.realm(), ft.topic);
    tr.partitions.reserve(ft.partitions.size());
    for (auto& fp : ft.partitions) {
      auto& pd = tr.partitions.emplace_back();
      pd.partition_index = fp.partition;
      pd.high_watermark = -1;
      pd.last_stable_offset = -1;
      pd.log_start_offset = -1;
      pd.records = bytes_view{};
      FetchSlot s;
      s.out = &pd;
      s.offset = fp.fetch_offset;
      s.max_bytes = fp.partition_max_bytes;
      if (internal && fp.partition >= 0 && fp.partition < internal->partitions) {
        pd.high_watermark = pd.last_stable_offset = pd.log_start_offset = 0;  // an empty log
      } else if (!info || fp.partition < 0 || fp.partition >= info->partitions) {
        pd.error_code = ctx.note(ctx.version >= 13 && !info ? err::unknown_topic_id : err::unknown_topic_or_partition);
      } else {
        s.topic = info->name;
        s.known = true;
        wanted.insert({info->name, fp.partition});
      }
      slots.push_back(std::move(s));
    }
  }
  std::int64_t response_limit = ctx.version >= 3 ? req.max_bytes : std::numeric_limits<std::int32_t>::max();
  if (response_limit <= 0) response_limit = std::numeric_limits<std::int32_t>::max();

  auto fill = [&]() -> asio::awaitable<std::pair<std::int64_t, bool>> {
    ctx.buffers.clear();
    std::int64_t total = 0;
    bool errors = false;
    for (auto& s : slots) {
      if (!s.known) continue;
      auto& pd = *s.out;
      pd.error_code = err::none;
      pd.records = bytes_view{};
      TopicPartition tp{s.topic, pd.partition_index};  // named: g++ 12 mishandles temporaries in co_await
      auto lr = co_await ctx.realm().log(tp);
      if (!lr.ok()) {
        pd.error_code = to_kafka(lr.error);
        errors = true;
        continue;
      }
      storage::ReadOptions ro;
      ro.offset = s.offset;
      std::int64_t budget = std::min<std::int64_t>(s.max_bytes, response_limit - total);
      ro.max_bytes = static_cast<std::int32_t>(std::max<std::int64_t>(0, budget));
      ro.at_least_one = total == 0;
      auto log = lr.value;
      auto rr = co_await storage::call<storage::ReadResult>(
          [&](auto done) { log->read(ro, std::move(done)); });
      pd.high_watermark = rr.value.offsets.high_watermark;
      pd.last_stable_offset = rr.value.offsets.last_stable;
      pd.log_start_offset = rr.value.offsets.log_start;
      if (!rr.ok()) {
        pd.error_code = to_kafka(rr.error);
        errors = true;
        continue;
      }
      total += static_cast<std::int64_t>(rr.value.bytes.size());
      if (!rr.value.bytes.empty()) pd.records = ctx.keep(std::move(rr.value.bytes));
    }
    co_return std::pair{total, errors};
  };

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, req.max_wait_ms));
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto w = std::make_shared<DataNotifier::Waiter>(ex);
    w->partitions = wanted;
    b.notifier().add(w);
    auto [total, errors] = co_await fill();
    if (total >= req.min_bytes || errors || b.stopping() || std::chrono::steady_clock::now() >= deadline) {
      b.notifier().remove(w);
      break;
    }
    w->timer.expires_at(deadline);
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    b.notifier().remove(w);
  }
  for (auto& s : slots)
    if (s.out->error_code != err::none) ctx.note(s.out->error_code);
  b.metrics().fetch_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

// ---------------------------------------------------------------------------
// ListOffsets

asio::awaitable<void> list_offsets(Broker&, Ctx& ctx, ListOffsetsRequest& req, ListOffsetsResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    auto info = catalog.find_topic(std::string(t.name));
    auto internal = internal_topics::find(ctx.realm(), t.name);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.timestamp = -1;
      pr.offset = -1;
      pr.leader_epoch = -1;
      if (ctx.version >= 4) pr.leader_epoch = 0;
      if (internal && p.partition_index >= 0 && p.partition_index < internal->partitions) {
        // An empty log: earliest and latest are 0, no record has a timestamp.
        if (p.timestamp == -1 || p.timestamp == -2 || p.timestamp == -4 || p.timestamp == -5) pr.offset = 0;
        if (ctx.version == 0 && pr.offset >= 0) pr.old_style_offsets.push_back(pr.offset);
        continue;
      }
      if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = ctx.note(err::unknown_topic_or_partition);
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
        case -1:  // latest
          pr.offset = offs.high_watermark;
          break;
        case -2:  // earliest
        case -4:  // earliest local
        case -5:  // earliest pending upload (nothing is tiered)
          pr.offset = offs.log_start;
          break;
        case -3: {  // max timestamp
          auto r = co_await storage::call<storage::TimestampLookup>(
              [&](auto done) { log->max_timestamp(std::move(done)); });
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
            pr.error_code = ctx.note(err::invalid_request);
            break;
          }
          auto found = co_await find_by_timestamp(*log, p.timestamp);
          if (!found.ok()) {
            pr.error_code = ctx.note(to_kafka(found.error));
          } else {
            pr.offset = found.value.offset;
            pr.timestamp = found.value.timestamp;
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

asio::awaitable<void> offset_for_leader_epoch(Broker&, Ctx& ctx, OffsetForLeaderEpochRequest& req,
                                              OffsetForLeaderEpochResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.topic = t.topic;
    auto info = catalog.find_topic(std::string(t.topic));
    auto internal = internal_topics::find(ctx.realm(), t.topic);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition = p.partition;
      pr.leader_epoch = -1;
      pr.end_offset = -1;
      if (internal && p.partition >= 0 && p.partition < internal->partitions) {
        pr.leader_epoch = 0;
        pr.end_offset = 0;
        continue;
      }
      if (!info || p.partition < 0 || p.partition >= info->partitions) {
        pr.error_code = ctx.note(err::unknown_topic_or_partition);
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

asio::awaitable<void> delete_records(Broker&, Ctx& ctx, DeleteRecordsRequest& req, DeleteRecordsResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    auto info = catalog.find_topic(std::string(t.name));
    const bool internal = internal_topics::is_internal(t.name);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.low_watermark = -1;
      if (internal) {  // as Kafka refuses to delete records of its internal topics
        pr.error_code = ctx.note(err::invalid_topic_exception);
        continue;
      }
      if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = ctx.note(err::unknown_topic_or_partition);
        continue;
      }
      TopicPartition tp{info->name, p.partition_index};
      auto lr = co_await ctx.realm().log(tp);
      if (!lr.ok()) {
        pr.error_code = ctx.note(to_kafka(lr.error));
        continue;
      }
      auto log = lr.value;
      auto r = co_await storage::call<std::int64_t>(
          [&](auto done) { log->delete_records(p.offset, std::move(done)); });
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
      {0, 3, 13, &invoke<ProduceRequest, ProduceResponse, produce>, 0},
      {1, 4, 18, &invoke<FetchRequest, FetchResponse, fetch>},
      {2, 1, 11, &invoke<ListOffsetsRequest, ListOffsetsResponse, list_offsets>},
      {23, 0, 4, &invoke<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, offset_for_leader_epoch>},
      {21, 0, 2, &invoke<DeleteRecordsRequest, DeleteRecordsResponse, delete_records>},
  };
}

}  // namespace kwire_broker
