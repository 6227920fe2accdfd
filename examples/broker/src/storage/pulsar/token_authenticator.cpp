// One Pulsar connection per check, closed once Pulsar has answered: a login
// is rare next to the requests that follow it, and a connection of its own
// keeps the client's identity apart from the gateway's pooled ones.
#include "token_authenticator.hpp"

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

TokenAuthenticator::TokenAuthenticator(PulsarStorage& s) : s_(s) {}

Task<Done> TokenAuthenticator::authenticate(std::string token) {
  co_return co_await s_.on_io(authenticate_here(std::move(token)));
}

awaitable<Result<Done>> TokenAuthenticator::authenticate_here(std::string token) {
  kp::ClientOptions o = s_.client_->options();
  o.auth_token = std::move(token);
  const std::string url = s_.config_.service_url;
  if (kp::is_tls_url(url) && !tls_) tls_ = kp::make_tls_context(o.tls);
  auto connection = std::make_shared<kp::Connection>(s_.executor(), url, o, kp::is_tls_url(url) ? tls_ : nullptr);
  std::string refused;
  try {
    co_await connection->open();
  } catch (const std::exception& e) {
    refused = e.what();
  }
  connection->close();
  if (!refused.empty()) co_return Result<Done>::failure(Errc::unavailable, "Pulsar refused the token: " + refused);
  co_return Result<Done>::success({});
}

}  // namespace kwire_broker::storage::pulsar
