// Readable log lines on stderr: "2026-01-02T03:04:05.678Z INFO  message".
#pragma once

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string_view>

namespace kwire_broker {

enum class Level : int { debug = 0, info = 1, warn = 2, error = 3 };

inline std::atomic<int>& log_threshold() {
  static std::atomic<int> level{static_cast<int>(Level::info)};
  return level;
}

inline void log_line(Level level, std::string_view text) {
  static std::mutex mu;
  static constexpr const char* names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::lock_guard lk(mu);
  fmt::print(stderr, "{:%Y-%m-%dT%H:%M:%S}.{:03}Z {} {}\n", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms,
             names[static_cast<int>(level)], text);
  std::fflush(stderr);
}

template <class... A>
void log(Level level, fmt::format_string<A...> f, A&&... a) {
  if (static_cast<int>(level) < log_threshold().load(std::memory_order_relaxed)) return;
  log_line(level, fmt::format(f, std::forward<A>(a)...));
}

#define KB_DEBUG(...) ::kwire_broker::log(::kwire_broker::Level::debug, __VA_ARGS__)
#define KB_INFO(...) ::kwire_broker::log(::kwire_broker::Level::info, __VA_ARGS__)
#define KB_WARN(...) ::kwire_broker::log(::kwire_broker::Level::warn, __VA_ARGS__)
#define KB_ERROR(...) ::kwire_broker::log(::kwire_broker::Level::error, __VA_ARGS__)

}  // namespace kwire_broker
