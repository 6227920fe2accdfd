#include "core/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace kwire_broker::scram {
namespace {

using Bytes = std::vector<std::uint8_t>;

const EVP_MD* digest(Mechanism m) { return m == Mechanism::sha512 ? EVP_sha512() : EVP_sha256(); }

Bytes hmac(Mechanism m, const Bytes& key, std::string_view data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  HMAC(digest(m), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

Bytes hash(Mechanism m, const Bytes& data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, digest(m), nullptr);
  out.resize(len);
  return out;
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) throw std::runtime_error("no random bytes from OpenSSL");
  return out;
}

/// A printable nonce without ',' (RFC 5802's "printable").
std::string random_nonce() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (auto b : random_bytes(32)) out += alphabet[b % (sizeof alphabet - 1)];
  return out;
}

/// saslname of RFC 5802: "=2C" is ',' and "=3D" is '='; any other '=' is
/// malformed.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (s.substr(i, 3) == "=2C") out += ',';
    else if (s.substr(i, 3) == "=3D") out += '=';
    else return std::nullopt;
    i += 2;
  }
  return out;
}

/// Splits "k=v,k=v" into its attributes; nothing when one is not "x=...".
std::optional<std::vector<std::pair<char, std::string_view>>> attributes(std::string_view s) {
  std::vector<std::pair<char, std::string_view>> out;
  std::size_t at = 0;
  while (at <= s.size()) {
    auto end = s.find(',', at);
    if (end == std::string_view::npos) end = s.size();
    auto item = s.substr(at, end - at);
    if (item.size() < 2 || item[1] != '=') return std::nullopt;
    out.emplace_back(item[0], item.substr(2));
    at = end + 1;
  }
  return out;
}

constexpr std::string_view invalid_credentials = "Authentication failed: Invalid user credentials";

}  // namespace

Mechanism mechanism_of(std::string_view name) noexcept {
  if (name == "SCRAM-SHA-256") return Mechanism::sha256;
  if (name == "SCRAM-SHA-512") return Mechanism::sha512;
  return Mechanism::unknown;
}

const char* name_of(Mechanism m) noexcept {
  switch (m) {
    case Mechanism::sha256: return "SCRAM-SHA-256";
    case Mechanism::sha512: return "SCRAM-SHA-512";
    default: return "UNKNOWN";
  }
}

Bytes salted_password(Mechanism m, std::string_view password, const Bytes& salt, std::int32_t iterations) {
  Bytes out(static_cast<std::size_t>(EVP_MD_get_size(digest(m))));
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(), static_cast<int>(salt.size()),
                    iterations, digest(m), static_cast<int>(out.size()), out.data());
  return out;
}

storage::ScramCredential credential_from_salted(Mechanism m, std::string user, Bytes salt, std::int32_t iterations,
                                                const Bytes& salted) {
  storage::ScramCredential c;
  c.user = std::move(user);
  c.mechanism = static_cast<std::int8_t>(m);
  c.iterations = iterations;
  c.salt = std::move(salt);
  c.stored_key = hash(m, hmac(m, salted, "Client Key"));
  c.server_key = hmac(m, salted, "Server Key");
  return c;
}

storage::ScramCredential make_credential(Mechanism m, std::string user, std::string_view password,
                                         std::int32_t iterations) {
  auto salt = random_bytes(32);
  const auto salted = salted_password(m, password, salt, iterations);
  return credential_from_salted(m, std::move(user), std::move(salt), iterations, salted);
}

std::string base64(const std::uint8_t* data, std::size_t size) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < size; i += 3) {
    const std::uint32_t n = (std::uint32_t{data[i]} << 16) | (i + 1 < size ? std::uint32_t{data[i + 1]} << 8 : 0) |
                            (i + 2 < size ? data[i + 2] : 0);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += i + 1 < size ? table[(n >> 6) & 63] : '=';
    out += i + 2 < size ? table[n & 63] : '=';
  }
  return out;
}

std::optional<Bytes> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const std::uint32_t n = (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) | (std::uint32_t(v[2]) << 6) |
                            std::uint32_t(v[3]);
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(n));
  }
  return out;
}

Server::Server(Mechanism m, Lookup lookup, std::string nonce)
    : mechanism_(m), lookup_(std::move(lookup)), server_nonce_(nonce.empty() ? random_nonce() : std::move(nonce)) {}

Server::Step Server::step(std::string_view message) {
  Step out;
  switch (state_) {
    case State::expect_first: out = first(message); break;
    case State::expect_final: out = final(message); break;
    case State::finished: out.error = "the SCRAM exchange is already over"; break;
  }
  state_ = out.error.empty() && !out.done ? State::expect_final : State::finished;
  return out;
}

// client-first-message = gs2-header client-first-message-bare
// gs2-header = ("n" / "y") "," [ "a=" saslname ] ","
// client-first-message-bare = "n=" saslname ",r=" c-nonce ["," extensions]
Server::Step Server::first(std::string_view m) {
  Step out;
  if (m.size() < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',') {
    out.error = "Invalid SCRAM client first message: channel binding is not supported";
    return out;
  }
  const auto header_end = m.find(',', 2);
  if (header_end == std::string_view::npos) {
    out.error = "Invalid SCRAM client first message";
    return out;
  }
  const std::string_view authzid_part = m.substr(2, header_end - 2);
  gs2_header_ = std::string(m.substr(0, header_end + 1));
  client_first_bare_ = std::string(m.substr(header_end + 1));
  auto attrs = attributes(client_first_bare_);
  if (!attrs || attrs->size() < 2 || (*attrs)[0].first != 'n' || (*attrs)[1].first != 'r' || (*attrs)[1].second.empty()) {
    out.error = "Invalid SCRAM client first message";
    return out;
  }
  auto user = decode_saslname((*attrs)[0].second);
  if (!user || user->empty()) {
    out.error = "Invalid SCRAM user name";
    return out;
  }
  if (!authzid_part.empty()) {
    auto authzid = authzid_part.substr(0, 2) == "a=" ? decode_saslname(authzid_part.substr(2)) : std::nullopt;
    if (!authzid || *authzid != *user) {
      out.error = "Authentication failed: Client requested an authorization id that is different from username";
      return out;
    }
  }
  user_ = *user;
  credential_ = lookup_(user_);
  if (!credential_) {
    out.error = std::string(invalid_credentials);
    return out;
  }
  nonce_ = std::string((*attrs)[1].second) + server_nonce_;
  server_first_ = "r=" + nonce_ + ",s=" + base64(credential_->salt.data(), credential_->salt.size()) +
                  ",i=" + std::to_string(credential_->iterations);
  out.reply = server_first_;
  return out;
}

// client-final-message = "c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" proof
Server::Step Server::final(std::string_view m) {
  Step out;
  const auto proof_at = m.rfind(",p=");
  auto attrs = proof_at == std::string_view::npos ? std::nullopt : attributes(m.substr(0, proof_at));
  if (!attrs || attrs->size() < 2 || (*attrs)[0].first != 'c' || (*attrs)[1].first != 'r') {
    out.error = "Invalid SCRAM client final message";
    return out;
  }
  const auto binding = unbase64((*attrs)[0].second);
  if (!binding || std::string_view(reinterpret_cast<const char*>(binding->data()), binding->size()) != gs2_header_) {
    out.error = "Invalid SCRAM client final message: channel binding does not match";
    return out;
  }
  if ((*attrs)[1].second != nonce_) {
    out.error = "Invalid SCRAM client final message: nonce does not match";
    return out;
  }
  const auto proof = unbase64(m.substr(proof_at + 3));
  const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(m.substr(0, proof_at));
  const auto client_signature = hmac(mechanism_, credential_->stored_key, auth_message);
  if (!proof || proof->size() != client_signature.size()) {
    out.error = std::string(invalid_credentials);
    return out;
  }
  // ClientKey = ClientProof XOR ClientSignature; its hash must be StoredKey.
  Bytes client_key(proof->size());
  for (std::size_t i = 0; i < client_key.size(); ++i) client_key[i] = (*proof)[i] ^ client_signature[i];
  const auto stored = hash(mechanism_, client_key);
  if (stored.size() != credential_->stored_key.size() ||
      CRYPTO_memcmp(stored.data(), credential_->stored_key.data(), stored.size()) != 0) {
    out.error = std::string(invalid_credentials);
    return out;
  }
  const auto server_signature = hmac(mechanism_, credential_->server_key, auth_message);
  out.reply = "v=" + base64(server_signature.data(), server_signature.size());
  out.done = true;
  return out;
}

Client::Client(Mechanism m, std::string user, std::string password, std::string nonce)
    : mechanism_(m), user_(std::move(user)), password_(std::move(password)),
      nonce_(nonce.empty() ? random_nonce() : std::move(nonce)) {}

std::string Client::first() {
  std::string name;  // saslname: ',' and '=' escaped
  for (char ch : user_) name += ch == ',' ? "=2C" : ch == '=' ? "=3D" : std::string(1, ch);
  client_first_bare_ = "n=" + name + ",r=" + nonce_;
  return "n,," + client_first_bare_;
}

// server-first-message = "r=" nonce ",s=" salt ",i=" iteration-count ["," extensions]
std::optional<std::string> Client::final(std::string_view server_first, std::string& error) {
  auto attrs = attributes(server_first);
  if (!attrs || attrs->size() < 3 || (*attrs)[0].first != 'r' || (*attrs)[1].first != 's' || (*attrs)[2].first != 'i') {
    error = "Invalid SCRAM server first message";
    return std::nullopt;
  }
  const std::string_view nonce = (*attrs)[0].second;
  if (nonce.size() <= nonce_.size() || nonce.substr(0, nonce_.size()) != nonce_) {
    error = "Invalid SCRAM server first message: the nonce is not ours extended";
    return std::nullopt;
  }
  const auto salt = unbase64((*attrs)[1].second);
  const auto digits = (*attrs)[2].second;
  bool number = !digits.empty() && digits.size() <= 6;  // at most 999999: no overflow
  std::int32_t iterations = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') number = false;
    else iterations = iterations * 10 + (ch - '0');
  }
  if (!salt || !number || iterations < min_iterations || iterations > max_iterations) {
    error = "Invalid SCRAM server first message: bad salt or iterations";
    return std::nullopt;
  }
  const auto salted = salted_password(mechanism_, password_, *salt, iterations);
  const auto client_key = hmac(mechanism_, salted, "Client Key");
  const std::string without_proof = "c=biws,r=" + std::string(nonce);  // biws: base64 of "n,,"
  const std::string auth_message = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  const auto client_signature = hmac(mechanism_, hash(mechanism_, client_key), auth_message);
  Bytes proof(client_key.size());
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = client_key[i] ^ client_signature[i];
  server_signature_ = hmac(mechanism_, hmac(mechanism_, salted, "Server Key"), auth_message);
  return without_proof + ",p=" + base64(proof.data(), proof.size());
}

bool Client::verify(std::string_view server_final) const {
  return !server_signature_.empty() &&
         server_final == "v=" + base64(server_signature_.data(), server_signature_.size());
}

}  // namespace kwire_broker::scram
