#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "net/server.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <deque>

#include "kwire/framing/frame.hpp"
#include "net/accept_backoff.hpp"
#include "net/reply_writer.hpp"
#include "core/log.hpp"
#include "handlers/sasl.hpp"

namespace kwire_broker {

using tcp = asio::ip::tcp;

struct Server::Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)), idle(socket.get_executor()) {}
  tcp::socket socket;
  /// On TLS listeners, the encrypted stream over `socket`; every read and
  /// write goes through it.
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  /// The listener's context when this connection was accepted: kept while
  /// the connection lives, as a reload may replace the listener's.
  std::shared_ptr<asio::ssl::context> tls_context;
  asio::steady_timer idle;
  SessionState state;
  std::chrono::steady_clock::time_point deadline;
  bool busy = false;
  bool closed = false;

  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    idle.cancel();
  }
};

Server::Server(Broker& broker, std::vector<asio::io_context*> ios)
    : broker_(broker), ios_(std::move(ios)), budget_(broker.settings().queued_max_request_bytes) {
  broker_.metrics().queued_request_bytes = [this] { return budget_.in_use(); };
}

void Server::start() {
  const auto& st = broker_.settings();
  // Every TLS context first: a bad certificate stops the broker before it
  // listens anywhere.
  for (const auto& l : st.listeners)
    tls_.push_back(l.tls() ? std::make_unique<TlsListener>(l.name, l.ssl) : nullptr);
  for (std::size_t li = 0; li < st.listeners.size(); ++li) {
    const auto& l = st.listeners[li];
    auto host = l.host.empty() ? std::string("0.0.0.0") : l.host;
    if (host == "localhost") host = "127.0.0.1";
    auto a = std::make_unique<tcp::acceptor>(*ios_[li % ios_.size()]);
    try {
      tcp::endpoint ep(asio::ip::make_address(host), l.port);
      a->open(ep.protocol());
      // SO_REUSEADDR only lets a restarted broker bind past connections in
      // TIME_WAIT: Linux still refuses a port that another socket listens on.
      a->set_option(tcp::acceptor::reuse_address(true));
      a->bind(ep);
      a->listen();
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(fmt::format("cannot listen on {}://{}:{}: {}", l.name, host, l.port, e.code().message()));
    }
    KB_INFO("listening on {}://{}:{} ({})", l.name, host, a->local_endpoint().port(), l.protocol);
    asio::co_spawn(a->get_executor(), accept_loop(*a, li), asio::detached);
    acceptors_.push_back(std::move(a));
  }
  const bool any_tls = std::any_of(tls_.begin(), tls_.end(), [](const auto& t) { return t != nullptr; });
  if (any_tls && st.ssl_reload_interval_ms > 0) {
    reload_timer_ = std::make_unique<asio::steady_timer>(*ios_[0]);
    asio::co_spawn(*ios_[0], watch_certificates(), asio::detached);
  }
}

asio::awaitable<void> Server::watch_certificates() {
  const std::chrono::milliseconds every(broker_.settings().ssl_reload_interval_ms);
  for (;;) {
    reload_timer_->expires_after(every);
    boost::system::error_code ec;
    co_await reload_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || broker_.stopping()) co_return;
    for (std::size_t li = 0; li < tls_.size(); ++li) {
      if (!tls_[li]) continue;
      const auto& name = broker_.settings().listeners[li].name;
      std::string why;
      switch (tls_[li]->reload_if_changed(why)) {
        case TlsListener::Reload::reloaded: KB_INFO("listener {}: certificates reloaded for new connections", name); break;
        case TlsListener::Reload::failed:
          KB_WARN("listener {}: cannot reload its certificates, keeping the previous ones: {}", name, why);
          break;
        case TlsListener::Reload::unchanged: break;
      }
    }
  }
}

void Server::stop() {
  if (reload_timer_) asio::post(reload_timer_->get_executor(), [t = reload_timer_.get()] { t->cancel(); });
  for (auto& a : acceptors_) {
    asio::post(a->get_executor(), [a = a.get()] {
      boost::system::error_code ec;
      a->close(ec);
    });
  }
  std::lock_guard lk(mu_);
  for (auto& c : conns_) {
    asio::post(c->socket.get_executor(), [c] {
      if (!c->busy) c->close();
    });
  }
}

std::size_t Server::open_connections() {
  std::lock_guard lk(mu_);
  return conns_.size();
}

asio::awaitable<void> Server::accept_loop(tcp::acceptor& acceptor, std::size_t li) {
  AcceptBackoff backoff;
  asio::steady_timer pause(acceptor.get_executor());
  std::size_t turn = li;
  for (;;) {
    boost::system::error_code ec;
    // The connection lives on the next io_context in turn.
    asio::any_io_executor home = ios_[turn % ios_.size()]->get_executor();
    tcp::socket s = co_await acceptor.async_accept(home, asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec == asio::error::connection_aborted) continue;  // the client gave up before we took it
    if (ec) {
      broker_.metrics().accept_errors++;
      auto wait = backoff.failed();
      if (auto n = backoff.take_log_due())
        KB_WARN("{}: accept failed {} time(s): {}; pausing accepts for {} ms", broker_.settings().listeners[li].name,
                n, ec.message(), wait.count());
      pause.expires_after(wait);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    backoff.succeeded();
    ++turn;
    if (broker_.stopping()) {
      s.close(ec);
      continue;
    }
    s.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Conn>(std::move(s));
    if (tls_[li]) {
      conn->tls_context = tls_[li]->context();
      conn->tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(conn->socket, *conn->tls_context);
    }
    conn->state.listener = &broker_.settings().listeners[li];
    conn->state.advertised = &broker_.settings().advertised[li];
    conn->state.authenticated = !conn->state.listener->sasl();
    conn->state.realm = &broker_.default_realm();
    auto rep = conn->socket.remote_endpoint(ec);
    conn->state.peer = ec ? "?" : rep.address().to_string() + ":" + std::to_string(rep.port());
    {
      std::lock_guard lk(mu_);
      conns_.insert(conn);
    }
    broker_.metrics().connections++;
    broker_.metrics().connections_total++;
    asio::co_spawn(conn->socket.get_executor(), serve(conn), asio::detached);
  }
}

namespace {

asio::awaitable<void> watch_idle(std::shared_ptr<Server::Conn> c);

/// Reads exactly the buffer's bytes, through TLS on TLS listeners.
asio::awaitable<void> read_exact(Server::Conn& c, asio::mutable_buffer b) {
  if (c.tls) {
    co_await asio::async_read(*c.tls, b, asio::use_awaitable);
  } else {
    co_await asio::async_read(c.socket, b, asio::use_awaitable);
  }
}

}  // namespace

asio::awaitable<std::string> Server::tls_handshake(std::shared_ptr<Conn> c, const TlsListener& tls) {
  // A peer that stalls the handshake is cut off when the deadline passes:
  // until then it holds one TLS session's buffers and nothing more.
  auto finished = std::make_shared<bool>(false);
  asio::steady_timer deadline(c->socket.get_executor());
  deadline.expires_after(std::chrono::milliseconds(broker_.settings().ssl_handshake_timeout_ms));
  deadline.async_wait([c, finished](boost::system::error_code ec) {
    if (!ec && !*finished) c->close();
  });
  boost::system::error_code ec;
  co_await c->tls->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
  *finished = true;
  deadline.cancel();
  if (c->closed) {
    broker_.metrics().tls_handshakes_failed++;
    co_return "TLS handshake timed out";
  }
  if (ec) {
    broker_.metrics().tls_handshakes_failed++;
    // A refused client certificate is a failed login, delayed and counted
    // as SASL's are (connection.failed.authentication.delay.ms).
    co_await failed_login_delay(broker_);
    co_return "TLS handshake failed: " + ec.message();
  }
  if (c->state.listener->sasl()) co_return std::string();  // the principal comes from SASL
  const std::string subject = peer_subject(c->tls->native_handle());
  if (subject.empty()) {
    c->state.principal = "User:ANONYMOUS";
    co_return std::string();
  }
  const auto name = tls.rules().map(subject);
  if (!name) {
    co_await failed_login_delay(broker_);
    co_return "no ssl.principal.mapping.rules rule matches the certificate subject " + subject;
  }
  c->state.principal = "User:" + *name;
  KB_INFO("{} authenticated by its certificate as {}", c->state.peer, c->state.principal);
  co_return std::string();
}

namespace {

/// Wakes the coroutines of one connection when its state changes; each
/// waits on its own timer (a timer's expiry change would cancel the other's
/// wait). Everything runs on the connection's executor, so a notify between a
/// check and a wait cannot be lost.
struct Signal {
  explicit Signal(asio::any_io_executor ex) : reader(ex), writer(ex) {}
  asio::steady_timer reader, writer;
  void notify() {
    reader.cancel();
    writer.cancel();
  }
  template <class Cond>
  static asio::awaitable<void> wait_until(asio::steady_timer& t, Cond cond) {
    while (!cond()) {
      t.expires_after(std::chrono::hours(24));
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
};

/// One request on its way through a connection.
struct InFlight {
  explicit InFlight(RequestBudget& budget) : charge(budget) {}
  FrameBuffer frame;
  BudgetCharge charge;  // the frame's bytes, given back once it is handled
  Reply reply;
  bool released = false;  // the next request may start
  bool done = false;      // the reply is ready
};

constexpr std::size_t max_in_flight = 16;
// A frame's buffer grows by at most this much per read, so that memory
// follows the bytes that arrived, not the size a prefix announced.
constexpr std::size_t read_chunk = 64 * 1024;

// A free function, not a lambda: a coroutine's parameters live in its frame,
// a lambda's captures do not.
asio::awaitable<void> run_request(Broker& broker, std::shared_ptr<Server::Conn> c, std::shared_ptr<InFlight> f,
                                  Signal& changed) {
  // Named, not temporaries: g++ 12 destroys temporaries of a co_await
  // expression twice.
  std::function<void()> release = [f, &changed] {
    f->released = true;
    changed.notify();
  };
  const bytes_view frame(f->frame.data(), f->frame.size());
  Reply r = co_await broker.handle(c->state, frame, std::move(release));
  f->reply = std::move(r);
}

}  // namespace

// Requests start in order, one at a time: the next starts when the current
// one releases the connection, which a produce request does once its appends
// are queued in storage (so the order of appends is the order of requests)
// and every other request does when it completes. Produce requests thus
// overlap their waits for storage while replies still leave in request order.
asio::awaitable<void> Server::serve(std::shared_ptr<Conn> c) {
  const auto& st = broker_.settings();
  auto idle = std::chrono::milliseconds(st.idle_ms);
  c->deadline = std::chrono::steady_clock::now() + idle;
  auto ex = c->socket.get_executor();
  if (st.idle_ms > 0) asio::co_spawn(ex, watch_idle(c), asio::detached);
  KB_DEBUG("connection from {}", c->state.peer);
  std::deque<std::shared_ptr<InFlight>> queue;
  Signal changed(ex);
  bool reading = true;
  int running = 0;  // handlers not finished (they signal `changed`)
  std::string why;

  // Writes replies in request order as they complete.
  auto writer = [&]() -> asio::awaitable<void> {
    try {
      for (;;) {
        co_await Signal::wait_until(changed.writer,
            [&] { return (!queue.empty() && queue.front()->done) || (!reading && queue.empty()); });
        if (queue.empty()) break;
        auto f = queue.front();
        if (f->reply.kind == Reply::Kind::close) {
          if (why.empty()) why.assign(f->reply.frame.begin(), f->reply.frame.end());
          c->close();
          break;
        }
        if (f->reply.kind == Reply::Kind::respond) {
          if (c->tls) {
            co_await write_reply(*c->tls, f->reply);
          } else {
            co_await write_reply(c->socket, f->reply);
          }
          broker_.metrics().bytes_out += f->reply.size();
        }
        queue.pop_front();
        c->busy = !queue.empty();
        c->deadline = std::chrono::steady_clock::now() + idle;
        changed.notify();
      }
    } catch (const boost::system::system_error&) {
      c->close();
    }
    queue.clear();
    changed.notify();
  };
  bool writer_done = false;
  asio::co_spawn(ex, writer(), [&](std::exception_ptr) {
    writer_done = true;
    changed.notify();
  });

  if (c->tls) {
    const TlsListener& tls = *tls_[static_cast<std::size_t>(c->state.listener - broker_.settings().listeners.data())];
    why = co_await tls_handshake(c, tls);
  }
  try {
    for (; why.empty();) {
      co_await Signal::wait_until(changed.reader, [&] { return queue.size() < max_in_flight || c->closed; });
      // KIP-219: a client over its quota was answered; nothing more is read
      // from it until its throttle time is over (checked now and then, so
      // that a closed connection is noticed). Never muted: no clock read.
      while (c->state.muted_until != std::chrono::steady_clock::time_point{} && !c->closed &&
             std::chrono::steady_clock::now() < c->state.muted_until) {
        changed.reader.expires_at(
            std::min(c->state.muted_until, std::chrono::steady_clock::now() + std::chrono::milliseconds(200)));
        boost::system::error_code ec;
        co_await changed.reader.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (c->closed) break;
      // The frame's size decides everything before a body byte is read: the
      // limit in force is the smaller one until the client has logged in
      // (Kafka's sasl.server.max.receive.size, far below requests' limit).
      const bool before_login = !c->state.authenticated && st.sasl_max_receive_bytes < st.max_request_bytes;
      const kwire::FrameSplitter frames(static_cast<std::size_t>(before_login ? st.sasl_max_receive_bytes
                                                                              : st.max_request_bytes));
      std::uint8_t size_buf[4];
      co_await read_exact(*c, asio::buffer(size_buf));
      const std::int32_t size = kwire::FrameSplitter::read_size(size_buf);
      if (auto bad = frames.check_size(size)) {
        if (bad->code == kwire::DecodeErrc::invalid_frame_size) {
          why = "negative frame size";
        } else {
          broker_.metrics().frames_refused++;
          why = before_login ? fmt::format("frame of {} bytes before authentication exceeds sasl.server.max.receive.size ({})",
                                           size, st.sasl_max_receive_bytes)
                             : fmt::format("frame of {} bytes exceeds socket.request.max.bytes ({})", size,
                                           st.max_request_bytes);
        }
        break;
      }
      auto f = std::make_shared<InFlight>(budget_);
      if (!co_await read_body(*c, static_cast<std::size_t>(size), f->frame, f->charge)) break;
      c->busy = true;
      c->deadline = std::chrono::steady_clock::now() + idle;
      broker_.metrics().bytes_in += f->frame.size() + 4;
      queue.push_back(f);
      ++running;
      asio::co_spawn(ex, run_request(broker_, c, f, changed), [c, f, &changed, &running](std::exception_ptr e) {
        if (e) {
          std::string what = "internal error";
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex2) {
            what += std::string(": ") + ex2.what();
            KB_ERROR("connection {}: {}", c->state.peer, ex2.what());
          } catch (...) {
          }
          f->reply = Reply{};
          f->reply.kind = Reply::Kind::close;
          f->reply.frame.assign(what.begin(), what.end());
        }
        // The request is handled: its bytes go back to the budget now, not
        // when its reply has been written.
        f->frame.release();
        f->charge.release();
        f->released = f->done = true;
        --running;
        changed.notify();
      });
      co_await Signal::wait_until(changed.reader, [&] { return f->released || c->closed; });
      if (f->done && f->reply.kind == Reply::Kind::close) break;
      if (broker_.stopping() || c->closed) break;
    }
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::eof && e.code() != asio::error::operation_aborted &&
        e.code() != asio::error::connection_reset && e.code() != asio::error::bad_descriptor &&
        e.code() != asio::ssl::error::stream_truncated)  // a TLS peer that closed without close_notify
      why = e.what();
  }
  budget_.frame_read(c.get());  // an overdraft held by a frame cut short ends here
  // Replies of requests already read still go out, then the connection closes.
  reading = false;
  changed.notify();
  co_await Signal::wait_until(changed.reader, [&] { return writer_done && running == 0; });
  if (!why.empty()) KB_WARN("closing connection from {}: {}", c->state.peer, why);
  c->close();
  {
    std::lock_guard lk(mu_);
    conns_.erase(c);
  }
  broker_.metrics().connections--;
}

asio::awaitable<bool> Server::read_body(Conn& c, std::size_t size, FrameBuffer& frame, BudgetCharge& charge) {
  std::size_t have = 0;
  while (have < size) {
    const std::size_t want = std::min(read_chunk, size - have);
    if (!co_await budget_.take(want, &c, [&c] { return c.closed; })) co_return false;
    charge.add(want);
    frame.resize(have + want);
    co_await read_exact(c, asio::buffer(frame.data() + have, want));
    have += want;
  }
  budget_.frame_read(&c);
  co_return true;
}

namespace {

asio::awaitable<void> watch_idle(std::shared_ptr<Server::Conn> c) {
  while (!c->closed) {
    c->idle.expires_at(c->deadline);
    boost::system::error_code ec;
    co_await c->idle.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (c->closed) co_return;
    if (!c->busy && std::chrono::steady_clock::now() >= c->deadline) {
      KB_INFO("closing idle connection from {}", c->state.peer);
      c->close();
      co_return;
    }
    if (c->busy) c->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  }
}

}  // namespace

}  // namespace kwire_broker
