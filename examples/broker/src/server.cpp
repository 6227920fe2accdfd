#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <sys/socket.h>

#include <deque>

#include "log.hpp"

namespace kwire_broker {

using tcp = asio::ip::tcp;

struct Server::Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)), idle(socket.get_executor()) {}
  tcp::socket socket;
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

Server::Server(Broker& broker, std::vector<asio::io_context*> ios) : broker_(broker), ios_(std::move(ios)) {}

void Server::start() {
  const auto& st = broker_.settings();
  for (std::size_t li = 0; li < st.listeners.size(); ++li) {
    const auto& l = st.listeners[li];
    auto host = l.host.empty() ? std::string("0.0.0.0") : l.host;
    if (host == "localhost") host = "127.0.0.1";
    tcp::endpoint ep(asio::ip::make_address(host), l.port);
    std::uint16_t bound = l.port;
    for (auto* io : ios_) {
      auto a = std::make_unique<tcp::acceptor>(*io);
      a->open(ep.protocol());
      a->set_option(tcp::acceptor::reuse_address(true));
      int one = 1;
      ::setsockopt(a->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
      tcp::endpoint bind_ep(ep.address(), bound);
      a->bind(bind_ep);
      a->listen();
      bound = a->local_endpoint().port();  // port 0: the others share the first one's
      asio::co_spawn(*io, accept_loop(*a, li), asio::detached);
      acceptors_.push_back(std::move(a));
    }
    KB_INFO("listening on {}://{}:{} ({})", l.name, host, bound, l.protocol);
  }
}

void Server::stop() {
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
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    if (broker_.stopping()) {
      s.close(ec);
      continue;
    }
    s.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Conn>(std::move(s));
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
    asio::co_spawn(acceptor.get_executor(), serve(conn), asio::detached);
  }
}

namespace {

asio::awaitable<void> watch_idle(std::shared_ptr<Server::Conn> c);

}  // namespace

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
  std::vector<std::uint8_t> frame;
  Reply reply;
  bool released = false;  // the next request may start
  bool done = false;      // the reply is ready
};

constexpr std::size_t max_in_flight = 16;

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
          co_await asio::async_write(c->socket, asio::buffer(f->reply.frame), asio::use_awaitable);
          broker_.metrics().bytes_out += f->reply.frame.size();
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

  try {
    for (;;) {
      co_await Signal::wait_until(changed.reader, [&] { return queue.size() < max_in_flight || c->closed; });
      if (c->closed) break;
      std::uint8_t size_buf[4];
      co_await asio::async_read(c->socket, asio::buffer(size_buf), asio::use_awaitable);
      auto size = static_cast<std::int32_t>(storage::batch::get_be(size_buf, 4));
      if (size < 0) {
        why = "negative frame size";
        break;
      }
      if (size > st.max_request_bytes) {
        why = fmt::format("frame of {} bytes exceeds socket.request.max.bytes ({})", size, st.max_request_bytes);
        break;
      }
      auto f = std::make_shared<InFlight>();
      f->frame.resize(static_cast<std::size_t>(size));
      co_await asio::async_read(c->socket, asio::buffer(f->frame), asio::use_awaitable);
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
          f->reply = Reply{Reply::Kind::close, std::vector<std::uint8_t>(what.begin(), what.end())};
        }
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
        e.code() != asio::error::connection_reset && e.code() != asio::error::bad_descriptor)
      why = e.what();
  }
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
