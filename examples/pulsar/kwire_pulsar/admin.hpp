// Pulsar's HTTP admin API (the v2 REST endpoints), over Boost.Beast, on
// http:// or https:// (tls.hpp): tenants,
// namespaces and their policies, partitioned topics, subscriptions and their
// cursor positions, topic statistics.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kwire_pulsar/client.hpp"

namespace kwire_pulsar {

struct HttpResponse {
  int status = 0;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

class AdminError : public std::runtime_error {
 public:
  AdminError(int status, const std::string& what) : std::runtime_error(what), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

class Admin {
 public:
  /// url: http://host:port or https://host:port; token: a JWT for token
  /// authentication or empty. https:// servers are checked against the
  /// system's CAs and their host name.
  Admin(Executor ex, std::string url, std::string token = {},
        std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// As above; tls: how https:// servers are checked. (Not a defaulted
  /// argument of the one above: g++ 12 destroys a class-type default
  /// argument wrongly when the call sits in a coroutine.)
  Admin(Executor ex, std::string url, std::string token, std::chrono::milliseconds timeout, TlsOptions tls);

  /// One request; follows redirects (the broker owning a topic may differ).
  awaitable<HttpResponse> request(const std::string& method, const std::string& path,
                                  const std::string& body = {},
                                  const std::string& content_type = "application/json");

  // Each helper throws AdminError on an unexpected status. "Create" helpers
  // accept 409 (already exists) as success and return false then.
  awaitable<std::vector<std::string>> tenants();
  /// Allowed in `clusters` (the standalone's cluster when empty).
  awaitable<bool> create_tenant(const std::string& tenant, std::vector<std::string> clusters = {});
  awaitable<std::vector<std::string>> namespaces(const std::string& tenant);
  awaitable<bool> create_namespace(const std::string& tenant_ns);
  /// Sets one namespace policy: POST /admin/v2/namespaces/{tenant_ns}/{policy}.
  awaitable<void> set_namespace_policy(const std::string& tenant_ns, const std::string& policy,
                                       const std::string& json_body);
  awaitable<nlohmann::json> namespace_policies(const std::string& tenant_ns);
  /// Namespace properties (key/value strings kept with the policies).
  awaitable<void> set_namespace_properties(const std::string& tenant_ns,
                                           const std::vector<std::pair<std::string, std::string>>& props);
  awaitable<std::optional<std::string>> namespace_property(const std::string& tenant_ns, const std::string& key);

  /// topic: "tenant/ns/name" (persistent).
  awaitable<bool> create_partitioned_topic(const std::string& topic, int partitions);
  awaitable<void> update_partitioned_topic(const std::string& topic, int partitions);
  /// -1 when the topic has no partitioned metadata.
  awaitable<int> partitions(const std::string& topic);
  awaitable<std::vector<std::string>> partitioned_topics(const std::string& tenant_ns);
  awaitable<void> delete_partitioned_topic(const std::string& topic, bool force = true);
  awaitable<bool> create_topic(const std::string& topic);
  awaitable<void> delete_topic(const std::string& topic, bool force = true);

  awaitable<std::vector<std::string>> subscriptions(const std::string& topic);
  /// Creates a durable subscription whose cursor sits at `at` (earliest: the
  /// start; latest: the end).
  awaitable<bool> create_subscription(const std::string& topic, const std::string& sub, MessageId at);
  /// Moves an existing subscription's cursor: the message at `at` is next.
  awaitable<void> reset_cursor(const std::string& topic, const std::string& sub, MessageId at);
  awaitable<void> delete_subscription(const std::string& topic, const std::string& sub, bool force = true);
  /// GET .../stats and .../internalStats.
  awaitable<nlohmann::json> topic_stats(const std::string& topic);
  awaitable<nlohmann::json> internal_stats(const std::string& topic);

  /// The entry holding the message whose broker entry index is `index`
  /// (topic: "tenant/ns/name", persistent). Pulsar answers earliest() for
  /// the first entry of the topic. nullopt when the broker cannot say: no
  /// such index, or a release without the lookup.
  awaitable<std::optional<MessageId>> message_id_by_index(const std::string& topic, std::uint64_t index);

 private:
  Executor ex_;
  bool https_ = false;
  std::string host_, port_;
  TlsOptions tls_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // made at the first https request
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace kwire_pulsar
