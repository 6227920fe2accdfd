#include "gateways.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

namespace kwire_broker::storage::pulsar {

namespace asio = boost::asio;
namespace kp = kwire_pulsar;
using nlohmann::json;

PulsarMembership::PulsarMembership(std::shared_ptr<kp::Client> client, std::string topic,
                                   std::chrono::milliseconds interval, std::chrono::milliseconds expiry)
    : client_(std::move(client)), topic_(std::move(topic)), interval_(interval), expiry_(expiry) {}

void PulsarMembership::join_at_startup(Gateway self) {
  {
    std::lock_guard g(mu_);
    self_ = std::move(self);
  }
  asio::co_spawn(client_->executor(), listen_loop(), asio::detached);
  asio::co_spawn(client_->executor(), announce_loop(), asio::detached);
  // Hear the others before serving, so as not to claim their partitions for
  // the first second.
  std::this_thread::sleep_for(interval_ + std::chrono::milliseconds(300));
}

std::vector<Gateway> PulsarMembership::gateways() const {
  std::lock_guard g(mu_);
  std::vector<Gateway> out;
  const auto now = std::chrono::steady_clock::now();
  if (self_) out.push_back(*self_);
  for (const auto& [id, s] : others_)
    if (now - s.at <= expiry_ && (!self_ || id != self_->node_id)) out.push_back(s.gateway);
  std::sort(out.begin(), out.end(), [](const Gateway& a, const Gateway& b) { return a.node_id < b.node_id; });
  return out;
}

asio::awaitable<void> PulsarMembership::announce(bool leaving) {
  Gateway self;
  {
    std::lock_guard g(mu_);
    if (!self_) co_return;
    self = *self_;
  }
  if (!producer_ || producer_->fenced()) {
    kp::ProducerOptions o;
    o.topic = topic_;
    producer_ = co_await client_->create_producer(o);
  }
  json eps = json::array();
  for (const auto& e : self.endpoints) eps.push_back({{"listener", e.listener}, {"host", e.host}, {"port", e.port}});
  kp::OutgoingMessage m;
  m.key = std::to_string(self.node_id);
  m.value = json{{"node_id", self.node_id}, {"endpoints", eps}, {"leaving", leaving}}.dump();
  co_await producer_->send(std::move(m));
}

asio::awaitable<void> PulsarMembership::announce_loop() {
  while (!stopped_ && !client_->closed()) {
    try {
      co_await announce(false);
    } catch (const std::exception&) {
      producer_.reset();  // Pulsar away: the others expire us meanwhile
    }
    co_await kp::sleep_for(interval_);
  }
}

void PulsarMembership::heard(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  Gateway g;
  g.node_id = j.value("node_id", -1);
  if (g.node_id < 0) return;
  if (j.contains("endpoints") && j["endpoints"].is_array())
    for (const auto& e : j["endpoints"])
      if (e.is_object())
        g.endpoints.push_back({e.value("listener", std::string()), e.value("host", std::string()), e.value("port", 0)});
  std::lock_guard l(mu_);
  if (j.value("leaving", false)) {
    others_.erase(g.node_id);
  } else {
    others_[g.node_id] = {std::move(g), std::chrono::steady_clock::now()};
  }
}

asio::awaitable<void> PulsarMembership::listen_loop() {
  std::shared_ptr<kp::Consumer> c;
  while (!stopped_ && !client_->closed()) {
    try {
      if (!c) {
        kp::ConsumerOptions o;
        o.topic = topic_;
        o.subscription = "kwire-gateway-" + std::to_string(client_->next_object_id()) + "-" +
                         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
        o.durable = false;
        o.start_message_id = kp::MessageId::latest();
        c = co_await client_->subscribe(o);
      }
      auto m = co_await c->receive(interval_);
      if (m && !m->null_value) heard(m->value);
      continue;
    } catch (const std::exception&) {
      c.reset();
    }
    co_await kp::sleep_for(interval_);
  }
  if (c) {
    try {
      co_await c->close();
    } catch (const std::exception&) {
    }
  }
}

asio::awaitable<void> PulsarMembership::leave() {
  if (stopped_) co_return;
  stopped_ = true;
  try {
    if (producer_) co_await announce(true);
  } catch (const std::exception&) {
  }
}

}  // namespace kwire_broker::storage::pulsar
