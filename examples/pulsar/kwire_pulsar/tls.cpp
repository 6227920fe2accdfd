#include "kwire_pulsar/tls.hpp"

#include <boost/asio/ip/address.hpp>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kwire_pulsar/error.hpp"

namespace kwire_pulsar {

namespace ssl = boost::asio::ssl;

bool is_tls_url(const std::string& url) { return url.rfind("pulsar+ssl://", 0) == 0 || url.rfind("https://", 0) == 0; }

std::shared_ptr<ssl::context> make_tls_context(const TlsOptions& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (options.trust_certs_file.empty()) ctx->set_default_verify_paths(ec);
  else ctx->load_verify_file(options.trust_certs_file, ec);
  if (ec)
    throw Error(Error::client_tls, "cannot load the trusted CAs" +
                                       (options.trust_certs_file.empty() ? std::string()
                                                                         : " from " + options.trust_certs_file) +
                                       ": " + ec.message());
  if (!options.cert_file.empty()) {
    ctx->use_certificate_chain_file(options.cert_file, ec);
    if (ec) throw Error(Error::client_tls, "cannot load the client certificate " + options.cert_file + ": " + ec.message());
    ctx->use_private_key_file(options.key_file.empty() ? options.cert_file : options.key_file, ssl::context::pem, ec);
    if (ec) throw Error(Error::client_tls, "cannot load the client certificate's key " + options.key_file + ": " + ec.message());
  }
  return ctx;
}

void prepare_tls(SSL* ssl, const std::string& host, const TlsOptions& options) {
  if (options.allow_insecure) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  boost::system::error_code not_address;
  boost::asio::ip::make_address(host, not_address);
  bool ok = true;
  if (not_address) ok = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
  // OpenSSL checks the name while verifying the chain, and says which check
  // failed (hostname mismatch, IP address mismatch).
  if (ok && options.hostname_verification)
    ok = not_address ? SSL_set1_host(ssl, host.c_str()) == 1
                     : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  if (!ok) throw Error(Error::client_tls, "cannot set up TLS for " + host);
}

std::string tls_failure(SSL* ssl, const boost::system::error_code& ec) {
  if (ssl) {
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK)
      return std::string("the server's certificate was refused: ") + X509_verify_cert_error_string(verdict);
  }
  if (is_tls_error(ec)) {
    // The alerts a server sends when it wants a client certificate that
    // chains to a CA it trusts and did not get one.
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return "the server refused this client's certificate, or its lack of one (" + ec.message() + ")";
      default:
        break;
    }
  }
  return ec.message();
}

bool is_tls_error(const boost::system::error_code& ec) { return ec.category() == boost::asio::error::get_ssl_category(); }

}  // namespace kwire_pulsar
