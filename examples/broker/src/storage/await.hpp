// Turns a storage call (which completes through a Handler<T>, on any thread)
// into a Boost.Asio awaitable that resumes on the awaiting coroutine's
// executor. Usage:
//
//   auto r = co_await storage::call<AppendResult>(
//       [&](auto done) { log->append(std::move(batch), {}, std::move(done)); });
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>

#include "types.hpp"

namespace kwire_broker::storage {

template <class T, class Start>
boost::asio::awaitable<Result<T>> call(Start start) {
  namespace asio = boost::asio;
  auto ex = co_await asio::this_coro::executor;
  // Named, not a temporary of the co_await expression: g++ 12 destroys such a
  // temporary twice, and a second destruction of `ex` releases a reference it
  // does not own when the executor is a strand (held through a shared_ptr).
  auto initiation = [ex, start = std::move(start)](auto handler) mutable {
    using H = decltype(handler);
    auto h = std::make_shared<H>(std::move(handler));
    start(Handler<T>([ex, h](Result<T> r) mutable {
      asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
    }));
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(Result<T>)>(std::move(initiation),
                                                                                          asio::use_awaitable);
}

/// A storage call started now and awaited later, on `ex`: a caller can start
/// several calls in order (appends keep that order in a log) before awaiting
/// any of them.
template <class T>
class Deferred {
 public:
  explicit Deferred(boost::asio::any_io_executor ex) : ex_(ex), timer_(ex) {}

  template <class Start>
  static std::shared_ptr<Deferred> start(boost::asio::any_io_executor ex, Start start) {
    auto d = std::make_shared<Deferred>(ex);
    start(Handler<T>([d](Result<T> r) mutable {
      boost::asio::post(d->ex_, [d, r = std::move(r)]() mutable {
        d->result_ = std::move(r);
        d->timer_.cancel();
      });
    }));
    return d;
  }

  /// The result; await it once, on `ex`.
  boost::asio::awaitable<Result<T>> get() {
    co_return std::move(*co_await get_until(boost::asio::steady_timer::time_point::max()));
  }

  /// The result, or nullopt once `deadline` passes without one (the call
  /// goes on; its result is dropped).
  boost::asio::awaitable<std::optional<Result<T>>> get_until(boost::asio::steady_timer::time_point deadline) {
    namespace asio = boost::asio;
    while (!result_) {
      if (asio::steady_timer::clock_type::now() >= deadline) co_return std::nullopt;
      timer_.expires_at(deadline);
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return std::move(*result_);
  }

 private:
  boost::asio::any_io_executor ex_;
  boost::asio::steady_timer timer_;
  std::optional<Result<T>> result_;
};

}  // namespace kwire_broker::storage
