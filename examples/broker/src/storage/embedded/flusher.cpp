#include "storage/embedded/flusher.hpp"

#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kwire_broker::storage::embedded {

namespace asio = boost::asio;

void Completion::set(bool ok) {
  std::function<void(bool)> waiter;
  {
    std::lock_guard lk(mu_);
    value_ = ok;
    waiter = std::move(waiter_);
  }
  if (waiter) waiter(ok);
}

asio::awaitable<bool> Completion::wait() {
  auto initiate = [this](auto handler) {
    // The handler runs where the coroutine runs, and that executor counts
    // it as work meanwhile, so an io_context does not run out of work.
    auto ex = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    // Invoked as an rvalue, moved out of its shared holder: Asio's coroutine
    // handlers hand the coroutine on when invoked that way, and a copy left
    // behind would destroy it when released.
    std::function<void(bool)> resume = [ex, h](bool ok) {
      asio::post(ex, [h, ok] {
        auto resumed = std::move(*h);
        std::move(resumed)(ok);
      });
    };
    std::lock_guard lk(mu_);
    if (value_) resume(*value_);
    else waiter_ = std::move(resume);
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(bool)>(initiate, asio::use_awaitable);
}

Flusher::Flusher() : thread_([this] { run(); }) {}

Flusher::~Flusher() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Flusher::request(std::weak_ptr<Flushable> log) {
  post([weak = std::move(log)] {
    if (auto alive = weak.lock()) alive->sync();
  });
}

void Flusher::post(std::function<void()> job) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void Flusher::run() {
  std::vector<std::function<void()>> round;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      wake_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      round.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    for (auto& job : round) job();
    round.clear();
  }
}

}  // namespace kwire_broker::storage::embedded
