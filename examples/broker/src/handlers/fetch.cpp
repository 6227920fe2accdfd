// Fetch: long polls (max wait, min bytes), partition and response byte
// limits, and incremental fetch sessions (protocol/fetch_sessions.hpp).
//
// Record sets go into the response as the store returned them: attached to
// the request's context, not copied (protocol/context.hpp). The embedded
// store returns regions of its ledger files, which the connection sends with
// sendfile; the response's own bytes are encoded around them.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "handlers/fetch.hpp"
#include "protocol/authorize.hpp"
#include "protocol/internal_topics.hpp"

namespace kwire_broker {
namespace {

using kwire::ErrorCode;
using kwire::FetchRequest;
using kwire::FetchResponse;
using storage::TopicPartition;

/// One partition being fetched and its answer.
struct FetchSlot {
  FetchWant want;
  std::string_view topic_name;  // the response's (Fetch v4-12)
  kwire::Uuid topic_id;         // the response's (v13+)
  std::size_t group = 0;        // consecutive slots of a group share a topic in the response
  std::string topic;            // the store's topic, when it exists
  bool known = false;           // read from a log
  FetchResponse::PartitionData data;
};

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Finds the slot's topic and partition; the others get their answer now.
void resolve(Broker& b, Ctx& ctx, FetchSlot& s) {
  auto& catalog = ctx.realm().store().topics();
  const bool by_id = ctx.version >= 13;
  std::optional<storage::TopicInfo> info =
      by_id ? catalog.find_topic(s.want.key.topic_id) : catalog.find_topic(s.want.key.topic);
  std::optional<storage::TopicInfo> internal = by_id ? internal_topics::find_by_id(ctx.realm(), s.want.key.topic_id)
                                                      : internal_topics::find(ctx.realm(), s.want.key.topic);
  auto& pd = s.data;
  pd.partition_index = s.want.key.partition;
  pd.high_watermark = -1;
  pd.last_stable_offset = -1;
  pd.log_start_offset = -1;
  pd.records = kwire::bytes_view{};
  const std::int32_t p = s.want.key.partition;
  // READ on the topic (Kafka's check); an unknown id has no name to check.
  const std::string_view name = info ? std::string_view(info->name)
                                : internal ? std::string_view(internal->name)
                                           : std::string_view(s.want.key.topic);
  if ((!by_id || info || internal) && !allowed_on_topic(b, ctx, acl::Operation::read, name)) {
    pd.error_code = ErrorCode::TopicAuthorizationFailed;
  } else if (internal && p >= 0 && p < internal->partitions) {
    pd.high_watermark = pd.last_stable_offset = pd.log_start_offset = 0;  // an empty log
  } else if (!info || p < 0 || p >= info->partitions) {
    pd.error_code = by_id && !info ? ErrorCode::UnknownTopicId : ErrorCode::UnknownTopicOrPartition;
  } else {
    s.topic = info->name;
    s.known = true;
  }
}

/// The slots of a full fetch (the request's partitions, in its order) or
/// of an incremental one (the session's).
std::vector<FetchSlot> slots_of(Broker& b, Ctx& ctx, const FetchRequest& req, const FetchSessionCache::Plan& plan) {
  std::vector<FetchSlot> slots;
  slots.reserve(plan.partitions.size());
  if (plan.kind != FetchSessionCache::Plan::Kind::incremental) {
    std::size_t k = 0;
    for (std::size_t ti = 0; ti < req.topics.size(); ++ti) {
      for (std::size_t pi = 0; pi < req.topics[ti].partitions.size(); ++pi) {
        auto& s = slots.emplace_back();
        s.want = plan.partitions[k++];
        s.topic_name = req.topics[ti].topic;
        s.topic_id = req.topics[ti].topic_id;
        s.group = ti;
      }
    }
  } else {
    for (const auto& w : plan.partitions) {
      const bool same_topic = !slots.empty() && slots.back().want.key.topic == w.key.topic &&
                              slots.back().want.key.topic_id == w.key.topic_id;
      const std::size_t group = slots.empty() ? 0 : slots.back().group + (same_topic ? 0 : 1);
      auto& s = slots.emplace_back();
      s.want = w;
      if (ctx.version < 13) s.topic_name = ctx.keep(w.key.topic);
      s.topic_id.bytes = w.key.topic_id;
      s.group = group;
    }
  }
  for (auto& s : slots) resolve(b, ctx, s);
  return slots;
}

/// The partitions a request adds or changes, and those it forgets.
std::vector<FetchWant> wanted_of(const FetchRequest& req, bool by_id) {
  std::vector<FetchWant> out;
  for (const auto& ft : req.topics) {
    for (const auto& fp : ft.partitions) {
      auto& w = out.emplace_back();
      if (by_id) w.key.topic_id = ft.topic_id.bytes;
      else w.key.topic = std::string(ft.topic);
      w.key.partition = fp.partition;
      w.fetch_offset = fp.fetch_offset;
      w.max_bytes = fp.partition_max_bytes;
    }
  }
  return out;
}

std::vector<FetchKey> forgotten_of(const FetchRequest& req, bool by_id) {
  std::vector<FetchKey> out;
  for (const auto& ft : req.forgotten_topics_data) {
    for (const auto p : ft.partitions) {
      auto& k = out.emplace_back();
      if (by_id) k.topic_id = ft.topic_id.bytes;
      else k.topic = std::string(ft.topic);
      k.partition = p;
    }
  }
  return out;
}

}  // namespace

asio::awaitable<void> fetch(Broker& b, Ctx& ctx, FetchRequest& req, FetchResponse& resp) {
  auto t0 = std::chrono::steady_clock::now();
  const bool by_id = ctx.version >= 13;
  auto& sessions = b.fetch_sessions();
  // Fetch v4-6 has no session fields: they decode as id 0, epoch -1.
  const auto plan = sessions.begin(&ctx.realm(), req.session_id, req.session_epoch, by_id, wanted_of(req, by_id),
                                   forgotten_of(req, by_id), steady_ms());
  resp.session_id = 0;
  if (plan.kind == FetchSessionCache::Plan::Kind::error) {
    resp.error_code = ctx.note(plan.error);
    co_return;
  }
  auto slots = slots_of(b, ctx, req, plan);
  std::set<TopicPartition> wanted;
  for (auto& s : slots)
    if (s.known) wanted.insert({s.topic, s.want.key.partition});
  std::int64_t response_limit = ctx.version >= 3 ? req.max_bytes : std::numeric_limits<std::int32_t>::max();
  if (response_limit <= 0) response_limit = std::numeric_limits<std::int32_t>::max();
  // Under a consumer byte rate quota, no response larger than the quota
  // allows over its windows (it would be throttled whatever came before).
  if (auto most = b.quotas().max_in_window(quota::Kind::fetch, ctx.session.principal, ctx.client_id))
    if (*most < static_cast<double>(response_limit))
      response_limit = std::max<std::int64_t>(1, static_cast<std::int64_t>(*most));

  auto fill = [&]() -> asio::awaitable<std::pair<std::int64_t, bool>> {
    ctx.clear_attached();
    std::int64_t total = 0;
    bool errors = false;
    for (auto& s : slots) {
      if (!s.known) continue;
      auto& pd = s.data;
      pd.error_code = ErrorCode::None;
      pd.records = kwire::bytes_view{};
      pd.aborted_transactions.emplace();
      TopicPartition tp{s.topic, pd.partition_index};  // named: g++ 12 mishandles temporaries in co_await
      auto lr = co_await ctx.realm().log(tp);
      if (!lr.ok()) {
        pd.error_code = fetch_error(lr.error);
        errors = true;
        continue;
      }
      storage::ReadOptions ro;
      ro.offset = s.want.fetch_offset;
      std::int64_t budget = std::min<std::int64_t>(s.want.max_bytes, response_limit - total);
      ro.max_bytes = static_cast<std::int32_t>(std::max<std::int64_t>(0, budget));
      ro.at_least_one = total == 0;
      ro.read_committed = req.isolation_level == 1;
      auto log = lr.value;
      auto rr = co_await log->read(ro);
      pd.high_watermark = rr.value.offsets.high_watermark;
      pd.last_stable_offset = rr.value.offsets.last_stable;
      pd.log_start_offset = rr.value.offsets.log_start;
      if (!rr.ok()) {
        pd.error_code = fetch_error(rr.error);
        errors = true;
        continue;
      }
      // read_committed: the aborted transactions among the returned
      // batches, which the consumer drops (its producer's batches from the
      // first offset up to the abort marker).
      for (const auto& a : rr.value.aborted) {
        auto& at = pd.aborted_transactions->emplace_back();
        at.producer_id = a.producer_id;
        at.first_offset = a.first_offset;
      }
      total += static_cast<std::int64_t>(rr.value.size());
      if (!rr.value.regions.empty()) pd.records = ctx.attach(std::move(rr.value.regions));
      else if (!rr.value.bytes.empty()) pd.records = ctx.attach(std::move(rr.value.bytes));
    }
    co_return std::pair{total, errors};
  };

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, req.max_wait_ms));
  auto ex = co_await asio::this_coro::executor;
  std::int64_t fetched = 0;
  for (;;) {
    auto w = std::make_shared<DataNotifier::Waiter>(ex);
    w->partitions = wanted;
    b.notifier().add(w);
    auto [total, errors] = co_await fill();
    fetched = total;
    if (total >= req.min_bytes || errors || b.stopping() || std::chrono::steady_clock::now() >= deadline) {
      b.notifier().remove(w);
      break;
    }
    w->timer.expires_at(deadline);
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    b.notifier().remove(w);
  }

  // Consumer byte rate quota: the records of the response count. A client
  // that they would take over its quota gets none of them (they are not
  // counted then), only the time to wait, and its connection is muted; its
  // session stays where it was, as Kafka answers a throttled fetch. A first
  // batch larger than the quota allows over its windows would never be
  // answered that way: it goes out, counted, with the wait.
  const auto wait = b.quotas().record(quota::Kind::fetch, ctx.session.principal, ctx.client_id,
                                      static_cast<double>(fetched));
  if (wait > 0) {
    resp.throttle_time_ms = static_cast<std::int32_t>(wait);
    ctx.mute_for(wait);
  }
  if (wait > 0 && fetched <= response_limit) {
    b.quotas().unrecord(quota::Kind::fetch, ctx.session.principal, ctx.client_id, static_cast<double>(fetched));
    ctx.clear_attached();
    resp.session_id = plan.kind == FetchSessionCache::Plan::Kind::incremental ? plan.session_id : 0;
    co_return;
  }

  // What the response says of each partition decides the session's next
  // answers: an incremental response leaves out what has not changed.
  std::vector<FetchSent> sent;
  sent.reserve(slots.size());
  for (auto& s : slots) {
    const auto& pd = s.data;
    sent.push_back({pd.records && !pd.records->empty(), pd.error_code, pd.high_watermark, pd.log_start_offset,
                    pd.last_stable_offset});
  }
  std::vector<bool> carry(slots.size(), true);
  switch (plan.kind) {
    case FetchSessionCache::Plan::Kind::full:
      resp.session_id = sessions.create(&ctx.realm(), by_id, plan.partitions, sent, steady_ms());
      break;
    case FetchSessionCache::Plan::Kind::incremental:
      resp.session_id = plan.session_id;
      carry = sessions.respond(plan, sent);
      b.metrics().incremental_fetches++;
      break;
    default: break;
  }
  std::optional<std::size_t> open_group;  // of the last topic in the response
  for (std::size_t i = 0; i < slots.size(); ++i) {
    auto& s = slots[i];
    if (s.data.error_code != ErrorCode::None) ctx.note(s.data.error_code);
    if (!carry[i]) continue;
    if (open_group != s.group) {
      auto& tr = resp.responses.emplace_back();
      tr.topic = s.topic_name;
      tr.topic_id = s.topic_id;
      open_group = s.group;
    }
    resp.responses.back().partitions.push_back(std::move(s.data));
  }
  b.metrics().fetch_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace kwire_broker
