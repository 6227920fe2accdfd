// Listeners and client connections: one acceptor per listener, which hands
// the connections it accepts to the io_contexts in turn (no SO_REUSEPORT: a
// second broker on the same port fails to bind instead of sharing it), and
// per connection a reader and a writer coroutine. A frame's buffer grows as
// its bytes arrive, charged to the broker-wide RequestBudget. Requests start one at a time in arrival
// order; a produce request lets the next start once its appends are queued
// in storage, so a client's pipelined produce requests overlap their waits
// for storage. Responses always leave in request order. On SSL and SASL_SSL
// listeners the same runs over a TLS stream after a handshake that has a
// deadline of its own.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "core/broker.hpp"
#include "net/frame_buffer.hpp"
#include "net/request_budget.hpp"
#include "net/tls_context.hpp"

namespace kwire_broker {

class Server {
 public:
  Server(Broker& broker, std::vector<asio::io_context*> ios);
  /// Binds every listener on every io_context; throws on failure.
  void start();
  /// Stops accepting and closes idle connections; busy ones close after
  /// their current response.
  void stop();
  std::size_t open_connections();

  struct Conn;

 private:
  Broker& broker_;
  std::vector<asio::io_context*> ios_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<std::unique_ptr<TlsListener>> tls_;  // per listener; null for plaintext ones
  std::unique_ptr<asio::steady_timer> reload_timer_;  // kwire.ssl.reload.interval.ms
  std::mutex mu_;
  std::set<std::shared_ptr<Conn>> conns_;
  RequestBudget budget_;

  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, std::size_t listener);
  asio::awaitable<void> serve(std::shared_ptr<Conn> conn);
  /// Every kwire.ssl.reload.interval.ms, lets each TLS listener reload
  /// certificate files that changed (TlsListener::reload_if_changed).
  asio::awaitable<void> watch_certificates();
  /// The TLS handshake, cut off after kwire.ssl.handshake.timeout.ms; then
  /// the principal of a client certificate on SSL listeners. Returns why the
  /// connection cannot go on, or an empty string.
  asio::awaitable<std::string> tls_handshake(std::shared_ptr<Conn> conn, const TlsListener& tls);
  /// Reads a frame's body of `size` bytes into `frame`, growing it as bytes
  /// arrive; false if the connection closed while waiting for the budget.
  asio::awaitable<bool> read_body(Conn& c, std::size_t size, FrameBuffer& frame, BudgetCharge& charge);
};

}  // namespace kwire_broker
