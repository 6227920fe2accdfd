// Listeners and client connections: one acceptor per listener and io_context
// (SO_REUSEPORT spreads connections over the cores), and per connection a
// reader and a writer coroutine. Requests start one at a time in arrival
// order; a produce request lets the next start once its appends are queued
// in storage, so a client's pipelined produce requests overlap their waits
// for storage. Responses always leave in request order.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "broker.hpp"

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
  std::mutex mu_;
  std::set<std::shared_ptr<Conn>> conns_;

  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, std::size_t listener);
  asio::awaitable<void> serve(std::shared_ptr<Conn> conn);
};

}  // namespace kwire_broker
