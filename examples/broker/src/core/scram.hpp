// SASL SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server's
// side: salted credentials and the two-round exchange Kafka clients run
// through SaslAuthenticate. No channel binding (clients send "n,,"), as in
// Kafka. Everything a client sends is parsed here and nowhere else, so the
// parsing is bounded and fuzzed (tests/fuzz/scram_server.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/storage.hpp"

namespace kwire_broker::scram {

/// Kafka's mechanism numbers (KIP-554's ScramMechanism).
enum class Mechanism : std::int8_t { unknown = 0, sha256 = 1, sha512 = 2 };

/// "SCRAM-SHA-256" / "SCRAM-SHA-512"; Mechanism::unknown for anything else.
Mechanism mechanism_of(std::string_view name) noexcept;
const char* name_of(Mechanism m) noexcept;

/// Kafka's bounds on iterations (ScramMechanism's min and max).
inline constexpr std::int32_t min_iterations = 4096;
inline constexpr std::int32_t max_iterations = 16384;

/// Hi(password, salt, iterations) of RFC 5802 (PBKDF2 with the mechanism's HMAC).
std::vector<std::uint8_t> salted_password(Mechanism m, std::string_view password, const std::vector<std::uint8_t>& salt,
                                          std::int32_t iterations);
/// The stored credential for a salted password: StoredKey and ServerKey;
/// the password itself is never kept.
storage::ScramCredential credential_from_salted(Mechanism m, std::string user, std::vector<std::uint8_t> salt,
                                                std::int32_t iterations, const std::vector<std::uint8_t>& salted);
/// A fresh credential for `password` with a random salt.
storage::ScramCredential make_credential(Mechanism m, std::string user, std::string_view password,
                                         std::int32_t iterations);

std::string base64(const std::uint8_t* data, std::size_t size);
/// Strict base64 (padding required); nothing on any other input.
std::optional<std::vector<std::uint8_t>> unbase64(std::string_view text);

/// One client's exchange. step() takes each client message in turn and
/// gives the server's answer: the server-first message, then the
/// server-final one; a failure ends the exchange.
class Server {
 public:
  using Lookup = std::function<std::optional<storage::ScramCredential>(const std::string& user)>;
  /// `nonce` fixes the server's part of the nonce (tests); random otherwise.
  Server(Mechanism m, Lookup lookup, std::string nonce = {});

  struct Step {
    std::string reply;  // to send back (empty after a failure)
    std::string error;  // why the exchange failed; empty when it goes on
    bool done = false;  // authenticated: `reply` is the server-final message
  };
  Step step(std::string_view client_message);

  /// The authenticated user (after a step with done).
  const std::string& user() const noexcept { return user_; }

 private:
  Step first(std::string_view message);
  Step final(std::string_view message);

  Mechanism mechanism_;
  Lookup lookup_;
  enum class State { expect_first, expect_final, finished } state_ = State::expect_first;
  std::string user_;
  std::string server_nonce_;
  std::string nonce_;             // client's + server's
  std::string gs2_header_;        // "n,," or "n,a=...,"
  std::string client_first_bare_;
  std::string server_first_;
  std::optional<storage::ScramCredential> credential_;
};

/// The client's side, for a gateway logging in to another: first() gives
/// the client-first message, final() answers the server-first one, and
/// verify() checks that the server-final one proves the server knew the
/// credential too.
class Client {
 public:
  /// `nonce` fixes the client's nonce (tests); random otherwise.
  Client(Mechanism m, std::string user, std::string password, std::string nonce = {});
  std::string first();
  /// The client-final message; nothing, with `error` set, when the server's
  /// message is malformed, does not extend our nonce or asks for iterations
  /// out of Kafka's bounds.
  std::optional<std::string> final(std::string_view server_first, std::string& error);
  bool verify(std::string_view server_final) const;

 private:
  Mechanism mechanism_;
  std::string user_, password_, nonce_, client_first_bare_;
  std::vector<std::uint8_t> server_signature_;
};

}  // namespace kwire_broker::scram
