// kwire-broker: a Kafka broker built on kwire's codec.
//
//   kwire-broker [server.properties] [--override key=value]... [--key=value]...
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>


#include <csignal>
#include <thread>

#include "core/allocator.hpp"
#include "core/broker.hpp"
#include "core/log.hpp"
#include "handlers/sasl.hpp"
#include "net/server.hpp"
#include "storage/open.hpp"

namespace kb = kwire_broker;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> maintenance(kb::Broker& broker) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (!broker.stopping()) {
    t.expires_after(std::chrono::milliseconds(500));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (broker.stopping()) break;
    try {
      co_await broker.maintain();
    } catch (const std::exception& e) {
      KB_ERROR("storage maintenance: {}", e.what());
    }
  }
}

asio::awaitable<void> shut_down(kb::Broker& broker, kb::Server& server,
                                std::vector<std::unique_ptr<asio::io_context>>& ios) {
  KB_INFO("shutting down: finishing in-flight requests");
  broker.begin_shutdown();
  server.stop();
  asio::steady_timer t(co_await asio::this_coro::executor);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(broker.settings().shutdown_timeout_ms);
  while (server.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::use_awaitable);
  }
  if (auto n = server.open_connections()) KB_WARN("{} connection(s) still open at shutdown", n);
  co_await broker.close_storage();
  KB_INFO("storage closed; bye");
  for (auto& io : ios) io->stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  kwire_broker::tune_allocator();
  try {
    auto props = kb::parse_command_line(argc, argv);
    if (!props) return 0;
    kb::Settings st = kb::make_settings(*props);
    if (st.log_level == "debug") kb::log_threshold() = static_cast<int>(kb::Level::debug);
    if (st.log_level == "warn") kb::log_threshold() = static_cast<int>(kb::Level::warn);
    if (st.log_level == "error") kb::log_threshold() = static_cast<int>(kb::Level::error);

    std::vector<std::unique_ptr<asio::io_context>> ios;
    std::vector<asio::io_context*> raw;
    for (int i = 0; i < st.threads; ++i) {
      ios.push_back(std::make_unique<asio::io_context>(1));
      raw.push_back(ios.back().get());
    }
    auto files = std::make_shared<kb::storage::embedded::FileCache>(kb::storage::max_open_log_files(st));
    kb::Broker broker(st, [&](const kb::storage::Namespace& ns) { return kb::storage::open_storage(st, *props, ns, files); }, raw);
    if (st.storage == "embedded") {
      broker.metrics().open_log_files = [files] { return static_cast<std::int64_t>(files->open_files()); };
      KB_INFO("embedded store keeps at most {} log files open", files->max_open());
    }
    broker.start();
    kb::seed_scram_users(broker);
    kb::Server server(broker, raw);
    server.start();
    if (!st.metrics_listener.empty()) kb::serve_metrics(*ios[0], st.metrics_listener, broker.metrics());
    asio::co_spawn(*ios[0], maintenance(broker), asio::detached);

    asio::signal_set signals(*ios[0], SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      KB_INFO("received signal {}", sig);
      asio::co_spawn(*ios[0], shut_down(broker, server, ios), asio::detached);
    });
    KB_INFO("kwire-broker node {} started with {} thread(s)", st.node_id, st.threads);

    std::vector<std::thread> threads;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& io : ios) guards.push_back(asio::make_work_guard(*io));
    for (std::size_t i = 1; i < ios.size(); ++i) threads.emplace_back([&io = *ios[i]] { io.run(); });
    ios[0]->run();
    for (auto& io : ios) io->stop();
    for (auto& t : threads) t.join();
    return 0;
  } catch (const std::exception& e) {
    kb::log(kb::Level::error, "fatal: {}", e.what());
    return 1;
  }
}
