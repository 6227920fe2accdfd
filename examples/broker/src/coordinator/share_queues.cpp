// The group coordinator's share partitions that the store's queues serve
// (Storage::share_queues(); share_queue_partition.hpp): opening a queue at a
// partition's first use, taking records from it for a fetch, expiring locks
// without waiting for a fetch (the store's other consumers get what a member
// let go), closing the queues of groups without members, and removing a
// queue with its group's offsets.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "coordinator/group_coordinator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "protocol/errors.hpp"

namespace kwire_broker {

void GroupCoordinator::expire_share_queues() {
  for (auto& [key, qp] : share_state_.queued) {
    const auto limits = share_limits(key.group_id);
    if (qp.expire_locks(now(), limits)) asio::co_spawn(strand_, persist_share(key), asio::detached);
    // A group without members takes nothing more: what the broker holds
    // goes back to the queue for the store's other consumers (as
    // redeliveries, which the store counts; settles still owed go first),
    // and its consumer closes.
    auto* g = shares_.find(key.group_id);
    if (qp.queue && (!g || g->members.empty())) {
      qp.give_back_all(limits);
      asio::co_spawn(strand_, share::close_queue(std::exchange(qp.queue, nullptr), qp.take_actions()), asio::detached);
    }
  }
}

asio::awaitable<storage::Result<std::shared_ptr<storage::ShareQueue>>> GroupCoordinator::share_queue(
    storage::SharePartitionKey key, storage::TopicPartition tp) {
  using R = storage::Result<std::shared_ptr<storage::ShareQueue>>;
  if (auto it = share_state_.queued.find(key); it != share_state_.queued.end() && it->second.queue)
    co_return R::success(it->second.queue);
  auto* queues = store_.share_queues();
  if (!queues) co_return R::failure(storage::Errc::io_error, "the store keeps no share queues");
  auto* g = shares_.find(key.group_id);
  const bool earliest = g && g->auto_offset_reset == "earliest";
  auto opened = co_await queues->open_share_queue(key, tp, earliest);
  if (!opened.ok()) co_return opened;
  // Opened while waiting by another request: that one stays.
  auto& qp = share_state_.queued[key];
  if (!qp.queue) {
    qp.queue = opened.value;
    qp.generation = qp.queue->generation();
  } else if (qp.queue != opened.value) {
    auto extra = opened.value;  // named: g++ 12 mishandles temporaries in co_await
    std::vector<share::QueueAction> none;
    co_await share::close_queue(std::move(extra), std::move(none));
  }
  co_return R::success(qp.queue);
}

asio::awaitable<share::QueueTake> GroupCoordinator::take_from_queue(const storage::SharePartitionKey& key,
                                                                  const storage::TopicPartition& tp,
                                                                  const std::string& member, std::int32_t max_records,
                                                                  std::set<storage::SharePartitionKey>& changed) {
  share::QueueTake out;
  const auto limits = share_limits(key.group_id);
  auto& state = share_state_;
  const bool known = state.queued.count(key) > 0;
  auto opened = co_await share_queue(key, tp);
  if (!opened.ok()) {
    out.error = fetch_error(opened.error);
    co_return out;
  }
  if (!known) changed.insert(key);  // stored, so that the group lists it after a restart
  auto it = state.queued.find(key);
  if (it == state.queued.end() || it->second.queue != opened.value) co_return out;
  auto queue = it->second.queue;
  if (queue->generation() != it->second.generation) {
    // The store took back what the broker held (a lost connection).
    it->second.drop_all();
    it->second.generation = queue->generation();
    changed.insert(key);
  }
  if (it->second.expire_locks(now(), limits)) changed.insert(key);
  const auto available = static_cast<std::int32_t>(it->second.available());
  const auto room = limits.max_record_locks - static_cast<std::int32_t>(it->second.held());
  if (available < max_records && room > 0) {
    auto got = co_await queue->take(std::min(max_records - available, room));
    it = state.queued.find(key);  // looked up again after the wait
    if (it == state.queued.end() || it->second.queue != queue) co_return out;
    if (!got.ok()) {
      out.error = fetch_error(got.error);
      co_return out;
    }
    if (queue->generation() != it->second.generation) {
      it->second.drop_all();  // the entries just taken belong to the new generation
      it->second.generation = queue->generation();
    }
    for (auto& b : got.value) it->second.offer(std::move(b), limits);
    if (!got.value.empty()) changed.insert(key);
  }
  auto acq = it->second.acquire(member, max_records, now(), limits);
  if (acq.ranges.empty()) co_return out;
  changed.insert(key);
  for (auto& r : acq.ranges) out.records += static_cast<std::int32_t>(r.last - r.first + 1);
  out.ranges = std::move(acq.ranges);
  for (auto handle : acq.entries) {
    auto& bytes = it->second.bytes(handle);
    out.bytes.insert(out.bytes.end(), bytes.begin(), bytes.end());
  }
  co_return out;
}

asio::awaitable<kwire::ErrorCode> GroupCoordinator::remove_share_queue(storage::SharePartitionKey key,
                                                                       storage::TopicPartition tp) {
  auto q = co_await share_queue(key, tp);
  if (!q.ok()) co_return to_kafka(q.error);
  auto removed = co_await q.value->remove();
  if (!removed.ok()) {
    KB_WARN("share group {}: cannot remove the queue of {}-{}: {}", key.group_id, tp.topic, tp.partition, removed.message);
    co_return to_kafka(removed.error);
  }
  share_state_.queued.erase(key);
  co_await persist_share(std::move(key));
  co_return kwire::ErrorCode::None;
}

}  // namespace kwire_broker
