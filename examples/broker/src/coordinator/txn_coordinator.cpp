#include "coordinator/txn_coordinator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <stdexcept>

#include "core/log.hpp"

namespace kwire_broker {

using kwire::ErrorCode;

namespace {

// Kafka bumps an epoch up to Short.MaxValue - 1, then takes a new producer id.
constexpr std::int16_t last_usable_epoch = 32766;

bool preparing(TxnState s) { return s == TxnState::prepare_commit || s == TxnState::prepare_abort; }

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TxnCoordinator::TxnCoordinator(Config config, storage::Storage& store, asio::io_context& io)
    : config_(std::move(config)), store_(store), strand_(asio::make_strand(io)) {
  if (!config_.clock) config_.clock = system_ms;
  if (!config_.markers) {
    local_markers_ = std::make_unique<LocalTxnMarkers>(store_, config_.on_marker);
    config_.markers = local_markers_.get();
  }
}

TxnCoordinator::~TxnCoordinator() = default;

void TxnCoordinator::shutdown() {
  asio::post(strand_, [this] {
    stopped_ = true;
    if (sweep_timer_) sweep_timer_->cancel();
  });
}

TxnMetadata* TxnCoordinator::find(const std::string& id) {
  auto it = txns_.find(id);
  return it == txns_.end() ? nullptr : &it->second;
}

asio::awaitable<bool> TxnCoordinator::persist(const TxnMetadata& t) {
  auto* ts = store_.transactions();
  if (!ts) co_return false;
  std::vector<std::uint8_t> blob;
  std::string id;
  {
    std::lock_guard lk(mu_);
    blob = encode_txn(t);
    id = t.id;
  }
  auto task = ts->store_txn(std::move(id), std::move(blob));
  auto r = co_await std::move(task);
  co_return r.ok();
}

ErrorCode TxnCoordinator::check_producer(const TxnMetadata* t, std::int64_t producer_id, std::int16_t epoch) {
  if (!t || t->producer_id != producer_id) return ErrorCode::InvalidProducerIdMapping;
  // Clients never bump their epoch without the coordinator: any other one
  // belongs to a fenced producer.
  if (epoch != t->producer_epoch) return ErrorCode::ProducerFenced;
  return ErrorCode::None;
}

asio::awaitable<TxnCoordinator::ProducerIdAndEpoch> TxnCoordinator::init_producer_id(std::string id,
                                                                                    std::int32_t timeout_ms,
                                                                                    std::int64_t producer_id,
                                                                                    std::int16_t producer_epoch) {
  ProducerIdAndEpoch out;
  const Busy busy(*this, id);
  if (const ErrorCode e = co_await ready(id); e != ErrorCode::None) {
    out.error = e;
    co_return out;
  }
  if (timeout_ms <= 0 || timeout_ms > config_.max_timeout_ms) {
    out.error = ErrorCode::InvalidTransactionTimeout;
    co_return out;
  }
  TxnMetadata* t = find(id);
  if (!t) {
    // An id the coordinator does not know (never seen, or expired) gets a
    // new producer id, even from a producer that names its old one: Kafka
    // treats that as a producer recovering (KIP-360).
    auto alloc = co_await store_.allocate_producer_ids(1);
    if (!alloc.ok()) {
      out.error = ErrorCode::CoordinatorNotAvailable;
      co_return out;
    }
    if (find(id)) {  // another InitProducerId for the id got in meanwhile
      out.error = ErrorCode::ConcurrentTransactions;
      co_return out;
    }
    {
      std::lock_guard lk(mu_);
      t = &txns_[id];
      t->id = id;
      t->producer_id = alloc.value;
      t->producer_epoch = 0;
      t->timeout_ms = timeout_ms;
      t->update_ms = now();
      by_producer_[t->producer_id] = id;
    }
    const bool stored = co_await persist(*t);
    if (!stored) {
      out.error = ErrorCode::CoordinatorNotAvailable;
      co_return out;
    }
    out.producer_id = t->producer_id;
    out.producer_epoch = t->producer_epoch;
    co_return out;
  }

  const bool bump_by_client = producer_id >= 0;  // KIP-360
  if (bump_by_client && !(producer_id == t->producer_id && producer_epoch == t->producer_epoch)) {
    if (producer_id == t->last_producer_id && producer_epoch == t->last_producer_epoch && !preparing(t->state)) {
      // A retry of the bump that produced the current epoch.
      out.producer_id = t->producer_id;
      out.producer_epoch = t->producer_epoch;
    } else {
      out.error = producer_id != t->producer_id ? ErrorCode::InvalidProducerIdMapping : ErrorCode::ProducerFenced;
    }
    co_return out;
  }
  if (preparing(t->state) || finishing_.count(id)) {
    out.error = ErrorCode::ConcurrentTransactions;
    co_return out;
  }
  if (t->state == TxnState::ongoing) {
    // A new producer for the id: its predecessor's transaction is aborted
    // under a bumped epoch, which fences the predecessor in every partition.
    // Bound first: g++ 12 destroys a by-value argument of a co_await twice.
    auto abort = finish(id, false, Bump::new_producer);
    const ErrorCode aborted = co_await std::move(abort);
    if (aborted != ErrorCode::None) {
      out.error = aborted;
      co_return out;
    }
    t = find(id);
  }
  if (t->producer_epoch >= last_usable_epoch) {
    auto alloc = co_await store_.allocate_producer_ids(1);
    if (!alloc.ok()) {
      out.error = ErrorCode::CoordinatorNotAvailable;
      co_return out;
    }
    std::lock_guard lk(mu_);
    t->last_producer_id = t->producer_id;
    t->last_producer_epoch = t->producer_epoch;
    t->producer_id = alloc.value;
    t->producer_epoch = 0;
    by_producer_[t->producer_id] = id;
  } else {
    std::lock_guard lk(mu_);
    t->last_producer_id = bump_by_client ? t->producer_id : -1;
    t->last_producer_epoch = bump_by_client ? t->producer_epoch : -1;
    t->producer_epoch = static_cast<std::int16_t>(t->producer_epoch + 1);
  }
  {
    std::lock_guard lk(mu_);
    t->state = TxnState::empty;
    t->timeout_ms = timeout_ms;
    t->partitions.clear();
    t->groups.clear();
    t->offsets.clear();
    t->start_ms = -1;
    t->update_ms = now();
  }
  const bool stored = co_await persist(*t);
  if (!stored) {
    out.error = ErrorCode::CoordinatorNotAvailable;
    co_return out;
  }
  out.producer_id = t->producer_id;
  out.producer_epoch = t->producer_epoch;
  co_return out;
}

asio::awaitable<TxnCoordinator::AddResult> TxnCoordinator::add_partitions(
    std::string id, std::int64_t producer_id, std::int16_t epoch, std::vector<storage::TopicPartition> partitions,
    bool v2) {
  AddResult out;
  const Busy busy(*this, id);
  out.error = co_await ready(id);
  if (out.error != ErrorCode::None) co_return out;
  TxnMetadata* t = find(id);
  out.error = check_producer(t, producer_id, epoch);
  if (out.error != ErrorCode::None) co_return out;
  if (preparing(t->state) || finishing_.count(id)) {
    out.error = ErrorCode::ConcurrentTransactions;
    co_return out;
  }
  for (const auto& tp : partitions) {
    if (is_offsets_shard(tp)) {  // a group coordinator adding the shard of a group's offsets (V2)
      if (tp.partition < 0 || tp.partition >= store_.groups().shard_count()) out.unknown.insert(tp);
      continue;
    }
    auto info = store_.topics().find_topic(tp.topic);
    if (!info || tp.partition < 0 || tp.partition >= info->partitions) out.unknown.insert(tp);
  }
  if (!out.unknown.empty()) co_return out;
  bool changed = t->state != TxnState::ongoing || t->v2 != v2;
  {
    std::lock_guard lk(mu_);
    if (t->state != TxnState::ongoing) {
      t->state = TxnState::ongoing;
      t->start_ms = now();
    }
    t->v2 = v2;
    for (const auto& tp : partitions) changed |= t->partitions.insert(tp).second;
    t->update_ms = now();
  }
  if (!changed) co_return out;
  const bool stored = co_await persist(*t);
  if (!stored) out.error = ErrorCode::CoordinatorNotAvailable;
  co_return out;
}

asio::awaitable<ErrorCode> TxnCoordinator::add_offsets(std::string id, std::int64_t producer_id, std::int16_t epoch,
                                                       std::string group) {
  const Busy busy(*this, id);
  if (const ErrorCode e = co_await ready(id); e != ErrorCode::None) co_return e;
  TxnMetadata* t = find(id);
  const ErrorCode e = check_producer(t, producer_id, epoch);
  if (e != ErrorCode::None) co_return e;
  if (preparing(t->state) || finishing_.count(id)) co_return ErrorCode::ConcurrentTransactions;
  {
    std::lock_guard lk(mu_);
    if (t->state != TxnState::ongoing) {
      t->state = TxnState::ongoing;
      t->start_ms = now();
    }
    // Kafka's form: the offsets topic's partition of the group's shard.
    t->partitions.insert(offsets_shard(store_.groups().shard_of(group)));
    t->update_ms = now();
  }
  const bool stored = co_await persist(*t);
  co_return stored ? ErrorCode::None : ErrorCode::CoordinatorNotAvailable;
}

asio::awaitable<ErrorCode> TxnCoordinator::verify(std::string id, std::int64_t producer_id, std::int16_t epoch,
                                                 storage::TopicPartition tp) {
  const Busy busy(*this, id);
  if (const ErrorCode e = co_await ready(id); e != ErrorCode::None) co_return e;
  co_return may_write(producer_id, epoch, tp);
}

asio::awaitable<TxnCoordinator::ProducerIdAndEpoch> TxnCoordinator::end_txn(std::string id,
                                                                           std::int64_t producer_id,
                                                                           std::int16_t epoch, bool commit, bool v2) {
  ProducerIdAndEpoch out;
  const Busy busy(*this, id);
  if (const ErrorCode e = co_await ready(id); e != ErrorCode::None) {
    out.error = e;
    co_return out;
  }
  TxnMetadata* t = find(id);
  // What the producer goes on with: the record's id and epoch, or, while a
  // rolled-over id waits for its markers, the new id.
  auto current = [&] {
    out.producer_id = t->next_producer_id >= 0 ? t->next_producer_id : t->producer_id;
    out.producer_epoch = t->next_producer_id >= 0 ? std::int16_t{0} : t->producer_epoch;
    return out;
  };
  auto fail = [&](ErrorCode e) {
    out.error = e;
    return out;
  };
  if (!t) co_return fail(ErrorCode::InvalidProducerIdMapping);
  if (finishing_.count(id)) co_return fail(ErrorCode::ConcurrentTransactions);
  const bool empty_or_complete = t->state == TxnState::empty || t->state == TxnState::complete_commit ||
                                 t->state == TxnState::complete_abort;
  if (t->v2) {
    // Kafka's checks for a transaction under V2 rules: the same epoch
    // names the next transaction, a retry carries the epoch before the
    // bump (or, after a roll-over, the old id's last usable epoch).
    const bool retry_on_bump = t->producer_id == producer_id && t->producer_epoch == epoch + 1;
    const bool retry_on_overflow = t->last_producer_id == producer_id && epoch == last_usable_epoch &&
                                   t->producer_epoch == 0 && t->producer_id != producer_id;
    bool valid_epoch = false;
    switch (t->state) {
      case TxnState::prepare_commit:
      case TxnState::prepare_abort: valid_epoch = retry_on_bump; break;
      case TxnState::complete_commit:
      case TxnState::complete_abort: valid_epoch = retry_on_bump || retry_on_overflow; break;
      default: valid_epoch = epoch == t->producer_epoch;
    }
    if (t->producer_id != producer_id && !retry_on_overflow) co_return fail(ErrorCode::InvalidProducerIdMapping);
    if (!valid_epoch) {
      // V2 aborting a transaction that added nothing (its first produce
      // may have failed before the add): ended all the same, with a bump.
      const bool empty_abort = v2 && !commit && empty_or_complete && epoch == t->producer_epoch &&
                               t->producer_id == producer_id;
      if (!empty_abort) co_return fail(ErrorCode::ProducerFenced);
    } else if (t->state != TxnState::ongoing && !(v2 && !commit && t->state == TxnState::empty)) {
      switch (t->state) {
        case TxnState::complete_commit: co_return commit ? current() : fail(ErrorCode::InvalidTxnState);
        case TxnState::complete_abort: co_return commit ? fail(ErrorCode::InvalidTxnState) : current();
        case TxnState::prepare_commit:
          co_return fail(commit ? ErrorCode::ConcurrentTransactions : ErrorCode::InvalidTxnState);
        case TxnState::prepare_abort:
          co_return fail(commit ? ErrorCode::InvalidTxnState : ErrorCode::ConcurrentTransactions);
        default: co_return fail(ErrorCode::InvalidTxnState);
      }
    }
  } else {
    const ErrorCode e = check_producer(t, producer_id, epoch);
    if (e != ErrorCode::None) co_return fail(e);
    const bool empty_abort = v2 && !commit && empty_or_complete;
    if (!empty_abort) {
      switch (t->state) {
        case TxnState::ongoing: break;
        // A retry of an EndTxn that got through: the same answer again.
        case TxnState::complete_commit: co_return commit ? current() : fail(ErrorCode::InvalidTxnState);
        case TxnState::complete_abort: co_return commit ? fail(ErrorCode::InvalidTxnState) : current();
        case TxnState::prepare_commit:
          co_return fail(commit ? ErrorCode::ConcurrentTransactions : ErrorCode::InvalidTxnState);
        case TxnState::prepare_abort:
          co_return fail(commit ? ErrorCode::InvalidTxnState : ErrorCode::ConcurrentTransactions);
        default: co_return fail(ErrorCode::InvalidTxnState);
      }
    }
  }
  std::int64_t next_producer_id = -1;
  if (v2 && t->producer_epoch >= last_usable_epoch) {
    // The bump takes the last epoch there is: the id rolls over.
    auto alloc = co_await store_.allocate_producer_ids(1);
    if (!alloc.ok()) co_return fail(ErrorCode::CoordinatorNotAvailable);
    t = find(id);  // ops between the suspensions may have moved it on
    if (!t || t->producer_id != producer_id || t->producer_epoch != epoch || finishing_.count(id) ||
        preparing(t->state))
      co_return fail(ErrorCode::ConcurrentTransactions);
    next_producer_id = alloc.value;
  }
  // Bound first: g++ 12 destroys a by-value argument of a co_await twice.
  auto end = finish(id, commit, v2 ? Bump::end_v2 : Bump::none, next_producer_id);
  const ErrorCode e = co_await std::move(end);
  if (e != ErrorCode::None) co_return fail(e);
  t = find(id);
  co_return current();
}

asio::awaitable<ErrorCode> TxnCoordinator::finish(std::string id, bool commit, Bump bump,
                                                  std::int64_t next_producer_id) {
  TxnMetadata* t = find(id);
  if (!t) co_return ErrorCode::InvalidProducerIdMapping;
  finishing_.insert(id);
  {
    std::lock_guard lk(mu_);
    if (bump == Bump::end_v2) {
      // The markers go out under the bumped epoch (the last one there is
      // when the id rolls over); the epoch before it names EndTxn retries.
      t->last_producer_id = t->producer_id;
      t->last_producer_epoch = t->producer_epoch;
      t->producer_epoch = static_cast<std::int16_t>(std::min<int>(t->producer_epoch + 1, 32767));
      t->next_producer_id = next_producer_id;
      t->v2 = true;
      if (t->state != TxnState::ongoing) t->start_ms = now();  // an abort of nothing
    } else if (bump != Bump::none && t->producer_epoch < last_usable_epoch) {
      // After a timeout the producer may take the bumped epoch with an
      // InitProducerId naming its own (KIP-588); a predecessor of a new
      // producer may not.
      const bool claimable = bump == Bump::timeout;
      t->last_producer_id = claimable ? t->producer_id : -1;
      t->last_producer_epoch = claimable ? t->producer_epoch : std::int16_t{-1};
      t->producer_epoch = static_cast<std::int16_t>(t->producer_epoch + 1);
    }
    t->state = commit ? TxnState::prepare_commit : TxnState::prepare_abort;
    t->update_ms = now();
  }
  const bool prepared = co_await persist(*t);
  if (!prepared) {
    // Memory says prepared: the sweep writes the markers and stores it.
    finishing_.erase(id);
    co_return ErrorCode::CoordinatorNotAvailable;
  }
  auto markers = complete(id);
  const bool completed = co_await std::move(markers);
  finishing_.erase(id);
  if (!completed) KB_WARN("transaction {}: markers not all written; the next sweep retries", id);
  co_return ErrorCode::None;
}

asio::awaitable<bool> TxnCoordinator::complete(std::string id) {
  TxnMetadata* t = find(id);
  if (!t || !preparing(t->state)) co_return true;
  // A shard lost meanwhile: its new coordinator read the record and ends the
  // transaction; markers from here could contradict it.
  if (!owns(id)) co_return false;
  // The markers carry the epoch of this gateway's hold on the shard: a
  // partition refuses markers of a coordinator that lost it since.
  auto hold = store_.groups().shard_epoch(store_.groups().shard_of(id));
  const auto epoch = co_await std::move(hold);
  if (!epoch.ok()) co_return false;
  t = find(id);
  if (!t || !preparing(t->state)) co_return true;
  const bool commit = t->state == TxnState::prepare_commit;
  storage::TxnMarker marker;
  marker.producer_id = t->producer_id;
  marker.producer_epoch = t->producer_epoch;
  marker.commit = commit;
  marker.v2 = t->v2;
  marker.coordinator_epoch = epoch.value;
  const std::vector<storage::TopicPartition> partitions(t->partitions.begin(), t->partitions.end());
  auto write = config_.markers->write(marker, partitions);
  const auto done = co_await std::move(write);
  t = find(id);
  if (!t) co_return false;
  {
    std::lock_guard lk(mu_);
    for (const auto& tp : done) t->partitions.erase(tp);
  }
  const bool all = done.size() == partitions.size();
  if (!all) co_return false;
  {
    std::lock_guard lk(mu_);
    t->state = commit ? TxnState::complete_commit : TxnState::complete_abort;
    if (t->next_producer_id >= 0) {
      // The old id's epochs are spent: the producer goes on with the new id.
      t->last_producer_id = t->producer_id;
      t->last_producer_epoch = t->producer_epoch;
      t->producer_id = t->next_producer_id;
      t->producer_epoch = 0;
      t->next_producer_id = -1;
      by_producer_[t->producer_id] = t->id;
    }
    t->partitions.clear();
    t->groups.clear();
    t->offsets.clear();
    t->start_ms = -1;
    t->update_ms = now();
  }
  co_return co_await persist(*t);
}

asio::awaitable<void> TxnCoordinator::expire() {
  const std::int64_t at = now();
  std::vector<std::string> timed_out, unfinished;
  for (const auto& [id, t] : txns_) {
    if (finishing_.count(id) || !owns(id)) continue;  // another gateway's now: it finishes them
    if (t.state == TxnState::ongoing && t.start_ms >= 0 && at - t.start_ms > t.timeout_ms) timed_out.push_back(id);
    if (preparing(t.state)) unfinished.push_back(id);
  }
  for (const auto& id : timed_out) {
    KB_INFO("transaction {} timed out: aborting it", id);
    // Ops between the suspensions may have moved it on: check again.
    TxnMetadata* t = find(id);
    if (!t || t->state != TxnState::ongoing || finishing_.count(id)) continue;
    auto abort = finish(id, false, Bump::timeout);
    (void)co_await std::move(abort);
  }
  for (const auto& id : unfinished) {
    if (finishing_.count(id)) continue;
    finishing_.insert(id);
    auto markers = complete(id);
    (void)co_await std::move(markers);
    finishing_.erase(id);
  }
}

asio::awaitable<void> TxnCoordinator::expire_ids() {
  const std::int64_t at = now();
  std::vector<std::string> idle;
  for (const auto& [id, t] : txns_) {
    // Kafka expires ids whose state allows it: no transaction open or ending.
    const bool at_rest = t.state == TxnState::empty || t.state == TxnState::complete_commit ||
                         t.state == TxnState::complete_abort;
    if (at_rest && !finishing_.count(id) && owns(id) && at - t.update_ms >= config_.id_expiration_ms)
      idle.push_back(id);
  }
  auto* ts = store_.transactions();
  if (!ts) co_return;
  for (const auto& id : idle) {
    {
      std::lock_guard lk(mu_);
      auto it = txns_.find(id);
      if (it == txns_.end()) continue;
      for (auto p = by_producer_.begin(); p != by_producer_.end();) {
        if (p->second == id) p = by_producer_.erase(p);
        else ++p;
      }
      txns_.erase(it);
    }
    // Memory forgets it first: a new InitProducerId for the id meanwhile
    // stores a new record after this removal (the store keeps the order).
    auto removal = ts->delete_txn(id);
    auto r = co_await std::move(removal);
    if (!r.ok()) KB_WARN("transactional id {} expired but its record could not be removed: {}", id, r.message);
    else KB_INFO("transactional id {} expired", id);
  }
}

asio::awaitable<void> TxnCoordinator::sweep() {
  next_id_expiration_ = std::chrono::steady_clock::now() + config_.id_expiration_interval;
  while (!stopped_) {
    sweep_timer_->expires_after(config_.sweep_interval);
    boost::system::error_code ec;
    co_await sweep_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    co_await refresh_shards();
    co_await expire();
    if (std::chrono::steady_clock::now() >= next_id_expiration_) {
      next_id_expiration_ = std::chrono::steady_clock::now() + config_.id_expiration_interval;
      co_await expire_ids();
    }
  }
}

ErrorCode TxnCoordinator::may_write(std::int64_t producer_id, std::int16_t epoch,
                                    const storage::TopicPartition& tp) const {
  std::lock_guard lk(mu_);
  auto p = by_producer_.find(producer_id);
  if (p == by_producer_.end()) return ErrorCode::InvalidProducerIdMapping;
  const TxnMetadata& t = txns_.at(p->second);
  // Kafka's verification answers PRODUCER_FENCED, which Produce reports as
  // INVALID_PRODUCER_EPOCH.
  if (t.producer_id != producer_id) return ErrorCode::InvalidProducerEpoch;  // an id the record moved past
  if (epoch != t.producer_epoch) return ErrorCode::InvalidProducerEpoch;
  if (preparing(t.state)) return ErrorCode::ConcurrentTransactions;
  if (t.state != TxnState::ongoing || !t.partitions.count(tp)) return ErrorCode::InvalidTxnState;
  return ErrorCode::None;
}

std::optional<TxnMetadata> TxnCoordinator::describe(const std::string& id) const {
  std::lock_guard lk(mu_);
  auto it = txns_.find(id);
  if (it == txns_.end()) return std::nullopt;
  return it->second;
}

std::vector<TxnMetadata> TxnCoordinator::list() const {
  std::lock_guard lk(mu_);
  std::vector<TxnMetadata> out;
  for (const auto& [id, t] : txns_) out.push_back(t);
  return out;
}

}  // namespace kwire_broker
