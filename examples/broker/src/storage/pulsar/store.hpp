// The broker's storage seam on Apache Pulsar, mapped as Kafka-on-Pulsar maps
// it:
//
//   Kafka topic T, partition p   persistent://TENANT/NS/T-partition-p (a
//                                partitioned topic T with its metadata)
//   Kafka offsets                the broker entry metadata index: an entry's
//                                index is the offset of its last record
//   a record batch               one entry, in the namespace's entry format
//                                (entry_format.hpp)
//   topic configs and id         properties of the partitioned topic
//   groups, committed offsets    a compacted, partitioned system topic
//                                TENANT/__kafka/__consumer_offsets (suffixed
//                                _NS for namespaces other than "default"),
//                                mirrored to a subscription per group on
//                                each partition (shortly after the commit
//                                is acknowledged, newest offset first)
//   share partitions' state      the same topic, beside the group's records
//                                (share_state_store.hpp)
//   transaction state            the same topic, keyed by transactional id
//                                (txn_store.hpp)
//   SCRAM credentials, ACLs,     a compacted system topic
//   client quotas                TENANT/__kafka/__kwire_security (suffixed
//                                likewise), followed by every gateway
//
// One gateway writes a partition at a time: it holds Pulsar's exclusive
// producer on it, so a second gateway is fenced. As the single writer it
// derives each append's offsets from the previous index plus the batch's
// message count; reads always take offsets from the index the broker sends.
// A fetch finds the entry of an offset with Pulsar's lookup by index (one
// admin request), or, where a release lacks it, by a binary search over the
// topic's entries; every entry read feeds a sparse index that answers first.
//
// Every call hops to the storage's own I/O thread (one io_context, one
// thread, where the Pulsar client lives) and resumes its caller on the
// caller's executor; nothing the broker awaits blocks its thread. Only
// opening the storage, joining the gateways and destroying the storage
// block. The pieces behind the seam are in their own files: the partition
// logs (log.hpp), the topic catalog (catalog.hpp), the group store
// (group_store.hpp), the share partitions' state (share_state_store.hpp),
// transactions (txn_store.hpp), credentials, ACLs and quotas
// (security_store.hpp, quota_store.cpp), the gateways (gateways.hpp); this
// file holds the root that owns them, the client and the I/O thread.
//
// An append is acknowledged once Pulsar's receipt for its entry is in (a
// Kafka retry of a batch still on its way waits for that receipt). A batch
// whose entry would exceed what the cluster stores (the broker's
// maxMessageSize, the bookies' frame limit) is refused before it is sent:
// Pulsar would otherwise retry the failed write without end.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../storage.hpp"
#include "catalog.hpp"
#include "common.hpp"
#include "entry_format.hpp"
#include "gateways.hpp"
#include "group_store.hpp"
#include "log.hpp"
#include "share_queue.hpp"
#include "share_state_store.hpp"
#include "txn_store.hpp"
#include "security_store.hpp"
#include "token_authenticator.hpp"

namespace kwire_broker::storage::pulsar {

struct PulsarConfig {
  std::string service_url = "pulsar://127.0.0.1:6650";
  std::string web_service_url = "http://127.0.0.1:8080";
  /// A JWT (brokerClientAuthenticationParameters "token:..." or the token).
  std::string token;
  /// For pulsar+ssl:// and https:// urls: the CAs trusted, the host name
  /// check, or no check at all; and a client certificate for Pulsar's TLS
  /// authentication.
  kp::TlsOptions tls;
  /// Default entry format; a namespace property kwire.entry.format overrides.
  EntryFormat entry_format = EntryFormat::pulsar;
  /// Partitions of the group metadata topic.
  int offsets_partitions = 8;
  /// The gateway's name in producer names (distinct per gateway process).
  std::string gateway_name = "kwire";
  std::chrono::milliseconds operation_timeout = std::chrono::seconds(30);
  /// How a fetch finds the entry of an offset: Pulsar's REST lookup by
  /// index (one request; a release without it falls back to the search),
  /// or a binary search over the topic's entries (O(log n) reads).
  enum class IndexLookup { rest, search } index_lookup = IndexLookup::rest;
  /// The bookies' nettyMaxFrameSizeBytes, which Pulsar does not report:
  /// BookKeeper's default (what a standalone runs with). Together with the
  /// broker's maxMessageSize (from the broker) it bounds an entry.
  std::int64_t bookie_max_frame_bytes = 5 * 1024 * 1024;
};

/// Reads the broker's settings: pulsarServiceUrl, pulsarWebServiceUrl,
/// brokerClientAuthenticationPlugin and brokerClientAuthenticationParameters
/// (a token: "token:JWT", "file:PATH" or the JWT; a client certificate:
/// "tlsCertFile:PATH,tlsKeyFile:PATH" or that as JSON), the certificate also
/// as brokerClientCertificateFilePath / brokerClientKeyFilePath or
/// tlsCertificateFilePath / tlsKeyFilePath, tlsTrustCertsFilePath
/// (or brokerClientTrustCertsFilePath), tlsEnableHostnameVerification (or
/// tlsHostnameVerificationEnable), tlsAllowInsecureConnection, entryFormat
/// (pulsar|kafka), offsetsTopicNumPartitions, gatewayName, indexLookup
/// (rest|search), bookieMaxFrameBytes. Unknown keys are ignored.
PulsarConfig config_from(const std::map<std::string, std::string>& settings);

/// The Kafka tenant and namespace from the settings kafkaTenant and
/// kafkaNamespace (public/default when unset).
Namespace namespace_from(const std::map<std::string, std::string>& settings);

/// Opens the storage for one namespace: creates the tenant and namespace if
/// needed (retention unlimited, deduplication on), loads topics and groups.
/// Blocks until that is done; throws std::runtime_error when Pulsar cannot
/// be reached. Each storage has
/// its own client and I/O thread; a SASL user "tenant/namespace" gets the
/// storage of that namespace and sees nothing else.
std::unique_ptr<Storage> open_pulsar_storage(const PulsarConfig& config, const Namespace& ns);

/// How many entries a Pulsar log has read one by one to find positions
/// (offset and timestamp lookups): the cost of seeking, for tests and metrics.
/// 0 for logs of other backends.
std::uint64_t entries_probed(const PartitionLog& log) noexcept;

// ---------------------------------------------------------------------------
// The root: what the log, catalog and group store reach through it.

class PulsarStorage final : public Storage {
 public:
  PulsarStorage(PulsarConfig config, Namespace ns);
  /// Blocks: closes (when close() was not awaited) and joins the I/O thread.
  ~PulsarStorage() override;

  /// Blocks: creates the namespace's Pulsar side if needed, learns the
  /// cluster's limits and loads the topics.
  void open_at_startup();

  const Namespace& ns() const noexcept override { return ns_; }
  TopicCatalog& topics() override { return catalog_; }
  GroupStore& groups() override { return groups_; }
  bool supports_transactions() const noexcept override { return true; }
  TxnStore* transactions() override { return &txns_; }
  CredentialStore* credentials() override { return &security_; }
  AclStore* acls() override { return &security_; }
  QuotaStore* quotas() override { return &security_; }
  storage::TokenAuthenticator* token_authenticator() override { return &tokens_; }
  Membership* membership() override { return members_.get(); }
  bool supports_share_groups() const noexcept override { return true; }
  ShareStateStore* share_states() override { return &shares_; }
  storage::ShareQueues* share_queues() override { return &share_queues_; }
  std::int64_t max_batch_bytes() const noexcept override { return limits_.batch_bytes; }
  void watch(std::function<void(const TopicPartition&)> on_data) override;
  DataLocation data_location() const override;
  Task<std::vector<std::int64_t>> partition_sizes(std::string topic) override;
  Task<std::shared_ptr<PartitionLog>> open_log(TopicPartition tp) override;
  Task<std::int64_t> allocate_producer_ids(std::int32_t count) override;
  void maintain(std::chrono::system_clock::time_point) override {}
  Task<Done> close() override;

  /// Runs `work` on the I/O thread, where the client and all state live, and
  /// resumes the caller on its own executor; a failure thrown there comes
  /// back as a Result. After close() it fails with closed without running.
  template <class T>
  Task<T> on_io(awaitable<Result<T>> work) {
    if (closed_) co_return Result<T>::failure(Errc::closed, "storage closed");
    auto hop = asio::co_spawn(io_, guarded(std::move(work)), asio::use_awaitable);
    co_return co_await std::move(hop);
  }
  bool closed() const noexcept { return closed_; }
  asio::any_io_executor executor() { return io_.get_executor(); }

  // On the I/O thread:
  awaitable<std::shared_ptr<Log>> open_log_here(const TopicPartition& tp);
  /// Closes and forgets the open logs of a deleted topic.
  void forget_logs(const std::string& topic);
  /// Why the entry cannot be stored on this cluster, if it cannot.
  std::optional<std::string> entry_too_large(const EncodedEntry& e) const;
  /// Tells the broker (watch()) that records it did not append arrived.
  void data_arrived(const TopicPartition& tp);

  std::string pulsar_topic(const TopicPartition& tp) const;
  std::string short_topic(const std::string& name) const;

  PulsarConfig config_;
  Namespace ns_;
  EntryFormat format_ = EntryFormat::pulsar;
  EntryLimits limits_;
  std::shared_ptr<kp::Client> client_;
  std::unique_ptr<kp::Admin> admin_;

 private:
  awaitable<void> setup();
  awaitable<Result<std::int64_t>> allocate_here(std::int32_t count);
  /// Flushes mirrors, says goodbye to the other gateways, closes the logs and
  /// the client: in-flight calls fail with closed.
  awaitable<void> wind_down();

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  Catalog catalog_;
  Groups groups_;
  ShareStates shares_;
  ShareQueues share_queues_{*this};
  Txns txns_;
  Security security_;
  TokenAuthenticator tokens_;
  std::map<TopicPartition, std::shared_ptr<Log>> logs_;
  std::map<TopicPartition, std::unique_ptr<AsyncLock>> opening_;
  std::shared_ptr<kp::Producer> id_producer_;
  std::unique_ptr<PulsarMembership> members_;
  std::mutex watch_mu_;
  std::function<void(const TopicPartition&)> on_data_;
  std::atomic<bool> closed_{false};
  bool wound_down_ = false;
  std::thread thread_;
};

}  // namespace kwire_broker::storage::pulsar
