// Gateway membership through Pulsar: every kwire-broker in front of the same
// Pulsar namespace announces itself once a second on a non-persistent topic
// and reads everyone's announcements. A gateway silent for `expiry` has left
// (killed, partitioned away); one shutting down says so at once. Nothing is
// stored: membership is what the live gateways say now.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "../storage.hpp"
#include "kwire_pulsar/client.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarMembership final : public Membership {
 public:
  PulsarMembership(std::shared_ptr<kwire_pulsar::Client> client, std::string topic,
                   std::chrono::milliseconds interval = std::chrono::seconds(1),
                   std::chrono::milliseconds expiry = std::chrono::seconds(4));

  /// Blocks for about one announcement interval: the others are heard
  /// before this gateway serves.
  void join_at_startup(Gateway self) override;
  std::vector<Gateway> gateways() const override;

  /// Says goodbye (so the others take over at once) and stops; on the I/O
  /// thread.
  boost::asio::awaitable<void> leave();

 private:
  boost::asio::awaitable<void> announce_loop();
  boost::asio::awaitable<void> listen_loop();
  boost::asio::awaitable<void> announce(bool leaving);
  void heard(const std::string& json);

  std::shared_ptr<kwire_pulsar::Client> client_;
  std::string topic_;
  std::chrono::milliseconds interval_, expiry_;
  std::shared_ptr<kwire_pulsar::Producer> producer_;
  bool stopped_ = false;

  mutable std::mutex mu_;
  std::optional<Gateway> self_;
  struct Seen {
    Gateway gateway;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::int32_t, Seen> others_;
};

}  // namespace kwire_broker::storage::pulsar
