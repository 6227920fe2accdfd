// The transaction coordinator's records in memory: loading them (all at
// start with one gateway; with several, a shard's when this gateway takes it
// over, dropped when it loses it), and records of earlier versions whose
// groups and offsets move to the group store.
#include "coordinator/txn_coordinator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <stdexcept>

#include "core/log.hpp"

namespace kwire_broker {

using kwire::ErrorCode;

asio::awaitable<void> TxnCoordinator::load() {
  auto* ts = store_.transactions();
  if (!ts) co_return;
  if (!config_.owns_shard) {
    // One gateway: every shard is this one's, read now, before serving.
    auto blobs = co_await ts->load_txns();
    if (!blobs.ok()) throw std::runtime_error("cannot load the stored transactions: " + blobs.message);
    std::vector<std::string> older;
    for (auto& b : blobs.value) {
      auto t = decode_txn(b.transactional_id, b.data);
      if (!t) {
        KB_WARN("transaction coordinator: cannot read the record of transactional id {}", b.transactional_id);
        continue;
      }
      if (!t->groups.empty() || !t->offsets.empty()) older.push_back(t->id);
      adopt(std::move(*t));
    }
    for (std::int32_t shard = 0; shard < store_.groups().shard_count(); ++shard) loaded_.insert(shard);
    for (auto& id : older) {
      auto moved = migrate(id);
      if (!co_await std::move(moved)) throw std::runtime_error("cannot move the offsets of transaction " + id);
    }
    KB_INFO("transaction coordinator loaded {} transactional id(s)", txns_.size());
  }
  // With several gateways the shards load as this gateway takes them (the
  // sweep, or the first request for an id of one).
  sweep_timer_ = std::make_shared<asio::steady_timer>(strand_);
  asio::co_spawn(strand_, sweep(), asio::detached);
}

void TxnCoordinator::adopt(TxnMetadata t) {
  std::lock_guard lk(mu_);
  if ((busy_.count(t.id) || finishing_.count(t.id)) && txns_.count(t.id)) return;
  by_producer_[t.producer_id] = t.id;
  std::string id = t.id;
  txns_[id] = std::move(t);
}

asio::awaitable<bool> TxnCoordinator::migrate(std::string id) {
  const Busy busy(*this, id);
  TxnMetadata* t = find(id);
  if (!t) co_return true;
  // An open or committing transaction's offsets go to their groups' holds;
  // an aborting one's are dropped with it.
  const bool keep = t->state == TxnState::ongoing || t->state == TxnState::prepare_commit;
  const auto offsets = keep ? t->offsets : decltype(t->offsets){};
  // The epoch the transaction wrote with: a V2 commit's markers carry the next.
  storage::TxnMarker ending;
  ending.producer_epoch = t->producer_epoch;
  ending.commit = t->state == TxnState::prepare_commit;
  ending.v2 = t->v2;
  const std::int64_t producer_id = t->producer_id;
  for (const auto& [group, held] : offsets) {
    auto hold = store_.groups().hold_txn_offsets(group, producer_id, storage::txn_epoch(ending),
                                                 storage::GroupStore::Offsets(held.begin(), held.end()));
    auto r = co_await std::move(hold);
    if (!r.ok()) {
      KB_WARN("transaction {}: cannot hand its offsets to group {}: {}", id, group, r.message);
      co_return false;  // the shard is not loaded: tried again on the next load
    }
    t = find(id);
    if (!t) co_return true;
  }
  {
    std::lock_guard lk(mu_);
    for (const auto& g : t->groups) t->partitions.insert(offsets_shard(store_.groups().shard_of(g)));
    for (const auto& [g, held] : t->offsets) t->partitions.insert(offsets_shard(store_.groups().shard_of(g)));
    t->groups.clear();
    t->offsets.clear();
  }
  auto stored = persist(*t);
  co_return co_await std::move(stored);
}

bool TxnCoordinator::owns(const std::string& id) const {
  return !config_.owns_shard || config_.owns_shard(store_.groups().shard_of(id));
}

asio::awaitable<ErrorCode> TxnCoordinator::ready_for(std::string id) {
  const Busy busy(*this, id);
  co_return co_await ready(id);
}

asio::awaitable<ErrorCode> TxnCoordinator::ready(const std::string& id) {
  const std::int32_t shard = store_.groups().shard_of(id);
  if (config_.owns_shard && !config_.owns_shard(shard)) co_return ErrorCode::NotCoordinator;
  if (loaded_.count(shard)) co_return ErrorCode::None;
  const bool loaded = co_await load_shard(shard);
  co_return loaded ? ErrorCode::None : ErrorCode::CoordinatorLoadInProgress;
}

asio::awaitable<bool> TxnCoordinator::load_shard(std::int32_t shard) {
  auto* ts = store_.transactions();
  if (!ts) co_return false;
  auto load = ts->load_shard_txns(shard);
  auto blobs = co_await std::move(load);
  if (!blobs.ok()) {
    KB_WARN("transaction coordinator: cannot load shard {}: {}", shard, blobs.message);
    co_return false;
  }
  if (loaded_.count(shard)) co_return true;  // another request loaded it meanwhile
  std::vector<std::string> older;
  drop_shard(shard);
  for (auto& b : blobs.value) {
    auto t = decode_txn(b.transactional_id, b.data);
    if (!t) continue;
    if (!t->groups.empty() || !t->offsets.empty()) older.push_back(t->id);
    adopt(std::move(*t));
  }
  for (auto& id : older) {
    auto moved = migrate(id);
    if (!co_await std::move(moved)) co_return false;
  }
  loaded_.insert(shard);
  KB_INFO("transaction coordinator: shard {} loaded ({} id(s))", shard, blobs.value.size());
  co_return true;
}

void TxnCoordinator::drop_shard(std::int32_t shard) {
  std::lock_guard lk(mu_);
  for (auto it = txns_.begin(); it != txns_.end();) {
    // An id whose markers are being written, or that an operation works
    // on, keeps its entry until they are done (a later refresh drops it).
    const bool working = finishing_.count(it->first) || busy_.count(it->first);
    if (store_.groups().shard_of(it->first) == shard && !working) it = txns_.erase(it);
    else ++it;
  }
  for (auto it = by_producer_.begin(); it != by_producer_.end();) {
    if (!txns_.count(it->second)) it = by_producer_.erase(it);
    else ++it;
  }
}

asio::awaitable<void> TxnCoordinator::refresh_shards() {
  if (!config_.owns_shard) co_return;
  for (std::int32_t shard = 0; shard < store_.groups().shard_count(); ++shard) {
    const bool owned = config_.owns_shard(shard);
    if (owned && !loaded_.count(shard)) {
      (void)co_await load_shard(shard);
    } else if (!owned) {
      // Another gateway coordinates these ids now; it reads their records
      // again when it takes the shard. Entries an operation still held when
      // the shard was lost go on a later round.
      if (loaded_.erase(shard)) KB_INFO("transaction coordinator: shard {} is another gateway's now", shard);
      drop_shard(shard);
    }
  }
}

void TxnCoordinator::take_shards() {
  asio::co_spawn(strand_, [this]() -> asio::awaitable<void> {
    co_await refresh_shards();
    co_await expire();  // finishes the prepared transactions found
  }, asio::detached);
}

}  // namespace kwire_broker
