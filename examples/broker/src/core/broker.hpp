// The broker: settings, metrics, the namespaces it serves (realms) and the
// request dispatch (defined in protocol/dispatch.cpp). Protocol handlers
// (handlers/) reach storage only through the seam in storage/.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/authorizer.hpp"
#include "core/client_quotas.hpp"
#include "core/config.hpp"
#include "core/jwt.hpp"
#include "core/metrics.hpp"
#include "core/notifier.hpp"
#include "core/realm.hpp"
#include "protocol/context.hpp"
#include "protocol/fetch_sessions.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

namespace asio = boost::asio;

class PeerLink;

class Broker {
 public:
  /// Opens the storage of a namespace (blocking; throws when it cannot).
  using StorageOpener = std::function<std::unique_ptr<storage::Storage>(const storage::Namespace&)>;

  Broker(Settings settings, StorageOpener open, std::vector<asio::io_context*> ios);
  ~Broker();

  /// Handles one request frame (after the size prefix). `release` is called
  /// when the connection may start its next request, if before the reply.
  asio::awaitable<Reply> handle(SessionState& session, bytes_view frame, std::function<void()> release = {});

  /// Opens the configured namespace and loads its groups; before serving.
  void start();
  /// Begins shutting down: long polls return, new requests close connections.
  void begin_shutdown();
  bool stopping() const noexcept { return stopping_.load(); }
  /// Closes every realm's storage (after the connections are gone).
  asio::awaitable<void> close_storage();

  // ---- shared services used by handlers ----
  const Settings& settings() const noexcept { return settings_; }
  Metrics& metrics() noexcept { return metrics_; }
  DataNotifier& notifier() noexcept { return notifier_; }
  /// Incremental fetch sessions, for every namespace (each session is tied
  /// to its own).
  FetchSessionCache& fetch_sessions() noexcept { return fetch_sessions_; }
  /// ACLs: the bindings of the default namespace's store decide for every
  /// namespace (as SCRAM credentials live there).
  const Authorizer& authorizer() const noexcept { return authorizer_; }
  /// Client quotas: the values in the default namespace's store decide for
  /// every namespace; taken from the store at start, after each change made
  /// here and periodically (changes made through other gateways).
  quota::ClientQuotas& quotas() noexcept { return quotas_; }
  asio::io_context& io() noexcept { return *ios_.front(); }
  /// Connections to the other gateways of this broker's namespace.
  PeerLink& peers() noexcept { return *peers_; }
  /// The keys OAUTHBEARER tokens are checked with; nullptr when OAUTHBEARER
  /// is not enabled.
  oauth::KeySource* oauth_keys() noexcept { return oauth_keys_.get(); }

  /// The broker's configured namespace.
  Realm& default_realm() noexcept { return *default_realm_; }
  /// The realm of `ns`, opened on first use (blocking the caller while the
  /// storage opens). Throws when the storage cannot be opened.
  Realm& realm(const storage::Namespace& ns);
  /// Storage housekeeping and hand-over, for every open realm, and the
  /// partitions gauge (periodic).
  asio::awaitable<void> maintain();

  /// Versions advertised for an API; nullopt when not implemented.
  struct Range {
    std::int16_t min, max;
  };
  static std::optional<Range> advertised(std::int16_t api_key);

 private:
  asio::awaitable<void> count_partitions();
  /// Takes the default store's quota values if they changed.
  void refresh_quotas();

  Settings settings_;
  StorageOpener open_;
  std::vector<asio::io_context*> ios_;
  Metrics metrics_;
  DataNotifier notifier_;
  FetchSessionCache fetch_sessions_;
  std::unique_ptr<oauth::KeySource> oauth_keys_;
  Authorizer authorizer_;
  quota::ClientQuotas quotas_;
  std::unique_ptr<PeerLink> peers_;
  std::atomic<bool> stopping_{false};
  /// The default realm's partition count, for the gauge: counted where
  /// storage may be awaited, read where it may not.
  std::atomic<std::int64_t> partitions_{0};
  std::mutex realms_mu_;
  std::unique_ptr<Realm> default_realm_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Realm>> realms_;  // others, by tenant and namespace
};

/// Milliseconds since the epoch, by the wall clock (Kafka's timestamps).
std::int64_t now_ms();

}  // namespace kwire_broker
