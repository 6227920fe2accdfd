// The embedded store's log cleaner: one thread that compacts the logs of
// topics with cleanup.policy=compact (Log::clean), as Kafka's cleaner threads
// do. It wakes every log.cleaner.backoff.ms, gives each compacted log one
// pass when one is due, and never runs on a network thread: a pass reads and
// writes whole ledgers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kwire_broker::storage::embedded {

class Log;

class Cleaner {
 public:
  using LogsFn = std::function<std::vector<std::shared_ptr<Log>>()>;
  /// `logs` lists the store's logs (called on the cleaner's thread);
  /// `report` is told what each pass reclaimed.
  Cleaner(LogsFn logs, std::int64_t backoff_ms, std::size_t dedupe_bytes,
          std::function<void(const std::string&)> report);
  ~Cleaner();  // stop()
  Cleaner(const Cleaner&) = delete;
  Cleaner& operator=(const Cleaner&) = delete;

  /// Ends the pass under way (logs cancel theirs when they close) and stops
  /// the thread.
  void stop();

 private:
  void run();

  LogsFn logs_;
  std::int64_t backoff_ms_;
  std::size_t dedupe_bytes_;
  std::function<void(const std::string&)> report_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kwire_broker::storage::embedded
