// Long polls: a fetch with nothing to return waits on a timer that a produce
// (or the backend, for records written around this gateway) cancels early.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <list>
#include <memory>
#include <mutex>
#include <set>

#include "storage/types.hpp"

namespace kwire_broker {

namespace asio = boost::asio;

/// Wakes long-polling fetches when a partition gets data.
class DataNotifier {
 public:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::set<storage::TopicPartition> partitions;
    bool fired = false;
  };
  void add(const std::shared_ptr<Waiter>& w);
  void remove(const std::shared_ptr<Waiter>& w);
  void notify(const storage::TopicPartition& tp);
  void wake_all();

 private:
  std::mutex mu_;
  std::list<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace kwire_broker
