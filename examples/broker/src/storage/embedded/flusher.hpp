// The embedded store's one thread for fdatasync.
//
// fdatasync takes milliseconds, and a second's worth of writes can take far
// longer. Called on a network thread it stalls every connection that thread
// serves; called under a log's mutex it stalls every append to that
// partition. So no log syncs in line: a log asks the flusher, which syncs
// descriptors the log duplicated for it, outside every lock, and then tells
// the log how far its writes are durable.
//
// With log.flush.interval.messages=1 an append is acknowledged only once it
// is durable. Appends that arrive while a sync is under way wait for the next
// one, which covers all of them (group commit): one fdatasync per partition
// per round instead of one per append.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace kwire_broker::storage::embedded {

/// What the flusher syncs: implemented by Log.
class Flushable {
 public:
  virtual ~Flushable() = default;
  /// Syncs what was written so far and records it as durable; called on the
  /// flusher's thread, one call at a time per log.
  virtual void sync() = 0;
};

class Flusher {
 public:
  Flusher();
  ~Flusher();  // syncs what is queued, then stops the thread
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  /// Queues a sync of `log`. The flusher does not keep it alive: a log
  /// gone before its turn flushed itself when it closed.
  void request(std::weak_ptr<Flushable> log);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::weak_ptr<Flushable>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kwire_broker::storage::embedded
