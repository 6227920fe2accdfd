// Kafka requests from this gateway to another one sharing the namespace:
// transaction markers to a partition's leader, AddPartitionsToTxn
// verification and AddOffsetsToTxn to a transaction coordinator.
//
// One connection per host:port, opened on first use and kept. Requests are
// pipelined on it: each takes the next correlation id and the responses come
// back in the order the requests were written (Kafka answers a connection in
// order), so the oldest request still waiting owns the next response frame.
// A broken connection fails every request on it with NetworkException and is
// forgotten; the next call opens a new one. A call that times out fails with
// RequestTimedOut and closes its connection, so that its late response can
// never be read as the answer to a later request.
//
// The connection speaks the security protocol of the endpoint's listener as
// configured here (gateways share their listeners' configuration): on SSL
// and SASL_SSL a TLS client checking the peer with the listener's truststore
// and showing its keystore when asked; on SASL_PLAINTEXT and SASL_SSL a login
// with sasl.mechanism.inter.broker.protocol (PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512) before any request. A listener it cannot speak (another SASL
// mechanism, say Kafka's default GSSAPI, or no credentials) fails every call
// at once with a message saying so.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "kwire/codec.hpp"
#include "kwire/framing/request.hpp"
#include "kwire/messages/error_code.hpp"
#include "kwire/messages/pairing.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

/// A Kafka request answered by another gateway: the decoded response, whose
/// views point into `frame` (kept alive with it), or why there is none.
template <class Resp>
struct PeerReply {
  /// NetworkException (no connection, connection lost or closed),
  /// RequestTimedOut, SaslAuthenticationFailed or UnsupportedSaslMechanism
  /// (the login refused), UnknownServerError (a listener the link cannot
  /// speak; a request that does not encode or a response that does not decode).
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::string message;                               // for logs, when error != None
  Resp body{};
  std::shared_ptr<std::vector<std::uint8_t>> frame;  // the response frame, without its size prefix
};

class PeerLink {
 public:
  PeerLink(const Settings& settings, boost::asio::any_io_executor ex);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  /// The listener gateways talk to each other on: inter.broker.listener.name,
  /// else the listener named after security.inter.broker.protocol (PLAINTEXT
  /// by default), as Kafka chooses it.
  const std::string& listener() const noexcept { return listener_; }
  /// Why this gateway cannot talk to the others on that listener (its
  /// security cannot be spoken, or it has no credentials for it), or empty.
  std::string unusable() const;

  /// Sends `req` at `version` to the gateway reached at `to` and awaits its
  /// response, at most `timeout`. Any thread; never throws for the peer's sake.
  /// Not a coroutine itself: `req` is encoded and `to` copied before it
  /// returns, so both may be temporaries even if the awaitable waits a while.
  template <class Req>
  boost::asio::awaitable<PeerReply<kwire::response_of_t<Req>>> call(const storage::Endpoint& to, const Req& req,
                                                                    std::int16_t version,
                                                                    std::chrono::milliseconds timeout) {
    kwire::RequestHeader h;
    h.request_api_key = static_cast<std::int16_t>(Req::api_key);
    h.request_api_version = version;
    h.correlation_id = next_correlation_.fetch_add(1, std::memory_order_relaxed) & 0x7fffffff;
    h.client_id = std::string_view(client_id_);
    std::vector<std::uint8_t> frame;
    const bool encoded = !kwire::encode_request_frame(req, h, frame);
    return answer<kwire::response_of_t<Req>>(to, encoded ? std::move(frame) : std::vector<std::uint8_t>{},
                                             h.correlation_id, version, timeout);
  }

  /// Closes every connection; calls waiting and later ones fail with
  /// NetworkException. An open connection keeps reading, so the executor's
  /// io_context does not run out of work until this is called (at shutdown;
  /// the destructor calls it too, which must run before that io_context goes).
  void close();

 private:
  struct Raw {
    kwire::ErrorCode error = kwire::ErrorCode::None;
    std::string message;
    std::shared_ptr<std::vector<std::uint8_t>> frame;
  };
  /// Sends a whole request frame and awaits its response frame (without the
  /// size prefix). Connections live in `core_`, shared with the coroutines
  /// that serve them, so that none outlives what it uses.
  boost::asio::awaitable<Raw> exchange(storage::Endpoint to, std::vector<std::uint8_t> frame,
                                       std::int32_t correlation_id, std::chrono::milliseconds timeout);

  /// The response to a request frame (empty: it could not be encoded), decoded.
  template <class Resp>
  boost::asio::awaitable<PeerReply<Resp>> answer(storage::Endpoint to, std::vector<std::uint8_t> frame,
                                                 std::int32_t correlation_id, std::int16_t version,
                                                 std::chrono::milliseconds timeout) {
    PeerReply<Resp> out;
    if (frame.empty()) {
      out.error = kwire::ErrorCode::UnknownServerError;
      out.message = "the request cannot be encoded at version " + std::to_string(version);
      co_return out;
    }
    auto op = exchange(to, std::move(frame), correlation_id, timeout);
    auto raw = co_await std::move(op);
    out.error = raw.error;
    out.message = std::move(raw.message);
    if (out.error != kwire::ErrorCode::None) co_return out;
    kwire::ResponseFrame rf;
    const kwire::bytes_view bytes(*raw.frame);
    if (!kwire::read_response_header(bytes, Resp::api_key, version, rf) || !kwire::decode(out.body, rf.body, version)) {
      out.error = kwire::ErrorCode::UnknownServerError;
      out.message = "the response from " + to.host + ":" + std::to_string(to.port) + " does not decode";
      out.body = Resp{};
      co_return out;
    }
    out.frame = std::move(raw.frame);
    co_return out;
  }

  struct Core;
  std::shared_ptr<Core> core_;
  std::string listener_;
  std::string client_id_;
  std::atomic<std::int32_t> next_correlation_{1};
};

}  // namespace kwire_broker
