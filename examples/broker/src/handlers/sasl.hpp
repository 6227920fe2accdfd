// SASL/PLAIN, shared by the SaslAuthenticate handler and the bare-token
// exchange that follows SaslHandshake v0 (protocol/dispatch.cpp).
#pragma once

#include <optional>
#include <string>

#include "core/broker.hpp"

namespace kwire_broker {

/// Checks a SASL/PLAIN token against the configured users.
bool check_plain(const Settings& settings, bytes_view token, std::string& user);

/// After authentication: a user named tenant/namespace (Kafka-on-Pulsar's
/// convention) works in that namespace from now on, and sees nothing of any
/// other; every other user works in the broker's own. Returns why the
/// namespace cannot be used, or nothing.
std::optional<std::string> enter_namespace(Broker& b, SessionState& s, const std::string& user);

}  // namespace kwire_broker
