#include "kwire_pulsar/client.hpp"
#include "kwire_pulsar/compression.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <random>

namespace kwire_pulsar {

using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds forever{std::chrono::hours(24 * 365)};

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::pair<std::string, std::string> split_url(const std::string& url) {
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  if (auto p = rest.find('/'); p != std::string::npos) rest = rest.substr(0, p);
  // Several hosts (a,b:6650): take the first.
  if (auto p = rest.find(','); p != std::string::npos) rest = rest.substr(0, p);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return {rest, "6650"};
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

Error broker_error(int code, const std::string& msg) {
  return Error(code, wire::ServerError_Name(static_cast<wire::ServerError>(code)) + ": " + msg);
}

// A one-shot slot a coroutine waits on: filled by the reader, the waiter is
// woken by cancelling its timer. Single-threaded use only.
template <class T>
struct Slot {
  explicit Slot(Executor ex) : timer(ex) {}
  std::optional<T> value;
  std::optional<Error> error;
  asio::steady_timer timer;
  void fill(T v) {
    value = std::move(v);
    timer.cancel();
  }
  void fail(Error e) {
    error = std::move(e);
    timer.cancel();
  }
  awaitable<T> wait(std::chrono::milliseconds timeout, const char* what) {
    if (!value && !error) {
      timer.expires_after(timeout);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    if (error) throw *error;
    if (!value) throw Error(Error::client_timeout, std::string("timed out waiting for ") + what);
    co_return std::move(*value);
  }
};

std::chrono::milliseconds jittered(std::chrono::milliseconds d) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<long> dist(0, std::max<long>(1, static_cast<long>(d.count() / 5)));
  return d + std::chrono::milliseconds(dist(rng));
}

}  // namespace

bool Error::retriable() const noexcept {
  switch (code_) {
    case client_timeout:
    case client_disconnected:
    case client_lookup:
    case wire::ServiceNotReady:
    case wire::TooManyRequests:
    case wire::MetadataError:
    case wire::PersistenceError:
    case wire::UnknownError:
      return true;
    default:
      return false;
  }
}

std::string MessageId::str() const {
  if (is_earliest()) return "earliest";
  std::string s = std::to_string(ledger) + ":" + std::to_string(entry);
  if (partition >= 0 || batch_index >= 0) s += ":" + std::to_string(partition);
  if (batch_index >= 0) s += ":" + std::to_string(batch_index);
  return s;
}

wire::MessageIdData MessageId::to_wire() const {
  wire::MessageIdData d;
  d.set_ledgerid(ledger);
  d.set_entryid(entry);
  if (partition >= 0) d.set_partition(partition);
  if (batch_index >= 0) d.set_batch_index(batch_index);
  return d;
}

MessageId MessageId::from_wire(const wire::MessageIdData& d) {
  return {d.ledgerid(), d.entryid(), d.partition(), d.batch_index()};
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

// ---------------------------------------------------------------------------
// Connection

struct Connection::Pending {
  explicit Pending(Executor ex) : slot(ex) {}
  Slot<wire::BaseCommand> slot;
};

Connection::Connection(Executor ex, std::string url, const ClientOptions& options)
    : ex_(ex), url_(std::move(url)), options_(options), socket_(ex), write_signal_(ex), keepalive_timer_(ex) {}

Connection::~Connection() = default;

awaitable<void> Connection::open() {
  auto [host, port] = split_url(url_);
  asio::ip::tcp::resolver resolver(ex_);
  auto endpoints = co_await resolver.async_resolve(host, port, use_awaitable);
  {
    // Bound the connect by the connect timeout.
    auto self = shared_from_this();
    asio::steady_timer guard(ex_);
    guard.expires_after(options_.connect_timeout);
    guard.async_wait([self](boost::system::error_code ec) {
      if (!ec && !self->open_) {
        boost::system::error_code ignored;
        self->socket_.close(ignored);
      }
    });
    boost::system::error_code ec;
    co_await asio::async_connect(socket_, endpoints, asio::redirect_error(use_awaitable, ec));
    guard.cancel();
    if (ec) throw Error(Error::client_disconnected, "connect to " + url_ + ": " + ec.message());
  }
  socket_.set_option(asio::ip::tcp::no_delay(true));

  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::CONNECT);
  auto* c = cmd.mutable_connect();
  c->set_client_version(options_.client_version);
  c->set_protocol_version(protocol_version);
  c->mutable_feature_flags()->set_supports_broker_entry_metadata(true);
  if (!options_.auth_token.empty()) {
    c->set_auth_method_name("token");
    c->set_auth_data(options_.auth_token);
  }
  auto frame = encode_command(cmd);
  co_await asio::async_write(socket_, asio::buffer(frame), use_awaitable);

  // Read frames until CONNECTED (an auth challenge may come first).
  last_received_ = Clock::now();
  for (;;) {
    std::uint8_t size_bytes[4];
    boost::system::error_code ec;
    co_await asio::async_read(socket_, asio::buffer(size_bytes), asio::redirect_error(use_awaitable, ec));
    if (ec) throw Error(Error::client_disconnected, "connect to " + url_ + ": " + ec.message());
    const std::uint32_t size = get_u32(size_bytes);
    if (size > max_frame_size) throw Error(Error::client_protocol, "oversized frame from " + url_);
    std::vector<std::uint8_t> body(size);
    co_await asio::async_read(socket_, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
    if (ec) throw Error(Error::client_disconnected, "connect to " + url_ + ": " + ec.message());
    Frame f;
    if (!decode_frame(body, f)) throw Error(Error::client_protocol, "malformed frame from " + url_);
    if (f.command.type() == wire::BaseCommand::CONNECTED) {
      server_protocol_ = f.command.connected().protocol_version();
      if (f.command.connected().has_max_message_size())
        max_message_size_ = f.command.connected().max_message_size();
      break;
    }
    if (f.command.type() == wire::BaseCommand::ERROR)
      throw broker_error(f.command.error().error(), f.command.error().message());
    if (f.command.type() == wire::BaseCommand::AUTH_CHALLENGE) {
      wire::BaseCommand r;
      r.set_type(wire::BaseCommand::AUTH_RESPONSE);
      auto* ar = r.mutable_authresponse();
      ar->set_client_version(options_.client_version);
      ar->set_protocol_version(protocol_version);
      ar->mutable_response()->set_auth_method_name("token");
      ar->mutable_response()->set_auth_data(options_.auth_token);
      auto rf = encode_command(r);
      co_await asio::async_write(socket_, asio::buffer(rf), use_awaitable);
      continue;
    }
    throw Error(Error::client_protocol, "unexpected command before CONNECTED from " + url_);
  }
  open_ = true;
  auto self = shared_from_this();
  asio::co_spawn(ex_, [self]() { return self->read_loop(); }, asio::detached);
  asio::co_spawn(ex_, [self]() { return self->write_loop(); }, asio::detached);
  asio::co_spawn(ex_, [self]() { return self->keepalive_loop(); }, asio::detached);
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  open_ = false;
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  write_signal_.cancel();
  keepalive_timer_.cancel();
  fail_all();
}

void Connection::fail_all() {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p->slot.fail(Error(Error::client_disconnected, "connection to " + url_ + " lost"));
  // Producers and consumers reconnect on their own; take copies since their
  // handlers detach themselves.
  auto producers = std::move(producers_);
  auto consumers = std::move(consumers_);
  producers_.clear();
  consumers_.clear();
  for (auto& [id, h] : producers) h.second();
  for (auto& [id, h] : consumers) h.second();
}

void Connection::send(std::string frame) {
  if (!open_) return;
  write_queue_.push_back(std::move(frame));
  write_signal_.cancel_one();
}

awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  while (open_) {
    if (write_queue_.empty()) {
      write_signal_.expires_after(forever);
      boost::system::error_code ec;
      co_await write_signal_.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    // Gather what is queued into one write.
    std::string buf;
    while (!write_queue_.empty() && buf.size() < (1u << 20)) {
      buf += write_queue_.front();
      write_queue_.pop_front();
    }
    boost::system::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      close();
      co_return;
    }
  }
}

awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  std::vector<std::uint8_t> body;
  while (open_) {
    std::uint8_t size_bytes[4];
    boost::system::error_code ec;
    co_await asio::async_read(socket_, asio::buffer(size_bytes), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    const std::uint32_t size = get_u32(size_bytes);
    if (size > max_frame_size) break;
    body.resize(size);
    co_await asio::async_read(socket_, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    last_received_ = Clock::now();
    Frame f;
    if (!decode_frame(body, f)) break;
    dispatch(f);
  }
  close();
}

awaitable<void> Connection::keepalive_loop() {
  auto self = shared_from_this();
  while (open_) {
    keepalive_timer_.expires_after(options_.keepalive_interval);
    boost::system::error_code ec;
    co_await keepalive_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!open_) break;
    if (Clock::now() - last_received_ > 2 * options_.keepalive_interval) {
      close();  // the broker stopped answering pings
      break;
    }
    wire::BaseCommand ping;
    ping.set_type(wire::BaseCommand::PING);
    ping.mutable_ping();
    send(encode_command(ping));
  }
}

void Connection::complete(std::uint64_t request_id, wire::BaseCommand& cmd) {
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  auto p = it->second;
  pending_.erase(it);
  p->slot.fill(std::move(cmd));  // cmd is the reader's frame: taken here
}

void Connection::dispatch(Frame& f) {
  auto& c = f.command;
  using T = wire::BaseCommand;
  switch (c.type()) {
    case T::PING: {
      wire::BaseCommand pong;
      pong.set_type(T::PONG);
      pong.mutable_pong();
      send(encode_command(pong));
      break;
    }
    case T::PONG:
      break;
    case T::SUCCESS:
      complete(c.success().request_id(), c);
      break;
    case T::ERROR:
      complete(c.error().request_id(), c);
      break;
    case T::PRODUCER_SUCCESS:
      // A producer waiting for exclusive access gets a first answer with
      // producer_ready=false; the request completes with the second.
      if (c.producer_success().has_producer_ready() && !c.producer_success().producer_ready()) break;
      complete(c.producer_success().request_id(), c);
      break;
    case T::PARTITIONED_METADATA_RESPONSE:
      complete(c.partitionmetadataresponse().request_id(), c);
      break;
    case T::LOOKUP_RESPONSE:
      complete(c.lookuptopicresponse().request_id(), c);
      break;
    case T::GET_LAST_MESSAGE_ID_RESPONSE:
      complete(c.getlastmessageidresponse().request_id(), c);
      break;
    case T::ACK_RESPONSE:
      if (c.ackresponse().has_request_id()) complete(c.ackresponse().request_id(), c);
      break;
    case T::SEND_RECEIPT:
    case T::SEND_ERROR: {
      const auto pid = c.type() == T::SEND_RECEIPT ? c.send_receipt().producer_id() : c.send_error().producer_id();
      if (auto it = producers_.find(pid); it != producers_.end()) {
        auto h = it->second.first;
        h(f);
      }
      break;
    }
    case T::CLOSE_PRODUCER:
      if (auto it = producers_.find(c.close_producer().producer_id()); it != producers_.end()) {
        auto h = it->second.second;
        producers_.erase(it);
        h();
      }
      break;
    case T::MESSAGE:
    case T::REACHED_END_OF_TOPIC:
    case T::ACTIVE_CONSUMER_CHANGE: {
      std::uint64_t cid = c.type() == T::MESSAGE                ? c.message().consumer_id()
                          : c.type() == T::REACHED_END_OF_TOPIC ? c.reachedendoftopic().consumer_id()
                                                                : c.active_consumer_change().consumer_id();
      if (auto it = consumers_.find(cid); it != consumers_.end()) {
        auto h = it->second.first;
        h(f);
      }
      break;
    }
    case T::CLOSE_CONSUMER:
      if (auto it = consumers_.find(c.close_consumer().consumer_id()); it != consumers_.end()) {
        auto h = it->second.second;
        consumers_.erase(it);
        h();
      }
      break;
    case T::AUTH_CHALLENGE: {
      wire::BaseCommand r;
      r.set_type(T::AUTH_RESPONSE);
      auto* ar = r.mutable_authresponse();
      ar->set_client_version(options_.client_version);
      ar->set_protocol_version(protocol_version);
      ar->mutable_response()->set_auth_method_name("token");
      ar->mutable_response()->set_auth_data(options_.auth_token);
      send(encode_command(r));
      break;
    }
    default:
      break;
  }
}

awaitable<wire::BaseCommand> Connection::request(std::string frame, std::uint64_t request_id,
                                                 std::chrono::milliseconds timeout) {
  if (!open_) throw Error(Error::client_disconnected, "connection to " + url_ + " is closed");
  auto self = shared_from_this();
  auto p = std::make_shared<Pending>(ex_);
  pending_[request_id] = p;
  send(std::move(frame));
  try {
    auto cmd = co_await p->slot.wait(timeout, "a broker response");
    if (cmd.type() == wire::BaseCommand::ERROR) throw broker_error(cmd.error().error(), cmd.error().message());
    co_return cmd;
  } catch (const Error& e) {
    pending_.erase(request_id);
    throw;
  }
}

void Connection::attach_producer(std::uint64_t id, FrameHandler on_frame, CloseHandler on_close) {
  producers_[id] = {std::move(on_frame), std::move(on_close)};
}
void Connection::attach_consumer(std::uint64_t id, FrameHandler on_frame, CloseHandler on_close) {
  consumers_[id] = {std::move(on_frame), std::move(on_close)};
}
void Connection::detach_producer(std::uint64_t id) { producers_.erase(id); }
void Connection::detach_consumer(std::uint64_t id) { consumers_.erase(id); }

// ---------------------------------------------------------------------------
// Client

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
  auto c = std::make_shared<Connection>(ex_, url, options_);
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
        co_return co_await connection(resp.brokerserviceurl());
      case wire::CommandLookupTopicResponse::Redirect:
        url = resp.brokerserviceurl();
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

// ---------------------------------------------------------------------------
// Producer

struct Producer::InFlight {
  explicit InFlight(Executor ex) : slot(ex) {}
  std::uint64_t sequence_id = 0;
  wire::MessageMetadata metadata;
  std::string payload;
  int num_messages = 1;
  Slot<SendReceipt> slot;
};

Producer::Producer(std::shared_ptr<Client> client, ProducerOptions options, std::uint64_t id)
    : client_(std::move(client)), options_(std::move(options)), id_(id), name_(options_.name) {}

Producer::~Producer() {
  if (cnx_) cnx_->detach_producer(id_);
}

awaitable<void> Producer::connect() {
  auto c = co_await client_->connection_for(options_.topic);
  const auto rid = c->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::PRODUCER);
  auto* p = cmd.mutable_producer();
  p->set_topic(full_topic_name(options_.topic));
  p->set_producer_id(id_);
  p->set_request_id(rid);
  if (!name_.empty()) p->set_producer_name(name_);
  p->set_user_provided_producer_name(!options_.name.empty());
  p->set_epoch(epoch_);
  p->set_producer_access_mode(static_cast<wire::ProducerAccessMode>(options_.access_mode));
  if (topic_epoch_) p->set_topic_epoch(*topic_epoch_);
  for (auto& [k, v] : options_.metadata) {
    auto* kv = p->add_metadata();
    kv->set_key(k);
    kv->set_value(v);
  }
  // Attach before the request: a receipt can follow PRODUCER_SUCCESS at once.
  std::weak_ptr<Producer> weak = shared_from_this();
  c->attach_producer(
      id_, [weak](Frame& f) { if (auto s = weak.lock()) s->on_frame(f); },
      [weak]() { if (auto s = weak.lock()) s->on_disconnect(); });
  wire::BaseCommand r;
  try {
    r = co_await c->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (const Error& e) {
    c->detach_producer(id_);
    if (e.code() == wire::ProducerFenced || e.code() == wire::ProducerBusy) fenced_ = true;
    throw;
  }
  const auto& ok = r.producer_success();
  name_ = ok.producer_name();
  last_sequence_id_ = ok.last_sequence_id();
  if (ok.has_topic_epoch()) topic_epoch_ = ok.topic_epoch();
  const std::uint64_t next = static_cast<std::uint64_t>(last_sequence_id_ + 1);
  if (in_flight_.empty()) next_sequence_id_ = std::max(next_sequence_id_, next);
  cnx_ = c;
  // Resend what the previous connection did not confirm, in order; the
  // broker's deduplication drops what it had stored already.
  for (auto& f : in_flight_) {
    wire::BaseCommand send;
    send.set_type(wire::BaseCommand::SEND);
    send.mutable_send()->set_producer_id(id_);
    send.mutable_send()->set_sequence_id(f->sequence_id);
    if (f->num_messages != 1) send.mutable_send()->set_num_messages(f->num_messages);
    c->send(encode_payload_command(send, f->metadata, f->payload));
  }
}

awaitable<SendReceipt> Producer::send(OutgoingMessage m) {
  wire::MessageMetadata meta;
  if (m.key) meta.set_partition_key(*m.key);
  if (m.null_value) meta.set_null_value(true);
  if (m.event_time) meta.set_event_time(m.event_time);
  for (auto& [k, v] : m.properties) {
    auto* kv = meta.add_properties();
    kv->set_key(k);
    kv->set_value(v);
  }
  co_return co_await send_entry(std::move(meta), std::move(m.value), 1);
}

awaitable<SendReceipt> Producer::send_batch(std::vector<OutgoingMessage> ms) {
  wire::MessageMetadata meta;
  std::string payload;
  for (auto& m : ms) {
    wire::SingleMessageMetadata sm;
    if (m.key) sm.set_partition_key(*m.key);
    if (m.null_value) sm.set_null_value(true);
    if (m.event_time) sm.set_event_time(m.event_time);
    for (auto& [k, v] : m.properties) {
      auto* kv = sm.add_properties();
      kv->set_key(k);
      kv->set_value(v);
    }
    sm.set_payload_size(static_cast<int>(m.value.size()));
    append_to_batch(payload, sm, m.value);
  }
  const int n = static_cast<int>(ms.size());
  meta.set_num_messages_in_batch(n);
  co_return co_await send_entry(std::move(meta), std::move(payload), n);
}

awaitable<SendReceipt> Producer::send_entry(wire::MessageMetadata meta, std::string payload, int num_messages) {
  auto pending = post_entry(std::move(meta), std::move(payload), num_messages);
  co_return co_await pending.receipt();
}

Producer::PendingSend Producer::post_entry(wire::MessageMetadata meta, std::string payload, int num_messages) {
  if (closed_) throw Error(Error::client_closed, "producer closed");
  if (fenced_) throw Error(wire::ProducerFenced, "producer fenced on " + options_.topic);
  meta.set_producer_name(name_);
  meta.set_sequence_id(next_sequence_id_);
  meta.set_publish_time(now_ms());
  if (meta.has_num_messages_in_batch() || num_messages != 1) meta.set_num_messages_in_batch(num_messages);
  // The broker would close the connection on a frame past its limit, or
  // worse, take it and fail to store it: refuse it here, as Pulsar's own
  // clients do (metadata as sent, with the fields set above).
  const auto size = meta.ByteSizeLong() + payload.size();
  if (cnx_ && size > static_cast<std::size_t>(cnx_->max_message_size()))
    throw Error(Error::client_message_too_large, "message of " + std::to_string(size) + " bytes exceeds the broker's " +
                                                     std::to_string(cnx_->max_message_size()) + " on " +
                                                     options_.topic);
  auto f = std::make_shared<InFlight>(client_->executor());
  f->sequence_id = next_sequence_id_++;
  f->metadata = std::move(meta);
  f->payload = std::move(payload);
  f->num_messages = num_messages;
  in_flight_.push_back(f);
  if (cnx_ && cnx_->is_open() && !reconnecting_) {
    wire::BaseCommand send;
    send.set_type(wire::BaseCommand::SEND);
    send.mutable_send()->set_producer_id(id_);
    send.mutable_send()->set_sequence_id(f->sequence_id);
    if (num_messages != 1) send.mutable_send()->set_num_messages(num_messages);
    cnx_->send(encode_payload_command(send, f->metadata, f->payload));
  }
  PendingSend p;
  p.producer_ = shared_from_this();
  p.flight_ = std::move(f);
  return p;
}

awaitable<SendReceipt> Producer::PendingSend::receipt() {
  // Resent across reconnects until confirmed or failed; the timeout bounds
  // the wait of this caller only.
  co_return co_await flight_->slot.wait(producer_->client_->options().operation_timeout * 4, "a send receipt");
}

void Producer::on_frame(Frame& f) {
  if (f.command.type() == wire::BaseCommand::SEND_RECEIPT) {
    const auto& r = f.command.send_receipt();
    // Receipts come in order; drop in-flight entries they confirm.
    while (!in_flight_.empty() && in_flight_.front()->sequence_id <= r.sequence_id()) {
      auto fl = in_flight_.front();
      in_flight_.pop_front();
      if (fl->sequence_id == r.sequence_id()) {
        SendReceipt rc;
        rc.sequence_id = r.sequence_id();
        if (r.has_message_id()) {
          rc.id = MessageId::from_wire(r.message_id());
          // A duplicate's receipt says -1:-1; keep one form of "no position".
          if (rc.id.ledger == ~std::uint64_t{0} || rc.id.entry == ~std::uint64_t{0}) rc.id = MessageId::earliest();
        }
        fl->slot.fill(rc);
      } else {
        fl->slot.fail(Error(Error::client_protocol, "receipt skipped a sequence id"));
      }
    }
  } else {
    const auto& e = f.command.send_error();
    if (e.error() == wire::ChecksumError) {
      // Only that message is dropped by the broker.
      for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
        if ((*it)->sequence_id == e.sequence_id()) {
          auto fl = *it;
          in_flight_.erase(it);
          fl->slot.fail(broker_error(e.error(), e.message()));
          break;
        }
      }
    } else {
      // Other send errors close the producer on the broker: fail everything,
      // reconnect for later sends.
      if (e.error() == wire::ProducerFenced || e.error() == wire::TopicTerminatedError) fenced_ = true;
      fail_pending(broker_error(e.error(), e.message()));
      on_disconnect();
    }
  }
}

void Producer::fail_pending(const Error& e) {
  auto fl = std::move(in_flight_);
  in_flight_.clear();
  for (auto& f : fl) f->slot.fail(e);
}

void Producer::on_disconnect() {
  if (closed_ || reconnecting_) return;
  if (cnx_) cnx_->detach_producer(id_);
  cnx_.reset();
  if (fenced_) {
    fail_pending(Error(wire::ProducerFenced, "producer fenced on " + options_.topic));
    return;
  }
  reconnecting_ = true;
  asio::co_spawn(client_->executor(), [self = shared_from_this()]() { return self->reconnect_loop(); },
                 asio::detached);
}

awaitable<void> Producer::reconnect_loop() {
  auto backoff = client_->options().initial_backoff;
  while (!closed_ && !client_->closed()) {
    co_await sleep_for(jittered(backoff));
    try {
      ++epoch_;
      reconnecting_ = false;  // connect() resends the in-flight entries
      co_await connect();
      co_return;
    } catch (const Error& e) {
      reconnecting_ = true;
      if (fenced_ || !e.retriable()) {
        fenced_ = fenced_ || e.code() == wire::ProducerFenced || e.code() == wire::ProducerBusy;
        fail_pending(e);
        reconnecting_ = false;
        co_return;
      }
    } catch (const std::exception& e) {
      reconnecting_ = true;
    }
    backoff = std::min(backoff * 2, client_->options().max_backoff);
  }
  reconnecting_ = false;
}

awaitable<void> Producer::close() {
  if (closed_) co_return;
  closed_ = true;
  auto self = shared_from_this();
  if (cnx_ && cnx_->is_open()) {
    const auto rid = cnx_->next_request_id();
    wire::BaseCommand cmd;
    cmd.set_type(wire::BaseCommand::CLOSE_PRODUCER);
    cmd.mutable_close_producer()->set_producer_id(id_);
    cmd.mutable_close_producer()->set_request_id(rid);
    try {
      co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
    } catch (const Error&) {
    }
    cnx_->detach_producer(id_);
  }
  fail_pending(Error(Error::client_closed, "producer closed"));
}

// ---------------------------------------------------------------------------
// Consumer

std::vector<Message> entry_messages(const Entry& e) {
  std::vector<Message> out;
  const auto& meta = *e.metadata;
  std::string inflated;
  if (meta.compression() != wire::NONE)
    inflated = decompress_payload(meta.compression(), e.payload, meta.uncompressed_size());
  const std::string& payload = meta.compression() != wire::NONE ? inflated : e.payload;
  auto base = [&](Message& m) {
    m.publish_time = meta.publish_time();
    m.event_time = meta.event_time();
    m.producer_name = meta.producer_name();
    m.sequence_id = meta.sequence_id();
  };
  if (!e.batched()) {
    Message m;
    base(m);
    m.id = e.id;
    if (meta.has_partition_key()) m.key = meta.partition_key();
    m.null_value = meta.null_value();
    m.value = payload;
    for (auto& kv : meta.properties()) m.properties.emplace_back(kv.key(), kv.value());
    m.index = e.index;
    out.push_back(std::move(m));
    return out;
  }
  std::vector<BatchedMessage> parts;
  const int n = meta.num_messages_in_batch();
  if (!split_batch(payload, n, parts)) throw Error(Error::client_protocol, "malformed batch " + e.id.str());
  for (int i = 0; i < n; ++i) {
    auto& p = parts[static_cast<std::size_t>(i)];
    Message m;
    base(m);
    m.id = e.id;
    m.id.batch_index = i;
    if (p.metadata.has_partition_key()) m.key = p.metadata.partition_key();
    m.null_value = p.metadata.null_value();
    if (p.metadata.has_event_time()) m.event_time = p.metadata.event_time();
    if (p.metadata.has_sequence_id()) m.sequence_id = p.metadata.sequence_id();
    for (auto& kv : p.metadata.properties()) m.properties.emplace_back(kv.key(), kv.value());
    m.value = std::move(p.payload);
    if (e.index) m.index = *e.index - static_cast<std::uint64_t>(n - 1 - i);
    out.push_back(std::move(m));
  }
  return out;
}

Consumer::Consumer(std::shared_ptr<Client> client, ConsumerOptions options, std::uint64_t id)
    : client_(std::move(client)), options_(std::move(options)), id_(id), arrival_(client_->executor()) {}

Consumer::~Consumer() {
  if (cnx_) cnx_->detach_consumer(id_);
}

awaitable<void> Consumer::connect() {
  auto c = co_await client_->connection_for(options_.topic);
  const auto rid = c->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::SUBSCRIBE);
  auto* s = cmd.mutable_subscribe();
  s->set_topic(full_topic_name(options_.topic));
  s->set_subscription(options_.subscription);
  s->set_subtype(static_cast<wire::CommandSubscribe::SubType>(options_.type));
  s->set_consumer_id(id_);
  s->set_request_id(rid);
  if (!options_.consumer_name.empty()) s->set_consumer_name(options_.consumer_name);
  s->set_durable(options_.durable);
  s->set_initialposition(static_cast<wire::CommandSubscribe::InitialPosition>(options_.initial_position));
  if (options_.read_compacted) s->set_read_compacted(true);
  if (!options_.durable) {
    // A reader resumes after the last entry it handed out.
    MessageId start = options_.start_message_id.value_or(MessageId::latest());
    if (last_taken_) start = {last_taken_->ledger, last_taken_->entry, -1, -1};
    *s->mutable_start_message_id() = start.to_wire();
  }
  std::weak_ptr<Consumer> weak = shared_from_this();
  c->attach_consumer(
      id_, [weak](Frame& f) { if (auto self = weak.lock()) self->on_frame(f); },
      [weak]() { if (auto self = weak.lock()) self->on_disconnect(); });
  try {
    co_await c->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (const Error&) {
    c->detach_consumer(id_);
    throw;
  }
  cnx_ = c;
  ++generation_;
  // The broker delivers again what a durable subscription had not
  // acknowledged, and a reader resumes after what it took: start afresh.
  queue_.clear();
  split_.clear();
  to_grant_ = 0;
  grant(options_.receiver_queue);
}

void Consumer::grant(std::uint32_t permits) {
  if (!cnx_ || !cnx_->is_open() || permits == 0) return;
  wire::BaseCommand flow;
  flow.set_type(wire::BaseCommand::FLOW);
  flow.mutable_flow()->set_consumer_id(id_);
  flow.mutable_flow()->set_messagepermits(permits);
  cnx_->send(encode_command(flow));
}

void Consumer::consumed(int messages) {
  to_grant_ += static_cast<std::uint32_t>(messages);
  if (to_grant_ >= std::max<std::uint32_t>(1, options_.receiver_queue / 2)) {
    grant(to_grant_);
    to_grant_ = 0;
  }
}

void Consumer::on_frame(Frame& f) {
  if (f.command.type() != wire::BaseCommand::MESSAGE) return;
  if (seeking_ || !f.metadata) return;
  Entry e;
  const auto& m = f.command.message();
  e.id = MessageId::from_wire(m.message_id());
  e.id.batch_index = -1;
  if (f.entry_metadata) {
    if (f.entry_metadata->has_index()) e.index = f.entry_metadata->index();
    if (f.entry_metadata->has_broker_timestamp()) e.broker_timestamp = f.entry_metadata->broker_timestamp();
  }
  e.redelivery_count = m.redelivery_count();
  e.metadata = std::make_shared<const wire::MessageMetadata>(std::move(*f.metadata));
  e.payload = std::move(f.payload);
  if (!f.checksum_ok) return;  // dropped; the broker redelivers unacked entries
  // After a reconnect, a reader can see again what it had taken. (Messages
  // of non-persistent topics have no position: all ids are 0:0.)
  if (!options_.durable && last_taken_ && !(*last_taken_ < e.id) &&
      full_topic_name(options_.topic).rfind("non-persistent://", 0) != 0) {
    consumed(e.message_count());
    return;
  }
  queue_.push_back(std::move(e));
  arrival_.cancel();
  if (on_arrival_) on_arrival_();
}

void Consumer::on_disconnect() {
  if (closed_ || reconnecting_) return;
  if (cnx_) cnx_->detach_consumer(id_);
  cnx_.reset();
  reconnecting_ = true;
  asio::co_spawn(client_->executor(), [self = shared_from_this()]() { return self->reconnect_loop(); },
                 asio::detached);
}

awaitable<void> Consumer::reconnect_loop() {
  auto backoff = client_->options().initial_backoff;
  while (!closed_ && !client_->closed()) {
    co_await sleep_for(jittered(backoff));
    try {
      co_await connect();
      break;
    } catch (const std::exception&) {
    }
    backoff = std::min(backoff * 2, client_->options().max_backoff);
  }
  reconnecting_ = false;
  seeking_ = false;
  arrival_.cancel();
}

awaitable<std::optional<Entry>> Consumer::receive_entry(std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  const auto deadline = Clock::now() + timeout;
  while (queue_.empty()) {
    if (closed_) throw Error(Error::client_closed, "consumer closed");
    const auto now = Clock::now();
    if (now >= deadline) co_return std::nullopt;
    arrival_.expires_after(deadline - now);
    boost::system::error_code ec;
    co_await arrival_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  Entry e = std::move(queue_.front());
  queue_.pop_front();
  last_taken_ = e.id;
  consumed(e.message_count());
  co_return e;
}

awaitable<std::optional<Message>> Consumer::receive(std::chrono::milliseconds timeout) {
  if (split_.empty()) {
    auto e = co_await receive_entry(timeout);
    if (!e) co_return std::nullopt;
    for (auto& m : entry_messages(*e)) split_.push_back(std::move(m));
  }
  if (split_.empty()) co_return std::nullopt;
  Message m = std::move(split_.front());
  split_.pop_front();
  co_return m;
}

void Consumer::acknowledge(const MessageId& id) {
  if (!cnx_ || !cnx_->is_open()) return;
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::ACK);
  auto* a = cmd.mutable_ack();
  a->set_consumer_id(id_);
  a->set_ack_type(wire::CommandAck::Individual);
  MessageId whole = id;
  whole.batch_index = -1;
  *a->add_message_id() = whole.to_wire();
  cnx_->send(encode_command(cmd));
}

void Consumer::acknowledge_cumulative(const MessageId& id) {
  if (!cnx_ || !cnx_->is_open()) return;
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::ACK);
  auto* a = cmd.mutable_ack();
  a->set_consumer_id(id_);
  a->set_ack_type(wire::CommandAck::Cumulative);
  MessageId whole = id;
  whole.batch_index = -1;
  *a->add_message_id() = whole.to_wire();
  cnx_->send(encode_command(cmd));
}

awaitable<void> Consumer::acknowledge_cumulative_confirmed(const MessageId& id) {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::ACK);
  auto* a = cmd.mutable_ack();
  a->set_consumer_id(id_);
  a->set_ack_type(wire::CommandAck::Cumulative);
  MessageId whole = id;
  whole.batch_index = -1;
  *a->add_message_id() = whole.to_wire();
  a->set_request_id(rid);
  auto r = co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  if (r.ackresponse().has_error()) throw broker_error(r.ackresponse().error(), r.ackresponse().message());
}

awaitable<void> Consumer::seek(const MessageId& id) {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::SEEK);
  cmd.mutable_seek()->set_consumer_id(id_);
  cmd.mutable_seek()->set_request_id(rid);
  *cmd.mutable_seek()->mutable_message_id() = id.to_wire();
  // The broker disconnects the consumer after a seek; it resubscribes at the
  // new position. Drop what was queued or is still in flight.
  seeking_ = true;
  queue_.clear();
  split_.clear();
  const auto gen = generation_;
  try {
    co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (...) {
    seeking_ = false;
    throw;
  }
  if (!options_.durable) {
    // A reader resubscribes at the sought entry.
    options_.start_message_id = MessageId{id.ledger, id.entry, -1, -1};
    last_taken_.reset();
  }
  // Wait for the resubscription the broker's disconnect causes (bounded).
  const auto deadline = Clock::now() + 5s;
  while (generation_ == gen && Clock::now() < deadline && !closed_) co_await sleep_for(5ms);
  seeking_ = false;
}

awaitable<void> Consumer::seek_to_time(std::uint64_t publish_time_ms) {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::SEEK);
  cmd.mutable_seek()->set_consumer_id(id_);
  cmd.mutable_seek()->set_request_id(rid);
  cmd.mutable_seek()->set_message_publish_time(publish_time_ms);
  seeking_ = true;
  queue_.clear();
  split_.clear();
  const auto gen = generation_;
  try {
    co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (...) {
    seeking_ = false;
    throw;
  }
  const auto deadline = Clock::now() + 5s;
  while (generation_ == gen && Clock::now() < deadline && !closed_) co_await sleep_for(5ms);
  seeking_ = false;
}

awaitable<MessageId> Consumer::last_message_id() {
  auto self = shared_from_this();
  for (int attempt = 0;; ++attempt) {
    if (cnx_ && cnx_->is_open()) {
      const auto rid = cnx_->next_request_id();
      wire::BaseCommand cmd;
      cmd.set_type(wire::BaseCommand::GET_LAST_MESSAGE_ID);
      cmd.mutable_getlastmessageid()->set_consumer_id(id_);
      cmd.mutable_getlastmessageid()->set_request_id(rid);
      try {
        auto r = co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
        co_return MessageId::from_wire(r.getlastmessageidresponse().last_message_id());
      } catch (const Error& e) {
        if (!e.retriable() || attempt >= 5) throw;
      }
    } else if (attempt >= 50) {
      throw Error(Error::client_disconnected, "consumer not connected");
    }
    co_await sleep_for(100ms);
  }
}

awaitable<void> Consumer::unsubscribe() {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::UNSUBSCRIBE);
  cmd.mutable_unsubscribe()->set_consumer_id(id_);
  cmd.mutable_unsubscribe()->set_request_id(rid);
  co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  closed_ = true;
  cnx_->detach_consumer(id_);
  arrival_.cancel();
}

awaitable<void> Consumer::close() {
  if (closed_) co_return;
  closed_ = true;
  auto self = shared_from_this();
  arrival_.cancel();
  if (cnx_ && cnx_->is_open()) {
    const auto rid = cnx_->next_request_id();
    wire::BaseCommand cmd;
    cmd.set_type(wire::BaseCommand::CLOSE_CONSUMER);
    cmd.mutable_close_consumer()->set_consumer_id(id_);
    cmd.mutable_close_consumer()->set_request_id(rid);
    cnx_->detach_consumer(id_);
    try {
      co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
    } catch (const Error&) {
    }
  }
}

}  // namespace kwire_pulsar
