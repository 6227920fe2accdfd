#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sys/stat.h>

#include <sstream>
#include <stdexcept>

namespace kwire_broker {
namespace {

namespace ssl = boost::asio::ssl;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (auto t = trim(item); !t.empty()) out.push_back(t);
  return out;
}

/// Kafka's inline PEM values may come on one line with the newlines lost (a
/// properties file); OpenSSL needs the base64 body on lines of its own.
std::string pem_lines(std::string v) {
  for (const char* marker : {"-----BEGIN", "-----END"}) {
    for (auto at = v.find(marker, 1); at != std::string::npos; at = v.find(marker, at + 1))
      if (v[at - 1] != '\n') v.insert(at, 1, '\n');
  }
  for (auto at = v.find("-----", 0); at != std::string::npos;) {
    const auto end = v.find("-----", at + 5);
    if (end == std::string::npos) break;
    if (end + 5 < v.size() && v[end + 5] != '\n') v.insert(end + 5, 1, '\n');
    at = v.find("-----", end + 6);
  }
  return v;
}

/// TLS 1.3 suites go by their IANA names in OpenSSL too; older ones by
/// OpenSSL's own names, which OPENSSL_cipher_name gives for an IANA name.
void set_cipher_suites(SSL_CTX* ctx, const std::string& spec, const std::string& where) {
  std::string tls13, tls12;
  for (const auto& name : split_list(spec)) {
    if (name.rfind("TLS_AES_", 0) == 0 || name.rfind("TLS_CHACHA20_", 0) == 0) {
      tls13 += (tls13.empty() ? "" : ":") + name;
      continue;
    }
    const char* openssl_name = OPENSSL_cipher_name(name.c_str());
    if (!openssl_name || std::string(openssl_name) == "(NONE)")
      throw std::runtime_error(where + "ssl.cipher.suites: unknown cipher suite " + name);
    tls12 += (tls12.empty() ? "" : ":") + std::string(openssl_name);
  }
  // An empty TLS 1.3 list turns TLS 1.3 off, as listing only older suites
  // does in Java; an empty older list is left alone (OpenSSL refuses it).
  if (SSL_CTX_set_ciphersuites(ctx, tls13.c_str()) != 1 ||
      (!tls12.empty() && SSL_CTX_set_cipher_list(ctx, tls12.c_str()) != 1))
    throw std::runtime_error(where + "ssl.cipher.suites: OpenSSL accepts none of " + spec);
}

void set_protocols(SSL_CTX* ctx, const std::string& spec, const std::string& where) {
  int lowest = 0, highest = 0;
  for (const auto& p : split_list(spec)) {
    int v = 0;
    if (p == "TLSv1.2") v = TLS1_2_VERSION;
    else if (p == "TLSv1.3") v = TLS1_3_VERSION;
    else if (p == "TLSv1.1") v = TLS1_1_VERSION;
    else if (p == "TLSv1") v = TLS1_VERSION;
    else throw std::runtime_error(where + "ssl.enabled.protocols: unknown protocol " + p);
    if (!lowest || v < lowest) lowest = v;
    if (v > highest) highest = v;
  }
  if (!lowest) throw std::runtime_error(where + "ssl.enabled.protocols is empty");
  SSL_CTX_set_min_proto_version(ctx, lowest);
  SSL_CTX_set_max_proto_version(ctx, highest);
}

using Conf = std::map<std::string, std::string>;

std::string setting(const Conf& conf, const std::string& key, const std::string& fallback = {}) {
  auto it = conf.find(key);
  return it == conf.end() ? fallback : trim(it->second);
}

/// The private key and certificate chain of ssl.keystore.*; false when none
/// is configured.
bool load_keystore(ssl::context& ctx, const Conf& conf) {
  const auto type = setting(conf, "ssl.keystore.type", "PEM");
  if (type != "PEM") throw std::runtime_error("ssl.keystore.type " + type + " is not supported (PEM only)");
  const auto password = setting(conf, "ssl.key.password");
  if (!password.empty()) {
    ctx.set_password_callback([password](std::size_t, ssl::context::password_purpose) { return password; });
  }
  const auto location = setting(conf, "ssl.keystore.location");
  const auto chain = setting(conf, "ssl.keystore.certificate.chain");
  if (!location.empty()) {
    ctx.use_certificate_chain_file(location);
    ctx.use_private_key_file(location, ssl::context::pem);
  } else if (!chain.empty()) {
    const auto key = pem_lines(setting(conf, "ssl.keystore.key"));
    const auto chain_pem = pem_lines(chain);
    ctx.use_certificate_chain(boost::asio::buffer(chain_pem));
    ctx.use_private_key(boost::asio::buffer(key), ssl::context::pem);
  } else {
    return false;
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw std::runtime_error("the private key does not match the certificate");
  return true;
}

/// The CA certificates of ssl.truststore.*; false when none is configured.
bool load_truststore(ssl::context& ctx, const Conf& conf) {
  const auto trust_type = setting(conf, "ssl.truststore.type", "PEM");
  const auto trust_location = setting(conf, "ssl.truststore.location");
  const auto trust_inline = setting(conf, "ssl.truststore.certificates");
  if (trust_location.empty() && trust_inline.empty()) return false;
  if (trust_type != "PEM") throw std::runtime_error("ssl.truststore.type " + trust_type + " is not supported (PEM only)");
  if (!trust_location.empty()) ctx.load_verify_file(trust_location);
  if (!trust_inline.empty()) {
    const auto pem = pem_lines(trust_inline);
    ctx.add_certificate_authority(boost::asio::buffer(pem));
  }
  return true;
}

/// The listener's context from its settings, and its principal rules.
std::shared_ptr<ssl::context> build_context(const std::string& listener, const Conf& conf, PrincipalRules* rules) {
  const std::string where = "listener " + listener + ": ";
  auto get = [&](const std::string& k, const std::string& fallback = {}) { return setting(conf, k, fallback); };
  auto out = std::make_shared<ssl::context>(ssl::context::tls_server);
  auto& ctx = *out;
  SSL_CTX* native = ctx.native_handle();
  // No renegotiation (a client could make the server redo the costly part
  // of a handshake at will) and no TLS compression (CRIME).
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  try {
    if (!load_keystore(ctx, conf))
      throw std::runtime_error("a TLS listener needs ssl.keystore.location or ssl.keystore.certificate.chain");
    const bool trusts = load_truststore(ctx, conf);

    const auto auth = get("ssl.client.auth", "none");
    if (auth == "required") {
      ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    } else if (auth == "requested") {
      ctx.set_verify_mode(ssl::verify_peer);
    } else if (auth == "none") {
      ctx.set_verify_mode(ssl::verify_none);
    } else {
      throw std::runtime_error("ssl.client.auth must be none, requested or required, not " + auth);
    }
    if (auth != "none" && !trusts)
      throw std::runtime_error("ssl.client.auth=" + auth + " needs ssl.truststore.location");
    // Session ids are tied to this context (resumption across listeners is refused).
    const std::string id = "kwire:" + listener;
    SSL_CTX_set_session_id_context(native, reinterpret_cast<const unsigned char*>(id.data()),
                                   static_cast<unsigned>(std::min<std::size_t>(id.size(), SSL_MAX_SID_CTX_LENGTH)));

    set_protocols(native, get("ssl.enabled.protocols", "TLSv1.2,TLSv1.3"), "");
    if (const auto suites = get("ssl.cipher.suites"); !suites.empty()) set_cipher_suites(native, suites, "");
    if (rules) *rules = PrincipalRules::parse(get("ssl.principal.mapping.rules", "DEFAULT"));
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(where + e.what());
  } catch (const std::exception& e) {
    throw std::runtime_error(where + e.what());
  }
  return out;
}

}  // namespace

std::shared_ptr<ssl::context> client_context(const std::string& listener, const std::map<std::string, std::string>& conf) {
  auto out = std::make_shared<ssl::context>(ssl::context::tls_client);
  auto& ctx = *out;
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  try {
    // OpenSSL sends the certificate only when the server asks for one (its
    // ssl.client.auth): loading it always is showing it when asked.
    load_keystore(ctx, conf);
    // Java falls back on the JVM's CAs; OpenSSL's default paths are ours.
    if (!load_truststore(ctx, conf)) ctx.set_default_verify_paths();
    ctx.set_verify_mode(ssl::verify_peer);
    set_protocols(ctx.native_handle(), setting(conf, "ssl.enabled.protocols", "TLSv1.2,TLSv1.3"), "");
    if (const auto suites = setting(conf, "ssl.cipher.suites"); !suites.empty())
      set_cipher_suites(ctx.native_handle(), suites, "");
  } catch (const std::exception& e) {
    throw std::runtime_error("listener " + listener + ": " + e.what());
  }
  return out;
}

bool verify_host_name(const std::map<std::string, std::string>& conf) {
  auto it = conf.find("ssl.endpoint.identification.algorithm");
  return it == conf.end() || !trim(it->second).empty();
}

TlsListener::TlsListener(std::string listener, std::map<std::string, std::string> ssl)
    : listener_(std::move(listener)), ssl_(std::move(ssl)) {
  stamps_ = file_stamps();
  context_ = build_context(listener_, ssl_, &rules_);
}

std::shared_ptr<ssl::context> TlsListener::context() const {
  std::lock_guard lk(mu_);
  return context_;
}

std::string TlsListener::file_stamps() const {
  std::string out;
  for (const char* key : {"ssl.keystore.location", "ssl.truststore.location"}) {
    auto it = ssl_.find(key);
    if (it == ssl_.end()) continue;
    const auto path = trim(it->second);
    if (path.empty()) continue;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      out += "missing;";
      continue;
    }
    out += std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
           "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return out;
}

TlsListener::Reload TlsListener::reload_if_changed(std::string& why) {
  // The stamps are taken before the files are read: a change made while
  // they are read shows at the next call.
  auto stamps = file_stamps();
  {
    std::lock_guard lk(mu_);
    if (stamps == stamps_) return Reload::unchanged;
    stamps_ = stamps;
  }
  std::shared_ptr<ssl::context> fresh;
  try {
    fresh = build_context(listener_, ssl_, nullptr);
  } catch (const std::exception& e) {
    why = e.what();
    return Reload::failed;
  }
  std::lock_guard lk(mu_);
  context_ = std::move(fresh);
  return Reload::reloaded;
}

std::string peer_subject(SSL* ssl) {
  X509* cert = SSL_get_peer_certificate(ssl);
  if (!cert) return {};
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    // RFC 2253 order without spaces after the separators, as Java's
    // X500Principal.getName() gives it.
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  X509_free(cert);
  return out;
}

}  // namespace kwire_broker
