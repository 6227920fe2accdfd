// The client: the pool of connections by broker url, partitioned metadata,
// topic lookup (following redirects), and the creation of producers,
// consumers and readers; with the helpers they share (topic names, sleeping,
// reconnect delays).
#include "kwire_pulsar/client.hpp"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <random>

namespace kwire_pulsar {

using asio::use_awaitable;
using detail::broker_error;

std::chrono::milliseconds detail::jittered(std::chrono::milliseconds d) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<long> dist(0, std::max<long>(1, static_cast<long>(d.count() / 5)));
  return d + std::chrono::milliseconds(dist(rng));
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
}

std::string full_topic_name(const std::string& topic) {
  if (topic.find("://") != std::string::npos) return topic;
  if (std::count(topic.begin(), topic.end(), '/') == 2) return "persistent://" + topic;
  return "persistent://public/default/" + topic;
}

std::shared_ptr<Client> Client::create(Executor ex, ClientOptions options) {
  return std::shared_ptr<Client>(new Client(ex, std::move(options)));
}

Client::Client(Executor ex, ClientOptions options) : ex_(ex), options_(std::move(options)) {}

Client::~Client() { close(); }

void Client::close() {
  if (closed_) return;
  closed_ = true;
  auto pool = std::move(pool_);
  pool_.clear();
  for (auto& [url, c] : pool) c->close();
}

awaitable<std::shared_ptr<Connection>> Client::connection(const std::string& url) {
  if (closed_) throw Error(Error::client_closed, "client closed");
  if (auto it = pool_.find(url); it != pool_.end() && it->second->is_open()) co_return it->second;
  std::shared_ptr<asio::ssl::context> tls;
  if (is_tls_url(url)) {
    if (!tls_context_) tls_context_ = make_tls_context(options_.tls);
    tls = tls_context_;
  }
  auto c = std::make_shared<Connection>(ex_, url, options_, std::move(tls));
  co_await c->open();
  // Another coroutine may have connected meanwhile: keep the first.
  if (auto it = pool_.find(url); it != pool_.end() && it->second->is_open()) {
    c->close();
    co_return it->second;
  }
  pool_[url] = c;
  co_return c;
}

awaitable<std::uint32_t> Client::partitions(const std::string& topic) {
  auto c = co_await connection(options_.service_url);
  const auto rid = c->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::PARTITIONED_METADATA);
  auto* m = cmd.mutable_partitionmetadata();
  m->set_topic(full_topic_name(topic));
  m->set_request_id(rid);
  auto r = co_await c->request(encode_command(cmd), rid, options_.operation_timeout);
  const auto& resp = r.partitionmetadataresponse();
  if (resp.response() == wire::CommandPartitionedTopicMetadataResponse::Failed)
    throw broker_error(resp.error(), resp.message());
  co_return resp.partitions();
}

// A client that reached the cluster over TLS goes on over TLS: to the
// broker's TLS url, which lookups answer besides the plain one.
std::string Client::broker_url(const wire::CommandLookupTopicResponse& r) const {
  if (!is_tls_url(options_.service_url)) return r.brokerserviceurl();
  if (!r.has_brokerserviceurltls() || r.brokerserviceurltls().empty())
    throw Error(Error::client_lookup, "the broker " + r.brokerserviceurl() + " has no TLS url");
  return r.brokerserviceurltls();
}

awaitable<std::shared_ptr<Connection>> Client::connection_for(const std::string& topic) {
  std::string url = options_.service_url;
  bool authoritative = false;
  for (int hop = 0; hop < 20; ++hop) {
    auto c = co_await connection(url);
    const auto rid = c->next_request_id();
    wire::BaseCommand cmd;
    cmd.set_type(wire::BaseCommand::LOOKUP);
    auto* l = cmd.mutable_lookuptopic();
    l->set_topic(full_topic_name(topic));
    l->set_request_id(rid);
    l->set_authoritative(authoritative);
    auto r = co_await c->request(encode_command(cmd), rid, options_.operation_timeout);
    const auto& resp = r.lookuptopicresponse();
    switch (resp.response()) {
      case wire::CommandLookupTopicResponse::Connect:
        if (resp.proxy_through_service_url()) co_return co_await connection(options_.service_url);
        co_return co_await connection(broker_url(resp));
      case wire::CommandLookupTopicResponse::Redirect:
        url = broker_url(resp);
        authoritative = resp.authoritative();
        continue;
      case wire::CommandLookupTopicResponse::Failed:
      default:
        throw broker_error(resp.error(), "lookup " + topic + ": " + resp.message());
    }
  }
  throw Error(Error::client_lookup, "lookup " + topic + ": too many redirects");
}

awaitable<std::shared_ptr<Producer>> Client::create_producer(ProducerOptions options) {
  auto p = std::make_shared<Producer>(shared_from_this(), std::move(options), next_object_id());
  co_await p->connect();
  co_return p;
}

awaitable<std::shared_ptr<Consumer>> Client::subscribe(ConsumerOptions options) {
  auto c = std::make_shared<Consumer>(shared_from_this(), std::move(options), next_object_id());
  co_await c->connect();
  co_return c;
}

awaitable<std::shared_ptr<Consumer>> Client::create_reader(const std::string& topic, MessageId start,
                                                           std::uint32_t receiver_queue) {
  ConsumerOptions o;
  o.topic = topic;
  o.subscription = "kwire-reader-" + std::to_string(next_object_id_);
  o.durable = false;
  o.start_message_id = start;
  o.initial_position = InitialPosition::earliest;
  o.receiver_queue = receiver_queue;
  co_return co_await subscribe(std::move(o));
}

}  // namespace kwire_pulsar
