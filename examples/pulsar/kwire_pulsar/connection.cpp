// The connection's life: open (resolve, connect within the timeout, the TLS
// handshake for pulsar+ssl://, CONNECT
// and any auth challenge), the read, write and keep-alive loops, and the
// dispatch of each frame to a waiting request or to the producer or consumer
// it is for. A lost connection fails every waiting request and tells every
// attached producer and consumer, which reconnect on their own.
#include "kwire_pulsar/connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <vector>

namespace kwire_pulsar {

using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
using detail::broker_error;
using detail::Slot;

namespace {

constexpr std::chrono::milliseconds forever{std::chrono::hours(24 * 365)};

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

}  // namespace

Error detail::broker_error(int code, const std::string& msg) {
  return Error(code, wire::ServerError_Name(static_cast<wire::ServerError>(code)) + ": " + msg);
}

struct Connection::Pending {
  explicit Pending(Executor ex) : slot(ex) {}
  Slot<wire::BaseCommand> slot;
};

Connection::Connection(Executor ex, std::string url, const ClientOptions& options,
                       std::shared_ptr<asio::ssl::context> tls)
    : ex_(ex), url_(std::move(url)), options_(options), socket_(ex), tls_context_(std::move(tls)), write_signal_(ex),
      keepalive_timer_(ex) {}

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
  if (tls_context_) {
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
    prepare_tls(tls_->native_handle(), host, options_.tls);
    boost::system::error_code ec;
    co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
    if (ec)
      throw Error(Error::client_tls, "TLS handshake with " + url_ + ": " + tls_failure(tls_->native_handle(), ec));
  }

  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::CONNECT);
  auto* c = cmd.mutable_connect();
  c->set_client_version(options_.client_version);
  c->set_protocol_version(protocol_version);
  c->mutable_feature_flags()->set_supports_broker_entry_metadata(true);
  if (!options_.auth_token.empty()) {
    c->set_auth_method_name("token");
    c->set_auth_data(options_.auth_token);
  } else if (tls_ && !options_.tls.cert_file.empty()) {
    c->set_auth_method_name("tls");  // the role is in the certificate the handshake showed
  }
  auto frame = encode_command(cmd);
  co_await on_stream([&](auto& s) { return asio::async_write(s, asio::buffer(frame), use_awaitable); });

  // Read frames until CONNECTED (an auth challenge may come first).
  last_received_ = Clock::now();
  for (;;) {
    std::uint8_t size_bytes[4];
    boost::system::error_code ec;
    co_await on_stream([&](auto& s) {
      return asio::async_read(s, asio::buffer(size_bytes), asio::redirect_error(use_awaitable, ec));
    });
    if (ec && is_tls_error(ec)) throw Error(Error::client_tls, "TLS with " + url_ + ": " + tls_failure(nullptr, ec));
    if (ec) throw Error(Error::client_disconnected, "connect to " + url_ + ": " + ec.message());
    const std::uint32_t size = get_u32(size_bytes);
    if (size > max_frame_size) throw Error(Error::client_protocol, "oversized frame from " + url_);
    std::vector<std::uint8_t> body(size);
    co_await on_stream(
        [&](auto& s) { return asio::async_read(s, asio::buffer(body), asio::redirect_error(use_awaitable, ec)); });
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
      co_await on_stream([&](auto& s) { return asio::async_write(s, asio::buffer(rf), use_awaitable); });
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
    // What is queued goes out in one gathered write, each frame from where
    // it lies: an entry's frame is as large as the entry, and copying it
    // into one buffer would cost a pass over every payload byte.
    std::vector<std::string> batch;
    std::vector<asio::const_buffer> bufs;
    std::size_t bytes = 0;
    while (!write_queue_.empty() && bytes < (1u << 20) && batch.size() < 64) {
      bytes += write_queue_.front().size();
      batch.push_back(std::move(write_queue_.front()));
      write_queue_.pop_front();
    }
    bufs.reserve(batch.size());
    for (const auto& frame : batch) bufs.push_back(asio::buffer(frame));
    boost::system::error_code ec;
    co_await on_stream([&](auto& s) { return asio::async_write(s, bufs, asio::redirect_error(use_awaitable, ec)); });
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
    co_await on_stream([&](auto& s) {
      return asio::async_read(s, asio::buffer(size_bytes), asio::redirect_error(use_awaitable, ec));
    });
    if (ec) break;
    const std::uint32_t size = get_u32(size_bytes);
    if (size > max_frame_size) break;
    body.resize(size);
    co_await on_stream(
        [&](auto& s) { return asio::async_read(s, asio::buffer(body), asio::redirect_error(use_awaitable, ec)); });
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

}  // namespace kwire_pulsar
