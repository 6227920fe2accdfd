// The exception kwire_pulsar throws for protocol and client failures (the
// admin API throws AdminError, admin.hpp).
#pragma once

#include <stdexcept>
#include <string>

namespace kwire_pulsar {

/// A failure reported by the broker (code is its ServerError) or by this
/// client (code is one of the client_* values below).
class Error : public std::runtime_error {
 public:
  enum : int {
    client_timeout = 1000,
    client_disconnected = 1001,
    client_closed = 1002,
    client_protocol = 1003,
    client_lookup = 1004,
    /// The message is larger than the broker's maxMessageSize: never sent.
    client_message_too_large = 1005,
    /// TLS could not be set up, or the server's certificate was refused.
    client_tls = 1006,
  };
  Error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }
  /// Worth retrying after a reconnect or a new lookup.
  bool retriable() const noexcept;

 private:
  int code_;
};

}  // namespace kwire_pulsar
