// SaslHandshake and SaslAuthenticate (SASL/PLAIN and SCRAM), and the
// namespace a user works in once authenticated.
#include "handlers/sasl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>

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

/// The mechanisms this broker offers: the enabled ones, SCRAM only where
/// credentials can be stored.
std::vector<std::string> offered_mechanisms(Broker& b) {
  std::vector<std::string> out;
  for (const auto& m : b.settings().sasl_mechanisms)
    if (m == "PLAIN" || credential_store(b)) out.push_back(m);
  return out;
}

asio::awaitable<void> sasl_handshake(Broker& b, Ctx& ctx, SaslHandshakeRequest& req, SaslHandshakeResponse& resp) {
  const auto offered = offered_mechanisms(b);
  for (const auto& m : offered) resp.mechanisms.push_back(ctx.keep(m));
  const std::string wanted(req.mechanism);
  const bool is_offered = std::find(offered.begin(), offered.end(), wanted) != offered.end();
  if (!ctx.session.listener->sasl() || ctx.session.authenticated) {
    resp.error_code = ctx.note(kwire::ErrorCode::IllegalSaslState);
  } else if (!is_offered || (ctx.version == 0 && wanted != "PLAIN")) {
    // SCRAM runs through SaslAuthenticate only (handshake v1, every client
    // since Kafka 1.0): v0's bare tokens carry PLAIN alone here.
    resp.error_code = ctx.note(kwire::ErrorCode::UnsupportedSaslMechanism);
  } else {
    ctx.session.sasl_mechanism_chosen = true;
    ctx.session.sasl_mechanism = wanted;
    ctx.session.scram.reset();
    if (ctx.version == 0) ctx.session.raw_sasl_next = true;
  }
  co_return;
}

/// Logs the user in: its namespace, then the session's principal. Returns
/// why it cannot, or nothing.
std::optional<std::string> log_in(Broker& b, SessionState& s, const std::string& user) {
  if (auto why = enter_namespace(b, s, user)) return why;
  s.authenticated = true;
  s.principal = "User:" + user;
  KB_DEBUG("{} authenticated as {} ({})", s.peer, user, s.sasl_mechanism);
  return std::nullopt;
}

void refuse(Ctx& ctx, SaslAuthenticateResponse& resp, std::string why) {
  resp.error_code = ctx.note(kwire::ErrorCode::SaslAuthenticationFailed);
  resp.error_message = ctx.keep(std::move(why));
  // A failed exchange is over: another attempt starts with a new handshake.
  ctx.session.sasl_mechanism_chosen = false;
  ctx.session.scram.reset();
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
    if (auto why = log_in(b, s, user)) {
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
  if (auto why = log_in(b, ctx.session, user)) refuse(ctx, resp, *why);
}

asio::awaitable<void> sasl_authenticate(Broker& b, Ctx& ctx, SaslAuthenticateRequest& req, SaslAuthenticateResponse& resp) {
  if (!ctx.session.sasl_mechanism_chosen || ctx.session.authenticated) {
    resp.error_code = ctx.note(kwire::ErrorCode::IllegalSaslState);
    resp.error_message = "SaslAuthenticate before SaslHandshake";
    co_return;
  }
  if (ctx.session.sasl_mechanism != "PLAIN")
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
