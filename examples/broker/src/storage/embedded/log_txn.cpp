// Transactions in a partition log of the embedded store: markers, the
// aborted-transactions index and the producer state rebuilt at opening.
//
// Files beside the ledgers:
//   aborted.txnindex  one entry per aborted transaction, in the order of
//                     their markers: producer id, first offset, last offset
//                     (big-endian int64 each). Appended when an abort marker
//                     is written and synced with the ledger (before it), so
//                     an abort marker on disk has its entry on disk.
//   txn-scan-from     where the producer state is rebuilt from at opening:
//                     written when a ledger is sealed, the first offset of
//                     the oldest transaction then open (or the new ledger's
//                     base). The rebuild reads batch headers from the lower
//                     of it and the second-to-last ledger's base, so a
//                     transaction open across several ledgers is not lost.
//
// A marker found by the rebuild whose abort is missing from the index (its
// entry was not yet synced) is entered again; entries past the recovered
// end of the log (a torn tail) are dropped.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "kwire/records/batch.hpp"
#include "storage/embedded/files.hpp"
#include "storage/embedded/log.hpp"
#include "storage/txn_marker.hpp"

namespace kwire_broker::storage::embedded {
namespace {

constexpr std::size_t index_entry_bytes = 24;
constexpr const char* index_file = "aborted.txnindex";
constexpr const char* scan_file = "txn-scan-from";

std::string encode(const AbortedTxn& t) {
  std::uint8_t b[index_entry_bytes];
  put_be(b, static_cast<std::uint64_t>(t.producer_id), 8);
  put_be(b + 8, static_cast<std::uint64_t>(t.first_offset), 8);
  put_be(b + 16, static_cast<std::uint64_t>(t.last_offset), 8);
  return std::string(reinterpret_cast<char*>(b), sizeof b);
}

std::vector<AbortedTxn> decode(const std::string& s) {
  std::vector<AbortedTxn> out;
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  for (std::size_t at = 0; at + index_entry_bytes <= s.size(); at += index_entry_bytes) {
    out.push_back({static_cast<std::int64_t>(get_be(p + at, 8)), static_cast<std::int64_t>(get_be(p + at + 8, 8)),
                   static_cast<std::int64_t>(get_be(p + at + 16, 8))});
  }
  return out;
}

/// What a stored marker says: commit or abort, and its coordinator epoch.
struct StoredMarker {
  bool commit = false;
  std::int32_t coordinator_epoch = 0;
};

std::optional<StoredMarker> read_marker(const Segment& s, std::uint64_t pos, std::size_t size) {
  std::vector<std::uint8_t> buf(size);
  {
    auto file = s.log.use();
    if (!file || !pread_all(file.fd(), buf.data(), buf.size(), pos)) return std::nullopt;
  }
  auto batch = kwire::RecordBatchView::parse(kwire::bytes_view(buf));
  if (!batch) return std::nullopt;
  auto records = batch->records();
  kwire::RecordView r;
  if (!records.next(r)) return std::nullopt;
  auto key = kwire::parse_control_key(r.key);
  if (!key) return std::nullopt;
  const auto type = key->control_type();
  if (type != kwire::ControlType::commit && type != kwire::ControlType::abort) return std::nullopt;
  StoredMarker m;
  m.commit = type == kwire::ControlType::commit;
  if (auto v = kwire::parse_end_txn_marker(r.value)) m.coordinator_epoch = v->coordinator_epoch;
  return m;
}

}  // namespace

Task<AppendResult> Log::append_marker(TxnMarker marker) {
  Result<AppendResult> r;
  std::uint64_t seq = 0;
  {
    std::lock_guard lk(mu_);
    r = append_marker_locked(marker);
    if (r.ok() && flush_every_) seq = written_;
  }
  // Bound first: g++ 12 destroys a by-value argument inside a co_await twice.
  auto ack = acknowledge(std::move(r), seq);
  co_return co_await std::move(ack);
}

Result<AppendResult> Log::append_marker_locked(const TxnMarker& m) {
  using R = Result<AppendResult>;
  if (auto e = gone(); e != Errc::ok) return R::failure(e);
  if (m.producer_id < 0 || m.producer_epoch < 0) return R::failure(Errc::corrupt_batch, "a marker needs a producer");
  if (auto e = producers_.check_marker(m.producer_id, m.producer_epoch, m.coordinator_epoch); e != Errc::ok) {
    return R::failure(e);
  }
  std::vector<std::uint8_t> bytes = marker_batch(
      {m.producer_id, m.producer_epoch, m.coordinator_epoch, m.commit, m.timestamp >= 0 ? m.timestamp : now_ms()});
  BatchInfo info = BatchInfo::of(*kwire::RecordBatchView::parse(kwire::bytes_view(bytes)));
  auto r = write_locked(bytes, info);
  if (!r.ok()) return r;
  auto done = producers_.record_marker(m.producer_id, m.producer_epoch, m.coordinator_epoch, m.commit,
                                       r.value.base_offset);
  if (done.aborted) note_aborted_locked({done.producer_id, done.first_offset, done.last_offset});
  return r;
}

void Log::note_aborted_locked(const AbortedTxn& t) {
  aborted_.push_back(t);
  // Aborts are rare: the file is opened for each. Its sync waits for the
  // ledger's (sync_txn_index).
  const std::string entry = encode(t);
  const int fd = ::open((dir_ / index_file).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const bool ok = fd >= 0 && write_all(fd, entry.data(), entry.size());
  if (fd >= 0) ::close(fd);
  if (!ok && opts_.report) {
    opts_.report("cannot append to " + (dir_ / index_file).string() + ": " + std::strerror(errno) +
                 "; the ledger scan at restart enters the abort again");
  }
  txn_index_dirty_ = true;
}

void Log::sync_txn_index() {
  const int fd = ::open((dir_ / index_file).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fdatasync(fd);
  ::close(fd);
}

std::vector<AbortedTxn> Log::aborted_between_locked(std::int64_t from, std::int64_t to) const {
  std::vector<AbortedTxn> out;
  auto it = std::lower_bound(aborted_.begin(), aborted_.end(), from,
                             [](const AbortedTxn& t, std::int64_t off) { return t.last_offset < off; });
  for (; it != aborted_.end(); ++it)
    if (it->first_offset < to) out.push_back(*it);
  return out;
}

Task<std::vector<AbortedTxn>> Log::aborted_transactions(std::int64_t from, std::int64_t to) {
  using R = Result<std::vector<AbortedTxn>>;
  std::lock_guard lk(mu_);
  if (auto e = gone(); e != Errc::ok) co_return R::failure(e);
  co_return R::success(aborted_between_locked(std::max(from, log_start_), to));
}

std::vector<ProducerSnapshot> Log::producers() const {
  std::lock_guard lk(mu_);
  return producers_.snapshot();
}

bool Log::in_open_txn(std::int64_t producer_id, std::int16_t epoch) const {
  std::lock_guard lk(mu_);
  const auto* e = producers_.find(producer_id);
  return e && e->epoch == epoch && e->txn_first_offset >= 0;
}

void Log::save_txn_scan_start_locked() {
  const std::int64_t from = producers_.first_unstable_offset().value_or(segments_.back()->next_offset);
  if (!write_file_atomic(dir_ / scan_file, std::to_string(from)) && opts_.report) {
    opts_.report("cannot write " + (dir_ / scan_file).string());
  }
}

/// Producer state (sequences, epochs, open transactions) and the aborted
/// index, from the batch headers of the log's tail: see the top of the file.
void Log::rebuild_producers() {
  producers_.clear();
  aborted_.clear();
  const std::int64_t hw = segments_.back()->next_offset;
  std::int64_t from = segments_[segments_.size() >= 2 ? segments_.size() - 2 : 0]->base;
  if (auto s = read_file(dir_ / scan_file)) {
    try {
      from = std::min<std::int64_t>(from, std::stoll(*s));
    } catch (...) {
    }
  }
  from = std::max(from, segments_.front()->base);

  bool rewrite = false;
  if (auto s = read_file(dir_ / index_file)) {
    for (const auto& t : decode(*s)) {
      if (t.last_offset >= hw || t.last_offset < log_start_) {
        rewrite = true;  // past a torn tail, or below the log start
        continue;
      }
      aborted_.push_back(t);
    }
    if (s->size() % index_entry_bytes != 0) rewrite = true;
  }
  std::set<std::int64_t> indexed;
  for (const auto& t : aborted_) indexed.insert(t.last_offset);

  auto seg = std::upper_bound(segments_.begin(), segments_.end(), from,
                              [](std::int64_t off, const std::unique_ptr<Segment>& s) { return off < s->base; });
  if (seg != segments_.begin()) --seg;
  for (bool first = true; seg != segments_.end(); ++seg, first = false) {
    auto& s = **seg;
    std::uint64_t pos = first ? s.lookup(from) : 0;
    while (auto h = s.header_at(pos)) {
      if (pos + h->size > s.size) break;
      const BatchInfo& info = h->info;
      if (info.control && info.transactional) {
        if (auto m = read_marker(s, pos, h->size)) {
          auto done = producers_.record_marker(info.producer_id, info.producer_epoch, m->coordinator_epoch, m->commit,
                                               info.base_offset);
          if (done.aborted && !indexed.count(done.last_offset) && done.last_offset >= log_start_) {
            aborted_.push_back({done.producer_id, done.first_offset, done.last_offset});
            rewrite = true;
          }
        }
      } else {
        producers_.record(info, info.log_append_time ? info.max_timestamp : -1);
      }
      pos += h->size;
    }
  }
  std::sort(aborted_.begin(), aborted_.end(),
            [](const AbortedTxn& a, const AbortedTxn& b) { return a.last_offset < b.last_offset; });
  if (rewrite) {
    std::string all;
    for (const auto& t : aborted_) all += encode(t);
    if (!write_file_atomic(dir_ / index_file, all) && opts_.report) {
      opts_.report("cannot rewrite " + (dir_ / index_file).string());
    }
  }
}

}  // namespace kwire_broker::storage::embedded
