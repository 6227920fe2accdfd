#include "net/peer_link.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>

#include "core/log.hpp"
#include "core/scram.hpp"
#include "kwire/messages/sasl_authenticate_request.hpp"
#include "kwire/messages/sasl_authenticate_response.hpp"
#include "kwire/messages/sasl_handshake_request.hpp"
#include "kwire/messages/sasl_handshake_response.hpp"
#include "net/tls_context.hpp"

namespace kwire_broker {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
/// The largest response frame taken: the requests gateways send each other
/// have small answers, so anything near this is a confused peer.
constexpr std::uint32_t max_response_bytes = 64u << 20;

std::string_view text(kwire::bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}
}  // namespace

struct PeerLink::Core : std::enable_shared_from_this<Core> {
  /// One request on its way: queued, written, then answered or failed.
  struct Pending {
    Pending(const asio::any_io_executor& ex, std::vector<std::uint8_t> frame, std::int32_t id)
        : request(std::move(frame)), correlation_id(id), done(ex) {}
    std::vector<std::uint8_t> request;
    std::int32_t correlation_id;
    asio::steady_timer done;  // its deadline; cancelled when the request ends
    bool finished = false;
    Raw result;
  };

  /// One connection to one host:port. Replaced, never reopened: a new
  /// connection is a new Conn, so nothing from an old one reaches a new request.
  struct Conn {
    Conn(const asio::any_io_executor& ex, std::string k) : socket(ex), wake(ex), key(std::move(k)) {}
    tcp::socket socket;  // moved into `tls` on TLS listeners
    std::shared_ptr<asio::ssl::context> tls_context;
    std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;
    asio::steady_timer wake;  // rung when the outbox gets a request
    std::string key;
    std::deque<std::shared_ptr<Pending>> outbox;    // not yet written
    std::deque<std::shared_ptr<Pending>> inflight;  // written, answered in this order
    bool dead = false;

    tcp::socket& tcp_socket() { return tls ? tls->next_layer() : socket; }
    template <class Buffer>
    asio::awaitable<void> read(Buffer b, boost::system::error_code& ec) {
      if (tls) co_await asio::async_read(*tls, b, asio::redirect_error(asio::use_awaitable, ec));
      else co_await asio::async_read(socket, b, asio::redirect_error(asio::use_awaitable, ec));
    }
    template <class Buffer>
    asio::awaitable<void> write(Buffer b, boost::system::error_code& ec) {
      if (tls) co_await asio::async_write(*tls, b, asio::redirect_error(asio::use_awaitable, ec));
      else co_await asio::async_write(socket, b, asio::redirect_error(asio::use_awaitable, ec));
    }
  };

  Core(asio::any_io_executor ex, const Settings& settings, std::string id)
      : strand(asio::make_strand(std::move(ex))),
        listeners(settings.listeners),
        client_id(std::move(id)),
        mechanism(settings.inter_broker_sasl_mechanism),
        username(settings.inter_broker_sasl_username),
        password(settings.inter_broker_sasl_password) {}

  asio::any_io_executor strand;  // everything below is touched on it only
  std::vector<Listener> listeners;
  std::string client_id;
  std::string mechanism, username, password;  // SASL listeners'
  std::int32_t handshake_ids = 0;             // correlation ids of the login's own requests
  std::map<std::string, std::shared_ptr<Conn>> conns;  // by host:port
  std::atomic<bool> closed{false};

  static void finish(Pending& p) {
    p.finished = true;
    p.done.cancel();
  }

  const Listener* find_listener(const std::string& name) const {
    auto it = std::find_if(listeners.begin(), listeners.end(), [&](const Listener& l) { return l.name == name; });
    return it == listeners.end() ? nullptr : &*it;
  }

  /// Why a connection to `listener` cannot be made, or empty: a listener
  /// the link cannot speak fails every call with this message.
  std::string cannot_speak(const std::string& listener) const {
    const Listener* l = find_listener(listener);
    if (!l) return "no listener " + listener + " is configured here, so its security protocol is unknown";
    if (!l->sasl()) return {};
    if (mechanism != "PLAIN" && scram::mechanism_of(mechanism) == scram::Mechanism::unknown)
      return "the peer link does not speak SASL " + mechanism + " (sasl.mechanism.inter.broker.protocol) on listener " +
             listener + ": PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512";
    if (username.empty())
      return "no username for listener " + listener + " (listener.name.<listener>.<mechanism>.sasl.jaas.config)";
    return {};
  }

  /// The TLS client context for `listener`, built once; throws.
  std::shared_ptr<asio::ssl::context> tls_context_for(const Listener& l) {
    auto& ctx = tls_contexts[l.name];
    if (!ctx) ctx = client_context(l.name, l.ssl);
    return ctx;
  }
  std::map<std::string, std::shared_ptr<asio::ssl::context>> tls_contexts;  // by listener

  /// Fails everything on `c` and forgets it; a no-op the second time.
  void fail(const std::shared_ptr<Conn>& c, kwire::ErrorCode error, const std::string& why) {
    if (c->dead) return;
    c->dead = true;
    boost::system::error_code ignored;
    c->tcp_socket().shutdown(tcp::socket::shutdown_both, ignored);
    c->tcp_socket().close(ignored);
    c->wake.cancel();
    if (auto it = conns.find(c->key); it != conns.end() && it->second == c) conns.erase(it);
    for (auto* queue : {&c->inflight, &c->outbox}) {
      for (auto& p : *queue) {
        if (p->finished) continue;
        p->result.error = error;
        p->result.message = c->key + ": " + why;
        finish(*p);
      }
      queue->clear();
    }
    KB_DEBUG("peer link to {}: {}", c->key, why);
  }

  void close_all() {
    std::vector<std::shared_ptr<Conn>> all;
    for (auto& [key, c] : conns) all.push_back(c);
    for (auto& c : all) fail(c, kwire::ErrorCode::NetworkException, "the peer link is closed");
  }

  asio::awaitable<Raw> exchange(storage::Endpoint to, std::shared_ptr<Pending> p, std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    if (closed) co_return Raw{kwire::ErrorCode::NetworkException, "the peer link is closed", {}};
    if (auto why = cannot_speak(to.listener); !why.empty())
      co_return Raw{kwire::ErrorCode::UnknownServerError, std::move(why), {}};
    const std::string key = to.host + ":" + std::to_string(to.port);
    auto& slot = conns[key];
    if (!slot) {
      slot = std::make_shared<Conn>(strand, key);
      auto task = run(slot, to);
      asio::co_spawn(strand, std::move(task), asio::detached);
    }
    auto c = slot;
    c->outbox.push_back(p);
    c->wake.cancel();
    p->done.expires_after(timeout);
    while (!p->finished) {
      boost::system::error_code ec;
      co_await p->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) break;  // the deadline passed
    }
    if (!p->finished) {
      p->result.error = kwire::ErrorCode::RequestTimedOut;
      p->result.message = "no response from " + key + " within " + std::to_string(timeout.count()) + " ms";
      finish(*p);
      // Its response may still come: only a new connection is safe to use.
      fail(c, kwire::ErrorCode::NetworkException, "closed after a request on it timed out");
    }
    co_return std::move(p->result);
  }

  /// Opens the connection, then writes queued requests in order while
  /// read_responses() takes the answers.
  asio::awaitable<void> run(std::shared_ptr<Conn> c, storage::Endpoint to) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    tcp::resolver resolver(strand);
    auto found = co_await resolver.async_resolve(to.host, std::to_string(to.port),
                                                 asio::redirect_error(asio::use_awaitable, ec));
    if (c->dead) co_return;  // closed, or every caller gave up, meanwhile
    if (!ec) co_await asio::async_connect(c->socket, found, asio::redirect_error(asio::use_awaitable, ec));
    if (c->dead) co_return;
    if (ec) {
      fail(c, kwire::ErrorCode::NetworkException, "cannot connect: " + ec.message());
      co_return;
    }
    c->socket.set_option(tcp::no_delay(true), ec);
    if (const Listener* l = find_listener(to.listener); l && l->tls()) {
      auto shake = handshake(c, *l, to.host);
      if (auto why = co_await std::move(shake); !why.empty()) {
        fail(c, kwire::ErrorCode::NetworkException, why);
        co_return;
      }
    }
    if (const Listener* l = find_listener(to.listener); l && l->sasl()) {
      auto login = authenticate(c);
      auto [error, why] = co_await std::move(login);
      if (c->dead) co_return;
      if (error != kwire::ErrorCode::None) {
        fail(c, error, why);
        co_return;
      }
    }
    auto reader = read_responses(c);
    asio::co_spawn(strand, std::move(reader), asio::detached);
    while (!c->dead) {
      if (c->outbox.empty()) {
        c->wake.expires_at(asio::steady_timer::time_point::max());
        co_await c->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      auto p = c->outbox.front();
      c->outbox.pop_front();
      // In flight before the write completes: its answer may be read first.
      c->inflight.push_back(p);
      auto write = c->write(asio::buffer(p->request), ec);
      co_await std::move(write);
      if (ec) fail(c, kwire::ErrorCode::NetworkException, "lost the connection: " + ec.message());
    }
  }

  /// The TLS handshake, checking the server's certificate (and its name
  /// unless ssl.endpoint.identification.algorithm is empty). Why it failed, or empty.
  asio::awaitable<std::string> handshake(std::shared_ptr<Conn> c, const Listener& l, std::string host) {
    try {
      c->tls_context = tls_context_for(l);
    } catch (const std::exception& e) {
      co_return e.what();
    }
    c->tls = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(c->socket), *c->tls_context);
    SSL* ssl = c->tls->native_handle();
    boost::system::error_code ec;
    static_cast<void>(asio::ip::make_address(host, ec));
    const bool is_ip = !ec;
    if (verify_host_name(l.ssl)) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      const int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                            : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
      if (set != 1) co_return "cannot check the certificate against " + host;
    }
    if (!is_ip) SSL_set_tlsext_host_name(ssl, host.c_str());  // SNI takes names only
    ec = {};
    co_await c->tls->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (c->dead) co_return "";  // failed meanwhile: the caller sees it is dead
    if (ec) co_return "TLS handshake: " + ec.message();
    co_return "";
  }

  /// One request and its response on a connection nothing else uses yet
  /// (logging in); error None or why not.
  template <class Req>
  asio::awaitable<PeerReply<kwire::response_of_t<Req>>> direct(std::shared_ptr<Conn> c, const Req& req,
                                                              std::int16_t version) {
    PeerReply<kwire::response_of_t<Req>> out;
    out.error = kwire::ErrorCode::NetworkException;
    kwire::RequestHeader h;
    h.request_api_key = static_cast<std::int16_t>(Req::api_key);
    h.request_api_version = version;
    h.correlation_id = ++handshake_ids;
    h.client_id = std::string_view(client_id);
    std::vector<std::uint8_t> frame;
    if (kwire::encode_request_frame(req, h, frame)) {
      out.message = "cannot encode a SASL request";
      co_return out;
    }
    boost::system::error_code ec;
    auto write = c->write(asio::buffer(frame), ec);
    co_await std::move(write);
    std::array<std::uint8_t, 4> size_bytes{};
    if (!ec) {
      auto read_size = c->read(asio::buffer(size_bytes), ec);
      co_await std::move(read_size);
    }
    const auto size = big_endian_u32(size_bytes.data());
    if (ec || size < 4 || size > max_response_bytes) {
      out.message = "logging in: " + (ec ? ec.message() : "a response frame of " + std::to_string(size) + " bytes");
      co_return out;
    }
    out.frame = std::make_shared<std::vector<std::uint8_t>>(size);
    auto read_frame = c->read(asio::buffer(*out.frame), ec);
    co_await std::move(read_frame);
    kwire::ResponseFrame rf;
    if (ec || !kwire::read_response_header(kwire::bytes_view(*out.frame), Req::api_key, version, rf) ||
        rf.header.correlation_id != h.correlation_id || !kwire::decode(out.body, rf.body, version)) {
      out.message = "logging in: " + (ec ? ec.message() : std::string("a response that does not decode"));
      co_return out;
    }
    out.error = kwire::ErrorCode::None;
    co_return out;
  }

  /// One SaslAuthenticate v2; a refusal is its error code, with the peer's message.
  asio::awaitable<PeerReply<kwire::SaslAuthenticateResponse>> sasl_step(std::shared_ptr<Conn> c, std::string message) {
    kwire::SaslAuthenticateRequest req;
    req.auth_bytes = kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(message.data()), message.size());
    auto op = direct(c, req, 2);
    auto r = co_await std::move(op);
    if (r.error == kwire::ErrorCode::None && r.body.error_code != kwire::ErrorCode::None) {
      r.error = r.body.error_code;
      r.message = "SASL " + mechanism + " login as " + username + " refused: " +
                  std::string(r.body.error_message.value_or(""));
    }
    co_return r;
  }

  /// SaslHandshake v1, then SaslAuthenticate v2 once (PLAIN) or twice
  /// (SCRAM). The session is not renewed: a server with
  /// connections.max.reauth.ms closes the connection when it ends, and the
  /// next call opens a new one.
  asio::awaitable<std::pair<kwire::ErrorCode, std::string>> authenticate(std::shared_ptr<Conn> c) {
    using Result = std::pair<kwire::ErrorCode, std::string>;
    kwire::SaslHandshakeRequest hello;
    hello.mechanism = mechanism;
    auto greet = direct(c, hello, 1);
    auto greeted = co_await std::move(greet);
    if (greeted.error != kwire::ErrorCode::None) co_return Result{greeted.error, greeted.message};
    if (greeted.body.error_code != kwire::ErrorCode::None)
      co_return Result{greeted.body.error_code, "the peer does not take SASL " + mechanism};
    if (mechanism == "PLAIN") {
      std::string plain = std::string(1, '\0') + username + std::string(1, '\0') + password;
      auto op = sasl_step(c, std::move(plain));
      auto r = co_await std::move(op);
      co_return Result{r.error, r.message};
    }
    scram::Client scram(scram::mechanism_of(mechanism), username, password);
    auto first = sasl_step(c, scram.first());
    auto server_first = co_await std::move(first);
    if (server_first.error != kwire::ErrorCode::None) co_return Result{server_first.error, server_first.message};
    std::string why;
    auto final_message = scram.final(text(server_first.body.auth_bytes), why);
    if (!final_message) co_return Result{kwire::ErrorCode::SaslAuthenticationFailed, why};
    auto last = sasl_step(c, std::move(*final_message));
    auto server_final = co_await std::move(last);
    if (server_final.error != kwire::ErrorCode::None) co_return Result{server_final.error, server_final.message};
    if (!scram.verify(text(server_final.body.auth_bytes)))
      co_return Result{kwire::ErrorCode::SaslAuthenticationFailed, "the peer's SCRAM signature is not the credential's"};
    co_return Result{kwire::ErrorCode::None, ""};
  }

  /// Hands each response frame to the oldest request in flight, which it
  /// must answer (same correlation id).
  asio::awaitable<void> read_responses(std::shared_ptr<Conn> c) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    std::array<std::uint8_t, 4> size_bytes{};
    while (!c->dead) {
      auto read_size = c->read(asio::buffer(size_bytes), ec);
      co_await std::move(read_size);
      if (ec) break;
      const auto size = big_endian_u32(size_bytes.data());
      if (size < 4 || size > max_response_bytes) {
        fail(c, kwire::ErrorCode::NetworkException, "a response frame of " + std::to_string(size) + " bytes");
        co_return;
      }
      auto frame = std::make_shared<std::vector<std::uint8_t>>(size);
      auto read_frame = c->read(asio::buffer(*frame), ec);
      co_await std::move(read_frame);
      if (ec) break;
      const auto id = static_cast<std::int32_t>(big_endian_u32(frame->data()));
      if (c->inflight.empty() || c->inflight.front()->correlation_id != id) {
        fail(c, kwire::ErrorCode::NetworkException, "a response (correlation id " + std::to_string(id) +
                                                        ") to no request waiting for one");
        co_return;
      }
      auto p = c->inflight.front();
      c->inflight.pop_front();
      p->result.frame = std::move(frame);
      finish(*p);
    }
    if (ec) fail(c, kwire::ErrorCode::NetworkException, "lost the connection: " + ec.message());
  }
};

PeerLink::PeerLink(const Settings& settings, asio::any_io_executor ex)
    : core_(std::make_shared<Core>(std::move(ex), settings, "kwire-gateway-" + std::to_string(settings.node_id))),
      listener_(settings.inter_broker_listener),
      client_id_(core_->client_id) {}

PeerLink::~PeerLink() { close(); }

std::string PeerLink::unusable() const { return core_->cannot_speak(listener_); }

void PeerLink::close() {
  if (core_->closed.exchange(true)) return;
  asio::post(core_->strand, [core = core_] { core->close_all(); });
}

asio::awaitable<PeerLink::Raw> PeerLink::exchange(storage::Endpoint to, std::vector<std::uint8_t> frame,
                                                  std::int32_t correlation_id, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<Core::Pending>(core_->strand, std::move(frame), correlation_id);
  auto task = core_->exchange(to, std::move(p), timeout);
  auto op = asio::co_spawn(core_->strand, std::move(task), asio::use_awaitable);
  co_return co_await std::move(op);
}

}  // namespace kwire_broker
