// Broker metrics and their Prometheus text rendering, served at /metrics.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "kwire/messages/error_code.hpp"

namespace kwire_broker {

/// A latency histogram in seconds with fixed buckets.
class Histogram {
 public:
  static constexpr std::array<double, 13> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1.0,   2.5,   10.0};
  void observe(double seconds);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  mutable std::mutex mu_;
  std::array<std::uint64_t, bounds.size()> counts_{};
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
 public:
  void request(std::int16_t api_key, kwire::ErrorCode error_code);
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> records_in{0};
  std::atomic<std::uint64_t> tls_handshakes_failed{0};  // failed or timed out TLS handshakes
  std::atomic<std::uint64_t> sasl_reauthentications{0};  // logins again on an authenticated connection
  std::atomic<std::uint64_t> authentication_failures{0};  // failed SASL logins
  std::atomic<std::uint64_t> accept_errors{0};     // failed accepts (e.g. out of descriptors)
  std::atomic<std::uint64_t> frames_refused{0};    // frames closed from their size prefix alone
  std::atomic<std::uint64_t> incremental_fetches{0};  // Fetch requests answered in a session
  Histogram produce_latency;
  Histogram fetch_latency;
  /// Gauges computed when scraped.
  std::function<std::int64_t()> partitions;
  std::function<std::int64_t()> groups;
  std::function<std::int64_t()> queued_request_bytes;
  std::function<std::int64_t()> open_log_files;
  std::function<std::int64_t()> fetch_sessions;
  std::function<std::int64_t()> fetch_session_partitions;
  std::function<std::int64_t()> fetch_session_evictions;

  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::int16_t, kwire::ErrorCode>, std::uint64_t> requests_;
};

/// Serves GET /metrics on host:port until the io_context stops.
void serve_metrics(boost::asio::io_context& io, const std::string& host_port, Metrics& metrics);

}  // namespace kwire_broker
