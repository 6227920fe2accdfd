// What a listener does when accept fails. Running out of file descriptors
// (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM) leaves the pending
// connection in the backlog, so the listening socket stays readable and an
// accept loop that retries at once spins at full CPU without making progress.
// Instead the loop pauses, 100 ms doubling up to 1 s while failures persist,
// and logs at most one line every 10 s.
#pragma once

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

namespace kwire_broker {

class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds first{100};
  static constexpr std::chrono::milliseconds longest{1000};
  static constexpr std::chrono::seconds log_every{10};

  /// A failure: how long to pause before accepting again.
  std::chrono::milliseconds failed() {
    pause_ = pause_.count() == 0 ? first : std::min(longest, pause_ * 2);
    ++unlogged_;
    return pause_;
  }
  void succeeded() { pause_ = std::chrono::milliseconds(0); }

  /// Failures since the last log line, when one is due now; else 0.
  std::uint64_t take_log_due() {
    auto now = std::chrono::steady_clock::now();
    if (unlogged_ == 0 || (logged_once_ && now - last_log_ < log_every)) return 0;
    logged_once_ = true;
    last_log_ = now;
    return std::exchange(unlogged_, 0);
  }

 private:
  std::chrono::milliseconds pause_{0};
  std::uint64_t unlogged_ = 0;
  bool logged_once_ = false;
  std::chrono::steady_clock::time_point last_log_{};
};

}  // namespace kwire_broker
