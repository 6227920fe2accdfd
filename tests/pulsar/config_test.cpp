// The Pulsar store's settings (config_from): how the gateway authenticates to
// Pulsar, in the forms Pulsar's own clients take them.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "storage/pulsar/store.hpp"

namespace sp = kwire_broker::storage::pulsar;

namespace {

sp::PulsarConfig config(std::map<std::string, std::string> settings) { return sp::config_from(settings); }

}  // namespace

TEST_CASE("Pulsar settings: a token in each of AuthenticationToken's forms") {
  CHECK(config({{"brokerClientAuthenticationParameters", "token:a.b.c"}}).token == "a.b.c");
  CHECK(config({{"brokerClientAuthenticationParameters", "a.b.c"}}).token == "a.b.c");
  const std::string path = "pulsar_config_test.token";
  std::ofstream(path) << "x.y.z\n";
  CHECK(config({{"brokerClientAuthenticationParameters", "file:" + path}}).token == "x.y.z");
  CHECK(config({{"brokerClientAuthenticationParameters", "file://" + path}}).token == "x.y.z");
  std::remove(path.c_str());
  CHECK_THROWS_AS(config({{"brokerClientAuthenticationParameters", "file:" + path}}), std::invalid_argument);
  const auto c = config({{"brokerClientAuthenticationParameters", "token:a.b.c"}});
  CHECK(c.tls.cert_file.empty());
}

TEST_CASE("Pulsar settings: a client certificate for TLS authentication") {
  auto c = config({{"brokerClientAuthenticationParameters", "tlsCertFile:/c/cert.pem,tlsKeyFile:/c/key.pem"}});
  CHECK(c.tls.cert_file == "/c/cert.pem");
  CHECK(c.tls.key_file == "/c/key.pem");
  CHECK(c.token.empty());
  c = config({{"brokerClientAuthenticationPlugin", "org.apache.pulsar.client.impl.auth.AuthenticationTls"},
              {"brokerClientAuthenticationParameters", R"({"tlsCertFile":"/j/cert.pem","tlsKeyFile":"/j/key.pem"})"}});
  CHECK(c.tls.cert_file == "/j/cert.pem");
  CHECK(c.tls.key_file == "/j/key.pem");
  CHECK(c.token.empty());
  // The plugin decides what the parameters are.
  c = config({{"brokerClientAuthenticationPlugin", "org.apache.pulsar.client.impl.auth.AuthenticationToken"},
              {"brokerClientAuthenticationParameters", "token:tlsCertFile"}});
  CHECK(c.token == "tlsCertFile");
  CHECK(c.tls.cert_file.empty());
  // Pulsar's other names for the certificate.
  c = config({{"brokerClientCertificateFilePath", "/b/cert.pem"}, {"brokerClientKeyFilePath", "/b/key.pem"}});
  CHECK(c.tls.cert_file == "/b/cert.pem");
  CHECK(c.tls.key_file == "/b/key.pem");
  c = config({{"tlsCertificateFilePath", "/t/cert.pem"}, {"tlsKeyFilePath", "/t/key.pem"}});
  CHECK(c.tls.cert_file == "/t/cert.pem");
  CHECK(c.tls.key_file == "/t/key.pem");
  CHECK_THROWS_AS(config({{"brokerClientAuthenticationPlugin", "AuthenticationTls"},
                          {"brokerClientAuthenticationParameters", "{not json"}}),
                  std::invalid_argument);
}
