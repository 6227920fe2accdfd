// Shared by the Pulsar tests: where the test standalone listens (set by
// ctest from the fixture) and a way to run one coroutine to completion.
#pragma once

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <optional>
#include <random>
#include <string>

namespace pulsar_test {

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
inline std::string service_url() { return env_or("KWIRE_PULSAR_URL", "pulsar://127.0.0.1:6650"); }
inline std::string web_url() { return env_or("KWIRE_PULSAR_WEB_URL", "http://127.0.0.1:8080"); }

/// A name no earlier run used (topics outlive test runs in a kept data dir).
inline std::string unique(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return prefix + "-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 100000000) +
         "-" + std::to_string(rng() % 100000);
}

/// Runs `make()`'s awaitable on a fresh io_context; rethrows its exception.
template <class Make>
auto run(Make make) {
  boost::asio::io_context io;
  using A = decltype(make());
  using T = typename A::value_type;
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(io, make(), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<T> result;
    boost::asio::co_spawn(io, make(), [&](std::exception_ptr e, T v) {
      error = e;
      if (!e) result = std::move(v);
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

}  // namespace pulsar_test
