// Kafka transactions in a Pulsar partition log (see the storage README):
// markers appended in line with the batches, the last stable offset, where
// the producer table is rebuilt from (the oldest open transaction that the
// last entry names), and the aborted-transactions index, read from the
// markers in the log when a read needs it.
#include <algorithm>
#include <chrono>

#include <kwire/records/batch.hpp>

#include "../txn_marker.hpp"
#include "log.hpp"
#include "store.hpp"

namespace kwire_broker::storage::pulsar {

std::vector<ProducerSnapshot> Log::producers() const {
  std::lock_guard g(mu_);
  return producers_.snapshot();
}

bool Log::in_open_txn(std::int64_t producer_id, std::int16_t epoch) const {
  std::lock_guard g(mu_);
  const auto* e = producers_.find(producer_id);
  return e && e->epoch == epoch && e->txn_first_offset >= 0;
}

std::int64_t Log::last_stable() const {
  return std::min(producers_.first_unstable_offset().value_or(next_offset_), next_offset_);
}

std::int64_t Log::replay_from() const {
  std::int64_t from = std::max(log_start_, next_offset_ - 2000);
  if (open_txns_hint_ >= 0) from = std::min(from, std::max(log_start_, open_txns_hint_));
  return from;
}

void Log::others_wrote_up_to(std::int64_t end) {
  if (end <= std::max(next_offset_, assigned_end_)) return;
  aborted_.clear();
  aborted_from_ = end;
}

// ---------------------------------------------------------------------------
// Markers

Task<AppendResult> Log::append_marker(TxnMarker marker) {
  if (marker.producer_id < 0 || marker.producer_epoch < 0)
    co_return Result<AppendResult>::failure(Errc::corrupt_batch, "a marker needs a producer");
  if (marker.timestamp < 0)
    marker.timestamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  AppendBatch batch;
  batch.bytes = marker_batch(
      {marker.producer_id, marker.producer_epoch, marker.coordinator_epoch, marker.commit, marker.timestamp});
  batch.info = BatchInfo::of(*kwire::RecordBatchView::parse(kwire::bytes_view(batch.bytes)));
  // In line with the appends, as a batch.
  auto ticket = write_lock_->take();
  auto self = shared_from_this();
  auto work = self->append_here(std::move(ticket), std::move(batch), marker);
  co_return co_await s_.on_io(std::move(work));
}

std::int64_t Log::open_txns_from(const BatchInfo& batch, const std::optional<TxnMarker>& marker,
                                 std::int64_t base) const {
  std::int64_t oldest = -1;
  for (const auto& [first, producer] : producers_.open_transactions()) {
    if (marker && producer == marker->producer_id) continue;  // the marker ends it
    oldest = first;
    break;
  }
  if (!marker && batch.transactional) {
    const auto* e = producers_.find(batch.producer_id);
    if (!e || e->txn_first_offset < 0) oldest = oldest < 0 ? base : std::min(oldest, base);
  }
  return oldest;
}

// ---------------------------------------------------------------------------
// The aborted-transactions index

Task<std::vector<AbortedTxn>> Log::aborted_transactions(std::int64_t from, std::int64_t to) {
  auto self = shared_from_this();
  auto work = self->aborted_here(from, to);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<AbortedTxn>>> Log::aborted_here(std::int64_t from, std::int64_t to) {
  if (deleted_) co_return Result<std::vector<AbortedTxn>>::failure(Errc::unknown_topic, tp_.topic + " was deleted");
  co_return Result<std::vector<AbortedTxn>>::success(co_await aborted_between(from, to));
}

awaitable<std::vector<AbortedTxn>> Log::aborted_between(std::int64_t from, std::int64_t to) {
  from = std::max(from, log_start_);
  if (from < aborted_from_) {
    // The markers between `from` and what the index covers, read once: an
    // abort marker says its transaction's first offset (txn_first_property).
    const std::int64_t until = aborted_from_;
    std::map<std::int64_t, AbortedTxn> found;
    auto r = co_await s_.client_->create_reader(topic_, co_await locate(from), 200);
    std::int64_t seen = from;
    while (seen < until) {
      auto e = co_await r->receive_entry(s_.config_.operation_timeout);
      if (!e) break;
      auto i = info_of(*e);
      if (!i) break;
      remember(*i, e->id);
      if (i->last >= from && i->last < until) {
        try {
          if (const auto mk = marker_of(*e->metadata); mk && !mk->commit)
            found[i->last] = {mk->producer_id, mk->txn_first >= 0 ? mk->txn_first : i->last, i->last};
        } catch (const BadEntry&) {
          // Not the gateway's marker: it aborts nothing.
        }
      }
      seen = i->last + 1;
    }
    co_await r->close();
    if (seen < until) throw kp::Error(kp::Error::client_timeout, "cannot read the markers of " + topic_);
    // Others' entries arrived meanwhile and the index started over: what
    // was read no longer joins it without a gap.
    if (aborted_from_ != until)
      throw kp::Error(kp::Error::client_timeout, "the markers of " + topic_ + " changed while being read");
    aborted_.merge(found);
    aborted_from_ = from;
  }
  std::vector<AbortedTxn> out;
  for (auto it = aborted_.lower_bound(from); it != aborted_.end(); ++it)
    if (it->second.first_offset < to) out.push_back(it->second);
  co_return out;
}

}  // namespace kwire_broker::storage::pulsar
