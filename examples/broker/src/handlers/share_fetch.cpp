// ShareFetch and ShareAcknowledge (KIP-932): members of a share group take
// records from the share partitions of their share session and acknowledge
// them one by one (accept, release, reject, renew). The records' states are
// in coordinator/share_partition.hpp, sessions in coordinator/share_state.hpp;
// both live on the group coordinator's strand, where these handlers run.
// Every share partition a request changed is stored before it is answered.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

#include "coordinator/group_coordinator.hpp"
#include "handlers/group_strand.hpp"
#include "core/log.hpp"
#include "core/notifier.hpp"
#include "kwire/messages/share_acknowledge_request.hpp"
#include "kwire/messages/share_acknowledge_response.hpp"
#include "kwire/messages/share_fetch_request.hpp"
#include "kwire/messages/share_fetch_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

namespace {

using namespace kwire;
using storage::SharePartitionKey;

/// One record batch of a read: its offsets and where its bytes are.
struct BatchSpan {
  std::int64_t base = 0, last = 0;
  std::size_t at = 0, size = 0;
};

std::uint64_t be(const std::vector<std::uint8_t>& b, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | b[at + static_cast<std::size_t>(i)];
  return v;
}

/// The batches of a read, from their headers (base offset, length, last
/// offset delta); stops at anything that is not a whole magic-2 batch.
std::vector<BatchSpan> batch_spans(const std::vector<std::uint8_t>& bytes) {
  constexpr std::size_t header = 61;  // a magic-2 batch header
  std::vector<BatchSpan> out;
  std::size_t at = 0;
  while (at + header <= bytes.size()) {
    const auto base = static_cast<std::int64_t>(be(bytes, at, 8));
    const auto length = be(bytes, at + 8, 4);
    const std::size_t size = 12 + static_cast<std::size_t>(length);
    if (length < header - 12 || size > bytes.size() - at || bytes[at + 16] != 2) break;
    const auto delta = static_cast<std::int32_t>(be(bytes, at + 23, 4));
    if (delta < 0) break;
    out.push_back({base, base + delta, at, size});
    at += size;
  }
  return out;
}

std::optional<std::string> non_empty(const nullable_string& s) {
  if (!s || s->empty()) return std::nullopt;
  return std::string(*s);
}

/// A topic partition of a request, resolved: its name, or the error that
/// answers it.
struct Resolved {
  ErrorCode error = ErrorCode::None;
  std::string topic;
};

Resolved resolve(Ctx& ctx, const kwire::Uuid& id, std::int32_t partition) {
  auto t = ctx.realm().store().topics().find_topic(id.bytes);
  if (!t) return {ErrorCode::UnknownTopicId, {}};
  if (partition < 0 || partition >= t->partitions) return {ErrorCode::UnknownTopicOrPartition, {}};
  return {ErrorCode::None, t->name};
}

/// Applies a partition's acknowledgement batches; the first error, if any
/// (each batch stands or fails alone).
template <class Batches>
ErrorCode acknowledge(GroupCoordinator& c, const SharePartitionKey& key, const std::string& member,
                      const Batches& batches, std::set<SharePartitionKey>& changed) {
  auto it = c.share_state().partitions.find(key);
  auto queued = c.share_state().queued.find(key);
  ErrorCode first_error = ErrorCode::None;
  for (auto& b : batches) {
    std::vector<share::AckType> types;
    types.reserve(b.acknowledge_types.size());
    for (auto t : b.acknowledge_types) types.push_back(static_cast<share::AckType>(t));
    ErrorCode e = ErrorCode::InvalidRecordState;
    if (b.acknowledge_types.empty()) e = ErrorCode::InvalidRequest;
    else if (queued != c.share_state().queued.end())
      e = queued->second.acknowledge(member, b.first_offset, b.last_offset, types, c.now(), c.share_limits(key.group_id));
    else if (it != c.share_state().partitions.end())
      e = it->second.acknowledge(member, b.first_offset, b.last_offset, types, c.now(), c.share_limits(key.group_id));
    if (e == ErrorCode::None) changed.insert(key);
    else if (first_error == ErrorCode::None) first_error = e;
  }
  return first_error;
}

asio::awaitable<void> store_changes(GroupCoordinator& c, const std::set<SharePartitionKey>& changed) {
  for (auto key : changed) co_await c.persist_share(std::move(key));
}

asio::awaitable<void> share_fetch(Broker& b, Ctx& ctx, ShareFetchRequest& req, ShareFetchResponse& resp) {
  auto& c = ctx.realm().groups();
  share::PartitionLimits limits;  // the group's, taken on the strand
  resp.acquisition_lock_timeout_ms = c.config().share.lock_duration_ms;
  const auto group = non_empty(req.group_id), member = non_empty(req.member_id);
  if (!group || !member) {
    resp.error_code = ctx.note(ErrorCode::InvalidRequest);
    resp.error_message = "GroupId and MemberId must be given.";
    co_return;
  }
  if (!allowed_on_group(b, ctx, acl::Operation::read, *group)) {
    resp.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  struct Slot {
    SharePartitionKey key;
    std::string topic;
    ShareFetchResponse::PartitionData data;
    bool acknowledged = false;  // the request acknowledged records here: it is answered
  };
  std::map<SharePartitionKey, Slot> slots;
  std::set<SharePartitionKey> changed;
  ErrorCode top = ErrorCode::None;
  std::int32_t acquired_total = 0;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    limits = c.share_limits(*group);
    resp.acquisition_lock_timeout_ms = limits.lock_duration_ms;
    auto* g = c.shares().find(*group);
    if (req.share_session_epoch != -1 && (!g || !c.shares().is_member(*g, *member))) {
      top = ErrorCode::UnknownMemberId;
      co_return;
    }
    auto& state = c.share_state();
    auto step = state.begin(*group, *member, req.share_session_epoch, true, static_cast<std::size_t>(c.config().share.max_sessions));
    if (step.error != ErrorCode::None) {
      top = step.error;
      co_return;
    }
    auto slot_of = [&](const kwire::Uuid& id, std::int32_t partition) -> Slot& {
      SharePartitionKey key{*group, id.bytes, partition};
      auto [it, fresh] = slots.try_emplace(key);
      if (fresh) {
        it->second.key = key;
        it->second.data.partition_index = partition;
        auto r = resolve(ctx, id, partition);
        if (r.error == ErrorCode::None && !allowed_on_topic(b, ctx, acl::Operation::read, r.topic))
          r.error = ErrorCode::TopicAuthorizationFailed;
        it->second.data.error_code = r.error;
        it->second.topic = r.topic;
      }
      return it->second;
    };
    for (auto& t : req.topics)
      for (auto& p : t.partitions) {
        auto& slot = slot_of(t.topic_id, p.partition_index);
        if (slot.data.error_code != ErrorCode::None) continue;
        if (!step.closing) step.session->partitions.insert({t.topic_id.bytes, p.partition_index});
        if (p.acknowledgement_batches.empty()) continue;
        slot.acknowledged = true;
        // A session's first request has nothing acquired to acknowledge.
        slot.data.acknowledge_error_code = req.share_session_epoch == 0
                                               ? ErrorCode::InvalidRequest
                                               : acknowledge(c, slot.key, *member, p.acknowledgement_batches, changed);
      }
    for (auto& t : req.forgotten_topics_data)
      for (auto p : t.partitions) step.session->partitions.erase({t.topic_id.bytes, p});
    if (step.closing) {
      for (auto& key : state.close(*group, *member, limits)) changed.insert(key);
      co_return;
    }
    if (ctx.version >= 2 && req.is_renew_ack) co_return;  // acknowledgements only

    const auto session_partitions = step.session->partitions;  // the session may be replaced while we wait
    std::int32_t budget_records = req.max_records > 0 ? req.max_records : 500;
    std::int64_t budget_bytes = req.max_bytes > 0 ? req.max_bytes : std::numeric_limits<std::int32_t>::max();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, req.max_wait_ms));
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
      auto waiter = std::make_shared<DataNotifier::Waiter>(ex);
      bool errors = false;
      for (auto& [topic, partition] : session_partitions) {
        if (budget_records <= 0 || budget_bytes <= 0) break;
        auto& slot = slot_of(kwire::Uuid{topic}, partition);
        if (slot.data.error_code != ErrorCode::None) {
          errors = true;
          continue;
        }
        storage::TopicPartition tp{slot.topic, partition};  // named: g++ 12 mishandles temporaries in co_await
        waiter->partitions.insert(tp);
        if (ctx.realm().store().share_queues()) {
          auto got = co_await c.take_from_queue(slot.key, tp, *member, budget_records, changed);
          if (got.error != ErrorCode::None) {
            slot.data.error_code = got.error;
            errors = true;
            continue;
          }
          if (got.ranges.empty()) continue;
          budget_records -= got.records;
          acquired_total += got.records;
          budget_bytes -= static_cast<std::int64_t>(got.bytes.size());
          for (auto& r : got.ranges) {
            auto& ar = slot.data.acquired_records.emplace_back();
            ar.first_offset = r.first;
            ar.last_offset = r.last;
            ar.delivery_count = r.delivery_count;
          }
          if (slot.data.records && !slot.data.records->empty())
            got.bytes.insert(got.bytes.begin(), slot.data.records->begin(), slot.data.records->end());
          slot.data.records = ctx.keep(std::move(got.bytes));
          continue;
        }
        auto lr = co_await ctx.realm().log(tp);
        if (!lr.ok()) {
          slot.data.error_code = fetch_error(lr.error);
          errors = true;
          continue;
        }
        auto log = lr.value;
        auto offsets = log->offsets();
        auto& sp = state.partitions[slot.key];
        if (!sp.initialized()) {
          g = c.shares().find(*group);
          const bool earliest = g && g->auto_offset_reset == "earliest";
          sp.reset(earliest ? offsets.log_start : offsets.high_watermark);
          changed.insert(slot.key);
        }
        sp.follow_log_start(offsets.log_start);
        if (sp.expire_locks(c.now(), limits)) changed.insert(slot.key);
        auto from = sp.next_to_read(offsets.high_watermark, limits);
        if (!from) continue;
        storage::ReadOptions ro;
        ro.offset = *from;
        ro.max_bytes = static_cast<std::int32_t>(std::min<std::int64_t>(budget_bytes, std::numeric_limits<std::int32_t>::max()));
        ro.at_least_one = acquired_total == 0;
        auto rr = co_await log->read(ro);
        if (!rr.ok()) {
          slot.data.error_code = fetch_error(rr.error);
          errors = true;
          continue;
        }
        std::vector<std::uint8_t> bytes;
        try {
          bytes = storage::read_bytes(rr.value);
        } catch (const std::exception& e) {
          KB_WARN("share fetch of {}-{}: {}", tp.topic, tp.partition, e.what());
          slot.data.error_code = ErrorCode::UnknownServerError;
          errors = true;
          continue;
        }
        // Looked up again: the map may have changed while the read waited.
        auto it = state.partitions.find(slot.key);
        if (it == state.partitions.end()) continue;
        std::optional<std::size_t> from_byte;
        std::size_t to_byte = 0;
        for (auto& span : batch_spans(bytes)) {
          if (budget_records <= 0) break;
          auto got = it->second.acquire(*member, span.base, span.last, rr.value.offsets.high_watermark, budget_records,
                                        c.now(), limits);
          if (got.empty()) continue;
          if (!from_byte) from_byte = span.at;
          to_byte = span.at + span.size;
          for (auto& r : got) {
            budget_records -= static_cast<std::int32_t>(r.last - r.first + 1);
            acquired_total += static_cast<std::int32_t>(r.last - r.first + 1);
            auto& ranges = slot.data.acquired_records;
            if (!ranges.empty() && ranges.back().last_offset + 1 == r.first &&
                ranges.back().delivery_count == r.delivery_count) {
              ranges.back().last_offset = r.last;  // continues the previous batch's range
              continue;
            }
            auto& ar = ranges.emplace_back();
            ar.first_offset = r.first;
            ar.last_offset = r.last;
            ar.delivery_count = r.delivery_count;
          }
        }
        if (!from_byte) continue;
        changed.insert(slot.key);
        budget_bytes -= static_cast<std::int64_t>(to_byte - *from_byte);
        std::vector<std::uint8_t> records(bytes.begin() + static_cast<std::ptrdiff_t>(*from_byte),
                                          bytes.begin() + static_cast<std::ptrdiff_t>(to_byte));
        if (slot.data.records && !slot.data.records->empty()) {
          // A second pass over the partition: its batches follow the first's.
          std::vector<std::uint8_t> both(slot.data.records->begin(), slot.data.records->end());
          both.insert(both.end(), records.begin(), records.end());
          records = std::move(both);
        }
        slot.data.records = ctx.keep(std::move(records));
      }
      if (acquired_total > 0 || errors || !changed.empty() || b.stopping() ||
          std::chrono::steady_clock::now() >= deadline)
        break;
      // Nothing to hand out: wait for records (or the deadline), as Fetch does.
      b.notifier().add(waiter);
      waiter->timer.expires_at(deadline);
      boost::system::error_code ec;
      co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      b.notifier().remove(waiter);
    }
  });
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> { co_await store_changes(c, changed); });
  resp.error_code = ctx.note(top);
  if (top != ErrorCode::None) co_return;
  std::map<storage::TopicId, std::size_t> by_topic;
  for (auto& [key, slot] : slots) {
    const bool answer = slot.acknowledged || slot.data.error_code != ErrorCode::None || !slot.data.acquired_records.empty();
    if (!answer) continue;
    ctx.note(slot.data.error_code);
    auto [it, fresh] = by_topic.try_emplace(key.topic_id, resp.responses.size());
    if (fresh) resp.responses.emplace_back().topic_id.bytes = key.topic_id;
    auto& pd = resp.responses[it->second].partitions.emplace_back(std::move(slot.data));
    if (!pd.records) pd.records = kwire::bytes_view{};  // not nullable: an empty record set
    pd.current_leader.leader_id = b.settings().node_id;
    pd.current_leader.leader_epoch = 0;
  }
}

asio::awaitable<void> share_acknowledge(Broker& b, Ctx& ctx, ShareAcknowledgeRequest& req, ShareAcknowledgeResponse& resp) {
  auto& c = ctx.realm().groups();
  share::PartitionLimits limits;  // the group's, taken on the strand
  if (ctx.version >= 2) resp.acquisition_lock_timeout_ms = c.config().share.lock_duration_ms;
  const auto group = non_empty(req.group_id), member = non_empty(req.member_id);
  if (!group || !member) {
    resp.error_code = ctx.note(ErrorCode::InvalidRequest);
    resp.error_message = "GroupId and MemberId must be given.";
    co_return;
  }
  if (!allowed_on_group(b, ctx, acl::Operation::read, *group)) {
    resp.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  std::set<SharePartitionKey> changed;
  ErrorCode top = ErrorCode::None;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    limits = c.share_limits(*group);
    if (ctx.version >= 2) resp.acquisition_lock_timeout_ms = limits.lock_duration_ms;
    auto* g = c.shares().find(*group);
    if (req.share_session_epoch != -1 && (!g || !c.shares().is_member(*g, *member))) {
      top = ErrorCode::UnknownMemberId;
      co_return;
    }
    auto step = c.share_state().begin(*group, *member, req.share_session_epoch, false,
                                      static_cast<std::size_t>(c.config().share.max_sessions));
    if (step.error != ErrorCode::None) {
      top = step.error;
      co_return;
    }
    for (auto& t : req.topics) {
      auto& tr = resp.responses.emplace_back();
      tr.topic_id = t.topic_id;
      for (auto& p : t.partitions) {
        auto& pd = tr.partitions.emplace_back();
        pd.partition_index = p.partition_index;
        pd.current_leader.leader_id = b.settings().node_id;
        auto r = resolve(ctx, t.topic_id, p.partition_index);
        if (r.error == ErrorCode::None && !allowed_on_topic(b, ctx, acl::Operation::read, r.topic))
          r.error = ErrorCode::TopicAuthorizationFailed;
        pd.error_code = r.error != ErrorCode::None
                            ? r.error
                            : acknowledge(c, {*group, t.topic_id.bytes, p.partition_index}, *member,
                                          p.acknowledgement_batches, changed);
        ctx.note(pd.error_code);
      }
    }
    if (step.closing)
      for (auto& key : c.share_state().close(*group, *member, limits)) changed.insert(key);
    co_await store_changes(c, changed);
  });
  resp.error_code = ctx.note(top);
  if (top != ErrorCode::None) resp.responses.clear();
}

}  // namespace

std::vector<HandlerEntry> share_fetch_handlers() {
  auto shared = [](HandlerEntry e) {
    e.share = true;
    return e;
  };
  return {
      shared(handler<ShareFetchRequest, share_fetch>(1, 2)),
      shared(handler<ShareAcknowledgeRequest, share_acknowledge>(1, 2)),
  };
}

}  // namespace kwire_broker
