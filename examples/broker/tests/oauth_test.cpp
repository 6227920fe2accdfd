// Below the wire: SASL/OAUTHBEARER's client message and JWT checks
// (core/jwt.hpp), with keys made and tokens signed by OpenSSL in the test.
#include <doctest/doctest.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/jwt.hpp"
#include "support/temp_dir.hpp"

using namespace kwire_broker::oauth;

namespace {

std::string b64url(const unsigned char* p, std::size_t n) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += a[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += a[(acc << (6 - bits)) & 63];
  return out;
}
std::string b64url(std::string_view s) { return b64url(reinterpret_cast<const unsigned char*>(s.data()), s.size()); }

std::string bn_b64(const BIGNUM* bn, int pad = 0) {
  std::vector<unsigned char> buf(pad ? pad : BN_num_bytes(bn));
  BN_bn2binpad(bn, buf.data(), static_cast<int>(buf.size()));
  return b64url(buf.data(), buf.size());
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

/// A signing key and its public JWK.
struct SigningKey {
  Pkey pkey;
  std::string kid;
  bool ec = false;

  static SigningKey rsa(std::string kid, unsigned bits = 2048) { return {Pkey(EVP_RSA_gen(bits)), std::move(kid), false}; }
  static SigningKey p256(std::string kid) { return {Pkey(EVP_EC_gen("P-256")), std::move(kid), true}; }

  std::string jwk() const {
    std::string kid_field = kid.empty() ? "" : "\"kid\":\"" + kid + "\",";
    if (!ec) {
      BIGNUM *n = nullptr, *e = nullptr;
      EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n);
      EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e);
      auto out = "{\"kty\":\"RSA\"," + kid_field + "\"n\":\"" + bn_b64(n) + "\",\"e\":\"" + bn_b64(e) + "\"}";
      BN_free(n);
      BN_free(e);
      return out;
    }
    BIGNUM *x = nullptr, *y = nullptr;
    EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    auto out = "{\"kty\":\"EC\"," + kid_field + "\"crv\":\"P-256\",\"x\":\"" + bn_b64(x, 32) + "\",\"y\":\"" +
               bn_b64(y, 32) + "\"}";
    BN_free(x);
    BN_free(y);
    return out;
  }

  /// A compact JWS of `claims` with header alg `alg` (RS256, PS256, ES256).
  std::string sign(const std::string& alg, const std::string& claims, std::string header_kid = "?") const {
    if (header_kid == "?") header_kid = kid;
    std::string header = "{\"alg\":\"" + alg + "\",\"typ\":\"JWT\"" +
                         (header_kid.empty() ? "" : ",\"kid\":\"" + header_kid + "\"") + "}";
    const std::string input = b64url(header) + "." + b64url(claims);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestSignInit(md, &pctx, EVP_sha256(), nullptr, pkey.get());
    if (alg == "PS256") {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    std::size_t len = 0;
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::vector<unsigned char> sig(len);
    EVP_DigestSign(md, sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(md);
    if (ec) {  // DER to JWS's r || s
      const unsigned char* p = sig.data();
      ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      std::vector<unsigned char> raw(64);
      BN_bn2binpad(ECDSA_SIG_get0_r(s), raw.data(), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(s), raw.data() + 32, 32);
      ECDSA_SIG_free(s);
      sig = raw;
    }
    return input + "." + b64url(sig.data(), sig.size());
  }
};

std::string key_set(std::initializer_list<const SigningKey*> keys) {
  std::string out = "{\"keys\":[";
  for (auto* k : keys) out += (out.back() == '[' ? "" : ",") + k->jwk();
  return out + "]}";
}

std::shared_ptr<const KeySet> parse_set(const std::string& json) {
  std::string error;
  auto set = KeySet::parse(json, error);
  INFO(error);
  REQUIRE(set);
  return set;
}

constexpr std::int64_t now_s = 1800000000;
constexpr std::int64_t now_ms = now_s * 1000;

std::string claims(std::int64_t exp = now_s + 600, std::string extra = R"("sub":"alice","iss":"idp","aud":"kwire")") {
  return "{" + extra + ",\"exp\":" + std::to_string(exp) + "}";
}

const Expectations expect{{"kwire"}, "idp", "sub", 30};

}  // namespace

TEST_CASE("OAUTHBEARER: tokens signed with RS256, PS256 and ES256 by a key of the set give the subject") {
  const auto rsa = SigningKey::rsa("r1");
  const auto ec = SigningKey::p256("e1");
  const auto set = parse_set(key_set({&rsa, &ec}));
  CHECK(set->size() == 2);
  for (auto token : {rsa.sign("RS256", claims()), rsa.sign("PS256", claims()), ec.sign("ES256", claims())}) {
    auto v = set->validate(token, expect, now_ms);
    INFO(v.error);
    REQUIRE(v.token);
    CHECK(v.token->principal == "alice");
    CHECK(v.token->expires_ms == (now_s + 600) * 1000);
  }
  // Without a kid every key of a fitting type is tried.
  CHECK(set->validate(ec.sign("ES256", claims(), ""), expect, now_ms).token);
}

TEST_CASE("OAUTHBEARER: what a token must not be") {
  const auto rsa = SigningKey::rsa("r1");
  const auto other = SigningKey::rsa("r1");  // same kid, another key
  const auto set = parse_set(key_set({&rsa}));
  auto refused = [&](const std::string& token, std::string_view why) {
    auto v = set->validate(token, expect, now_ms);
    CHECK_FALSE(v.token);
    CHECK_MESSAGE(v.error.find(why) != std::string::npos, v.error);
  };
  refused(other.sign("RS256", claims()), "does not verify");
  refused(rsa.sign("RS256", claims(), "r2"), "no key");
  // A key id the set lacks is named, so the keys can be fetched early; a
  // known id with another algorithm's key, or no id at all, is not.
  CHECK(set->validate(rsa.sign("RS256", claims(), "r2"), expect, now_ms).missing_kid == "r2");
  CHECK(set->validate(rsa.sign("ES256", claims()), expect, now_ms).missing_kid.empty());
  CHECK(set->validate(other.sign("RS256", claims(), ""), expect, now_ms).missing_kid.empty());
  refused(rsa.sign("RS256", claims(now_s - 31)), "expired");
  CHECK(set->validate(rsa.sign("RS256", claims(now_s - 29)), expect, now_ms).token);  // within the clock skew
  refused(rsa.sign("RS256", claims(now_s + 600, R"("sub":"alice","iss":"idp","aud":"kwire","nbf":1800000100)")), "nbf");
  refused(rsa.sign("RS256", claims(now_s + 600, R"("sub":"alice","iss":"other","aud":"kwire")")), "issuer");
  refused(rsa.sign("RS256", claims(now_s + 600, R"("sub":"alice","iss":"idp","aud":["a","b"])")), "audience");
  CHECK(set->validate(rsa.sign("RS256", claims(now_s + 600, R"("sub":"alice","iss":"idp","aud":["a","kwire"])")), expect,
                      now_ms)
            .token);
  refused(rsa.sign("RS256", claims(now_s + 600, R"("iss":"idp","aud":"kwire")")), "no sub claim");
  refused(rsa.sign("RS256", R"({"sub":"alice","iss":"idp","aud":"kwire"})"), "no expiry");
  // An ES256 header on an RSA-only set, and algorithms that are never accepted.
  refused(rsa.sign("ES256", claims()), "no key");
  const std::string body = b64url(claims());
  refused(b64url(R"({"alg":"none"})") + "." + body + ".", "not accepted");
  refused(b64url(R"({"alg":"HS256","kid":"r1"})") + "." + body + "." + b64url("mac"), "not accepted");
  // Tampered claims, and shapes that are no JWS.
  auto good = rsa.sign("RS256", claims());
  auto first = good.find('.'), second = good.find('.', first + 1);
  refused(good.substr(0, first + 1) + b64url(claims(now_s + 6000000)) + good.substr(second), "does not verify");
  refused(good.substr(0, second), "not a signed JWT");
  refused(good + ".x", "not a signed JWT");
  refused(good + "=", "base64url");
  refused(std::string(70000, 'a'), "longer than");
}

TEST_CASE("OAUTHBEARER: the subject comes from the configured claim") {
  const auto rsa = SigningKey::rsa("r1");
  const auto set = parse_set(key_set({&rsa}));
  Expectations by_email = expect;
  by_email.sub_claim = "email";
  auto v = set->validate(rsa.sign("RS256", claims(now_s + 60, R"("sub":"x","email":"bob@example.com","iss":"idp","aud":"kwire")")),
                         by_email, now_ms);
  REQUIRE(v.token);
  CHECK(v.token->principal == "bob@example.com");
}

TEST_CASE("OAUTHBEARER: a key set keeps only keys it can verify with") {
  std::string error;
  const auto small = SigningKey::rsa("small", 1024);
  CHECK_FALSE(KeySet::parse(key_set({&small}), error));
  CHECK(error.find("no RSA") != std::string::npos);
  CHECK_FALSE(KeySet::parse("[]", error));
  CHECK_FALSE(KeySet::parse("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", error));
  const auto rsa = SigningKey::rsa("r1");
  auto enc = rsa.jwk();
  enc.insert(1, "\"use\":\"enc\",");
  CHECK_FALSE(KeySet::parse("{\"keys\":[" + enc + "]}", error));
  CHECK(KeySet::parse("{\"keys\":[" + enc + "," + rsa.jwk() + "]}", error));
}

TEST_CASE("OAUTHBEARER: a key set file is read again when it changes") {
  kwire_broker::testing::TempDir dir("kwire-oauth");
  const auto path = dir.path / "jwks.json";
  const auto a = SigningKey::rsa("a");
  const auto b = SigningKey::p256("b");
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    // A distinct modification time even on filesystems with coarse clocks.
    static auto t = std::filesystem::file_time_type::clock::now();
    t += std::chrono::seconds(2);
    std::filesystem::last_write_time(path, t);
  };
  write(key_set({&a}));
  KeySetFile file(path);
  CHECK(file.current()->validate(a.sign("RS256", claims()), expect, now_ms).token);
  CHECK_FALSE(file.current()->validate(b.sign("ES256", claims()), expect, now_ms).token);
  write(key_set({&b}));
  CHECK(file.current()->validate(b.sign("ES256", claims()), expect, now_ms).token);
  CHECK_FALSE(file.current()->validate(a.sign("RS256", claims()), expect, now_ms).token);
  write("not json");  // the last good keys stay in force
  CHECK(file.current()->validate(b.sign("ES256", claims()), expect, now_ms).token);
  std::filesystem::remove(path);
  CHECK_THROWS(KeySetFile(path));
}

TEST_CASE("OAUTHBEARER: the client's message") {
  auto ok = parse_client_response("n,,\x01" "auth=Bearer abc.def.ghi\x01\x01");
  REQUIRE(ok.response);
  CHECK(ok.response->token == "abc.def.ghi");
  CHECK(ok.response->authzid.empty());
  auto ext = parse_client_response("n,a=alice,\x01" "auth=Bearer t\x01" "traceId=7\x01\x01");
  REQUIRE(ext.response);
  CHECK(ext.response->authzid == "alice");
  REQUIRE(ext.response->extensions.size() == 1);
  CHECK(ext.response->extensions[0] == std::pair<std::string, std::string>{"traceId", "7"});
  for (std::string_view bad : {std::string_view("n,,\x01" "auth=Bearer t\x01"), std::string_view("p=tls-unique,,\x01" "auth=Bearer t\x01\x01"),
                               std::string_view("n,,\x01" "host=x\x01\x01"), std::string_view("n,,\x01" "auth=Basic dXNlcg==\x01\x01"),
                               std::string_view("n,,\x01" "auth=Bearer a\x01" "auth=Bearer b\x01\x01"),
                               std::string_view("n,,\x01" "=v\x01\x01"), std::string_view("n,,auth=Bearer t\x01\x01"),
                               std::string_view("n,,\x01" "auth=Bearer t\x01\x01trailing"), std::string_view("")}) {
    auto p = parse_client_response(bad);
    CHECK_FALSE(p.response);
    CHECK_FALSE(p.error.empty());
  }
}
