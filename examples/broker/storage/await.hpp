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

#include <memory>

#include "types.hpp"

namespace kwire_broker::storage {

template <class T, class Start>
boost::asio::awaitable<Result<T>> call(Start start) {
  namespace asio = boost::asio;
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(Result<T>)>(
      [ex, start = std::move(start)](auto handler) mutable {
        using H = decltype(handler);
        auto h = std::make_shared<H>(std::move(handler));
        start(Handler<T>([ex, h](Result<T> r) mutable {
          asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        }));
      },
      asio::use_awaitable);
}

}  // namespace kwire_broker::storage
