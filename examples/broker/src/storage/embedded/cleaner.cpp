#include "storage/embedded/cleaner.hpp"

#include <chrono>

#include "storage/embedded/files.hpp"
#include "storage/embedded/log.hpp"

namespace kwire_broker::storage::embedded {

Cleaner::Cleaner(LogsFn logs, std::int64_t backoff_ms, std::size_t dedupe_bytes,
                 std::function<void(const std::string&)> report)
    : logs_(std::move(logs)),
      backoff_ms_(backoff_ms < 1 ? 1 : backoff_ms),
      dedupe_bytes_(dedupe_bytes),
      report_(std::move(report)),
      thread_([this] { run(); }) {}

Cleaner::~Cleaner() { stop(); }

void Cleaner::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Cleaner::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    wake_.wait_for(lk, std::chrono::milliseconds(backoff_ms_), [this] { return stopping_; });
    if (stopping_) return;
    lk.unlock();
    for (const auto& log : logs_()) {
      {
        std::lock_guard check(mu_);
        if (stopping_) return;
      }
      if (!log->compacted()) continue;
      const std::int64_t reclaimed = log->clean(now_ms(), dedupe_bytes_);
      if (reclaimed > 0 && report_) {
        const auto& tp = log->id();
        report_("compacted " + tp.topic + "-" + std::to_string(tp.partition) + ": " + std::to_string(reclaimed) +
                " bytes reclaimed");
      }
    }
    lk.lock();
  }
}

}  // namespace kwire_broker::storage::embedded
