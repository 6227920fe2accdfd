// SaslHandshake and SaslAuthenticate (SASL/PLAIN), and the namespace a user
// works in once authenticated.
#include "handlers/sasl.hpp"

#include "core/log.hpp"
#include "kwire/messages/sasl_authenticate_request.hpp"
#include "kwire/messages/sasl_authenticate_response.hpp"
#include "kwire/messages/sasl_handshake_request.hpp"
#include "kwire/messages/sasl_handshake_response.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

asio::awaitable<void> sasl_handshake(Broker&, Ctx& ctx, SaslHandshakeRequest& req, SaslHandshakeResponse& resp) {
  resp.mechanisms.push_back("PLAIN");
  if (!ctx.session.listener->sasl() || ctx.session.authenticated) {
    resp.error_code = ctx.note(kwire::ErrorCode::IllegalSaslState);
  } else if (req.mechanism != "PLAIN") {
    resp.error_code = ctx.note(kwire::ErrorCode::UnsupportedSaslMechanism);
  } else {
    ctx.session.sasl_mechanism_chosen = true;
    if (ctx.version == 0) ctx.session.raw_sasl_next = true;
  }
  co_return;
}

asio::awaitable<void> sasl_authenticate(Broker& b, Ctx& ctx, SaslAuthenticateRequest& req, SaslAuthenticateResponse& resp) {
  if (!ctx.session.sasl_mechanism_chosen || ctx.session.authenticated) {
    resp.error_code = ctx.note(kwire::ErrorCode::IllegalSaslState);
    resp.error_message = "SaslAuthenticate before SaslHandshake";
    co_return;
  }
  std::string user;
  if (!check_plain(b.settings(), req.auth_bytes, user)) {
    resp.error_code = ctx.note(kwire::ErrorCode::SaslAuthenticationFailed);
    resp.error_message = "Authentication failed: Invalid username or password";
    KB_WARN("SASL/PLAIN authentication failed from {}", ctx.session.peer);
    co_return;
  }
  if (auto why = enter_namespace(b, ctx.session, user)) {
    resp.error_code = ctx.note(kwire::ErrorCode::SaslAuthenticationFailed);
    resp.error_message = ctx.keep(*why);
    co_return;
  }
  ctx.session.authenticated = true;
  ctx.session.principal = "User:" + user;
  KB_DEBUG("{} authenticated as {}", ctx.session.peer, user);
  co_return;
}

}  // namespace

/// Checks a SASL/PLAIN token: [authzid] NUL authcid NUL password.
bool check_plain(const Settings& settings, bytes_view token, std::string& user) {
  std::string_view t(reinterpret_cast<const char*>(token.data()), token.size());
  auto a = t.find('\0');
  if (a == std::string_view::npos) return false;
  auto c = t.find('\0', a + 1);
  if (c == std::string_view::npos) return false;
  std::string_view authzid = t.substr(0, a), authcid = t.substr(a + 1, c - a - 1), password = t.substr(c + 1);
  if (!authzid.empty() && authzid != authcid) return false;
  auto it = settings.sasl_users.find(std::string(authcid));
  if (it == settings.sasl_users.end() || it->second.size() != password.size()) return false;
  unsigned diff = 0;
  for (std::size_t i = 0; i < password.size(); ++i) diff |= static_cast<unsigned char>(it->second[i] ^ password[i]);
  if (diff != 0) return false;
  user = std::string(authcid);
  return true;
}

std::optional<std::string> enter_namespace(Broker& b, SessionState& s, const std::string& user) {
  const auto slash = user.find('/');
  if (slash == std::string::npos) {
    s.realm = &b.default_realm();
    return std::nullopt;
  }
  storage::Namespace ns{user.substr(0, slash), user.substr(slash + 1)};
  auto valid = [](const std::string& n) {
    return !n.empty() && n.size() <= 128 && n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
  };
  if (!valid(ns.tenant) || !valid(ns.ns)) return "not a tenant/namespace: " + user;
  try {
    s.realm = &b.realm(ns);
  } catch (const std::exception& e) {
    KB_WARN("cannot open namespace {} for {}: {}", user, s.peer, e.what());
    return "namespace " + user + " is not available";
  }
  return std::nullopt;
}

std::vector<HandlerEntry> sasl_handlers() {
  return {
      handler<SaslHandshakeRequest, sasl_handshake>(0, 1),
      handler<SaslAuthenticateRequest, sasl_authenticate>(0, 2),
  };
}

}  // namespace kwire_broker
