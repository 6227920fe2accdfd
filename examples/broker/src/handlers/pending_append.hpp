// An append started in storage now and awaited later: Produce starts every
// append of a request in order, lets the connection go on, then awaits each
// with the request's deadline.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <optional>

#include "storage/storage.hpp"

namespace kwire_broker {

class PendingAppend {
 public:
  using Result = storage::Result<storage::AppendResult>;

  /// Starts appending `batch` to `log` on `ex`. Appends started on one
  /// executor start in the order of these calls (co_spawn queues each start
  /// behind the previous), and so take their offsets in that order.
  /// The log is held until the append completes.
  static std::shared_ptr<PendingAppend> start(boost::asio::any_io_executor ex,
                                              std::shared_ptr<storage::PartitionLog> log, storage::AppendBatch batch) {
    auto p = std::make_shared<PendingAppend>(ex);
    auto append = log->append(std::move(batch));
    boost::asio::co_spawn(ex, std::move(append), [p, log](std::exception_ptr failed, Result r) {
      p->result_ = failed ? Result::failure(storage::Errc::io_error, "the append failed") : std::move(r);
      p->timer_.cancel();
    });
    return p;
  }

  explicit PendingAppend(boost::asio::any_io_executor ex) : timer_(ex) {}

  /// The result, or nullopt once `deadline` passes without one (the append
  /// goes on; its result is dropped). Await it once, on the starting executor.
  boost::asio::awaitable<std::optional<Result>> get_until(boost::asio::steady_timer::time_point deadline) {
    namespace asio = boost::asio;
    bool yielded = false;
    while (!result_) {
      if (asio::steady_timer::clock_type::now() >= deadline) {
        if (yielded) co_return std::nullopt;
        // The append may not have started yet, queued behind this coroutine:
        // a past deadline gives it one turn, as a store that completes at
        // once would have answered by now.
        co_await asio::post(timer_.get_executor(), asio::use_awaitable);
        yielded = true;
        continue;
      }
      timer_.expires_at(deadline);
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return std::move(*result_);
  }

 private:
  boost::asio::steady_timer timer_;
  std::optional<Result> result_;
};

}  // namespace kwire_broker
