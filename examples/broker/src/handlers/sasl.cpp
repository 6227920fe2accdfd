// SaslHandshake and SaslAuthenticate (SASL/PLAIN, SCRAM and OAUTHBEARER),
// re-authentication on a live connection (KIP-368), and the namespace a
// user works in once authenticated.
#include "handlers/sasl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>

#include "core/jwt.hpp"
#include "core/log.hpp"
#include "core/scram.hpp"
#include "kwire/messages/sasl_authenticate_request.hpp"
#include "kwire/messages/sasl_authenticate_response.hpp"
#include "kwire/messages/sasl_handshake_request.hpp"
#include "kwire/messages/sasl_handshake_response.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

/// Where tokens go when Pulsar checks them (pulsar.passthrough), else null.
storage::TokenAuthenticator* token_authenticator(Broker& b) {
  return b.settings().oauth_pulsar_passthrough ? b.default_realm().store().token_authenticator() : nullptr;
}

/// The mechanisms this broker offers: the enabled ones, SCRAM only where
/// credentials can be stored.
std::vector<std::string> offered_mechanisms(Broker& b) {
  std::vector<std::string> out;
  for (const auto& m : b.settings().sasl_mechanisms)
    if (m == "PLAIN" || (m == "OAUTHBEARER" && (b.oauth_keys() || token_authenticator(b))) ||
        (m.rfind("SCRAM-", 0) == 0 && credential_store(b)))
      out.push_back(m);
  return out;
}

asio::awaitable<void> sasl_handshake(Broker& b, Ctx& ctx, SaslHandshakeRequest& req, SaslHandshakeResponse& resp) {
  const auto offered = offered_mechanisms(b);
  for (const auto& m : offered) resp.mechanisms.push_back(ctx.keep(m));
  const std::string wanted(req.mechanism);
  const bool is_offered = std::find(offered.begin(), offered.end(), wanted) != offered.end();
  auto& s = ctx.session;
  // A handshake on an authenticated connection begins a re-authentication,
  // where connections.max.reauth.ms asks for them; the mechanism stays.
  const bool reauth = s.authenticated && ctx.version >= 1 && b.settings().reauth_ms > 0;
  if (!s.listener->sasl() || (s.authenticated && !reauth)) {
    resp.error_code = ctx.note(kwire::ErrorCode::IllegalSaslState);
  } else if (!is_offered || (ctx.version == 0 && wanted != "PLAIN")) {
    // SCRAM and OAUTHBEARER run through SaslAuthenticate only (handshake v1,
    // every client since Kafka 1.0): v0's bare tokens carry PLAIN alone here.
    resp.error_code = ctx.note(kwire::ErrorCode::UnsupportedSaslMechanism);
  } else if (reauth && wanted != s.sasl_mechanism) {
    resp.error_code = ctx.note(kwire::ErrorCode::IllegalSaslState);
  } else {
    s.sasl_mechanism_chosen = true;
    s.sasl_mechanism = wanted;
    s.scram.reset();
    s.oauth_refusal.clear();
    s.reauthenticating = reauth;
    if (ctx.version == 0) s.raw_sasl_next = true;
  }
  co_return;
}

/// Logs the user in: its namespace, then the session's principal and how
/// long the session lasts (the response says so from v1). A re-login must
/// be the same principal. Returns why the user cannot log in, or nothing.
std::optional<std::string> log_in(Broker& b, Ctx& ctx, SaslAuthenticateResponse& resp, const std::string& user,
                                  std::int64_t credential_expires_ms = 0) {
  auto& s = ctx.session;
  if (s.reauthenticating) {
    if ("User:" + user != s.principal)
      return "re-authentication may not change the principal (" + s.principal + " to User:" + user + ")";
    b.metrics().sasl_reauthentications++;
  } else {
    if (auto why = enter_namespace(b, s, user)) return why;
    s.principal = "User:" + user;
  }
  s.authenticated = true;
  s.reauthenticating = false;
  s.session_expires_ms = 0;
  if (const auto reauth_ms = b.settings().reauth_ms; reauth_ms > 0) {
    // KIP-368: the session ends with connections.max.reauth.ms or with its
    // credential (a token's expiry), whichever comes first.
    const std::int64_t now = now_ms();
    std::int64_t life = reauth_ms;
    if (credential_expires_ms > 0) life = std::clamp<std::int64_t>(credential_expires_ms - now, 1, life);
    s.session_expires_ms = now + life;
    if (ctx.version >= 1) resp.session_lifetime_ms = life;
  }
  KB_DEBUG("{} authenticated as {} ({})", s.peer, user, s.sasl_mechanism);
  return std::nullopt;
}

void refuse(Ctx& ctx, SaslAuthenticateResponse& resp, std::string why) {
  resp.error_code = ctx.note(kwire::ErrorCode::SaslAuthenticationFailed);
  resp.error_message = ctx.keep(std::move(why));
  // A failed exchange is over: another attempt starts with a new handshake.
  // A failed re-authentication ends the session it would have renewed.
  auto& s = ctx.session;
  s.sasl_mechanism_chosen = false;
  s.scram.reset();
  s.oauth_refusal.clear();
  if (s.reauthenticating) {
    s.reauthenticating = false;
    s.authenticated = false;
  }
}

/// OAUTHBEARER: one message with the token, checked against the keys or, with
/// pulsar.passthrough, by Pulsar. A refused token gets RFC 7628's error
/// challenge first, as Kafka answers; the client's reply to it ends the
/// exchange with the reason.
asio::awaitable<void> oauth_step(Broker& b, Ctx& ctx, SaslAuthenticateRequest& req, SaslAuthenticateResponse& resp) {
  auto& s = ctx.session;
  if (!s.oauth_refusal.empty()) {
    refuse(ctx, resp, s.oauth_refusal);
    co_return;
  }
  const std::string_view message(reinterpret_cast<const char*>(req.auth_bytes.data()), req.auth_bytes.size());
  auto parsed = oauth::parse_client_response(message);
  if (!parsed.response) {
    KB_WARN("SASL/OAUTHBEARER authentication failed from {}: {}", s.peer, parsed.error);
    refuse(ctx, resp, "Authentication failed: " + parsed.error);
    co_return;
  }
  const auto& st = b.settings();
  const oauth::Expectations expect{st.oauth_audience, st.oauth_issuer, st.oauth_sub_claim, st.oauth_clock_skew_s};
  oauth::Validation checked;
  if (auto* pulsar = token_authenticator(b)) {
    checked = oauth::read_claims(parsed.response->token, expect, now_ms());
    if (checked.token) {
      std::string token = parsed.response->token;
      auto accepted = co_await pulsar->authenticate(std::move(token));
      if (!accepted.ok()) checked = {std::nullopt, accepted.message, {}};
    }
  } else {
    checked = b.oauth_keys()->current()->validate(parsed.response->token, expect, now_ms());
  }
  if (checked.token && !parsed.response->authzid.empty() && parsed.response->authzid != checked.token->principal)
    checked = {std::nullopt, "the authorization id is not the token's principal", {}};
  if (!checked.token) {
    if (!checked.missing_kid.empty()) b.oauth_keys()->key_missing(checked.missing_kid);
    KB_WARN("SASL/OAUTHBEARER authentication failed from {}: {}", s.peer, checked.error);
    s.oauth_refusal = "Authentication failed: " + checked.error;
    const auto challenge = oauth::error_challenge();
    resp.auth_bytes = ctx.keep(std::vector<std::uint8_t>(challenge.begin(), challenge.end()));
    co_return;
  }
  if (auto why = log_in(b, ctx, resp, checked.token->principal, checked.token->expires_ms)) refuse(ctx, resp, *why);
}

void scram_step(Broker& b, Ctx& ctx, SaslAuthenticateRequest& req, SaslAuthenticateResponse& resp) {
  auto& s = ctx.session;
  if (!s.scram) {
    const auto mechanism = scram::mechanism_of(s.sasl_mechanism);
    storage::CredentialStore* store = credential_store(b);
    s.scram = std::make_shared<scram::Server>(mechanism, [store, mechanism](const std::string& user) {
      return store ? store->find_scram(user, static_cast<std::int8_t>(mechanism)) : std::nullopt;
    });
  }
  const std::string_view message(reinterpret_cast<const char*>(req.auth_bytes.data()), req.auth_bytes.size());
  auto step = s.scram->step(message);
  if (!step.error.empty()) {
    KB_WARN("SASL/{} authentication failed from {}: {}", s.sasl_mechanism, s.peer, step.error);
    refuse(ctx, resp, std::move(step.error));
    return;
  }
  if (step.done) {
    const std::string user = s.scram->user();
    if (auto why = log_in(b, ctx, resp, user)) {
      refuse(ctx, resp, *why);
      return;
    }
    s.scram.reset();
  }
  resp.auth_bytes = ctx.keep(std::vector<std::uint8_t>(step.reply.begin(), step.reply.end()));
}

void plain_step(Broker& b, Ctx& ctx, SaslAuthenticateRequest& req, SaslAuthenticateResponse& resp) {
  std::string user;
  if (!check_plain(b.settings(), req.auth_bytes, user)) {
    KB_WARN("SASL/PLAIN authentication failed from {}", ctx.session.peer);
    refuse(ctx, resp, "Authentication failed: Invalid username or password");
    return;
  }
  if (auto why = log_in(b, ctx, resp, user)) refuse(ctx, resp, *why);
}

asio::awaitable<void> sasl_authenticate(Broker& b, Ctx& ctx, SaslAuthenticateRequest& req, SaslAuthenticateResponse& resp) {
  if (!ctx.session.sasl_mechanism_chosen || (ctx.session.authenticated && !ctx.session.reauthenticating)) {
    resp.error_code = ctx.note(kwire::ErrorCode::IllegalSaslState);
    resp.error_message = "SaslAuthenticate before SaslHandshake";
    co_return;
  }
  if (ctx.session.sasl_mechanism == "OAUTHBEARER")
    co_await oauth_step(b, ctx, req, resp);
  else if (ctx.session.sasl_mechanism != "PLAIN")
    scram_step(b, ctx, req, resp);
  else
    plain_step(b, ctx, req, resp);
  if (resp.error_code == kwire::ErrorCode::SaslAuthenticationFailed) co_await failed_login_delay(b);
}

}  // namespace

asio::awaitable<void> failed_login_delay(Broker& b) {
  b.metrics().authentication_failures++;
  if (b.settings().failed_auth_delay_ms <= 0) co_return;
  asio::steady_timer delay(co_await asio::this_coro::executor);
  delay.expires_after(std::chrono::milliseconds(b.settings().failed_auth_delay_ms));
  boost::system::error_code ec;
  co_await delay.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

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

storage::CredentialStore* credential_store(Broker& b) { return b.default_realm().store().credentials(); }

void seed_scram_users(Broker& b) {
  const auto& users = b.settings().scram_users;
  if (users.empty()) return;
  storage::CredentialStore* store = credential_store(b);
  if (!store) throw std::runtime_error("kwire.sasl.scram.users: this storage does not keep SCRAM credentials");
  asio::io_context io;
  auto done = asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (const auto& u : users) {
      const auto mechanism = scram::mechanism_of(u.mechanism);
      if (store->find_scram(u.name, static_cast<std::int8_t>(mechanism))) continue;  // kept from an earlier start
      auto credential = scram::make_credential(mechanism, u.name, u.password, u.iterations);
      auto r = co_await store->put_scram(std::move(credential));
      if (!r.ok()) throw std::runtime_error("cannot store the SCRAM credential of " + u.name);
      KB_INFO("created the {} credential of {}", u.mechanism, u.name);
    }
  }, asio::use_future);
  io.run();
  done.get();
}

std::vector<HandlerEntry> sasl_handlers() {
  auto out = scram_credential_handlers();
  out.push_back(handler<SaslHandshakeRequest, sasl_handshake>(0, 1));
  out.push_back(handler<SaslAuthenticateRequest, sasl_authenticate>(0, 2));
  return out;
}

}  // namespace kwire_broker
