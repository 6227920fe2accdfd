#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "core/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/core.h>

#include "net/accept_backoff.hpp"
#include "protocol/errors.hpp"
#include "kwire/messages/api.hpp"
#include "core/log.hpp"

namespace kwire_broker {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void Histogram::observe(double seconds) {
  std::lock_guard lk(mu_);
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (seconds <= bounds[i]) counts_[i]++;
  count_++;
  sum_ += seconds;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  std::lock_guard lk(mu_);
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  for (std::size_t i = 0; i < bounds.size(); ++i)
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], counts_[i]);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

void Metrics::request(std::int16_t api_key, kwire::ErrorCode error_code) {
  std::lock_guard lk(mu_);
  requests_[{api_key, error_code}]++;
}

std::string Metrics::render() const {
  std::string out;
  out += "# HELP kwire_requests_total Requests handled, by API and error code (per partition or group errors are "
         "counted as their own error).\n# TYPE kwire_requests_total counter\n";
  {
    std::lock_guard lk(mu_);
    for (auto& [k, n] : requests_) {
      const kwire::ApiInfo* info = kwire::find_api(k.first);
      std::string_view api = info ? info->name : std::string_view{};
      out += fmt::format("kwire_requests_total{{api=\"{}\",error=\"{}\"}} {}\n", api.empty() ? "Unknown" : api,
                         kwire::to_string(k.second), n);
    }
  }
  out += fmt::format("# HELP kwire_bytes_in_total Request bytes received.\n# TYPE kwire_bytes_in_total counter\n"
                     "kwire_bytes_in_total {}\n",
                     bytes_in.load());
  out += fmt::format("# HELP kwire_bytes_out_total Response bytes sent.\n# TYPE kwire_bytes_out_total counter\n"
                     "kwire_bytes_out_total {}\n",
                     bytes_out.load());
  out += fmt::format("# HELP kwire_records_in_total Record batches appended.\n# TYPE kwire_records_in_total counter\n"
                     "kwire_records_in_total {}\n",
                     records_in.load());
  out += fmt::format("# HELP kwire_connections Open client connections.\n# TYPE kwire_connections gauge\n"
                     "kwire_connections {}\n",
                     connections.load());
  out += fmt::format("# HELP kwire_connections_total Client connections accepted.\n# TYPE kwire_connections_total "
                     "counter\nkwire_connections_total {}\n",
                     connections_total.load());
  out += fmt::format("# HELP kwire_tls_handshakes_failed_total TLS handshakes that failed or timed out.\n"
                     "# TYPE kwire_tls_handshakes_failed_total counter\nkwire_tls_handshakes_failed_total {}\n",
                     tls_handshakes_failed.load());
  out += fmt::format("# HELP kwire_sasl_reauthentications_total SASL logins again on an authenticated connection (KIP-368).\n"
                     "# TYPE kwire_sasl_reauthentications_total counter\nkwire_sasl_reauthentications_total {}\n",
                     sasl_reauthentications.load());
  out += fmt::format("# HELP kwire_authentication_failures_total SASL logins refused (wrong password, unknown user, bad exchange).\n"
                     "# TYPE kwire_authentication_failures_total counter\nkwire_authentication_failures_total {}\n",
                     authentication_failures.load());
  out += fmt::format("# HELP kwire_accept_errors_total Connections the listeners failed to accept (out of file "
                     "descriptors or memory).\n# TYPE kwire_accept_errors_total counter\nkwire_accept_errors_total {}\n",
                     accept_errors.load());
  out += fmt::format("# HELP kwire_frames_refused_total Connections closed for a request size over a limit, before "
                     "its body was read.\n# TYPE kwire_frames_refused_total counter\nkwire_frames_refused_total {}\n",
                     frames_refused.load());
  if (queued_request_bytes)
    out += fmt::format("# HELP kwire_queued_request_bytes Bytes of requests read and not yet handled "
                       "(queued.max.request.bytes bounds them).\n# TYPE kwire_queued_request_bytes gauge\n"
                       "kwire_queued_request_bytes {}\n",
                       queued_request_bytes());
  if (open_log_files)
    out += fmt::format("# HELP kwire_open_log_files Log, index and time index files held open by the embedded "
                       "store.\n# TYPE kwire_open_log_files gauge\nkwire_open_log_files {}\n",
                       open_log_files());
  out += fmt::format("# HELP kwire_incremental_fetches_total Fetch requests answered within an incremental fetch "
                     "session.\n# TYPE kwire_incremental_fetches_total counter\nkwire_incremental_fetches_total {}\n",
                     incremental_fetches.load());
  if (fetch_sessions)
    out += fmt::format("# HELP kwire_fetch_sessions Incremental fetch sessions cached "
                       "(max.incremental.fetch.session.cache.slots bounds them).\n# TYPE kwire_fetch_sessions gauge\n"
                       "kwire_fetch_sessions {}\n",
                       fetch_sessions());
  if (fetch_session_partitions)
    out += fmt::format("# HELP kwire_fetch_session_partitions Partitions of all cached fetch sessions "
                       "(kwire.fetch.session.cache.max.partitions bounds them).\n"
                       "# TYPE kwire_fetch_session_partitions gauge\nkwire_fetch_session_partitions {}\n",
                       fetch_session_partitions());
  if (fetch_session_evictions)
    out += fmt::format("# HELP kwire_fetch_session_evictions_total Fetch sessions evicted to make room for new ones.\n"
                       "# TYPE kwire_fetch_session_evictions_total counter\nkwire_fetch_session_evictions_total {}\n",
                       fetch_session_evictions());
  if (partitions)
    out += fmt::format("# HELP kwire_partitions Partitions hosted.\n# TYPE kwire_partitions gauge\nkwire_partitions {}\n",
                       partitions());
  if (groups)
    out += fmt::format("# HELP kwire_groups Consumer groups known.\n# TYPE kwire_groups gauge\nkwire_groups {}\n",
                       groups());
  produce_latency.render(out, "kwire_produce_latency_seconds", "Time to handle a Produce request.");
  fetch_latency.render(out, "kwire_fetch_latency_seconds", "Time to answer a Fetch request, long polls included.");
  return out;
}

namespace {

asio::awaitable<void> http_session(tcp::socket socket, Metrics& metrics) {
  beast::flat_buffer buf;
  try {
    for (;;) {
      http::request<http::string_body> req;
      co_await http::async_read(socket, buf, req, asio::use_awaitable);
      http::response<http::string_body> res;
      res.version(req.version());
      res.keep_alive(req.keep_alive());
      auto target = std::string(req.target());
      if (req.method() == http::verb::get && (target == "/metrics" || target.rfind("/metrics?", 0) == 0)) {
        res.result(http::status::ok);
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = metrics.render();
      } else {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "text/plain");
        res.body() = "not found; try /metrics\n";
      }
      res.prepare_payload();
      co_await http::async_write(socket, res, asio::use_awaitable);
      if (!req.keep_alive()) break;
    }
  } catch (const std::exception&) {
  }
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

asio::awaitable<void> http_accept(tcp::acceptor acceptor, Metrics& metrics) {
  AcceptBackoff backoff;
  asio::steady_timer pause(acceptor.get_executor());
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec == asio::error::connection_aborted) continue;
    if (ec) {
      metrics.accept_errors++;
      auto wait = backoff.failed();
      if (auto n = backoff.take_log_due())
        KB_WARN("metrics listener: accept failed {} time(s): {}; pausing accepts for {} ms", n, ec.message(),
                wait.count());
      pause.expires_after(wait);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    backoff.succeeded();
    asio::co_spawn(acceptor.get_executor(), http_session(std::move(socket), metrics), asio::detached);
  }
}

}  // namespace

void serve_metrics(asio::io_context& io, const std::string& host_port, Metrics& metrics) {
  auto colon = host_port.rfind(':');
  std::string host = colon == std::string::npos ? "127.0.0.1" : host_port.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  auto port = static_cast<unsigned short>(std::stoi(colon == std::string::npos ? host_port : host_port.substr(colon + 1)));
  tcp::endpoint ep(asio::ip::make_address(host), port);
  tcp::acceptor acceptor(io);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  KB_INFO("metrics at http://{}:{}/metrics", host, acceptor.local_endpoint().port());
  asio::co_spawn(io, http_accept(std::move(acceptor), metrics), asio::detached);
}

}  // namespace kwire_broker
