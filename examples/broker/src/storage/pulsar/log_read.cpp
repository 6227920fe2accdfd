// The read side of a Pulsar partition log: fetches through a reader that
// continues where the last fetch stopped, finding the entry of an offset
// (Pulsar's lookup by index or a binary search over the entries, with a
// sparse index in front), timestamp lookups, and DeleteRecords.
#include "log.hpp"

#include <stdexcept>

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

using namespace std::chrono_literals;

void Log::remember(const EntryInfo& i, kp::MessageId id) {
  id.batch_index = -1;
  index_[i.last] = {i.base, id};
  if (index_.size() > 4096) index_.erase(index_.begin());
}

awaitable<std::optional<std::pair<kp::Entry, EntryInfo>>> Log::probe(kp::MessageId at) {
  ++probes;
  auto r = co_await s_.client_->create_reader(topic_, at, 1);
  auto e = co_await r->receive_entry(s_.config_.operation_timeout);
  co_await r->close();
  if (!e) co_return std::nullopt;
  auto i = info_of(*e);
  if (!i) throw kp::Error(kp::Error::client_protocol, "entries carry no broker index: enable "
                                                       "AppendIndexMetadataInterceptor on the Pulsar broker");
  remember(*i, e->id);
  co_return std::make_pair(std::move(*e), *i);
}

awaitable<std::vector<kp::MessageId>> Log::all_positions() {
  // Ledgers and their entry counts from the broker's internal stats.
  auto st = co_await s_.admin_->internal_stats(topic_.substr(13));
  std::vector<kp::MessageId> out;
  std::uint64_t lac_ledger = 0, lac_entry = 0;
  bool has_lac = false;
  if (st.contains("lastConfirmedEntry")) {
    auto s = st["lastConfirmedEntry"].get<std::string>();
    auto c = s.find(':');
    if (c != std::string::npos) {
      auto l = std::stoll(s.substr(0, c));
      auto e = std::stoll(s.substr(c + 1));
      if (l >= 0 && e >= 0) {
        lac_ledger = static_cast<std::uint64_t>(l);
        lac_entry = static_cast<std::uint64_t>(e);
        has_lac = true;
      }
    }
  }
  for (auto& l : st["ledgers"]) {
    const auto id = l.value("ledgerId", std::uint64_t{0});
    std::uint64_t n = l.value("entries", std::uint64_t{0});
    if (has_lac && id == lac_ledger) n = lac_entry + 1;
    for (std::uint64_t e = 0; e < n; ++e) out.push_back({id, e, -1, -1});
  }
  co_return out;
}

awaitable<kp::MessageId> Log::locate(std::int64_t offset) {
  if (auto it = index_.lower_bound(offset); it != index_.end() && it->second.first <= offset)
    co_return it->second.second;
  // One request where Pulsar has the lookup; unanswered (an older release,
  // an index it does not find), the search below.
  if (s_.config_.index_lookup == PulsarConfig::IndexLookup::rest) {
    if (auto id = co_await s_.admin_->message_id_by_index(topic_.substr(13), static_cast<std::uint64_t>(offset)))
      co_return *id;
  }
  // Binary search over entry positions: O(log n) probes, each a few round
  // trips; every probe feeds the sparse index.
  auto pos = co_await all_positions();
  if (pos.empty()) co_return kp::MessageId::earliest();
  std::size_t lo = 0, hi = pos.size() - 1;
  std::optional<kp::MessageId> found;
  while (lo <= hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    auto p = co_await probe(pos[mid]);
    // Without this entry the search could settle on a later one, and a
    // fetch would skip offsets: fail, and let the client ask again.
    if (!p) throw kp::Error(kp::Error::client_timeout, "cannot read the entry at " + pos[mid].str() + " of " + topic_);
    if (p->second.base <= offset && offset <= p->second.last) {
      found = p->first.id;
      break;
    }
    if (p->second.last < offset) {
      lo = mid + 1;
    } else {
      found = p->first.id;  // a later entry; keep searching left
      if (mid == 0) break;
      hi = mid - 1;
    }
  }
  co_return found.value_or(pos.front());
}

// ---------------------------------------------------------------------------
// Fetches

Task<ReadResult> Log::read(ReadOptions options) {
  auto self = shared_from_this();
  auto work = self->read_here(options);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<ReadResult>> Log::read_here(ReadOptions options) {
  if (deleted_) co_return Result<ReadResult>::failure(Errc::unknown_topic, tp_.topic + " was deleted");
  co_await read_lock_.lock();
  Unlock u{read_lock_};
  try {
    co_return Result<ReadResult>::success(co_await do_read(options));
  } catch (const std::out_of_range& e) {
    auto r = Result<ReadResult>::failure(Errc::offset_out_of_range, e.what());
    r.value.offsets = offsets();
    co_return r;
  } catch (...) {
    reader_.reset();
    lookahead_.reset();
    reader_next_ = -1;
    throw;
  }
}

awaitable<ReadResult> Log::do_read(ReadOptions o) {
  ReadResult out;
  out.next_offset = o.offset;
  if (o.offset > next_offset_ || (o.offset == next_offset_ && !(reader_ && reader_next_ == o.offset)))
    co_await sync_end();  // entries from other writers (native producers)
  if (o.offset < log_start_ || o.offset > next_offset_)
    throw std::out_of_range("offset " + std::to_string(o.offset) + " outside [" + std::to_string(log_start_) +
                            ", " + std::to_string(next_offset_) + "]");
  // read_committed reads stop at the last stable offset too: `stop` is the
  // first offset not to serve (-1: none but the end).
  std::int64_t stop = o.end_offset;
  if (o.read_committed) stop = stop >= 0 ? std::min(stop, last_stable()) : last_stable();
  const std::int64_t end = stop >= 0 ? std::min(stop, next_offset_) : next_offset_;
  const bool continuing = reader_ && reader_next_ == o.offset;
  if (!continuing) {
    if (reader_) co_await reader_->close();
    reader_.reset();
    lookahead_.reset();
    // At the end the reader starts on the last entry (which it skips), so
    // that Pulsar's delivery of the next one wakes long-polling fetches.
    kp::MessageId at = kp::MessageId::earliest();
    if (o.offset < next_offset_) at = co_await locate(o.offset);
    else if (next_offset_ > 0) at = co_await locate(next_offset_ - 1);
    reader_ = co_await s_.client_->create_reader(topic_, at, 500);
    std::weak_ptr<Log> weak = shared_from_this();
    reader_->on_arrival([weak] {
      auto self = weak.lock();
      if (self && self->reader_next_ >= self->next_offset_) self->s_.data_arrived(self->tp_);
    });
    reader_next_ = o.offset;
  }
  std::int64_t next = o.offset;
  for (;;) {
    if (next >= end && !(next == next_offset_ && reader_->queued() > 0)) break;
    std::optional<kp::Entry> e;
    if (lookahead_) {
      e = std::move(lookahead_);
      lookahead_.reset();
    } else {
      e = co_await reader_->receive_entry(next < end ? s_.config_.operation_timeout : 0ms);
    }
    if (!e) {
      if (next < end) throw kp::Error(kp::Error::client_timeout, "no entry at offset " + std::to_string(next));
      break;
    }
    auto i = info_of(*e);
    if (!i) throw kp::Error(kp::Error::client_protocol, "entry without broker index");
    remember(*i, e->id);
    if (i->last < next) continue;  // before the asked offset (located entry)
    if (continuing && i->base > next) {
      // The reader went past an offset it never handed out: never serve the
      // gap; a fresh reader locates the offset again.
      throw kp::Error(kp::Error::client_timeout, "reader skipped offsets " + std::to_string(next) + " to " +
                                                     std::to_string(i->base - 1) + " of " + topic_);
    }
    if (i->last >= next_offset_) {
      others_wrote_up_to(i->last + 1);
      next_offset_ = i->last + 1;  // written by another producer meanwhile
      publish_offsets();
    }
    if (stop >= 0 && i->base >= stop) {
      lookahead_ = std::move(e);
      break;
    }
    std::vector<std::uint8_t> bytes;
    entry_to_kafka(*e, i->last, bytes);
    const bool first = out.bytes.empty();
    if (!first && out.bytes.size() + bytes.size() > static_cast<std::size_t>(o.max_bytes)) {
      lookahead_ = std::move(e);
      break;
    }
    if (first && bytes.size() > static_cast<std::size_t>(o.max_bytes) && !o.at_least_one) {
      lookahead_ = std::move(e);
      break;
    }
    out.bytes.insert(out.bytes.end(), bytes.begin(), bytes.end());
    next = i->last + 1;
    if (out.bytes.size() >= static_cast<std::size_t>(o.max_bytes)) break;
  }
  reader_next_ = next;
  out.next_offset = next;
  out.offsets = offsets();
  if (o.read_committed && next > o.offset) out.aborted = co_await aborted_between(o.offset, next);
  co_return out;
}

// ---------------------------------------------------------------------------
// Timestamps and DeleteRecords

Task<TimestampLookup> Log::offset_for_timestamp(std::int64_t timestamp) {
  auto self = shared_from_this();
  auto work = self->offset_for_timestamp_here(timestamp);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<TimestampLookup>> Log::offset_for_timestamp_here(std::int64_t timestamp) {
  if (deleted_) co_return Result<TimestampLookup>::failure(Errc::unknown_topic, tp_.topic + " was deleted");
  // Binary search by entry max timestamp (timestamps grow with the log).
  auto pos = co_await all_positions();
  TimestampLookup best;
  std::size_t lo = 0, hi = pos.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    auto p = co_await probe(pos[mid]);
    if (!p) break;
    if (p->second.max_timestamp >= timestamp) {
      best = {p->second.base, p->second.max_timestamp};
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (best.offset >= 0 && best.offset < log_start_) best.offset = log_start_;
  co_return Result<TimestampLookup>::success(best);
}

Task<TimestampLookup> Log::max_timestamp() {
  auto self = shared_from_this();
  auto work = self->max_timestamp_here();
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<TimestampLookup>> Log::max_timestamp_here() {
  if (deleted_) co_return Result<TimestampLookup>::failure(Errc::unknown_topic, tp_.topic + " was deleted");
  // Producers set their own timestamps: the largest may be in any entry,
  // not only the last. Entries are read once each; later calls read only
  // what was appended since (by anyone: the end comes from Pulsar).
  co_await sync_end();
  if (max_ts_.offset >= 0 && max_ts_.offset < log_start_) {
    // Its batch is below the log start now: look again at what is left.
    max_ts_ = {};
    max_ts_end_ = 0;
  }
  const std::int64_t from = std::max(max_ts_end_, log_start_);
  const std::int64_t end = next_offset_;
  if (from < end) {
    auto r = co_await s_.client_->create_reader(topic_, co_await locate(from), 200);
    std::int64_t seen = from;
    while (seen < end) {
      auto e = co_await r->receive_entry(s_.config_.operation_timeout);
      if (!e) break;
      auto i = info_of(*e);
      if (!i) break;
      remember(*i, e->id);
      // Ties go to the earlier batch, as Kafka answers.
      if (i->last >= from && (i->max_timestamp > max_ts_.timestamp ||
                              (i->max_timestamp == max_ts_.timestamp && i->last < max_ts_.offset)))
        max_ts_ = {i->last, i->max_timestamp};
      seen = i->last + 1;
    }
    co_await r->close();
    if (seen < end) throw kp::Error(kp::Error::client_timeout, "cannot read " + topic_ + " up to its end");
    max_ts_end_ = std::max(max_ts_end_, seen);
  }
  co_return Result<TimestampLookup>::success(max_ts_);
}

Task<std::int64_t> Log::delete_records(std::int64_t offset) {
  auto self = shared_from_this();
  auto work = self->delete_records_here(offset);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::int64_t>> Log::delete_records_here(std::int64_t offset) {
  if (deleted_) co_return Result<std::int64_t>::failure(Errc::unknown_topic, tp_.topic + " was deleted");
  const std::int64_t to = offset < 0 ? next_offset_ : offset;
  if (to > next_offset_) co_return Result<std::int64_t>::failure(Errc::offset_out_of_range, "beyond end");
  log_start_ = std::max(log_start_, to);
  publish_offsets();
  co_return Result<std::int64_t>::success(log_start_);
}

}  // namespace kwire_broker::storage::pulsar
