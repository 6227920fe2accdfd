// OAUTHBEARER verification keys fetched from an identity provider's JWKS
// endpoint (sasl.oauthbearer.jwks.endpoint.url as an https:// or http://
// URL), as Kafka's broker fetches them: once at startup (the broker does not
// start without a usable key set), then every
// sasl.oauthbearer.jwks.endpoint.refresh.ms. A fetch that fails or gives no
// usable key leaves the last good keys in force and is retried after
// sasl.oauthbearer.jwks.endpoint.retry.backoff.ms, doubling up to
// .retry.backoff.max.ms. A token naming a key id the keys lack brings the
// next fetch forward (the provider may have rotated its keys); each such id
// does so once a minute at most, and ids longer than 32 characters never, as
// in Kafka's broker, so tokens with made-up ids cannot make the broker hammer
// the provider.
//
// Fetches run on a thread of their own with blocking-free I/O bounded by a
// timeout, so a slow provider never holds a network thread. The server's
// certificate is verified (hostname included) against the system's CAs or
// the PEM file of kwire.sasl.oauthbearer.jwks.truststore.location; a
// response above 1 MiB is refused.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/jwt.hpp"

namespace kwire_broker::oauth {

struct EndpointOptions {
  std::string url;
  std::string ca_file;  // empty: the system's CAs
  std::chrono::milliseconds refresh{3600000};
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds retry_backoff_max{10000};
  std::chrono::milliseconds timeout{10000};  // per fetch
};

/// The body of a GET of `url` (status 200 only); throws std::runtime_error
/// saying what failed.
std::string fetch_url(const std::string& url, const std::string& ca_file, std::chrono::milliseconds timeout);

class KeySetEndpoint final : public KeySource {
 public:
  /// Fetches the key set; throws std::runtime_error when that fails.
  explicit KeySetEndpoint(EndpointOptions options);
  ~KeySetEndpoint() override;
  std::shared_ptr<const KeySet> current() override;
  void key_missing(std::string_view kid) override;

 private:
  /// Fetches and parses once; the keys (and the document in `document`),
  /// or nothing with `error` set.
  std::shared_ptr<const KeySet> fetch(std::string& document, std::string& error) const;
  void refresh_loop();

  EndpointOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool fetch_now_ = false;  // a missing key id asked for an early fetch
  // Key ids that brought a fetch forward, and when (the last minute's only).
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> missing_;
  std::shared_ptr<const KeySet> keys_;
  std::string document_;  // the one keys_ came from
  std::thread thread_;
};

}  // namespace kwire_broker::oauth
