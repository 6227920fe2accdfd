#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "net/request_budget.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kwire_broker {

namespace asio = boost::asio;

bool RequestBudget::try_take(std::size_t bytes, const void* reader) {
  const auto n = static_cast<std::int64_t>(bytes);
  if (limit_ >= 0 && used_ + n > limit_) {
    if (overdrawing_ != nullptr && overdrawing_ != reader) return false;
    overdrawing_ = reader;
  }
  used_ += n;
  return true;
}

asio::awaitable<bool> RequestBudget::take(std::size_t bytes, const void* reader, std::function<bool()> abandoned) {
  std::shared_ptr<asio::steady_timer> timer;
  std::list<std::shared_ptr<asio::steady_timer>>::iterator entry;
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (try_take(bytes, reader)) {
        if (timer) waiting_.erase(entry);
        co_return true;
      }
      if (!timer) {
        timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
        entry = waiting_.insert(waiting_.end(), timer);
      }
      // A wake-up posted from here on runs on this coroutine's own thread,
      // after it has started waiting below, so none is lost.
      timer->expires_after(std::chrono::seconds(1));
    }
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (abandoned()) {
      std::lock_guard lk(mu_);
      waiting_.erase(entry);
      co_return false;
    }
  }
}

void RequestBudget::give_back(std::size_t bytes) {
  std::lock_guard lk(mu_);
  used_ -= static_cast<std::int64_t>(bytes);
  for (auto& t : waiting_) asio::post(t->get_executor(), [t] { t->cancel(); });
}

void RequestBudget::frame_read(const void* reader) {
  std::lock_guard lk(mu_);
  if (overdrawing_ != reader) return;
  overdrawing_ = nullptr;
  // A reader that waited only because another one was overdrawing may now.
  for (auto& t : waiting_) asio::post(t->get_executor(), [t] { t->cancel(); });
}

std::int64_t RequestBudget::in_use() const {
  std::lock_guard lk(mu_);
  return used_;
}

}  // namespace kwire_broker
