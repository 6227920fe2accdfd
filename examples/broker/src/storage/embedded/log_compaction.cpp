// Log compaction in the embedded store (cleanup.policy=compact), as Kafka's
// log cleaner does it, one pass at a time on the cleaner's thread:
//
//  1. Under the log's lock, the pass takes the sealed ledgers below the first
//     offset it may not touch: the active ledger, the first open transaction,
//     and ledgers with records newer than min.compaction.lag.ms stay as they
//     are. It runs when the part not yet compacted (from the checkpoint
//     `cleaner-offset` on) is at least min.cleanable.dirty.ratio of them, when
//     that part is older than max.compaction.lag.ms, or when a kept
//     tombstone's delete horizon has passed.
//  2. Without the lock (sealed ledgers never change), it maps each key of the
//     part not yet compacted to its newest offset, within
//     log.cleaner.dedupe.buffer.size; what does not fit waits for the next
//     pass.
//  3. It writes each ledger again without the records the map supersedes
//     (batch_compactor.hpp), as `<ledger>.log.cleaned`, synced. A ledger with
//     nothing to drop is left alone.
//  4. Under the lock, each rewritten ledger replaces its original by rename
//     (its index files are removed first: a crash in between leaves a ledger
//     without indexes, which opening rebuilds), unless retention or a
//     deletion removed the original meanwhile. Readers holding the old file
//     keep reading it; offsets never change, so a fetch at an offset that is
//     gone gets the next batch, as from Kafka.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "storage/embedded/batch_compactor.hpp"
#include "storage/embedded/files.hpp"
#include "storage/embedded/log.hpp"
#include "kwire/records/compression.hpp"

namespace kwire_broker::storage::embedded {

namespace {

constexpr const char* checkpoint_file = "cleaner-offset";

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
/// Key -> newest offset. Keys are held whole: two keys never collide.
using OffsetMap = std::unordered_map<std::string, std::int64_t, KeyHash, std::equal_to<>>;
/// What one entry costs besides its key's bytes (node, hash slot, string).
constexpr std::size_t map_entry_overhead = 64;

/// A sealed ledger as the pass found it.
struct Source {
  std::uint64_t id;
  std::int64_t base, end;  // end: the next ledger's base
  std::uint64_t size;
  std::shared_ptr<const OpenFile> file;
  timespec mtime;
  std::int64_t created_ms;
};

/// Reads the whole batch at `pos` into `buf`; nullopt if none is there.
std::optional<kwire::RecordBatchView> read_batch(const Source& s, std::uint64_t pos, std::vector<std::uint8_t>& buf) {
  std::uint8_t header[kwire::batch_layout::header_size];
  if (pos + sizeof header > s.size || !pread_all(s.file->fd(), header, sizeof header, pos)) return std::nullopt;
  auto h = read_entry_header(header);
  if (!h || pos + h->size > s.size) return std::nullopt;
  buf.resize(h->size);
  if (!pread_all(s.file->fd(), buf.data(), buf.size(), pos)) return std::nullopt;
  auto view = kwire::RecordBatchView::parse(kwire::bytes_view(buf));
  if (!view || view->size() != buf.size()) return std::nullopt;
  return view;
}

bool in_aborted(const kwire::RecordBatchView& b, const std::vector<AbortedTxn>& aborted) {
  if (!b.is_transactional()) return false;
  for (const auto& t : aborted)
    if (t.producer_id == b.producer_id() && t.first_offset <= b.base_offset() && b.base_offset() <= t.last_offset)
      return true;
  return false;
}

void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

/// A ledger written again: where it is and what its indexes say.
struct Rewritten {
  const Source* source;
  fs::path path;
  std::unique_ptr<Segment> segment;  // no file yet
};

}  // namespace

void Log::load_cleaner_checkpoint() {
  first_dirty_ = log_start_;
  next_horizon_ = 0;
  if (auto s = read_file(dir_ / checkpoint_file)) {
    try {
      first_dirty_ = std::max<std::int64_t>(first_dirty_, std::stoll(*s));
    } catch (...) {
    }
  }
}

std::int64_t Log::clean(std::int64_t now, std::size_t dedupe_bytes) {
  std::lock_guard pass(clean_mu_);
  if (clean_cancelled_) return -1;
  std::vector<Source> sources;
  std::int64_t first_dirty = 0, delete_retention = 0;
  std::vector<AbortedTxn> aborted;
  std::unordered_map<std::int64_t, std::int64_t> producers_last;
  {
    std::lock_guard lk(mu_);
    if (state_ != State::open || !compact_ || segments_.size() < 2) return -1;
    std::int64_t uncleanable = segments_.back()->base;
    if (auto f = producers_.first_unstable_offset()) uncleanable = std::min(uncleanable, *f);
    for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
      const Segment& s = *segments_[i];
      const std::int64_t end = segments_[i + 1]->base;
      if (end > uncleanable || (min_lag_ms_ > 0 && s.max_timestamp > now - min_lag_ms_)) break;
      auto file = s.log.share();
      if (!file) return -1;
      struct stat st {};
      ::fstat(file->fd(), &st);
      sources.push_back({s.id, s.base, end, s.size, std::move(file), st.st_mtim, s.created_ms});
    }
    if (sources.empty()) return -1;
    first_dirty = std::max(first_dirty_, log_start_);
    std::uint64_t clean_bytes = 0, dirty_bytes = 0;
    bool overdue = now >= next_horizon_;
    for (const auto& s : sources) {
      if (s.end <= first_dirty) {
        clean_bytes += s.size;
        continue;
      }
      dirty_bytes += s.size;
      if (max_lag_ms_ >= 0 && now - s.created_ms > max_lag_ms_) overdue = true;
    }
    const double ratio = dirty_bytes == 0 ? 0.0 : static_cast<double>(dirty_bytes) / (clean_bytes + dirty_bytes);
    if (!overdue && (dirty_bytes == 0 || ratio < min_dirty_ratio_)) return -1;
    for (const auto& t : aborted_)
      if (t.first_offset < sources.back().end) aborted.push_back(t);
    for (const auto& [pid, e] : producers_.entries())
      if (!e.batches.empty()) producers_last[pid] = e.batches.back().last_offset;
    delete_retention = delete_retention_ms_;
  }

  // 2. The newest offset of each key not yet compacted.
  OffsetMap latest;
  std::size_t map_bytes = 0;
  std::int64_t clean_end = sources.back().end;
  std::vector<std::uint8_t> buf, inflated;
  for (const auto& s : sources) {
    if (s.end <= first_dirty) continue;
    if (map_bytes > dedupe_bytes && s.base > first_dirty) {
      clean_end = s.base;
      break;
    }
    std::uint64_t pos = 0;
    while (auto b = read_batch(s, pos, buf)) {
      pos += b->size();
      if (clean_cancelled_) return -1;
      if (b->is_control() || b->last_offset() < first_dirty || in_aborted(*b, aborted)) continue;
      auto records = b->records(inflated, &kwire::decompress);
      kwire::RecordView r;
      while (records.next(r)) {
        if (!r.key) continue;
        const std::string_view key(reinterpret_cast<const char*>(r.key->data()), r.key->size());
        auto [it, added] = latest.try_emplace(std::string(key), b->offset_of(r));
        if (added)
          map_bytes += key.size() + map_entry_overhead;
        else
          it->second = std::max(it->second, b->offset_of(r));
      }
    }
  }

  // 3. Each ledger below clean_end, without what the map supersedes.
  CompactionContext ctx;
  ctx.latest_offset = [&latest](kwire::bytes_view key) -> std::optional<std::int64_t> {
    auto it = latest.find(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
    if (it == latest.end()) return std::nullopt;
    return it->second;
  };
  ctx.now_ms = now;
  ctx.delete_retention_ms = delete_retention;
  std::int64_t next_horizon = INT64_MAX;
  std::vector<Rewritten> rewritten;
  std::vector<std::uint8_t> rebuilt, pending;
  std::int64_t reclaimed = 0;
  for (const auto& s : sources) {
    if (s.base >= clean_end) break;
    auto seg = std::make_unique<Segment>();
    seg->base = s.base;
    seg->next_offset = s.end;
    const fs::path path = dir_ / (segment_name(s.base) + ".log.cleaned");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      clean_end = s.base;
      break;
    }
    bool changed = false, ok = true;
    std::uint64_t pos = 0, out = 0;
    pending.clear();
    for (; pos < s.size; ) {
      auto b = clean_cancelled_ ? std::nullopt : read_batch(s, pos, buf);
      if (!b) {
        ok = false;  // unreadable: this ledger stays as it is
        break;
      }
      pos += b->size();
      ctx.aborted = in_aborted(*b, aborted);
      auto last = producers_last.find(b->producer_id());
      ctx.producers_last = last != producers_last.end() && last->second == b->last_offset();
      const BatchFate fate = compact_batch(*b, ctx, rebuilt);
      if (fate == BatchFate::dropped) {
        changed = true;
        continue;
      }
      kwire::bytes_view bytes = b->bytes();
      if (fate == BatchFate::rewritten) {
        changed = true;
        bytes = kwire::bytes_view(rebuilt);
      }
      auto kept = *kwire::RecordBatchView::parse(bytes);
      if (auto h = kept.delete_horizon_ms()) next_horizon = std::min(next_horizon, *h);
      seg->add_index(kept.base_offset(), out, kept.max_timestamp(), kept.last_offset(), opts_.index_interval_bytes);
      seg->bytes_since_index += bytes.size();
      seg->entries++;
      out += bytes.size();
      pending.insert(pending.end(), bytes.begin(), bytes.end());
      if (pending.size() >= (1u << 20)) {
        ok = write_all(fd, pending.data(), pending.size());
        pending.clear();
        if (!ok) break;
      }
    }
    if (ok && changed) ok = write_all(fd, pending.data(), pending.size()) && ::fdatasync(fd) == 0;
    if (ok && changed) {
      const timespec times[2] = {s.mtime, s.mtime};  // its age, for retention, stays the original's
      (void)::futimens(fd, times);
    }
    ::close(fd);
    if (!ok || !changed) {
      std::error_code ec;
      fs::remove(path, ec);
      if (!ok) {  // the ledgers from this one on wait for the next pass
        clean_end = s.base;
        break;
      }
      continue;
    }
    seg->size = out;
    reclaimed += static_cast<std::int64_t>(s.size) - static_cast<std::int64_t>(out);
    rewritten.push_back({&s, path, std::move(seg)});
  }

  // 4. Each rewritten ledger in place of its original, oldest first, and
  // none after one that fails: a tombstone may go only once the older
  // records of its key have (the order of the pass that removed them), or a
  // crash or an error could bring a deleted key back.
  std::lock_guard lk(mu_);
  bool failed = false;
  for (auto& r : rewritten) {
    auto it = std::find_if(segments_.begin(), segments_.end(),
                           [&](const std::unique_ptr<Segment>& s) { return s->id == r.source->id; });
    std::error_code ec;
    if (failed || state_ != State::open || clean_cancelled_ || it == segments_.end()) {
      fs::remove(r.path, ec);  // a ledger dropped meanwhile (retention) takes its records with it
      continue;
    }
    Segment& old = **it;
    auto& seg = r.segment;
    try {
      // Opened before the rename, so that a failure leaves the original in use.
      seg->log = CachedFile(opts_.files, r.path, O_RDWR | O_CLOEXEC);
    } catch (const std::exception&) {
      fs::remove(r.path, ec);
      clean_end = std::min(clean_end, r.source->base);
      failed = true;
      continue;
    }
    fs::remove(old.sibling(".index"), ec);
    fs::remove(old.sibling(".timeindex"), ec);
    fs::rename(r.path, old.log_path, ec);
    if (ec) {  // the original stays, and is looked at again by the next pass
      seg->log.close();
      fs::remove(r.path, ec);
      clean_end = std::min(clean_end, r.source->base);
      failed = true;
      continue;
    }
    sync_dir(dir_);  // durable before the next: see above
    seg->log.renamed(old.log_path);
    seg->log_path = old.log_path;
    seg->created_ms = old.created_ms;
    (void)seg->write_indexes();
    *it = std::move(seg);
  }
  if (state_ == State::open) {
    first_dirty_ = std::max(first_dirty_, clean_end);
    next_horizon_ = failed ? 0 : next_horizon;  // after a failure: look again next time
    (void)write_file_atomic(dir_ / checkpoint_file, std::to_string(first_dirty_));
  }
  return reclaimed;
}

}  // namespace kwire_broker::storage::embedded
