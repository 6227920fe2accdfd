// Clients' OAUTHBEARER tokens checked by Pulsar itself
// (kwire.sasl.oauthbearer.pulsar.passthrough): the gateway opens a
// connection of its own to Pulsar's service URL that authenticates with the
// client's token, and Pulsar's answer (CONNECTED, or an authentication error)
// decides. So tokens are issued and revoked where Pulsar's are, checked with
// Pulsar's keys and its role claim, and a Kafka client needs no credential
// that Pulsar would not take.
#pragma once

#include <memory>
#include <string>

#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;

class TokenAuthenticator final : public storage::TokenAuthenticator {
 public:
  explicit TokenAuthenticator(PulsarStorage& s);
  Task<Done> authenticate(std::string token) override;

 private:
  awaitable<Result<Done>> authenticate_here(std::string token);

  PulsarStorage& s_;
  std::shared_ptr<asio::ssl::context> tls_;  // made at the first check over TLS
};

}  // namespace kwire_broker::storage::pulsar
