// Share partitions as Pulsar Shared subscriptions (see share_queue.hpp).
#include "share_queue.hpp"

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

ShareQueue::ShareQueue(PulsarStorage& s, TopicPartition tp, std::string subscription)
    : s_(s), tp_(std::move(tp)), subscription_(std::move(subscription)) {}

awaitable<void> ShareQueue::open(bool earliest) {
  kp::ConsumerOptions o;
  o.topic = s_.pulsar_topic(tp_);
  o.subscription = subscription_;
  o.type = kp::SubscriptionType::shared;
  o.initial_position = earliest ? kp::InitialPosition::earliest : kp::InitialPosition::latest;
  o.consumer_name = s_.config_.gateway_name + "-share";
  // Only what members ask for: Pulsar gives the rest to the other consumers.
  o.auto_permits = false;
  consumer_ = co_await s_.client_->subscribe(std::move(o));
  seen_generation_ = consumer_->generation();
  // Entries arriving wake the fetches waiting on the partition.
  std::weak_ptr<ShareQueue> weak = weak_from_this();
  consumer_->on_arrival([weak] {
    if (auto self = weak.lock()) self->s_.data_arrived(self->tp_);
  });
}

void ShareQueue::follow_generation() {
  if (consumer_->generation() == seen_generation_) return;
  seen_generation_ = consumer_->generation();
  held_.clear();
  ++generation_;
}

Task<std::vector<QueuedBatch>> ShareQueue::take(std::int32_t max_records) {
  auto work = take_here(max_records);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<QueuedBatch>>> ShareQueue::take_here(std::int32_t max_records) {
  auto self = shared_from_this();
  follow_generation();
  std::vector<QueuedBatch> out;
  std::int32_t records = 0;
  while (records < max_records && consumer_->queued() > 0) {
    auto e = co_await consumer_->receive_entry(std::chrono::milliseconds(0));
    if (!e) break;
    auto info = info_of(*e);
    if (!info) {
      throw kp::Error(kp::Error::client_protocol,
                      "entries carry no broker index: enable AppendIndexMetadataInterceptor on the Pulsar broker");
    }
    QueuedBatch b;
    b.handle = next_handle_++;
    b.base = info->base;
    b.last = info->last;
    b.redeliveries = static_cast<std::int32_t>(std::min<std::uint32_t>(e->redelivery_count, 0x7fff));
    const int messages = e->message_count();
    for (int i = 0; i < messages; ++i)
      if (e->acknowledged(i)) b.settled.push_back(info->base + i);
    try {
      b.control = e->metadata && marker_of(*e->metadata).has_value();
      if (!b.control) entry_to_kafka(*e, info->last, b.bytes);
    } catch (const BadEntry&) {
      // Not a Kafka batch: no member can read it. It goes back for the
      // subscription's other consumers (Pulsar's own clients read what they
      // wrote), and once it came too often, it is settled as Kafka archives
      // a record past its delivery limit.
      b.bytes.clear();
      b.control = true;
      if (e->redelivery_count < 5) {
        consumer_->redeliver({e->id});
        continue;
      }
    }
    held_[b.handle] = Held{e->id, info->base, messages, e->batched()};
    // Counted as Pulsar counts permits: the messages not yet acknowledged.
    records += static_cast<std::int32_t>(info->last - info->base + 1) - static_cast<std::int32_t>(b.settled.size());
    out.push_back(std::move(b));
  }
  // Ask for what the members can still take, on top of what is asked for
  // already; a batch entry larger than what was asked for leaves the
  // broker's count below zero, which these permits make up first.
  const std::int64_t wanted = std::max(0, max_records - records);
  if (wanted > consumer_->permitted())
    consumer_->permit(static_cast<std::uint32_t>(std::min<std::int64_t>(wanted - consumer_->permitted(), 1 << 24)));
  co_return Result<std::vector<QueuedBatch>>::success(std::move(out));
}

Task<Done> ShareQueue::settle(std::uint64_t handle, std::vector<std::int64_t> offsets, bool whole) {
  auto work = settle_here(handle, std::move(offsets), whole);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> ShareQueue::settle_here(std::uint64_t handle, std::vector<std::int64_t> offsets, bool whole) {
  auto self = shared_from_this();
  follow_generation();
  auto it = held_.find(handle);
  // Taken back by Pulsar with a lost connection: it delivers the entry again.
  if (it == held_.end()) co_return Result<Done>::failure(Errc::unavailable, "the entry went back to the subscription");
  const Held h = it->second;
  std::vector<kp::MessageId> ids;
  if (whole || !h.batched) {
    ids.push_back(h.id);
  } else {
    for (auto o : offsets) {
      auto id = h.id;
      id.batch_index = static_cast<std::int32_t>(o - h.base);
      id.batch_size = h.messages;
      if (id.batch_index >= 0 && id.batch_index < h.messages) ids.push_back(id);
    }
  }
  if (whole) held_.erase(handle);
  co_await consumer_->acknowledge_messages_confirmed(ids);
  co_return Result<Done>::success({});
}

Task<Done> ShareQueue::give_back(std::uint64_t handle) {
  auto work = [](std::shared_ptr<ShareQueue> self, std::uint64_t h) -> awaitable<Result<Done>> {
    self->follow_generation();
    auto it = self->held_.find(h);
    if (it == self->held_.end()) co_return Result<Done>::success({});  // Pulsar took it back already
    self->consumer_->redeliver({it->second.id});
    self->held_.erase(it);
    co_return Result<Done>::success({});
  }(shared_from_this(), handle);
  co_return co_await s_.on_io(std::move(work));
}

Task<std::optional<std::int64_t>> ShareQueue::start_offset() {
  using R = Result<std::optional<std::int64_t>>;
  auto work = [](std::shared_ptr<ShareQueue> self) -> awaitable<R> {
    auto mark = co_await self->consumer_->mark_delete_position();
    if (!mark) co_return R::success(std::nullopt);
    auto log = co_await self->s_.open_log_here(self->tp_);
    // Before the first entry of a ledger: nothing of the partition is
    // acknowledged past its start.
    if (mark->entry == ~std::uint64_t{0} || static_cast<std::int64_t>(mark->entry) < 0)
      co_return R::success(log->offsets().log_start);
    mark->batch_index = -1;
    auto at = co_await log->probe(*mark);
    if (!at) co_return R::success(log->offsets().log_start);
    co_return R::success(at->second.last + 1);
  }(shared_from_this());
  co_return co_await s_.on_io(std::move(work));
}

Task<Done> ShareQueue::seek(std::int64_t offset) {
  auto work = [](std::shared_ptr<ShareQueue> self, std::int64_t to) -> awaitable<Result<Done>> {
    auto log = co_await self->s_.open_log_here(self->tp_);
    const auto end = co_await log->current_end();
    // Pulsar moves a subscription to an entry: the whole entry holding the
    // offset comes again.
    auto at = kp::MessageId::latest();
    const auto from = std::max(to, log->offsets().log_start);
    if (to < end) at = co_await log->locate(from);
    co_await self->consumer_->seek(at);
    co_return Result<Done>::success({});
  }(shared_from_this(), offset);
  co_return co_await s_.on_io(std::move(work));
}

Task<Done> ShareQueue::remove() {
  auto work = [](std::shared_ptr<ShareQueue> self) -> awaitable<Result<Done>> {
    try {
      co_await self->consumer_->unsubscribe();
    } catch (const kp::Error& e) {
      // Pulsar refuses while other consumers are attached.
      if (e.code() == kp::Error::client_timeout || e.code() == kp::Error::client_closed) throw;
      co_return Result<Done>::failure(Errc::in_use, std::string("Pulsar keeps the subscription: ") + e.what());
    }
    self->held_.clear();
    co_return Result<Done>::success({});
  }(shared_from_this());
  co_return co_await s_.on_io(std::move(work));
}

Task<Done> ShareQueue::close() {
  auto work = [](std::shared_ptr<ShareQueue> self) -> awaitable<Result<Done>> {
    co_await self->consumer_->close();
    self->held_.clear();
    co_return Result<Done>::success({});
  }(shared_from_this());
  co_return co_await s_.on_io(std::move(work));
}

Task<std::shared_ptr<storage::ShareQueue>> ShareQueues::open_share_queue(SharePartitionKey key, TopicPartition tp,
                                                                         bool earliest) {
  using R = Result<std::shared_ptr<storage::ShareQueue>>;
  auto work = [](PulsarStorage& s, std::string group, TopicPartition part, bool from_start) -> awaitable<R> {
    co_await s.open_log_here(part);  // the partition exists (unknown_topic otherwise)
    auto q = std::make_shared<ShareQueue>(s, part, std::move(group));
    co_await q->open(from_start);
    co_return R::success(std::move(q));
  }(s_, std::move(key.group_id), std::move(tp), earliest);
  co_return co_await s_.on_io(std::move(work));
}

}  // namespace kwire_broker::storage::pulsar
