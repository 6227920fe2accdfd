// Waiting for a coroutine where nothing may be served yet: the start of a
// realm, before its clients are let in. Anywhere else, await instead.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace kwire_broker {

/// Runs `task` to its end on an io_context of its own, on this thread, and
/// returns its value (or throws its exception). Storage completes on the
/// awaiting coroutine's executor, so that private io_context keeps the
/// callers' io_contexts out of it.
template <class T>
T wait_at_startup(boost::asio::awaitable<T> task) {
  boost::asio::io_context io(1);
  auto done = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return done.get();
}

}  // namespace kwire_broker
