#include "core/notifier.hpp"

#include <boost/asio/post.hpp>

namespace kwire_broker {

void DataNotifier::add(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lk(mu_);
  waiters_.push_back(w);
}

void DataNotifier::remove(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lk(mu_);
  waiters_.remove(w);
}

void DataNotifier::notify(const storage::TopicPartition& tp) {
  std::lock_guard lk(mu_);
  for (auto& w : waiters_) {
    if (w->fired || !w->partitions.count(tp)) continue;
    w->fired = true;
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

void DataNotifier::wake_all() {
  std::lock_guard lk(mu_);
  for (auto& w : waiters_) {
    if (w->fired) continue;
    w->fired = true;
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

}  // namespace kwire_broker
