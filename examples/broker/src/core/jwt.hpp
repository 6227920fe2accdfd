// SASL/OAUTHBEARER's server side (RFC 7628, KIP-255, KIP-768): the client's
// message parsed, and the bearer token, a signed JWT (RFC 7519), checked as
// Kafka's broker-side validator checks it: a signature by one of the keys of
// a JSON Web Key Set (RFC 7517), an expiry, optionally the issuer and the
// audience, and the principal from the subject claim. Unsigned tokens
// ("alg":"none") are refused. Everything a client sends is parsed here and
// nowhere else, so the parsing is bounded and fuzzed
// (tests/fuzz/jwt_validator.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwire_broker::oauth {

/// The client's initial response: gs2 header, then key=value pairs separated
/// by 0x01, one of them "auth=Bearer TOKEN"; other pairs are SASL extensions.
struct ClientResponse {
  std::string authzid;  // the gs2 header's a=, if any: must be the token's principal
  std::string token;
  std::vector<std::pair<std::string, std::string>> extensions;
};
/// The parsed response, or why it is not one.
struct Parsed {
  std::optional<ClientResponse> response;
  std::string error;
};
Parsed parse_client_response(std::string_view message);

/// What a token must say beyond a valid signature (Kafka's
/// sasl.oauthbearer.* broker configs).
struct Expectations {
  std::vector<std::string> audience;  // expected.audience: any one of them; empty: not checked
  std::string issuer;                 // expected.issuer; empty: not checked
  std::string sub_claim = "sub";      // sub.claim.name: the principal
  std::int64_t clock_skew_s = 30;     // clock.skew.seconds
};

/// A validated token.
struct Token {
  std::string principal;
  std::int64_t expires_ms = 0;  // the exp claim, in ms since the epoch; 0: none
};
struct Validation {
  std::optional<Token> token;
  std::string error;  // why the token is refused
  std::string missing_kid;  // the token named this key id and no key of the set has it
};

/// One verification key of a key set.
struct Key;

/// The verification keys of a JSON Web Key Set; keys of types or curves it
/// cannot verify with are skipped.
class KeySet {
 public:
  /// Parses a JWKS document; nothing (and `error` says why) when it is not
  /// one or holds no usable key.
  static std::shared_ptr<const KeySet> parse(std::string_view json, std::string& error);
  ~KeySet();
  KeySet(const KeySet&) = delete;
  KeySet& operator=(const KeySet&) = delete;

  /// Checks `jwt` at `now_ms` (ms since the epoch).
  Validation validate(std::string_view jwt, const Expectations& expect, std::int64_t now_ms) const;
  std::size_t size() const noexcept { return keys_.size(); }

 private:
  KeySet() = default;
  std::vector<std::unique_ptr<Key>> keys_;
};

/// The claims of a token that another party verifies (Pulsar, when tokens
/// are passed through to it): its form, times (an expiry is honoured but not
/// required: Pulsar's tokens may have none), issuer, audience and principal;
/// not its signature or algorithm.
Validation read_claims(std::string_view jwt, const Expectations& expect, std::int64_t now_ms);

/// Where the verification keys come from (sasl.oauthbearer.jwks.endpoint.url):
/// a file (below) or an identity provider's endpoint (jwks_endpoint.hpp).
class KeySource {
 public:
  virtual ~KeySource() = default;
  /// The keys in force now (never null once constructed).
  virtual std::shared_ptr<const KeySet> current() = 0;
  /// A token named key id `kid` that the keys in force lack: the provider
  /// may have rotated its keys since they were read. A source that fetches
  /// them may do so early; the token itself stays refused.
  virtual void key_missing(std::string_view kid) { (void)kid; }
};

/// The key set of a file (sasl.oauthbearer.jwks.endpoint.url as a file:
/// URL), read again whenever the file changes, so keys rotate without a
/// restart; a file that stops parsing leaves the last good keys in force.
class KeySetFile final : public KeySource {
 public:
  /// Reads the file; throws std::runtime_error when it holds no usable key.
  explicit KeySetFile(std::filesystem::path path);
  std::shared_ptr<const KeySet> current() override;

 private:
  std::filesystem::path path_;
  std::mutex mu_;
  std::filesystem::file_time_type seen_{};
  std::shared_ptr<const KeySet> keys_;
};

/// The error challenge of RFC 7628 §3.2.2 that a server sends for a refused
/// token: the client answers it with a lone 0x01 and the exchange fails.
std::string error_challenge();

}  // namespace kwire_broker::oauth
