// A realm is one storage namespace as its clients see it. A broker serves its
// configured namespace and, for SASL users named tenant/namespace, others.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "kwire/messages/error_code.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

namespace asio = boost::asio;

class Broker;
class Cluster;
class GroupCoordinator;
class LocalTxnMarkers;
class TxnCoordinator;
class TxnPeers;

/// One namespace as its clients see it: its storage, its consumer groups, the
/// gateways sharing it and the partition logs open in it. Realms never see
/// each other's topics or groups.
class Realm {
 public:
  Realm(Broker& broker, storage::Namespace ns, std::unique_ptr<storage::Storage> store);
  ~Realm();

  const storage::Namespace& ns() const noexcept { return ns_; }
  storage::Storage& store() noexcept { return *store_; }
  GroupCoordinator& groups() noexcept { return *groups_; }
  /// The transaction coordinator; nullptr when the store keeps no
  /// transactions (the transaction APIs are then not offered).
  TxnCoordinator* transactions() noexcept { return txns_.get(); }
  /// Whether share groups (KIP-932) are served here: the store keeps them
  /// and kwire.share.groups.enable is on. Their APIs are offered only then.
  bool share_groups() const noexcept;
  Cluster& cluster() noexcept { return *cluster_; }
  /// Whether transactions may run while several gateways serve this realm
  /// (the broker's own namespace, whose gateways reach each other).
  bool transactions_across_gateways() const noexcept { return txn_peers_ != nullptr; }
  /// KIP-890's check of a transactional write at the coordinator of `txn_id`
  /// (this gateway's or another's): whether the producer's open transaction
  /// holds `tp`, or, with `add` (Transactions V2), adds it. The coordinator's
  /// error, or why it could not be asked.
  asio::awaitable<kwire::ErrorCode> verify_txn(std::string txn_id, std::int64_t producer_id,
                                               std::int16_t epoch, storage::TopicPartition tp, bool add);

  /// Loads groups and joins the other gateways; before serving the realm
  /// (blocks until both are done).
  void start();
  /// Hands partitions and groups this gateway no longer owns to the gateway
  /// that does (periodic).
  void hand_over();

  /// The open log of a partition (cached), or the storage error.
  asio::awaitable<storage::Result<std::shared_ptr<storage::PartitionLog>>> log(const storage::TopicPartition& tp);
  void forget_logs(const std::string& topic);

  /// Creates a topic as auto-creation does (num.partitions, no configs).
  asio::awaitable<storage::Result<storage::TopicInfo>> auto_create(const std::string& topic);

  /// Whether the group-offsets topic is shown (internal_topics.hpp): from the
  /// first use of groups in this namespace on.
  bool group_offsets_topic_shown() const noexcept { return offsets_topic_shown_.load(std::memory_order_relaxed); }
  void show_group_offsets_topic() noexcept { offsets_topic_shown_.store(true, std::memory_order_relaxed); }

 private:
  Broker& broker_;
  storage::Namespace ns_;
  std::unique_ptr<storage::Storage> store_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<Cluster> cluster_;  // before what uses it
  std::unique_ptr<LocalTxnMarkers> local_markers_;
  std::unique_ptr<TxnPeers> txn_peers_;
  std::unique_ptr<TxnCoordinator> txns_;
  std::mutex logs_mu_;
  std::map<storage::TopicPartition, std::shared_ptr<storage::PartitionLog>> logs_;
  std::uint64_t forgets_ = 0;  // forget_logs() calls so far
  std::atomic<bool> offsets_topic_shown_{false};
};

}  // namespace kwire_broker
