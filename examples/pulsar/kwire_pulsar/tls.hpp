// TLS for the client's connections to Pulsar (pulsar+ssl://) and to its
// admin API (https://), as Pulsar's own clients do it: the server's
// certificate must chain to a trusted CA (tlsTrustCertsFilePath) and name
// the host the client asked for (tlsHostnameVerificationEnable), unless
// insecure connections are allowed (tlsAllowInsecureConnection: no check at
// all, for tests).
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace kwire_pulsar {

struct TlsOptions {
  /// PEM file of the CAs to trust; empty: the system's default CAs.
  std::string trust_certs_file;
  bool hostname_verification = true;
  bool allow_insecure = false;
  /// A client certificate chain and its private key (PEM files), shown to
  /// servers that ask for one: Pulsar's TLS authentication takes the
  /// certificate's common name as the client's role. Empty: none.
  std::string cert_file;
  std::string key_file;
};

/// Whether a URL asks for TLS: pulsar+ssl:// or https://.
bool is_tls_url(const std::string& url);

/// A client context for these options; throws Error (client_tls) when the
/// CA file, or the client certificate or its key, cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsOptions& options);

/// Sets up a connection for its handshake with `host`: the name sent (SNI,
/// for host names) and the name or address the certificate must carry.
/// Throws Error (client_tls) when OpenSSL refuses the setting.
void prepare_tls(SSL* ssl, const std::string& host, const TlsOptions& options);

/// Why a handshake (or the first read after it, where TLS 1.3 servers
/// refuse a client's certificate) failed, in words: OpenSSL's reason for
/// refusing the server's certificate when that was it, the server refusing
/// the client's, else the error's message.
std::string tls_failure(SSL* ssl, const boost::system::error_code& ec);

/// Whether `ec` is an error of the TLS layer (an alert, a failed check)
/// rather than of the connection under it.
bool is_tls_error(const boost::system::error_code& ec);

}  // namespace kwire_pulsar
