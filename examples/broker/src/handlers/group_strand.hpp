// Where every group handler does its work: the group coordinator's strand,
// so that the state of groups (classic, consumer and share) and of share
// partitions is changed by one request at a time, without locks.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coordinator/group_coordinator.hpp"
#include "core/realm.hpp"
#include "protocol/context.hpp"

namespace kwire_broker {

/// Runs the coroutine `f` on the group coordinator's strand of the
/// request's namespace and resumes the handler when it is done.
template <class F>
boost::asio::awaitable<void> on_strand(Ctx& ctx, F f) {
  co_await boost::asio::co_spawn(ctx.realm().groups().strand(), std::move(f), boost::asio::use_awaitable);
}

}  // namespace kwire_broker
