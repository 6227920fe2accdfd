#include "core/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kwire_broker::oauth {

using json = nlohmann::json;
using Bytes = std::vector<std::uint8_t>;

namespace {

// Bounds on what a peer may send before it is authenticated; real tokens
// are a few KiB and real key sets a handful of keys.
constexpr std::size_t max_token_bytes = 64 << 10;
constexpr std::size_t max_keys = 256;

/// Base64url without padding (RFC 7515 §2); nothing on any other input.
std::optional<Bytes> unbase64url(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (s.size() % 4 == 1) return std::nullopt;
  Bytes out;
  out.reserve(s.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
    }
  }
  // The bits left over must be zero, so one text stands for one value.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::optional<json> parse_object(const Bytes& bytes) {
  auto j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::string string_field(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

/// A public key from OSSL parameters, of key type `type` ("RSA", "EC").
Pkey key_from(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
    if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) key = nullptr;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return Pkey(key);
}

Pkey rsa_key(const Bytes& n, const Bytes& e) {
  BIGNUM* bn_n = BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  Pkey key;
  if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
    key = key_from("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return key;
}

Pkey ec_key(const char* group, const Bytes& x, const Bytes& y) {
  Bytes point{0x04};  // uncompressed: 04 || x || y
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  Pkey key;
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1)
    key = key_from("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  return key;
}

/// What a JWS "alg" asks for.
struct Algorithm {
  enum class Family { rsa_pkcs1, rsa_pss, ecdsa } family;
  const EVP_MD* digest;
  int ec_size;  // bytes of r and of s, for ECDSA
};

std::optional<Algorithm> algorithm_of(std::string_view alg) {
  using F = Algorithm::Family;
  if (alg == "RS256") return Algorithm{F::rsa_pkcs1, EVP_sha256(), 0};
  if (alg == "RS384") return Algorithm{F::rsa_pkcs1, EVP_sha384(), 0};
  if (alg == "RS512") return Algorithm{F::rsa_pkcs1, EVP_sha512(), 0};
  if (alg == "PS256") return Algorithm{F::rsa_pss, EVP_sha256(), 0};
  if (alg == "PS384") return Algorithm{F::rsa_pss, EVP_sha384(), 0};
  if (alg == "PS512") return Algorithm{F::rsa_pss, EVP_sha512(), 0};
  if (alg == "ES256") return Algorithm{F::ecdsa, EVP_sha256(), 32};
  if (alg == "ES384") return Algorithm{F::ecdsa, EVP_sha384(), 48};
  if (alg == "ES512") return Algorithm{F::ecdsa, EVP_sha512(), 66};
  return std::nullopt;
}

/// A JWS signature of ECDSA (r || s, each `size` bytes) as the DER
/// structure OpenSSL verifies.
std::optional<Bytes> ecdsa_der(const Bytes& raw, int size) {
  if (raw.size() != static_cast<std::size_t>(2 * size)) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw.data(), size, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + size, size, nullptr);
  std::optional<Bytes> out;
  if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = nullptr;  // owned by sig now
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(sig, &der);
    if (n > 0) out = Bytes(der, der + n);
    OPENSSL_free(der);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return out;
}

/// A NumericDate claim (RFC 7519 §2) in ms since the epoch.
std::optional<std::int64_t> date_ms(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  const double seconds = it->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e13) return std::nullopt;
  return static_cast<std::int64_t>(seconds * 1000);
}

Validation refused(std::string why) { return Validation{std::nullopt, std::move(why), {}}; }

}  // namespace

struct Key {
  std::string kid;
  std::string alg;  // the JWK's own "alg", if it names one
  bool rsa = false;
  int ec_size = 0;  // the curve's coordinate size for EC keys
  Pkey pkey;

  bool fits(const Algorithm& a) const {
    if (a.family == Algorithm::Family::ecdsa) return !rsa && ec_size == a.ec_size;
    return rsa;
  }

  bool verifies(const Algorithm& a, std::string_view signed_part, const Bytes& signature) const {
    Bytes der;
    const Bytes* sig = &signature;
    if (a.family == Algorithm::Family::ecdsa) {
      auto d = ecdsa_der(signature, a.ec_size);
      if (!d) return false;
      der = std::move(*d);
      sig = &der;
    }
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = md && EVP_DigestVerifyInit(md, &pctx, a.digest, nullptr, pkey.get()) == 1;
    if (ok && a.family == Algorithm::Family::rsa_pss)
      ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestVerify(md, sig->data(), sig->size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                                signed_part.size()) == 1;
    EVP_MD_CTX_free(md);
    return ok;
  }
};

KeySet::~KeySet() = default;

std::shared_ptr<const KeySet> KeySet::parse(std::string_view text, std::string& error) {
  auto doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    error = "not a JSON Web Key Set (an object with a \"keys\" array)";
    return nullptr;
  }
  std::shared_ptr<KeySet> set(new KeySet());
  for (const auto& k : doc["keys"]) {
    if (set->keys_.size() == max_keys) break;
    if (!k.is_object()) continue;
    const auto use = string_field(k, "use");
    if (!use.empty() && use != "sig") continue;  // an encryption key
    auto key = std::make_unique<Key>();
    key->kid = string_field(k, "kid");
    key->alg = string_field(k, "alg");
    const auto kty = string_field(k, "kty");
    if (kty == "RSA") {
      auto n = unbase64url(string_field(k, "n"));
      auto e = unbase64url(string_field(k, "e"));
      if (!n || !e || n->empty() || e->empty()) continue;
      key->rsa = true;
      key->pkey = rsa_key(*n, *e);
      // As Kafka's validator (and RFC 7518 §3.3): RSA keys of 2048 bits and more.
      if (key->pkey && EVP_PKEY_get_bits(key->pkey.get()) < 2048) key->pkey.reset();
    } else if (kty == "EC") {
      const auto crv = string_field(k, "crv");
      const char* group = crv == "P-256" ? "prime256v1" : crv == "P-384" ? "secp384r1" : crv == "P-521" ? "secp521r1" : nullptr;
      key->ec_size = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
      auto x = unbase64url(string_field(k, "x"));
      auto y = unbase64url(string_field(k, "y"));
      if (!group || !x || !y || x->size() != static_cast<std::size_t>(key->ec_size) ||
          y->size() != static_cast<std::size_t>(key->ec_size))
        continue;
      key->pkey = ec_key(group, *x, *y);
    }
    if (key->pkey) set->keys_.push_back(std::move(key));
  }
  if (set->keys_.empty()) {
    error = "the key set holds no RSA (2048 bits or more) or EC (P-256, P-384, P-521) signing key";
    return nullptr;
  }
  return set;
}

namespace {

/// The checks on a token's claims (after its signature, when the broker
/// checks that): times, issuer, audience and the principal.
Validation check_claims(const json& claims, const Expectations& expect, std::int64_t now_ms, bool expiry_required) {
  const std::int64_t skew_ms = expect.clock_skew_s * 1000;
  const auto exp = date_ms(claims, "exp");
  if (!exp && expiry_required) return refused("the token has no expiry (exp)");
  if (exp && now_ms > *exp + skew_ms) return refused("the token expired");
  if (auto nbf = date_ms(claims, "nbf"); nbf && now_ms + skew_ms < *nbf) return refused("the token is not valid yet (nbf)");
  if (auto iat = date_ms(claims, "iat"); iat && now_ms + skew_ms < *iat)
    return refused("the token was issued in the future (iat)");
  if (!expect.issuer.empty() && string_field(claims, "iss") != expect.issuer)
    return refused("the token's issuer is not " + expect.issuer);
  if (!expect.audience.empty()) {
    std::vector<std::string> aud;
    if (auto it = claims.find("aud"); it != claims.end()) {
      if (it->is_string()) aud.push_back(it->get<std::string>());
      if (it->is_array())
        for (const auto& a : *it)
          if (a.is_string()) aud.push_back(a.get<std::string>());
    }
    bool match = false;
    for (const auto& a : aud)
      for (const auto& e : expect.audience) match = match || a == e;
    if (!match) return refused("the token's audience is not an expected one");
  }
  const auto sub = string_field(claims, expect.sub_claim.c_str());
  if (sub.empty()) return refused("the token has no " + expect.sub_claim + " claim");
  return Validation{Token{sub, exp.value_or(0)}, {}, {}};
}

}  // namespace

Validation KeySet::validate(std::string_view jwt, const Expectations& expect, std::int64_t now_ms) const {
  if (jwt.size() > max_token_bytes) return refused("the token is longer than " + std::to_string(max_token_bytes) + " bytes");
  const auto dot1 = jwt.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos)
    return refused("the token is not a signed JWT (header.payload.signature)");
  const auto header_bytes = unbase64url(jwt.substr(0, dot1));
  const auto claim_bytes = unbase64url(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = unbase64url(jwt.substr(dot2 + 1));
  if (!header_bytes || !claim_bytes || !signature) return refused("the token is not base64url");
  const auto header = parse_object(*header_bytes);
  if (!header) return refused("the token's header is not a JSON object");
  const auto alg_name = string_field(*header, "alg");
  const auto alg = algorithm_of(alg_name);
  if (!alg) return refused("the token's algorithm \"" + alg_name + "\" is not accepted");
  if (header->contains("crit")) return refused("the token names critical header extensions");

  const auto kid = string_field(*header, "kid");
  const std::string_view signed_part = jwt.substr(0, dot2);
  bool candidate = false, verified = false, kid_known = false;
  for (const auto& key : keys_) {
    if (!kid.empty() && key->kid != kid) continue;
    kid_known = true;
    if (!key->fits(*alg) || (!key->alg.empty() && key->alg != alg_name)) continue;
    candidate = true;
    if (key->verifies(*alg, signed_part, *signature)) {
      verified = true;
      break;
    }
  }
  if (!candidate) {
    auto v = refused("no key of the key set verifies " + alg_name + (kid.empty() ? "" : " with kid " + kid));
    if (!kid_known) v.missing_kid = kid;
    return v;
  }
  if (!verified) return refused("the token's signature does not verify");

  const auto claims = parse_object(*claim_bytes);
  if (!claims) return refused("the token's claims are not a JSON object");
  return check_claims(*claims, expect, now_ms, true);
}

Validation read_claims(std::string_view jwt, const Expectations& expect, std::int64_t now_ms) {
  if (jwt.size() > max_token_bytes) return refused("the token is longer than " + std::to_string(max_token_bytes) + " bytes");
  const auto dot1 = jwt.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos)
    return refused("the token is not a signed JWT (header.payload.signature)");
  const auto claim_bytes = unbase64url(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!claim_bytes) return refused("the token is not base64url");
  const auto claims = parse_object(*claim_bytes);
  if (!claims) return refused("the token's claims are not a JSON object");
  return check_claims(*claims, expect, now_ms, false);
}

KeySetFile::KeySetFile(std::filesystem::path path) : path_(std::move(path)) {
  if (!current()) throw std::runtime_error("sasl.oauthbearer.jwks.endpoint.url: no usable key in " + path_.string());
}

std::shared_ptr<const KeySet> KeySetFile::current() {
  std::lock_guard lk(mu_);
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  if (ec || (keys_ && mtime == seen_)) return keys_;
  std::ifstream in(path_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  if (auto keys = KeySet::parse(text.str(), error)) {
    keys_ = std::move(keys);
    seen_ = mtime;
  }
  return keys_;
}

Parsed parse_client_response(std::string_view m) {
  auto fail = [](std::string why) { return Parsed{std::nullopt, std::move(why)}; };
  if (m.size() > max_token_bytes + 4096) return fail("the OAUTHBEARER message is too long");
  // gs2-header: "n," or "y," (no channel binding), an optional "a=authzid", ",".
  if (m.size() < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',')
    return fail("the OAUTHBEARER message does not start with a gs2 header without channel binding");
  const auto comma = m.find(',', 2);
  if (comma == std::string_view::npos) return fail("the OAUTHBEARER gs2 header is not terminated");
  if (comma != 2 && m.substr(2, 2) != "a=") return fail("the OAUTHBEARER gs2 header is malformed");
  ClientResponse out;
  if (comma != 2) out.authzid = std::string(m.substr(4, comma - 4));
  std::string_view rest = m.substr(comma + 1);
  if (rest.empty() || rest.front() != '\x01') return fail("the OAUTHBEARER gs2 header is not followed by 0x01");
  rest.remove_prefix(1);
  bool have_auth = false, terminated = false;
  while (!rest.empty()) {
    const auto end = rest.find('\x01');
    if (end == std::string_view::npos) return fail("an OAUTHBEARER key/value pair is not terminated by 0x01");
    const auto pair = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    if (pair.empty()) {
      terminated = true;
      break;
    }
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return fail("an OAUTHBEARER key/value pair has no key");
    const auto key = pair.substr(0, eq), value = pair.substr(eq + 1);
    for (char c : key)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return fail("an OAUTHBEARER key is not alphabetic");
    if (key == "auth") {
      if (have_auth) return fail("the OAUTHBEARER message has two auth values");
      if (value.size() < 7 || (value.substr(0, 7) != "Bearer " && value.substr(0, 7) != "bearer "))
        return fail("the OAUTHBEARER auth value is not a Bearer token");
      auto token = value.substr(7);
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
      out.token = std::string(token);
      have_auth = true;
    } else {
      if (out.extensions.size() >= 64) return fail("the OAUTHBEARER message has too many extensions");
      out.extensions.emplace_back(std::string(key), std::string(value));
    }
  }
  if (!terminated || !rest.empty()) return fail("the OAUTHBEARER message does not end with 0x01 0x01");
  if (!have_auth || out.token.empty()) return fail("the OAUTHBEARER message carries no token");
  return Parsed{std::move(out), {}};
}

std::string error_challenge() { return R"({"status":"invalid_token"})"; }

}  // namespace kwire_broker::oauth
