// The TLS side of SSL and SASL_SSL listeners: a server context built from a
// listener's ssl.* settings (Kafka's names), and what a client's certificate
// says about who it is.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <string>

#include "net/principal_rules.hpp"

namespace kwire_broker {

/// A TLS listener's context and the rules that turn a client certificate's
/// subject into a principal name.
struct TlsListener {
  std::unique_ptr<boost::asio::ssl::context> context;
  PrincipalRules rules;
};

/// Builds the context of a listener from its ssl.* settings:
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
/// Throws std::runtime_error naming the setting at fault.
TlsListener make_tls_listener(const std::string& listener, const std::map<std::string, std::string>& ssl);

/// The subject of a verified peer certificate as Java prints it (RFC 2253,
/// most specific first: "CN=alice,O=acme"); empty when there is none.
std::string peer_subject(SSL* ssl);

}  // namespace kwire_broker
