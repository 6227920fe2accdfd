// The write side of a Pulsar partition log: opening it (the end from the
// broker index, the producer table from the tail), taking the partition's
// exclusive producer, appends with their offsets and idempotence checks,
// and recovery when Pulsar's answer for an append is unknown.
#include "log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <kwire/records/batch.hpp>

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

using asio::use_awaitable;
using namespace std::chrono_literals;

Log::Log(PulsarStorage& s, TopicPartition tp, std::string topic)
    : s_(s), tp_(std::move(tp)), topic_(std::move(topic)),
      write_lock_(std::make_shared<TicketLock>(s.executor())), read_lock_(s.executor()) {}

void Log::close_now() {
  if (reader_) reader_.reset();
  producer_.reset();
}

void Log::forget() {
  deleted_ = true;
  close_now();
}

void Log::publish_offsets() {
  std::lock_guard g(mu_);
  offsets_.log_start = log_start_;
  offsets_.high_watermark = next_offset_;
  offsets_.last_stable = last_stable();
}

awaitable<void> Log::sync_end() {
  // The last entry's index + 1 is the high watermark; the first entry's base
  // is the log start.
  auto r = co_await s_.client_->create_reader(topic_, kp::MessageId::latest(), 1);
  auto last = co_await r->last_message_id();
  co_await r->close();
  if (last.entry == ~std::uint64_t{0} || last.entry > (std::uint64_t{1} << 62)) {
    // Nothing stored yet (offsets stay where they are: never backwards).
    last_writer_.clear();
    last_sequence_ = -1;
  } else {
    auto p = co_await probe({last.ledger, last.entry, -1, -1});
    if (!p) throw kp::Error(kp::Error::client_timeout, "cannot read the last entry of " + topic_);
    others_wrote_up_to(p->second.last + 1);
    // Never backwards: a read's sync may overlap a confirmed append.
    next_offset_ = std::max(next_offset_, p->second.last + 1);
    const auto& m = *p->first.metadata;
    // An entry of a native producer says nothing: taken as no transaction
    // open (the storage README says so).
    try {
      open_txns_hint_ = entry_number(m, open_txn_property).value_or(-1);
    } catch (const BadEntry&) {
      open_txns_hint_ = -1;
    }
    last_writer_ = m.producer_name();
    last_sequence_ = static_cast<std::int64_t>(m.has_highest_sequence_id() ? m.highest_sequence_id() : m.sequence_id());
    auto first = co_await probe(kp::MessageId::earliest());
    log_start_ = std::max(log_start_, first ? first->second.base : next_offset_);
  }
  publish_offsets();
}

awaitable<void> Log::open() {
  co_await sync_end();
  // Rebuild idempotent-producer state from the tail of the log, or from the
  // oldest transaction still open.
  co_await replay_producers(replay_from());
}

awaitable<void> Log::replay_producers(std::int64_t from) {
  if (from >= next_offset_) {
    table_end_ = std::max(table_end_, next_offset_);
    co_return;
  }
  auto at = co_await locate(from);
  auto r = co_await s_.client_->create_reader(topic_, at, 200);
  for (;;) {
    auto e = co_await r->receive_entry(s_.config_.operation_timeout);
    if (!e) break;
    auto i = info_of(*e);
    if (!i) break;
    if (i->last >= from) {
      try {
        if (const auto mk = marker_of(*e->metadata)) {
          std::lock_guard g(mu_);
          producers_.record_marker(mk->producer_id, mk->producer_epoch, mk->coordinator_epoch, mk->commit, i->last);
        } else {
          std::vector<std::uint8_t> bytes;
          entry_to_kafka(*e, i->last, bytes);
          if (auto v = kwire::RecordBatchView::parse(bytes)) {
            std::lock_guard g(mu_);
            producers_.record(BatchInfo::of(*v));
          }
        }
      } catch (const BadEntry&) {
        // Not readable as a Kafka batch (another writer's): it holds no
        // producer state, and must not keep the partition from opening.
      }
    }
    if (i->last + 1 >= next_offset_) break;
  }
  co_await r->close();
  table_end_ = next_offset_;
  publish_offsets();  // the open transactions found hold the last stable offset
}

awaitable<void> Log::resync() {
  // After a failed append nobody knows whether Pulsar stored it. Close the
  // producer first: Pulsar completes a close only once the producer's pending
  // writes are persisted, so nothing of ours lands after the end is read.
  if (producer_) {
    auto p = std::move(producer_);
    try {
      co_await p->close();
    } catch (const std::exception&) {
    }
  }
  // Batches recorded when queued but never stored must not count as
  // duplicates: rebuild the producer table from what the log holds.
  co_await ensure_producer(true);
  // An abort queued but perhaps never stored may be in the index.
  aborted_.clear();
  aborted_from_ = next_offset_;
  resync_ = false;
}

awaitable<void> Log::ensure_producer(bool rebuild) {
  if (producer_ && !producer_->fenced()) co_return;
  kp::ProducerOptions o;
  o.topic = topic_;
  // A fixed name per partition: with deduplication, resends after a
  // reconnect are stored once. Exclusive access fences another gateway.
  o.name = "kwire-" + s_.ns_.tenant + "-" + s_.ns_.ns + "-" + tp_.topic + "-" + std::to_string(tp_.partition);
  o.access_mode = kp::AccessMode::exclusive;
  producer_ = co_await s_.client_->create_producer(o);
  // Another writer (a gateway before us, or our own failed append) may have
  // appended since the producer table was last brought up to date: take the
  // end from Pulsar, and let what landed count for idempotence, so that a
  // Kafka retry of it is a duplicate and not a new batch.
  co_await sync_end();
  // A writer before us (a killed gateway) may have entries still being
  // stored: Pulsar reports the last sequence id it took for this producer
  // name, stored or not. Wait until the log shows it, so that the producer
  // table and the offsets account for every entry that will land.
  for (int i = 0; i < 100 && producer_->last_sequence_id() >= 0 && last_writer_ == o.name &&
                  last_sequence_ < producer_->last_sequence_id();
       ++i) {
    co_await kp::sleep_for(100ms);
    co_await sync_end();
  }
  assigned_end_ = next_offset_;
  verified_ledger_ = ~std::uint64_t{0};
  if (rebuild) {
    {
      std::lock_guard g(mu_);
      producers_.clear();
    }
    co_await replay_producers(replay_from());
  } else {
    // Far behind, the tail is enough: it holds each live producer's last
    // batches (and the oldest open transaction's are read from its start).
    co_await replay_producers(std::max(table_end_, replay_from()));
  }
}

awaitable<std::int64_t> Log::current_end() {
  auto ticket = write_lock_->take();
  co_await write_lock_->enter(ticket);
  // The writer's own count is authoritative; otherwise ask Pulsar.
  if (!producer_) co_await sync_end();
  co_return next_offset_;
}

void Log::release() {
  // In line behind the appends started before it.
  auto ticket = write_lock_->take();
  asio::co_spawn(
      s_.executor(),
      [self = shared_from_this(), ticket = std::move(ticket)]() mutable -> awaitable<void> {
        co_await self->write_lock_->enter(ticket);
        if (auto p = std::move(self->producer_)) co_await p->close();
      },
      asio::detached);
}

// ---------------------------------------------------------------------------
// Appends

Task<AppendResult> Log::append(AppendBatch batch) {
  // Refused before it takes a place in line: it gets no offsets.
  if (static_cast<std::int64_t>(batch.bytes.size()) > s_.max_batch_bytes())
    co_return Result<AppendResult>::failure(Errc::batch_too_large,
                                            "the batch takes " + std::to_string(batch.bytes.size()) +
                                                " bytes; this cluster stores at most " +
                                                std::to_string(s_.max_batch_bytes()));
  // The place in line is taken here, before the first suspension: appends
  // keep the order in which they started.
  auto ticket = write_lock_->take();
  auto self = shared_from_this();
  auto work = self->append_here(std::move(ticket), std::move(batch));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<AppendResult>> Log::append_here(TicketLock::Ticket ticket, AppendBatch batch,
                                                 std::optional<TxnMarker> marker) {
  // Offsets are taken and the entry queued in line; the receipt is awaited
  // after leaving it, so a partition keeps many entries in flight (Pulsar
  // confirms them in order).
  co_await write_lock_->enter(ticket);
  if (s_.closed()) co_return Result<AppendResult>::failure(Errc::closed, "storage closed");
  // Without this a new producer would create the deleted topic again.
  if (deleted_) co_return Result<AppendResult>::failure(Errc::unknown_topic, tp_.topic + " was deleted");
  if (resync_) co_await resync();
  // Before the producer table is consulted: a gateway that becomes the
  // writer catches up with what the previous one stored (a log opened here
  // earlier, say to mirror a group's offsets, has a stale table).
  co_await ensure_producer();
  AppendResult dup;
  if (marker) {
    if (auto c = producers_.check_marker(marker->producer_id, marker->producer_epoch, marker->coordinator_epoch);
        c != Errc::ok)
      co_return Result<AppendResult>::failure(c, to_string(c));
  } else {
    switch (auto c = producers_.check(batch.info, &dup)) {
      case Errc::ok: break;
      case Errc::duplicate_sequence:
        dup.log_start_offset = log_start_;
        if (dup.last_offset < next_offset_)  // stored: Pulsar confirmed it, or the log shows it
          co_return Result<AppendResult>{Errc::duplicate_sequence, "duplicate", dup};
        if (auto it = landings_.find(dup.base_offset); it != landings_.end()) {
          auto first = it->second;
          ticket.release();
          co_return co_await await_first_send(std::move(first));
        }
        // Recorded but neither stored nor on its way: never acknowledge it.
        resync_ = true;
        co_return Result<AppendResult>::failure(Errc::unavailable, "an earlier send of this batch is unconfirmed");
      default: co_return Result<AppendResult>::failure(c, to_string(c));
    }
  }
  AppendResult r = assign(batch);
  // Offsets given to a batch that is not queued (unreadable, too large,
  // producer fenced) go to the next one.
  struct Unassign {
    Log& log;
    std::int64_t base;
    bool queued = false;
    ~Unassign() {
      if (!queued) log.assigned_end_ = base;
    }
  } unassign{*this, r.base_offset};
  auto entry = kafka_to_entry(batch.bytes, s_.format_);
  if (marker) {
    const auto* e = producers_.find(marker->producer_id);
    const std::int64_t first = e && e->txn_first_offset >= 0 ? e->txn_first_offset : r.base_offset;
    add_entry_property(entry, txn_first_property, std::to_string(first));
  }
  if (const auto open_from = open_txns_from(batch.info, marker, r.base_offset); open_from >= 0)
    add_entry_property(entry, open_txn_property, std::to_string(open_from));
  if (auto too_big = s_.entry_too_large(entry)) co_return Result<AppendResult>::failure(Errc::batch_too_large, *too_big);
  const std::string writer = producer_->name();
  auto pending = producer_->post_entry(std::move(entry.metadata), std::move(entry.payload), entry.messages);
  unassign.queued = true;
  auto landing = std::make_shared<Landing>(s_.executor());
  landings_[r.base_offset] = landing;
  // Recorded now so that the producer's next batch, in flight behind this
  // one, follows it; a failure rebuilds the table from the log.
  if (marker) {
    std::lock_guard g(mu_);
    const auto done = producers_.record_marker(marker->producer_id, marker->producer_epoch,
                                               marker->coordinator_epoch, marker->commit, r.base_offset);
    if (done.aborted) aborted_[done.last_offset] = {done.producer_id, done.first_offset, done.last_offset};
  } else {
    BatchInfo placed = batch.info;
    placed.base_offset = r.base_offset;
    std::lock_guard g(mu_);
    producers_.record(placed, r.log_append_time);
  }
  table_end_ = assigned_end_;
  ticket.release();

  // Whatever happens below, retries waiting on this append learn the
  // outcome: stored only once confirmed() has accepted it.
  struct Settle {
    Log& log;
    std::int64_t base;
    std::shared_ptr<Landing> landing;
    std::optional<AppendResult> stored;
    ~Settle() { log.settle(base, landing, stored); }
  } settle{*this, r.base_offset, landing, std::nullopt};
  try {
    const auto receipt = co_await pending.receipt();
    co_await confirmed(r, receipt, writer);
  } catch (...) {
    resync_ = true;  // unknown whether it was stored: ask the broker
    throw;
  }
  settle.stored = r;
  co_return Result<AppendResult>::success(r);
}

awaitable<Result<AppendResult>> Log::await_first_send(std::shared_ptr<Landing> first) {
  while (!first->settled) {
    boost::system::error_code ec;
    co_await first->wake.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  if (first->stored) {
    auto original = *first->stored;
    original.log_start_offset = log_start_;
    co_return Result<AppendResult>{Errc::duplicate_sequence, "duplicate", original};
  }
  co_return Result<AppendResult>::failure(Errc::unavailable, "the first send of this batch was not stored");
}

void Log::settle(std::int64_t base_offset, const std::shared_ptr<Landing>& l, std::optional<AppendResult> stored) {
  // After a resync the same offsets may belong to a newer append already.
  if (auto it = landings_.find(base_offset); it != landings_.end() && it->second == l) landings_.erase(it);
  l->settled = true;
  l->stored = std::move(stored);
  l->wake.cancel();
}

AppendResult Log::assign(AppendBatch& batch) {
  AppendResult r;
  r.base_offset = assigned_end_;
  kwire::set_base_offset(batch.bytes, r.base_offset);
  // The broker stamped LogAppendTime into the batch before the append.
  if (batch.info.log_append_time) r.log_append_time = batch.info.max_timestamp;
  r.last_offset = r.base_offset + batch.info.last_offset_delta;
  assigned_end_ = r.last_offset + 1;
  return r;
}

awaitable<void> Log::confirmed(AppendResult& r, const kp::SendReceipt& receipt, const std::string& writer) {
  r.log_start_offset = log_start_;
  if (!receipt.has_position()) {
    // Pulsar's deduplication answered a resend (after a reconnect) without
    // storing it again: it claims an entry with this sequence id is stored.
    // Believe the log, not the claim: the last entry must be this writer's,
    // at or past this sequence id (the offsets then hold, the index learns
    // them on read).
    co_await sync_end();
    if (last_writer_ != writer || last_sequence_ < static_cast<std::int64_t>(receipt.sequence_id) ||
        next_offset_ <= r.last_offset)
      throw kp::Error(kp::Error::client_timeout, "Pulsar called sequence " + std::to_string(receipt.sequence_id) +
                                                     " of " + writer + " a duplicate, and " + topic_ +
                                                     " does not hold it");
  } else {
    r.position = {receipt.id.ledger, receipt.id.entry};
    bool known = receipt.id.ledger == verified_ledger_;
    if (!known) {
      // The entry is stored whatever this read says: a failed read only
      // leaves the offsets unchecked (and out of the sparse index).
      std::optional<std::pair<kp::Entry, EntryInfo>> p;
      try {
        p = co_await probe({receipt.id.ledger, receipt.id.entry, -1, -1});
      } catch (const std::exception&) {
      }
      if (p && p->first.id.ledger == receipt.id.ledger && p->first.id.entry == receipt.id.entry) {
        if (p->second.last == r.last_offset) {
          verified_ledger_ = receipt.id.ledger;
        } else {
          // The index moved on without us: report the offsets Pulsar gave
          // this entry, and let the next append start over from the log.
          const auto shift = p->second.last - r.last_offset;
          r.base_offset += shift;
          r.last_offset += shift;
          resync_ = true;
        }
        known = true;
      }
    }
    if (known) remember({r.base_offset, r.last_offset, -1}, receipt.id);
  }
  if (r.last_offset + 1 > next_offset_) {
    next_offset_ = r.last_offset + 1;
    publish_offsets();
  }
}

}  // namespace kwire_broker::storage::pulsar
