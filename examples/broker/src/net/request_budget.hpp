// The broker-wide budget for bytes of requests in flight
// (queued.max.request.bytes): bytes read off sockets, in whole frames or in
// frames still arriving, until their request has been handled. While it is
// spent, connections stop reading: clients are slowed down, not refused.
//
// Bytes are charged as they are read (a size prefix alone costs nothing), so
// several large frames arriving at once could each hold part of the budget
// and none complete. One reader at a time may therefore overdraw it to finish
// its frame; memory is bounded by the budget plus one frame.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>

namespace kwire_broker {

class RequestBudget {
 public:
  /// limit < 0: no limit.
  explicit RequestBudget(std::int64_t limit) : limit_(limit) {}

  /// Charges `bytes` to `reader` (its connection), waiting while the budget
  /// is spent. Gives up, returning false, once `abandoned()` is true (checked
  /// at least once a second while waiting).
  boost::asio::awaitable<bool> take(std::size_t bytes, const void* reader, std::function<bool()> abandoned);
  void give_back(std::size_t bytes);
  /// `reader` has read its whole frame: its overdraft, if any, ends.
  void frame_read(const void* reader);

  std::int64_t in_use() const;
  std::int64_t limit() const { return limit_; }

 private:
  bool try_take(std::size_t bytes, const void* reader);

  const std::int64_t limit_;
  mutable std::mutex mu_;
  std::int64_t used_ = 0;
  const void* overdrawing_ = nullptr;
  // Readers waiting for room, woken when bytes are given back.
  std::list<std::shared_ptr<boost::asio::steady_timer>> waiting_;
};

/// What one request holds of the budget; gives it back when dropped.
class BudgetCharge {
 public:
  explicit BudgetCharge(RequestBudget& budget) : budget_(&budget) {}
  BudgetCharge(const BudgetCharge&) = delete;
  BudgetCharge& operator=(const BudgetCharge&) = delete;
  ~BudgetCharge() { release(); }
  void add(std::size_t bytes) { bytes_ += bytes; }
  void release() {
    if (bytes_) budget_->give_back(bytes_);
    bytes_ = 0;
  }

 private:
  RequestBudget* budget_;
  std::size_t bytes_ = 0;
};

}  // namespace kwire_broker
