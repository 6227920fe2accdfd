#include "core/realm.hpp"

#include <algorithm>

#include "coordinator/group_coordinator.hpp"
#include "coordinator/txn_coordinator.hpp"
#include "coordinator/txn_markers.hpp"
#include "coordinator/txn_peers.hpp"
#include "core/broker.hpp"
#include "core/cluster.hpp"
#include "core/log.hpp"
#include "core/startup.hpp"
#include "net/peer_link.hpp"

namespace kwire_broker {

Realm::Realm(Broker& broker, storage::Namespace ns, std::unique_ptr<storage::Storage> store)
    : broker_(broker), ns_(std::move(ns)), store_(std::move(store)) {
  GroupCoordinator::Config gc;
  gc.initial_rebalance_delay_ms = broker_.settings().group_initial_rebalance_delay_ms;
  gc.consumer.session_timeout_ms = broker_.settings().consumer_session_ms;
  gc.consumer.heartbeat_interval_ms = broker_.settings().consumer_heartbeat_interval_ms;
  gc.max_size = broker_.settings().group_max_size;
  gc.consumer.max_size = broker_.settings().consumer_max_size;
  gc.consumer.classic_max_size = broker_.settings().group_max_size;
  gc.consumer.assignors = broker_.settings().consumer_assignors;
  gc.consumer.migration = consumer::migration_policy_of(broker_.settings().consumer_migration_policy)
                              .value_or(consumer::MigrationPolicy::bidirectional);
  gc.share.session_timeout_ms = broker_.settings().share_session_ms;
  gc.share.heartbeat_interval_ms = broker_.settings().share_heartbeat_interval_ms;
  gc.share.max_size = broker_.settings().share_max_size;
  gc.share.lock_duration_ms = broker_.settings().share_lock_duration_ms;
  gc.share.delivery_count_limit = broker_.settings().share_delivery_count_limit;
  gc.share.max_record_locks = broker_.settings().share_max_record_locks;
  gc.share.max_sessions = broker_.settings().share_max_sessions;
  groups_ = std::make_unique<GroupCoordinator>(std::move(gc), *store_, broker_.io());
  cluster_ = std::make_unique<Cluster>(broker_.settings(), *store_);
  if (store_->supports_transactions() && store_->transactions()) {
    TxnCoordinator::Config tc;
    tc.max_timeout_ms = broker_.settings().transaction_max_timeout_ms;
    tc.sweep_interval = std::chrono::milliseconds(std::max(1, broker_.settings().transaction_abort_interval_ms));
    tc.id_expiration_ms = broker_.settings().transactional_id_expiration_ms;
    tc.id_expiration_interval =
        std::chrono::milliseconds(std::max<std::int64_t>(1, broker_.settings().transaction_id_removal_interval_ms));
    // A marker moves the partition's last stable offset: read_committed
    // fetches waiting on it wake.
    tc.on_marker = [&n = broker_.notifier()](const storage::TopicPartition& tp) { n.notify(tp); };
    if (store_->membership()) {
      // Several gateways may share the store. Requests between gateways land
      // in each one's own namespace, so only that one's transactions span
      // gateways: each coordinates the ids of the shards it coordinates
      // groups of. Elsewhere one gateway keeps them all, and the others
      // refuse transactions while it serves (handlers/core.cpp).
      const bool own = ns_.tenant == broker_.settings().tenant && ns_.ns == broker_.settings().ns;
      const auto why = broker_.peers().unusable();
      if (own && !why.empty()) KB_WARN("transactions need this gateway alone on {}/{}: {}", ns_.tenant, ns_.ns, why);
      if (own && why.empty()) {
        tc.owns_shard = [this](std::int32_t shard) {
          return cluster_->view().coordinator_of_shard(shard) == broker_.settings().node_id;
        };
        local_markers_ = std::make_unique<LocalTxnMarkers>(*store_, tc.on_marker);
        txn_peers_ = std::make_unique<TxnPeers>(*cluster_, broker_.peers(), *store_, *local_markers_);
        tc.markers = txn_peers_.get();
      }
    }
    txns_ = std::make_unique<TxnCoordinator>(std::move(tc), *store_, broker_.io());
  }
}

Realm::~Realm() = default;

bool Realm::share_groups() const noexcept {
  return broker_.settings().share_groups_enabled && store_->supports_share_groups();
}

void Realm::start() {
  // Records written around this gateway wake the fetches waiting for them.
  store_->watch([&n = broker_.notifier()](const storage::TopicPartition& tp) { n.notify(tp); });
  wait_at_startup(groups_->load());
  if (txns_) wait_at_startup(txns_->load());
  if (groups_->count() > 0) show_group_offsets_topic();
  cluster_->join();
  if (txns_) txns_->take_shards();
}

asio::awaitable<kwire::ErrorCode> Realm::verify_txn(std::string txn_id, std::int64_t producer_id,
                                                    std::int16_t epoch, storage::TopicPartition tp, bool add) {
  if (!txns_) co_return kwire::ErrorCode::UnsupportedVersion;
  if (txn_peers_) {
    auto ask = txn_peers_->verify(*txns_, txn_id, producer_id, epoch, std::move(tp), add);
    co_return co_await std::move(ask);
  }
  auto here = verify_here(*txns_, txn_id, producer_id, epoch, std::move(tp), add);
  co_return co_await std::move(here);
}

void Realm::hand_over() {
  std::vector<std::shared_ptr<storage::PartitionLog>> open;
  {
    std::lock_guard lk(logs_mu_);
    for (auto& [tp, log] : logs_) open.push_back(log);
  }
  cluster_->release_lost(open);
}

asio::awaitable<storage::Result<std::shared_ptr<storage::PartitionLog>>> Realm::log(const storage::TopicPartition& tp) {
  std::uint64_t forgets = 0;
  {
    std::lock_guard lk(logs_mu_);
    auto it = logs_.find(tp);
    if (it != logs_.end()) co_return storage::Result<std::shared_ptr<storage::PartitionLog>>::success(it->second);
    forgets = forgets_;
  }
  storage::TopicPartition wanted = tp;
  auto r = co_await store_->open_log(std::move(wanted));
  if (r.ok()) {
    // A topic deleted meanwhile (on another thread) may have handed us its
    // old log: caching it would keep the partition unusable after the topic
    // is created again. Such a log is used this once and not kept.
    std::lock_guard lk(logs_mu_);
    if (forgets_ == forgets) logs_[tp] = r.value;
  }
  co_return r;
}

void Realm::forget_logs(const std::string& topic) {
  std::lock_guard lk(logs_mu_);
  ++forgets_;
  for (auto it = logs_.begin(); it != logs_.end();) {
    if (it->first.topic == topic)
      it = logs_.erase(it);
    else
      ++it;
  }
}

asio::awaitable<storage::Result<storage::TopicInfo>> Realm::auto_create(const std::string& topic) {
  storage::NewTopic nt;
  nt.name = topic;
  nt.partitions = broker_.settings().num_partitions;
  auto r = co_await store_->topics().create_topic(std::move(nt));
  if (r.ok()) KB_INFO("auto-created topic {} with {} partition(s)", topic, r.value.partitions);
  else if (r.error != storage::Errc::topic_exists) KB_WARN("auto-creating topic {} failed: {}", topic, r.message);
  if (r.error == storage::Errc::topic_exists) {
    if (auto t = store_->topics().find_topic(topic)) co_return storage::Result<storage::TopicInfo>::success(*t);
  }
  co_return r;
}

}  // namespace kwire_broker
