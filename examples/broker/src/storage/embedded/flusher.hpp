// The embedded store's one thread for disk work that waits: fdatasync, and
// files written and synced whole (group state, committed offsets).
//
// fdatasync takes milliseconds, and a second's worth of writes can take far
// longer. Called on a network thread it stalls every connection that thread
// serves; called under a log's mutex it stalls every append to that
// partition. So neither a log nor the group store syncs in line: they hand
// the work to this thread, in order, and a coroutine that needs the outcome
// awaits a Completion.
//
// With log.flush.interval.messages=1 an append is acknowledged only once it
// is durable. Appends that arrive while a sync is under way wait for the next
// one, which covers all of them (group commit): one fdatasync per partition
// per round instead of one per append.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>

namespace kwire_broker::storage::embedded {

/// What the flusher syncs: implemented by Log.
class Flushable {
 public:
  virtual ~Flushable() = default;
  /// Syncs what was written so far and records it as durable; called on the
  /// flusher's thread.
  virtual void sync() = 0;
};

/// The outcome of disk work, set once on any thread and awaited by one
/// coroutine, which resumes on its own executor.
class Completion {
 public:
  void set(bool ok);
  boost::asio::awaitable<bool> wait();

 private:
  std::mutex mu_;
  std::optional<bool> value_;
  std::function<void(bool)> waiter_;
};

class Flusher {
 public:
  Flusher();
  ~Flusher();  // runs what is queued, then stops the thread
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  /// Queues a sync of `log`. The flusher does not keep it alive: a log
  /// gone before its turn flushed itself when it closed.
  void request(std::weak_ptr<Flushable> log);
  /// Queues `job`; jobs run one at a time in the order they were posted.
  void post(std::function<void()> job);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kwire_broker::storage::embedded
