// What one request sees while it is handled: the connection's session (who
// the client is, which namespace it works in) and the request's own context
// (its header, the errors it answered, the memory its response borrows, the
// record sets it carries as they are). What the connection does with the
// result is a Reply (protocol/reply.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "kwire/codec.hpp"
#include "kwire/messages/error_code.hpp"
#include "protocol/reply.hpp"
#include "storage/types.hpp"

namespace kwire_broker {

using kwire::bytes_view;

class Realm;

/// A record set that a response carries as it is, not copied into its frame
/// (Fetch): the view the response's field holds, and what it stands for.
struct Attached {
  bytes_view view;
  /// The bytes `view` shows (a store's read in memory), kept by the reply...
  std::shared_ptr<const std::vector<std::uint8_t>> memory;
  /// ... or regions of files, for which `view` is a stand-in (reply.hpp).
  std::vector<storage::FileRegion> regions;
};

/// Per-connection state that handlers may read or change.
namespace scram {
class Server;
}

struct SessionState {
  const Listener* listener = nullptr;
  const Listener* advertised = nullptr;
  std::string peer;
  bool authenticated = false;     // always true on PLAINTEXT listeners
  bool sasl_mechanism_chosen = false;
  bool raw_sasl_next = false;     // after SaslHandshake v0 the next frame is a bare token
  std::string sasl_mechanism;     // the one SaslHandshake chose
  std::shared_ptr<scram::Server> scram;  // a SCRAM exchange under way
  /// An OAUTHBEARER token refused: the error challenge was sent, the
  /// exchange fails with this once the client answers it.
  std::string oauth_refusal;
  /// Re-authentication (KIP-368): the wall-clock time (ms) after which the
  /// session must log in again on this connection (0: never), and whether
  /// a new login is under way on an authenticated connection.
  std::int64_t session_expires_ms = 0;
  bool reauthenticating = false;
  /// Who the client is, as ACLs name it: User:<SASL user>, User:<mapped
  /// certificate subject>, or User:ANONYMOUS (PLAINTEXT, and TLS without a
  /// client certificate), as in Kafka.
  std::string principal = "User:ANONYMOUS";
  /// The namespace this client works in: the broker's own, or for a SASL
  /// user named tenant/namespace, that one.
  Realm* realm = nullptr;
  /// KIP-219: a client over its quota is answered at once, and then nothing
  /// more is read from its connection before this time.
  std::chrono::steady_clock::time_point muted_until{};
};

/// The context of one request.
struct Ctx {
  explicit Ctx(SessionState& s) : session(s) {}
  SessionState& session;
  std::int16_t api_key = 0;
  std::int16_t version = 0;
  std::int32_t correlation_id = 0;
  std::string_view client_id;
  bool no_response = false;  // acks=0
  std::size_t request_bytes = 0;  // the request's frame, header included
  std::vector<kwire::ErrorCode> errors;  // for metrics: one entry per non-zero error

  /// Keeps strings and buffers alive until the response is encoded.
  std::deque<std::string> strings;
  std::deque<std::vector<std::uint8_t>> buffers;
  std::string_view keep(std::string s) { return strings.emplace_back(std::move(s)); }
  bytes_view keep(std::vector<std::uint8_t> b) {
    auto& v = buffers.emplace_back(std::move(b));
    return {v.data(), v.size()};
  }
  /// Record sets the response carries as they are: each call returns the
  /// view to put in the response's records field. The reply keeps them
  /// alive until it is written.
  std::vector<Attached> attached;
  bytes_view attach(std::vector<std::uint8_t> bytes);
  bytes_view attach(std::vector<storage::FileRegion> regions);
  void clear_attached() noexcept {
    attached.clear();
    stand_ins_used = 0;
  }
  /// Of the stand-in address range (reply.hpp), what this response's
  /// attached regions took.
  std::uint64_t stand_ins_used = 0;

  kwire::ErrorCode note(kwire::ErrorCode code) {
    if (code != kwire::ErrorCode::None) errors.push_back(code);
    return code;
  }
  Realm& realm() const noexcept { return *session.realm; }
  /// Throttles the client (a quota it went over): its connection reads
  /// nothing more for `ms`.
  void mute_for(std::int64_t ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    if (until > session.muted_until) session.muted_until = until;
  }

  /// Lets the connection start its next request before this one completes:
  /// a produce request calls it once its appends are queued in storage.
  std::function<void()> on_release;
  void release() {
    if (auto f = std::move(on_release)) {
      on_release = nullptr;
      f();
    }
  }
};

}  // namespace kwire_broker
