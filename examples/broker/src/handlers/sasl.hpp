// SASL: PLAIN, shared by the SaslAuthenticate handler and the bare-token
// exchange that follows SaslHandshake v0 (protocol/dispatch.cpp); SCRAM
// (core/scram.hpp) through SaslAuthenticate, with its credentials managed by
// AlterUserScramCredentials and DescribeUserScramCredentials
// (handlers/scram_credentials.cpp).
#pragma once

#include <optional>
#include <string>

#include "core/broker.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

/// Checks a SASL/PLAIN token against the configured users.
bool check_plain(const Settings& settings, bytes_view token, std::string& user);

/// Counts a failed login and waits connection.failed.authentication.delay.ms
/// before the refusal goes out (Kafka delays it likewise), so that a client
/// guessing passwords gets few guesses per connection and second.
asio::awaitable<void> failed_login_delay(Broker& b);

/// After authentication: a user named tenant/namespace (Kafka-on-Pulsar's
/// convention) works in that namespace from now on, and sees nothing of any
/// other; every other user works in the broker's own. Returns why the
/// namespace cannot be used, or nothing.
std::optional<std::string> enter_namespace(Broker& b, SessionState& s, const std::string& user);

/// Where SCRAM credentials live: the store of the broker's own namespace
/// (users of every namespace log in there); nullptr when that store keeps
/// none (Pulsar, for now).
storage::CredentialStore* credential_store(Broker& b);

/// Creates the users of kwire.sasl.scram.users that have no credential for
/// their mechanism yet; before serving (blocks). Throws when one cannot be
/// stored.
void seed_scram_users(Broker& b);

std::vector<HandlerEntry> scram_credential_handlers();

}  // namespace kwire_broker
