#include "storage/embedded/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>


#include "kwire/records/batch.hpp"
#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {

namespace asio = boost::asio;

Log::Log(TopicPartition tp, fs::path dir, const Options& opts, const Configs& configs)
    : tp_(std::move(tp)), dir_(std::move(dir)), opts_(opts) {
  set_configs(configs);
}

Log::~Log() { close(); }

void Log::set_configs(const Configs& c) {
  std::lock_guard lk(mu_);
  segment_bytes_ = config_int(c, "segment.bytes", opts_.segment_bytes);
  segment_ms_ = config_int(c, "segment.ms", opts_.segment_ms);
  retention_ms_ = config_int(c, "retention.ms", opts_.retention_ms);
  retention_bytes_ = config_int(c, "retention.bytes", opts_.retention_bytes);
  // A compacted topic without "delete" in its policy is never cut by time
  // or size: it is compacted instead.
  const auto policy = c.find("cleanup.policy");
  if (policy != c.end() && policy->second.find("delete") == std::string::npos) {
    retention_ms_ = -1;
    retention_bytes_ = -1;
  }
  compact_ = policy != c.end() && policy->second.find("compact") != std::string::npos;
  min_dirty_ratio_ = opts_.min_cleanable_ratio;
  if (auto it = c.find("min.cleanable.dirty.ratio"); it != c.end()) {
    try {
      min_dirty_ratio_ = std::stod(it->second);
    } catch (...) {
    }
  }
  delete_retention_ms_ = config_int(c, "delete.retention.ms", opts_.delete_retention_ms);
  min_lag_ms_ = config_int(c, "min.compaction.lag.ms", opts_.min_compaction_lag_ms);
  max_lag_ms_ = config_int(c, "max.compaction.lag.ms", opts_.max_compaction_lag_ms);
  flush_every_ = config_int(c, "flush.messages", opts_.flush == FlushPolicy::every_append ? 1 : 0) == 1;
}

bool Log::compacted() const {
  std::lock_guard lk(mu_);
  return compact_;
}

Errc Log::gone() const noexcept {
  switch (state_) {
    case State::open: return Errc::ok;
    case State::retired: return Errc::unknown_topic;
    case State::closed: return Errc::closed;
  }
  return Errc::closed;
}

// The calls below do their work under the log's mutex and return without
// suspending: an append's place in the log is fixed when its coroutine starts.

Task<AppendResult> Log::append(AppendBatch batch) {
  Result<AppendResult> r;
  std::uint64_t seq = 0;
  {
    std::lock_guard lk(mu_);
    r = append_locked(batch);
    if (r.ok() && flush_every_) seq = written_;
  }
  // Bound first: g++ 12 destroys a by-value argument inside a co_await twice.
  auto ack = acknowledge(std::move(r), seq);
  co_return co_await std::move(ack);
}

// log.flush.interval.messages=1: an append numbered `seq` (0: none to wait
// for) is acknowledged once on disk. The wait is outside the mutex, so
// appends behind this one join the same sync.
Task<AppendResult> Log::acknowledge(Result<AppendResult> r, std::uint64_t seq) {
  if (seq == 0) co_return r;
  // Not in the if's condition: g++ 12 miscompiles a co_await there that is
  // followed by a co_return.
  const bool durable = co_await until_durable(seq);
  if (!durable) co_return Result<AppendResult>::failure(Errc::io_error, "the append could not be synced to disk");
  co_return r;
}

asio::awaitable<bool> Log::until_durable(std::uint64_t seq) {
  auto done = std::make_shared<Completion>();
  {
    std::lock_guard lk(mu_);
    if (synced_ >= seq || state_ != State::open) {
      done->set(synced_ >= seq);
    } else {
      waiters_.push_back({seq, done});
      request_sync_locked();
    }
  }
  co_return co_await done->wait();
}

void Log::request_sync_locked() {
  if (sync_queued_) return;
  if (!opts_.flusher) {  // a log on its own (tests): sync in line
    flush_locked();
    return;
  }
  sync_queued_ = true;
  opts_.flusher->request(weak_from_this());
}

void Log::sync() {
  int fd = -1;
  std::uint64_t upto = 0;
  bool index_dirty = false;
  {
    std::lock_guard lk(mu_);
    sync_queued_ = false;
    if (state_ != State::open || segments_.empty() || synced_ == written_) return;
    upto = written_;
    // A duplicate, so that the ledger can be closed (rolled, dropped,
    // evicted from the cache) while the sync runs without the log's mutex.
    // Appends before a roll are synced by the roll itself.
    if (auto lease = segments_.back()->log.use()) fd = ::dup(lease.fd());
    index_dirty = std::exchange(txn_index_dirty_, false);
  }
  if (index_dirty) sync_txn_index();  // before the ledger: an abort marker on disk has its entry there too
  const bool ok = fd >= 0 && ::fdatasync(fd) == 0;
  if (fd >= 0) ::close(fd);
  std::lock_guard lk(mu_);
  durable_locked(upto, ok);
  last_flush_ms_ = now_ms();
}

/// Appends up to `upto` are on disk (ok) or may not be (a failed sync: their
/// waiters fail; the data stays written and the next sync tries again).
void Log::durable_locked(std::uint64_t upto, bool ok) {
  if (ok) synced_ = std::max(synced_, upto);
  std::erase_if(waiters_, [&](Waiter& w) {
    if (w.seq > upto) return false;
    w.done->set(ok);
    return true;
  });
}

Task<ReadResult> Log::read(ReadOptions o) {
  std::lock_guard lk(mu_);
  co_return read_locked(o);
}

LogOffsets Log::offsets() const {
  std::lock_guard lk(mu_);
  return offsets_locked();
}

std::int64_t Log::stored_bytes() const {
  std::lock_guard lk(mu_);
  std::uint64_t total = 0;
  for (const auto& s : segments_) total += s->size;
  return static_cast<std::int64_t>(total);
}

Task<TimestampLookup> Log::offset_for_timestamp(std::int64_t ts) {
  std::lock_guard lk(mu_);
  co_return by_timestamp_locked(ts);
}

Task<TimestampLookup> Log::max_timestamp() {
  std::lock_guard lk(mu_);
  co_return max_timestamp_locked();
}

Task<std::int64_t> Log::delete_records(std::int64_t offset) {
  std::lock_guard lk(mu_);
  co_return delete_records_locked(offset);
}

void Log::open() {
  std::lock_guard lk(mu_);
  fs::create_directories(dir_);
  std::vector<std::int64_t> bases;
  for (auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() == ".cleaned") {  // a compaction cut short: the ledger it was for is whole
      std::error_code ec;
      fs::remove(e.path(), ec);
      continue;
    }
    if (e.path().extension() != ".log") continue;
    try {
      bases.push_back(std::stoll(e.path().stem().string()));
    } catch (...) {
    }
  }
  std::sort(bases.begin(), bases.end());
  if (auto s = read_file(dir_ / "log-start")) {
    try {
      log_start_ = std::stoll(*s);
    } catch (...) {
    }
  }
  for (std::size_t i = 0; i < bases.size(); ++i) {
    bool last = i + 1 == bases.size();
    auto seg = open_segment(bases[i], last);
    if (!last) {
      seg->next_offset = bases[i + 1];
      if (!seg->load_indexes()) scan(*seg, false);
    } else {
      scan(*seg, true);
    }
    segments_.push_back(std::move(seg));
  }
  if (segments_.empty()) segments_.push_back(open_segment(std::max<std::int64_t>(0, log_start_), true));
  log_start_ = std::max(log_start_, segments_.front()->base);
  rebuild_producers();
  load_cleaner_checkpoint();
}

void Log::maintain(std::int64_t now) {
  std::lock_guard lk(mu_);
  if (state_ != State::open) return;
  if (written_ != synced_ && !flush_every_ && opts_.flush == FlushPolicy::interval &&
      now - last_flush_ms_ >= opts_.flush_interval.count()) {
    last_flush_ms_ = now;  // the flusher's sync sets it again when done
    request_sync_locked();
  }
  // Retention by time: sealed ledgers whose newest record is too old.
  while (segments_.size() > 1 && retention_ms_ >= 0) {
    auto& s = *segments_.front();
    std::int64_t newest = s.max_timestamp >= 0 ? s.max_timestamp : s.created_ms;
    if (now - newest <= retention_ms_) break;
    drop_front();
  }
  // Retention by size.
  if (retention_bytes_ >= 0) {
    std::uint64_t total = 0;
    for (auto& s : segments_) total += s->size;
    while (segments_.size() > 1 && total - segments_.front()->size >= static_cast<std::uint64_t>(retention_bytes_) &&
           total > static_cast<std::uint64_t>(retention_bytes_)) {
      total -= segments_.front()->size;
      drop_front();
    }
  }
}

void Log::cancel_cleaning() {
  clean_cancelled_ = true;
  std::lock_guard wait(clean_mu_);
}

void Log::close() {
  cancel_cleaning();
  std::lock_guard lk(mu_);
  if (state_ == State::open) flush_locked();
  segments_.clear();
  if (state_ == State::open) state_ = State::closed;
}

void Log::retire() {
  cancel_cleaning();
  std::lock_guard lk(mu_);
  durable_locked(written_, false);  // the topic is gone: its waiting appends fail
  segments_.clear();
  state_ = State::retired;
}

std::unique_ptr<Segment> Log::open_segment(std::int64_t base, bool active) {
  auto s = std::make_unique<Segment>();
  s->base = base;
  s->next_offset = base;
  s->log_path = dir_ / (segment_name(base) + ".log");
  int flags = O_RDWR | O_CREAT | O_CLOEXEC | (active ? O_APPEND : 0);
  s->log = CachedFile(opts_.files, s->log_path, flags);
  struct stat st {};
  if (auto f = s->log.use()) ::fstat(f.fd(), &st);
  s->size = static_cast<std::uint64_t>(st.st_size);
  s->created_ms = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000;
  if (s->size == 0) s->created_ms = now_ms();
  return s;
}

/// Reads a ledger entry by entry, rebuilding its indexes. With `recover`,
/// checks each batch's CRC and truncates at the first bad or torn entry.
void Log::scan(Segment& s, bool recover) {
  s.index.clear();
  s.tindex.clear();
  s.bytes_since_index = 0;
  std::uint64_t pos = 0;
  std::int64_t expect = s.base;
  std::vector<std::uint8_t> buf;
  while (pos < s.size) {
    auto h = s.header_at(pos);
    if (!h || pos + h->size > s.size || h->info.base_offset < expect) break;
    if (recover) {
      buf.resize(h->size);
      auto file = s.log.use();
      if (!file || !pread_all(file.fd(), buf.data(), buf.size(), pos)) break;
      auto whole = kwire::RecordBatchView::parse(kwire::bytes_view(buf));
      if (!whole || whole->size() != buf.size() || !whole->crc_valid()) break;
    }
    s.add_index(h->info.base_offset, pos, h->info.max_timestamp, h->info.last_offset(), opts_.index_interval_bytes);
    s.bytes_since_index += h->size;
    pos += h->size;
    expect = h->info.last_offset() + 1;
    s.entries++;
  }
  s.next_offset = expect;
  if (pos < s.size && recover) {
    auto file = s.log.use();
    if (!file || ::ftruncate(file.fd(), static_cast<off_t>(pos)) != 0) {
      throw std::runtime_error("cannot truncate " + s.log_path.string());
    }
    if (opts_.report) {
      opts_.report("recovery: " + tp_.topic + "-" + std::to_string(tp_.partition) + ": truncated a torn tail of " +
                   std::to_string(s.size - pos) + " bytes at offset " + std::to_string(expect) + " (" +
                   s.log_path.filename().string() + ")");
    }
    s.size = pos;
  }
  // A sealed ledger whose index files were missing or bad gets them back.
  if (!recover) (void)s.write_indexes();
}

LogOffsets Log::offsets_locked() const {
  LogOffsets o;
  if (segments_.empty()) return o;
  o.log_start = log_start_;
  o.high_watermark = segments_.back()->next_offset;
  o.last_stable = o.high_watermark;
  if (auto first = producers_.first_unstable_offset()) o.last_stable = std::min(o.last_stable, *first);
  return o;
}

Result<AppendResult> Log::append_locked(AppendBatch& batch) {
  using R = Result<AppendResult>;
  if (auto e = gone(); e != Errc::ok) return R::failure(e);
  auto& bytes = batch.bytes;
  // The broker validated the batch; this only guards the framing the log
  // depends on to find the next entry.
  auto view = kwire::RecordBatchView::parse(kwire::bytes_view(bytes));
  if (!view || view->size() != bytes.size()) return R::failure(Errc::corrupt_batch, "not one whole record batch");
  if (bytes.size() > static_cast<std::size_t>(opts_.max_batch_bytes)) return R::failure(Errc::batch_too_large);
  BatchInfo info = batch.info;
  AppendResult dup;
  Errc pe = producers_.check(info, &dup);
  if (pe == Errc::duplicate_sequence) {
    dup.log_start_offset = log_start_;
    return R{pe, "duplicate batch", dup};
  }
  if (pe != Errc::ok) return R::failure(pe);
  auto r = write_locked(bytes, info);
  if (r.ok()) producers_.record(info, r.value.log_append_time);
  return r;
}

Result<AppendResult> Log::write_locked(std::vector<std::uint8_t>& bytes, BatchInfo& info) {
  using R = Result<AppendResult>;
  Segment* s = segments_.back().get();
  if (s->size > 0 && (s->size + bytes.size() > static_cast<std::uint64_t>(segment_bytes_) ||
                      now_ms() - s->created_ms > segment_ms_)) {
    try {
      roll();
    } catch (const std::exception& e) {  // a storage error for the client, not a thrown call
      return R::failure(Errc::io_error, e.what());
    }
    s = segments_.back().get();
  }
  std::int64_t base = s->next_offset;
  kwire::set_base_offset(bytes, base);
  info.base_offset = base;
  AppendResult ar;
  if (info.log_append_time) ar.log_append_time = info.max_timestamp;
  std::uint64_t pos = s->size;
  {
    auto file = s->log.use();
    if (!file) return R::failure(Errc::io_error, std::strerror(errno));
    if (!write_all(file.fd(), bytes.data(), bytes.size())) {
      int err = errno;
      (void)::ftruncate(file.fd(), static_cast<off_t>(pos));
      return R::failure(Errc::io_error, std::strerror(err));
    }
  }
  s->size += bytes.size();
  s->add_index(base, pos, info.max_timestamp, info.last_offset(), opts_.index_interval_bytes);
  s->bytes_since_index += bytes.size();
  s->next_offset = info.last_offset() + 1;
  ar.position = {static_cast<std::uint64_t>(s->base), s->entries};
  s->entries++;
  ++written_;
  ar.base_offset = base;
  ar.last_offset = info.last_offset();
  ar.log_start_offset = log_start_;
  return R::success(ar);
}

void Log::roll() {
  auto& old = *segments_.back();
  flush_locked();
  save_txn_scan_start_locked();
  // Sealed: its indexes go to disk before the next ledger exists, so a
  // restart finds them whole or (missing) scans the ledger instead.
  if (!old.write_indexes() && opts_.report) {
    opts_.report("cannot write the indexes of " + old.log_path.filename().string() + "; it will be scanned at restart");
  }
  segments_.push_back(open_segment(old.next_offset, true));
}

/// Syncs in line, under the mutex: when the active ledger is sealed and when
/// the log closes (both rare), and for a log without a flusher.
void Log::flush_locked() {
  if (segments_.empty()) return;
  auto& s = *segments_.back();
  bool ok = true;
  if (std::exchange(txn_index_dirty_, false)) sync_txn_index();
  auto lease = s.log.use();
  if (!lease || ::fdatasync(lease.fd()) != 0) ok = false;
  durable_locked(written_, ok);
  last_flush_ms_ = now_ms();
}

void Log::drop_front() {
  if (opts_.report) {
    opts_.report("retention: " + tp_.topic + "-" + std::to_string(tp_.partition) + ": dropped ledger " +
                 segments_.front()->log_path.filename().string());
  }
  segments_.front()->remove_files();
  segments_.erase(segments_.begin());
  log_start_ = std::max(log_start_, segments_.front()->base);
  std::erase_if(aborted_, [&](const AbortedTxn& t) { return t.last_offset < log_start_; });
}

void Log::drop_segments_below(std::int64_t offset) {
  while (segments_.size() > 1 && segments_[1]->base <= offset) drop_front();
}

Result<TimestampLookup> Log::by_timestamp_locked(std::int64_t ts) const {
  using R = Result<TimestampLookup>;
  if (auto e = gone(); e != Errc::ok) return R::failure(e);
  for (auto& sp : segments_) {
    const Segment& s = *sp;
    if (s.max_timestamp < ts) continue;
    // Start from the last time-index entry below ts.
    std::int64_t from = s.base;
    for (auto& t : s.tindex) {
      if (t.timestamp >= ts) break;
      from = s.base + t.rel_offset + 1;
    }
    std::uint64_t pos = s.lookup(from);
    while (auto h = s.header_at(pos)) {
      if (pos + h->size > s.size) break;
      if (h->info.max_timestamp >= ts && h->info.last_offset() >= log_start_) {
        return R::success({std::max(h->info.base_offset, log_start_), h->info.max_timestamp});
      }
      pos += h->size;
    }
  }
  return R::success({});
}

Result<TimestampLookup> Log::max_timestamp_locked() const {
  using R = Result<TimestampLookup>;
  if (auto e = gone(); e != Errc::ok) return R::failure(e);
  TimestampLookup t;
  for (auto& s : segments_) {
    if (s->max_ts_offset >= log_start_ && s->max_timestamp > t.timestamp) {
      t.timestamp = s->max_timestamp;
      t.offset = s->max_ts_offset;
    }
  }
  return R::success(t);
}

Result<std::int64_t> Log::delete_records_locked(std::int64_t offset) {
  using R = Result<std::int64_t>;
  if (auto e = gone(); e != Errc::ok) return R::failure(e);
  std::int64_t hw = segments_.back()->next_offset;
  if (offset < 0) offset = hw;
  if (offset > hw || offset < 0) return R::failure(Errc::offset_out_of_range);
  if (offset > log_start_) {
    log_start_ = offset;
    write_file_atomic(dir_ / "log-start", std::to_string(log_start_));
    drop_segments_below(log_start_);
  }
  return R::success(log_start_);
}

}  // namespace kwire_broker::storage::embedded
