// Shared by the tests of kwire_pulsar's client: a client on the test
// standalone, and closing it when a test case's coroutine ends.
#pragma once

#include <chrono>
#include <memory>

#include "kwire_pulsar/client.hpp"
#include "pulsar_env.hpp"

namespace pulsar_test {

/// Closes the client when it goes out of scope.
struct Closer {
  std::shared_ptr<kwire_pulsar::Client> client;
  ~Closer() { client->close(); }
};

/// A client of the test standalone, on the caller's executor.
inline kwire_pulsar::awaitable<std::shared_ptr<kwire_pulsar::Client>> make_client() {
  kwire_pulsar::ClientOptions o;
  o.service_url = service_url();
  o.operation_timeout = std::chrono::seconds(20);
  co_return kwire_pulsar::Client::create(co_await boost::asio::this_coro::executor, o);
}

}  // namespace pulsar_test
