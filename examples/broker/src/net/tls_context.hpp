// The TLS side of SSL and SASL_SSL listeners: a server context built from a
// listener's ssl.* settings (Kafka's names), and what a client's certificate
// says about who it is.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "net/principal_rules.hpp"

namespace kwire_broker {

/// A TLS listener: the context its new connections take, and the rules that
/// turn a client certificate's subject into a principal name.
///
/// Certificates are rotated without a restart: reload_if_changed() builds the
/// context again when the keystore or truststore file it was read from has
/// changed (modification time, size or inode: a file replaced by a rename
/// counts), and connections accepted afterwards take the new one; those
/// already open keep theirs. A rebuild that fails (a file half written, a key
/// that does not match) keeps the previous context and is tried again once
/// the files change again.
///
/// The ssl.* settings (Kafka's names):
///   ssl.keystore.type            PEM (the only type read)
///   ssl.keystore.location        a PEM file with the private key and the certificate chain
///   ssl.keystore.certificate.chain / ssl.keystore.key   the same, inline
///   ssl.key.password             the private key's password, if encrypted
///   ssl.truststore.location      PEM file of CA certificates (ssl.truststore.type=PEM)
///   ssl.truststore.certificates  the same, inline
///   ssl.client.auth              none | requested | required
///   ssl.enabled.protocols        default TLSv1.2,TLSv1.3
///   ssl.cipher.suites            IANA names, as Java takes them (default: OpenSSL's)
///   ssl.principal.mapping.rules  default DEFAULT
class TlsListener {
 public:
  /// Throws std::runtime_error naming the setting at fault.
  TlsListener(std::string listener, std::map<std::string, std::string> ssl);

  /// The context for a connection accepted now (any thread).
  std::shared_ptr<boost::asio::ssl::context> context() const;
  const PrincipalRules& rules() const noexcept { return rules_; }

  enum class Reload { unchanged, reloaded, failed };
  /// Builds the context again if its files changed since the last attempt;
  /// on failure `why` says what is wrong and the previous context stays.
  Reload reload_if_changed(std::string& why);

 private:
  /// What identifies the current contents of the listener's files.
  std::string file_stamps() const;

  std::string listener_;
  std::map<std::string, std::string> ssl_;
  PrincipalRules rules_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::string stamps_;  // of the files at the last attempt
};

/// A client's context for connecting to a TLS listener configured by the
/// same ssl.* settings (another gateway's, sharing the configuration): the
/// truststore checks the server (OpenSSL's default CAs without one), the
/// keystore, if any, is the client certificate, shown when the server asks.
/// Throws std::runtime_error naming the setting at fault.
std::shared_ptr<boost::asio::ssl::context> client_context(const std::string& listener,
                                                          const std::map<std::string, std::string>& ssl);
/// Whether a client checks the server's host name against its certificate:
/// ssl.endpoint.identification.algorithm, https unless set empty (Kafka's).
bool verify_host_name(const std::map<std::string, std::string>& ssl);

/// The subject of a verified peer certificate as Java prints it (RFC 2253,
/// most specific first: "CN=alice,O=acme"); empty when there is none.
std::string peer_subject(SSL* ssl);

}  // namespace kwire_broker
