#include "storage/embedded/flusher.hpp"

#include <utility>
#include <vector>

namespace kwire_broker::storage::embedded {

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
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(log));
  }
  wake_.notify_one();
}

void Flusher::run() {
  std::vector<std::weak_ptr<Flushable>> round;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      wake_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      round.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    // A log asks again for writes made after its sync began: they are not
    // covered by this round.
    for (auto& weak : round) {
      if (auto log = weak.lock()) log->sync();
    }
    round.clear();
  }
}

}  // namespace kwire_broker::storage::embedded
