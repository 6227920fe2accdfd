// One TCP connection to one Pulsar broker, over TLS for pulsar+ssl:// URLs
// (tls.hpp): CONNECT (with token auth), the
// framing of reads and writes, keep-alive, and the correlation of requests
// with their responses by request id. Producers and consumers share a
// connection and receive their own frames through the handlers they attach.
// Also here: the options every connection is opened with, and the waiting
// slot that producers reuse for their send receipts.
//
// Threading: a connection belongs to one Asio executor (an io_context run by
// one thread); call its coroutines on that executor only.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "kwire_pulsar/error.hpp"
#include "kwire_pulsar/frame.hpp"
#include "kwire_pulsar/tls.hpp"

namespace kwire_pulsar {

namespace asio = boost::asio;
using asio::awaitable;
using Executor = asio::any_io_executor;
using namespace std::chrono_literals;

/// The protocol version this client announces (18+ gets broker entry metadata).
inline constexpr int protocol_version = 21;

struct ClientOptions {
  std::string service_url = "pulsar://127.0.0.1:6650";
  /// A JWT for the token authentication provider; empty: none, or TLS
  /// authentication when `tls` has a client certificate (pulsar+ssl:// only).
  std::string auth_token;
  std::chrono::milliseconds operation_timeout = 30s;
  std::chrono::milliseconds connect_timeout = 10s;
  std::chrono::milliseconds keepalive_interval = 30s;
  std::chrono::milliseconds initial_backoff = 100ms;
  std::chrono::milliseconds max_backoff = 30s;
  std::string client_version = "kwire-pulsar 0.1";
  /// For pulsar+ssl:// service URLs (and the TLS URLs lookups answer then).
  TlsOptions tls;
};

/// One TCP connection to one broker, shared by every producer and consumer of
/// the client that talk to that broker.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /// `tls`: the context for a pulsar+ssl:// url (null for pulsar://).
  Connection(Executor ex, std::string url, const ClientOptions& options,
             std::shared_ptr<asio::ssl::context> tls = nullptr);
  ~Connection();

  /// Connects, sends CONNECT and waits for CONNECTED.
  awaitable<void> open();
  void close();
  bool is_open() const noexcept { return open_; }
  const std::string& url() const noexcept { return url_; }
  int server_protocol_version() const noexcept { return server_protocol_; }
  int max_message_size() const noexcept { return max_message_size_; }

  std::uint64_t next_request_id() noexcept { return next_request_id_++; }
  /// Sends a command carrying `request_id` and waits for the response that
  /// carries it; broker errors (ERROR, failed lookups) throw Error.
  awaitable<wire::BaseCommand> request(std::string frame, std::uint64_t request_id,
                                       std::chrono::milliseconds timeout);
  /// Queues a frame for writing.
  void send(std::string frame);

  using FrameHandler = std::function<void(Frame&)>;
  using CloseHandler = std::function<void()>;
  void attach_producer(std::uint64_t id, FrameHandler on_frame, CloseHandler on_close);
  void attach_consumer(std::uint64_t id, FrameHandler on_frame, CloseHandler on_close);
  void detach_producer(std::uint64_t id);
  void detach_consumer(std::uint64_t id);

 private:
  struct Pending;
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  awaitable<void> keepalive_loop();
  void dispatch(Frame& f);
  void complete(std::uint64_t request_id, wire::BaseCommand& cmd);
  void fail_all();
  /// `op(stream)` on the stream frames go through: the TLS stream, or the
  /// socket itself.
  template <class Op>
  auto on_stream(Op op) {
    return tls_ ? op(*tls_) : op(socket_);
  }

  Executor ex_;
  std::string url_;
  ClientOptions options_;
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  asio::steady_timer write_signal_;
  asio::steady_timer keepalive_timer_;
  std::deque<std::string> write_queue_;
  bool open_ = false;
  bool closed_ = false;
  int server_protocol_ = 0;
  int max_message_size_ = 5 * 1024 * 1024;
  std::uint64_t next_request_id_ = 1;
  std::chrono::steady_clock::time_point last_received_;
  std::map<std::uint64_t, std::shared_ptr<Pending>> pending_;
  std::map<std::uint64_t, std::pair<FrameHandler, CloseHandler>> producers_, consumers_;
};

namespace detail {

/// The Error for a broker's ServerError code and message.
Error broker_error(int code, const std::string& msg);

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
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (error) throw *error;
    if (!value) throw Error(Error::client_timeout, std::string("timed out waiting for ") + what);
    co_return std::move(*value);
  }
};

}  // namespace detail

}  // namespace kwire_pulsar
