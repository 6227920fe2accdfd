// The embedded store (see store.hpp for the layout and the rules).
#include "storage/embedded/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "storage/embedded/file_cache.hpp"
#include "storage/producer_state.hpp"

namespace kwire_broker::storage::embedded {
namespace {

namespace fs = std::filesystem;
using batch::get_be;
using batch::put_be;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int a = val(s[i]), b = val(s[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out += static_cast<char>(a * 16 + b);
  }
  return out;
}

/// Writes a file atomically: a temporary beside it, fsync, rename, fsync dir.
bool write_file_atomic(const fs::path& path, std::string_view data) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  auto give_up = [&] {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = err;
    return false;
  };
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return give_up();
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd) != 0) return give_up();
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return false;
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool pread_all(int fd, void* buf, std::size_t n, std::uint64_t at) {
  auto* p = static_cast<std::uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    at += static_cast<std::uint64_t>(r);
  }
  return true;
}

bool write_all(int fd, const void* buf, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::int64_t config_int(const Configs& c, const char* key, std::int64_t fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (...) {
    return fallback;
  }
}

// ---------------------------------------------------------------------------
// One ledger (segment) of a partition log.

struct IndexEntry {
  std::uint32_t rel_offset;
  std::uint32_t position;
};
struct TimeEntry {
  std::int64_t timestamp;
  std::uint32_t rel_offset;
};

struct Segment {
  std::int64_t base = 0;   // Kafka offset of its first batch; also its ledger id
  fs::path log_path;
  CachedFile log;         // every ledger
  CachedFile index_file;  // the active ledger's .index and .timeindex
  CachedFile time_file;
  std::uint64_t size = 0;
  std::int64_t next_offset = 0;  // offset after its last batch
  std::uint64_t entries = 0;
  std::int64_t max_timestamp = -1;
  std::int64_t max_ts_offset = -1;
  std::int64_t created_ms = 0;
  std::uint64_t bytes_since_index = 0;
  std::vector<IndexEntry> index;
  std::vector<TimeEntry> tindex;

  ~Segment() { close_files(); }
  void close_files() {
    log.close();
    index_file.close();
    time_file.close();
  }
  fs::path sibling(const char* ext) const {
    fs::path p = log_path;
    p.replace_extension(ext);
    return p;
  }
  void remove_files() {
    close_files();
    std::error_code ec;
    fs::remove(log_path, ec);
    fs::remove(sibling(".index"), ec);
    fs::remove(sibling(".timeindex"), ec);
  }

  /// Position in the file of the last indexed batch at or before `offset`.
  std::uint64_t lookup(std::int64_t offset) const {
    auto rel = static_cast<std::uint32_t>(std::max<std::int64_t>(0, offset - base));
    auto it = std::upper_bound(index.begin(), index.end(), rel,
                               [](std::uint32_t r, const IndexEntry& e) { return r < e.rel_offset; });
    if (it == index.begin()) return 0;
    return std::prev(it)->position;
  }

  std::optional<BatchHeader> header_at(std::uint64_t pos) const {
    std::uint8_t buf[batch::header_size];
    if (pos + batch::header_size > size) return std::nullopt;
    auto file = log.use();
    if (!file || !pread_all(file.fd(), buf, sizeof buf, pos)) return std::nullopt;
    return BatchHeader::parse(buf);
  }

  void add_index(std::int64_t batch_base, std::uint64_t pos, std::int64_t max_ts, std::int64_t last_off,
                 std::int64_t interval, bool write) {
    if (index.empty() || bytes_since_index >= static_cast<std::uint64_t>(interval)) {
      IndexEntry e{static_cast<std::uint32_t>(batch_base - base), static_cast<std::uint32_t>(pos)};
      index.push_back(e);
      bytes_since_index = 0;
      if (write && index_file) {
        std::uint8_t b[8];
        put_be(b, e.rel_offset, 4);
        put_be(b + 4, e.position, 4);
        if (auto f = index_file.use()) (void)write_all(f.fd(), b, 8);
      }
      if (max_ts > (tindex.empty() ? -1 : tindex.back().timestamp)) {
        TimeEntry t{max_ts, static_cast<std::uint32_t>(last_off - base)};
        tindex.push_back(t);
        if (write && time_file) {
          std::uint8_t b[12];
          put_be(b, static_cast<std::uint64_t>(t.timestamp), 8);
          put_be(b + 8, t.rel_offset, 4);
          if (auto f = time_file.use()) (void)write_all(f.fd(), b, 12);
        }
      }
    }
    if (max_ts > max_timestamp) {
      max_timestamp = max_ts;
      max_ts_offset = last_off;
    }
  }
};

std::string segment_name(std::int64_t base) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(base));
  return buf;
}

// ---------------------------------------------------------------------------
// A partition log.

class Log final : public PartitionLog {
 public:
  Log(TopicPartition tp, fs::path dir, const Options& opts, Configs configs)
      : tp_(std::move(tp)), dir_(std::move(dir)), opts_(opts) {
    set_configs(configs);
  }
  ~Log() override { close(); }

  const TopicPartition& id() const noexcept override { return tp_; }

  void set_configs(const Configs& c) {
    std::lock_guard lk(mu_);
    segment_bytes_ = config_int(c, "segment.bytes", opts_.segment_bytes);
    segment_ms_ = config_int(c, "segment.ms", opts_.segment_ms);
    retention_ms_ = config_int(c, "retention.ms", opts_.retention_ms);
    retention_bytes_ = config_int(c, "retention.bytes", opts_.retention_bytes);
    flush_every_ = config_int(c, "flush.messages", opts_.flush == FlushPolicy::every_append ? 1 : 0) == 1;
  }

  /// Opens the ledgers found on disk, recovering the last one.
  void open() {
    std::lock_guard lk(mu_);
    fs::create_directories(dir_);
    std::vector<std::int64_t> bases;
    for (auto& e : fs::directory_iterator(dir_)) {
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
        if (!load_indexes(*seg)) scan(*seg, false);
      } else {
        scan(*seg, true);
      }
      segments_.push_back(std::move(seg));
    }
    if (segments_.empty()) segments_.push_back(open_segment(std::max<std::int64_t>(0, log_start_), true));
    log_start_ = std::max(log_start_, segments_.front()->base);
    // Producer state from the last two ledgers' headers.
    producers_.clear();
    for (std::size_t i = segments_.size() >= 2 ? segments_.size() - 2 : 0; i < segments_.size(); ++i) {
      auto& s = *segments_[i];
      std::uint64_t pos = 0;
      while (auto h = s.header_at(pos)) {
        if (pos + h->total_size() > s.size) break;
        producers_.record(*h, h->log_append_time() ? h->max_timestamp : -1);
        pos += h->total_size();
      }
    }
  }

  void append(std::vector<std::uint8_t> bytes, AppendOptions options, Handler<AppendResult> done) override {
    Result<AppendResult> r;
    {
      std::lock_guard lk(mu_);
      r = append_locked(bytes, options);
    }
    done(std::move(r));
  }

  void read(ReadOptions o, Handler<ReadResult> done) override {
    Result<ReadResult> r;
    {
      std::lock_guard lk(mu_);
      r = read_locked(o);
    }
    done(std::move(r));
  }

  LogOffsets offsets() const override {
    std::lock_guard lk(mu_);
    return offsets_locked();
  }

  void offset_for_timestamp(std::int64_t ts, Handler<TimestampLookup> done) override {
    Result<TimestampLookup> r;
    {
      std::lock_guard lk(mu_);
      r = by_timestamp_locked(ts);
    }
    done(std::move(r));
  }

  void max_timestamp(Handler<TimestampLookup> done) override {
    Result<TimestampLookup> r;
    {
      std::lock_guard lk(mu_);
      if (deleted_) {
        r = Result<TimestampLookup>::failure(Errc::unknown_topic);
      } else {
        TimestampLookup t;
        for (auto& s : segments_) {
          if (s->max_ts_offset >= log_start_ && s->max_timestamp > t.timestamp) {
            t.timestamp = s->max_timestamp;
            t.offset = s->max_ts_offset;
          }
        }
        r = Result<TimestampLookup>::success(t);
      }
    }
    done(std::move(r));
  }

  void delete_records(std::int64_t offset, Handler<std::int64_t> done) override {
    Result<std::int64_t> r;
    {
      std::lock_guard lk(mu_);
      if (deleted_) {
        r = Result<std::int64_t>::failure(Errc::unknown_topic);
      } else {
        std::int64_t hw = segments_.back()->next_offset;
        if (offset < 0) offset = hw;
        if (offset > hw || offset < 0) {
          r = Result<std::int64_t>::failure(Errc::offset_out_of_range);
        } else {
          if (offset > log_start_) {
            log_start_ = offset;
            write_file_atomic(dir_ / "log-start", std::to_string(log_start_));
            drop_segments_below(log_start_);
          }
          r = Result<std::int64_t>::success(log_start_);
        }
      }
    }
    done(std::move(r));
  }

  /// Retention and interval flushing.
  void maintain(std::int64_t now) {
    std::lock_guard lk(mu_);
    if (deleted_) return;
    if (dirty_ && !flush_every_ && opts_.flush == FlushPolicy::interval &&
        now - last_flush_ms_ >= opts_.flush_interval.count()) {
      flush_locked();
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

  void flush() {
    std::lock_guard lk(mu_);
    if (!deleted_) flush_locked();
  }

  void close() {
    std::lock_guard lk(mu_);
    if (!deleted_) flush_locked();
    segments_.clear();
    deleted_ = true;
  }

  /// Stops the log for good (topic deletion): waits for the call in
  /// progress, closes the files and fails later calls with unknown_topic.
  /// The files stay; the caller removes the topic's directory.
  void retire() {
    std::lock_guard lk(mu_);
    segments_.clear();
    deleted_ = true;
  }

 private:
  std::unique_ptr<Segment> open_segment(std::int64_t base, bool active) {
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
    if (active) {
      s->index_file = CachedFile(opts_.files, s->sibling(".index"), O_RDWR | O_CREAT | O_CLOEXEC | O_APPEND);
      s->time_file = CachedFile(opts_.files, s->sibling(".timeindex"), O_RDWR | O_CREAT | O_CLOEXEC | O_APPEND);
    }
    return s;
  }

  /// Loads a sealed ledger's index files; false if they are missing or bad.
  bool load_indexes(Segment& s) {
    auto idx = read_file(s.sibling(".index"));
    auto tix = read_file(s.sibling(".timeindex"));
    if (!idx || !tix || idx->empty() || idx->size() % 8 || tix->size() % 12) return false;
    const auto* p = reinterpret_cast<const std::uint8_t*>(idx->data());
    for (std::size_t i = 0; i < idx->size(); i += 8) {
      IndexEntry e{static_cast<std::uint32_t>(get_be(p + i, 4)), static_cast<std::uint32_t>(get_be(p + i + 4, 4))};
      if (e.position >= s.size) return false;
      s.index.push_back(e);
    }
    p = reinterpret_cast<const std::uint8_t*>(tix->data());
    for (std::size_t i = 0; i < tix->size(); i += 12) {
      s.tindex.push_back({static_cast<std::int64_t>(get_be(p + i, 8)), static_cast<std::uint32_t>(get_be(p + i + 8, 4))});
    }
    if (!s.tindex.empty()) {
      s.max_timestamp = s.tindex.back().timestamp;
      s.max_ts_offset = s.base + s.tindex.back().rel_offset;
    }
    s.entries = 0;  // not needed for sealed ledgers
    return true;
  }

  /// Reads a ledger entry by entry, rebuilding its indexes. With `recover`,
  /// checks each batch's CRC and truncates at the first bad or torn entry.
  void scan(Segment& s, bool recover) {
    s.index.clear();
    s.tindex.clear();
    s.bytes_since_index = 0;
    std::uint64_t pos = 0;
    std::int64_t expect = s.base;
    std::vector<std::uint8_t> buf;
    while (pos < s.size) {
      auto h = s.header_at(pos);
      if (!h || pos + h->total_size() > s.size || h->base_offset < expect) break;
      if (recover) {
        buf.resize(h->total_size());
        auto file = s.log.use();
        if (!file || !pread_all(file.fd(), buf.data(), buf.size(), pos) || !batch_crc_ok(buf)) break;
      }
      s.add_index(h->base_offset, pos, h->max_timestamp, h->last_offset(), opts_.index_interval_bytes, false);
      s.bytes_since_index += h->total_size();
      pos += h->total_size();
      expect = h->last_offset() + 1;
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
    if (recover) rewrite_indexes(s);
  }

  void rewrite_indexes(Segment& s) {
    if (auto f = s.index_file.use()) {
      (void)::ftruncate(f.fd(), 0);
      for (auto& e : s.index) {
        std::uint8_t b[8];
        put_be(b, e.rel_offset, 4);
        put_be(b + 4, e.position, 4);
        (void)write_all(f.fd(), b, 8);
      }
    }
    if (auto f = s.time_file.use()) {
      (void)::ftruncate(f.fd(), 0);
      for (auto& t : s.tindex) {
        std::uint8_t b[12];
        put_be(b, static_cast<std::uint64_t>(t.timestamp), 8);
        put_be(b + 8, t.rel_offset, 4);
        (void)write_all(f.fd(), b, 12);
      }
    }
  }

  LogOffsets offsets_locked() const {
    LogOffsets o;
    if (segments_.empty()) return o;
    o.log_start = log_start_;
    o.high_watermark = segments_.back()->next_offset;
    o.last_stable = o.high_watermark;
    return o;
  }

  Result<AppendResult> append_locked(std::vector<std::uint8_t>& bytes, const AppendOptions& options) {
    using R = Result<AppendResult>;
    if (deleted_) return R::failure(Errc::unknown_topic);
    auto h = BatchHeader::parse(bytes);
    if (!h || h->total_size() != bytes.size()) return R::failure(Errc::corrupt_batch, "bad record batch header");
    if (bytes.size() > static_cast<std::size_t>(opts_.max_batch_bytes)) return R::failure(Errc::batch_too_large);
    if (!batch_crc_ok(bytes)) return R::failure(Errc::corrupt_batch, "record batch CRC mismatch");
    AppendResult dup;
    Errc pe = producers_.check(*h, &dup);
    if (pe == Errc::duplicate_sequence) {
      dup.log_start_offset = log_start_;
      return R{pe, "duplicate batch", dup};
    }
    if (pe != Errc::ok) return R::failure(pe);

    Segment* s = segments_.back().get();
    std::int64_t now = now_ms();
    if (s->size > 0 && (s->size + bytes.size() > static_cast<std::uint64_t>(segment_bytes_) ||
                        now - s->created_ms > segment_ms_)) {
      try {
        roll();
      } catch (const std::exception& e) {  // a storage error for the client, not a thrown call
        return R::failure(Errc::io_error, e.what());
      }
      s = segments_.back().get();
    }
    std::int64_t base = s->next_offset;
    put_be(bytes.data() + batch::base_offset_at, static_cast<std::uint64_t>(base), 8);
    AppendResult ar;
    if (options.log_append_time) {
      std::uint16_t attrs = static_cast<std::uint16_t>(h->attributes | 0x8);
      put_be(bytes.data() + batch::attributes_at, attrs, 2);
      put_be(bytes.data() + batch::max_timestamp_at, static_cast<std::uint64_t>(now), 8);
      std::uint32_t crc = crc32c(std::span<const std::uint8_t>(bytes).subspan(batch::attributes_at));
      put_be(bytes.data() + batch::crc_at, crc, 4);
      ar.log_append_time = now;
      h->max_timestamp = now;
    }
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
    h->base_offset = base;
    s->size += bytes.size();
    s->add_index(base, pos, h->max_timestamp, h->last_offset(), opts_.index_interval_bytes, true);
    s->bytes_since_index += bytes.size();
    s->next_offset = h->last_offset() + 1;
    ar.position = {static_cast<std::uint64_t>(s->base), s->entries};
    s->entries++;
    producers_.record(*h, ar.log_append_time);
    dirty_ = true;
    if (flush_every_) flush_locked();
    ar.base_offset = base;
    ar.last_offset = h->last_offset();
    ar.log_start_offset = log_start_;
    return R::success(ar);
  }

  void roll() {
    auto& old = *segments_.back();
    flush_locked();
    old.index_file.close();
    old.time_file.close();
    segments_.push_back(open_segment(old.next_offset, true));
  }

  void flush_locked() {
    if (segments_.empty()) return;
    auto& s = *segments_.back();
    for (const CachedFile* f : {&s.log, &s.index_file, &s.time_file}) {
      if (!*f) continue;
      if (auto lease = f->use()) ::fdatasync(lease.fd());
    }
    dirty_ = false;
    last_flush_ms_ = now_ms();
  }

  void drop_front() {
    if (opts_.report) {
      opts_.report("retention: " + tp_.topic + "-" + std::to_string(tp_.partition) + ": dropped ledger " +
                   segments_.front()->log_path.filename().string());
    }
    segments_.front()->remove_files();
    segments_.erase(segments_.begin());
    log_start_ = std::max(log_start_, segments_.front()->base);
  }

  void drop_segments_below(std::int64_t offset) {
    while (segments_.size() > 1 && segments_[1]->base <= offset) drop_front();
  }

  Segment* segment_for(std::int64_t offset) const {
    auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                               [](std::int64_t o, const std::unique_ptr<Segment>& s) { return o < s->base; });
    if (it == segments_.begin()) return nullptr;
    return std::prev(it)->get();
  }

  Result<ReadResult> read_locked(const ReadOptions& o) const {
    using R = Result<ReadResult>;
    if (deleted_) return R::failure(Errc::unknown_topic);
    ReadResult rr;
    rr.offsets = offsets_locked();
    rr.next_offset = o.offset;
    std::int64_t end = o.end_offset < 0 ? rr.offsets.high_watermark : std::min(o.end_offset, rr.offsets.high_watermark);
    if (o.offset < rr.offsets.log_start || o.offset > rr.offsets.high_watermark) {
      R r = R::failure(Errc::offset_out_of_range);
      r.value.offsets = rr.offsets;
      return r;
    }
    std::int64_t offset = o.offset;
    std::size_t budget = o.max_bytes < 0 ? 0 : static_cast<std::size_t>(o.max_bytes);
    auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                               [](std::int64_t off, const std::unique_ptr<Segment>& s) { return off < s->base; });
    if (it != segments_.begin()) --it;
    for (; it != segments_.end() && offset < end; ++it) {
      const Segment& s = **it;
      std::uint64_t pos = offset > s.base ? s.lookup(offset) : 0;
      while (pos < s.size) {
        auto h = s.header_at(pos);
        if (!h) break;
        std::size_t sz = h->total_size();
        if (h->last_offset() < offset) {
          pos += sz;
          continue;
        }
        if (h->base_offset >= end) return R::success(std::move(rr));
        bool first = rr.bytes.empty();
        if (rr.bytes.size() + sz > budget && !(first && o.at_least_one)) return R::success(std::move(rr));
        std::size_t at = rr.bytes.size();
        rr.bytes.resize(at + sz);
        auto file = s.log.use();
        if (!file || !pread_all(file.fd(), rr.bytes.data() + at, sz, pos)) {
          rr.bytes.resize(at);
          return R::success(std::move(rr));
        }
        pos += sz;
        offset = h->last_offset() + 1;
        rr.next_offset = offset;
        if (rr.bytes.size() >= budget) return R::success(std::move(rr));
      }
    }
    return R::success(std::move(rr));
  }

  Result<TimestampLookup> by_timestamp_locked(std::int64_t ts) const {
    using R = Result<TimestampLookup>;
    if (deleted_) return R::failure(Errc::unknown_topic);
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
        if (pos + h->total_size() > s.size) break;
        if (h->max_timestamp >= ts && h->last_offset() >= log_start_) {
          return R::success({std::max(h->base_offset, log_start_), h->max_timestamp});
        }
        pos += h->total_size();
      }
    }
    return R::success({});
  }

  TopicPartition tp_;
  fs::path dir_;
  Options opts_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Segment>> segments_;
  std::int64_t log_start_ = 0;
  ProducerStateTable producers_;
  bool deleted_ = false;
  bool dirty_ = false;
  std::int64_t last_flush_ms_ = 0;
  std::int64_t segment_bytes_ = 0, segment_ms_ = 0, retention_ms_ = 0, retention_bytes_ = -1;
  bool flush_every_ = false;
};

// ---------------------------------------------------------------------------
// Topics

std::string encode_topic_meta(const TopicInfo& t) {
  std::string out = "id " + hex(std::string_view(reinterpret_cast<const char*>(t.id.data()), t.id.size())) + "\n";
  out += "partitions " + std::to_string(t.partitions) + "\n";
  for (auto& [k, v] : t.configs) out += "config " + hex(k) + " " + hex(v) + "\n";
  return out;
}

std::optional<TopicInfo> decode_topic_meta(const std::string& name, const std::string& text) {
  TopicInfo t;
  t.name = name;
  std::istringstream in(text);
  std::string word;
  bool have_id = false;
  while (in >> word) {
    if (word == "id") {
      std::string h;
      in >> h;
      auto raw = unhex(h);
      if (!raw || raw->size() != 16) return std::nullopt;
      std::memcpy(t.id.data(), raw->data(), 16);
      have_id = true;
    } else if (word == "partitions") {
      in >> t.partitions;
    } else if (word == "config") {
      std::string k, v;
      in >> k >> v;
      auto kk = unhex(k), vv = unhex(v);
      if (kk && vv) t.configs[*kk] = *vv;
    }
  }
  if (!have_id || t.partitions <= 0) return std::nullopt;
  return t;
}

bool valid_topic_name(const std::string& n) {
  if (n.empty() || n.size() > 249 || n == "." || n == "..") return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

/// Removes what creating a topic may have written. Each path is named, none
/// listed: out of descriptors (a common reason to get here), a directory
/// cannot be opened to list it.
void remove_new_topic(const fs::path& dir, std::int32_t partitions) {
  std::error_code ignored;
  for (std::int32_t p = 0; p < partitions; ++p) {
    auto partition = dir / std::to_string(p);
    for (const char* ext : {".log", ".index", ".timeindex"}) fs::remove(partition / (segment_name(0) + ext), ignored);
    fs::remove(partition, ignored);
  }
  fs::remove(dir / "topic.meta", ignored);
  fs::remove(dir / "topic.meta.tmp", ignored);
  fs::remove(dir, ignored);
  if (fs::exists(dir, ignored)) fs::remove_all(dir, ignored);  // anything else found there
}

class Store;

class Catalog final : public TopicCatalog {
 public:
  explicit Catalog(Store& store) : store_(store) {}
  void create_topic(NewTopic topic, Handler<TopicInfo> done) override;
  void delete_topic(std::string name, Handler<Done> done) override;
  void add_partitions(std::string name, std::int32_t total, Handler<TopicInfo> done) override;
  void alter_configs(std::string name, std::vector<ConfigChange> changes, Handler<TopicInfo> done) override;
  void list_topics(Handler<std::vector<TopicInfo>> done) override;
  std::optional<TopicInfo> find_topic(const std::string& name) const override;
  std::optional<TopicInfo> find_topic(const TopicId& id) const override;

 private:
  Store& store_;
};

// ---------------------------------------------------------------------------
// Groups

class Groups final : public GroupStore {
 public:
  explicit Groups(fs::path dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    for (auto& e : fs::directory_iterator(dir_)) {
      auto id = unhex(e.path().stem().string());
      if (!id) continue;
      if (e.path().extension() == ".group") {
        if (auto data = read_file(e.path())) blobs_[*id] = std::vector<std::uint8_t>(data->begin(), data->end());
      } else if (e.path().extension() == ".offsets") {
        if (auto data = read_file(e.path())) offsets_[*id] = decode_offsets(*data);
      }
    }
  }

  void store_group(std::string group_id, std::vector<std::uint8_t> blob, Handler<Done> done) override {
    bool ok;
    {
      std::lock_guard lk(mu_);
      ok = write_file_atomic(path(group_id, ".group"), std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()));
      if (ok) blobs_[group_id] = std::move(blob);
    }
    done(ok ? Result<Done>::success({}) : Result<Done>::failure(Errc::io_error));
  }

  void delete_group(std::string group_id, Handler<Done> done) override {
    {
      std::lock_guard lk(mu_);
      blobs_.erase(group_id);
      offsets_.erase(group_id);
      std::error_code ec;
      fs::remove(path(group_id, ".group"), ec);
      fs::remove(path(group_id, ".offsets"), ec);
    }
    done(Result<Done>::success({}));
  }

  void load_groups(Handler<std::vector<GroupBlob>> done) override {
    std::vector<GroupBlob> out;
    {
      std::lock_guard lk(mu_);
      for (auto& [id, data] : blobs_) out.push_back({id, data});
    }
    done(Result<std::vector<GroupBlob>>::success(std::move(out)));
  }

  void commit_offsets(std::string group_id, std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
                      Handler<Done> done) override {
    bool ok;
    {
      std::lock_guard lk(mu_);
      auto copy = offsets_[group_id];
      for (auto& [tp, o] : offsets) copy[tp] = o;
      ok = write_file_atomic(path(group_id, ".offsets"), encode_offsets(copy));
      if (ok) offsets_[group_id] = std::move(copy);
    }
    done(ok ? Result<Done>::success({}) : Result<Done>::failure(Errc::io_error));
  }

  void fetch_offsets(std::string group_id,
                     Handler<std::vector<std::pair<TopicPartition, CommittedOffset>>> done) override {
    std::vector<std::pair<TopicPartition, CommittedOffset>> out;
    {
      std::lock_guard lk(mu_);
      auto it = offsets_.find(group_id);
      if (it != offsets_.end()) out.assign(it->second.begin(), it->second.end());
    }
    done(Result<decltype(out)>::success(std::move(out)));
  }

  void delete_offsets(std::string group_id, std::vector<TopicPartition> partitions, Handler<Done> done) override {
    bool ok = true;
    {
      std::lock_guard lk(mu_);
      auto it = offsets_.find(group_id);
      if (it != offsets_.end()) {
        auto copy = it->second;
        for (auto& tp : partitions) copy.erase(tp);
        ok = write_file_atomic(path(group_id, ".offsets"), encode_offsets(copy));
        if (ok) it->second = std::move(copy);
      }
    }
    done(ok ? Result<Done>::success({}) : Result<Done>::failure(Errc::io_error));
  }

  void list_groups(Handler<std::vector<std::string>> done) override {
    std::vector<std::string> out;
    {
      std::lock_guard lk(mu_);
      for (auto& [id, _] : blobs_) out.push_back(id);
      for (auto& [id, _] : offsets_)
        if (!blobs_.count(id)) out.push_back(id);
    }
    done(Result<std::vector<std::string>>::success(std::move(out)));
  }

  /// Forgets committed offsets of a deleted topic.
  void forget_topic(const std::string& topic) {
    std::lock_guard lk(mu_);
    for (auto& [gid, m] : offsets_) {
      bool changed = false;
      for (auto it = m.begin(); it != m.end();) {
        if (it->first.topic == topic) {
          it = m.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
      if (changed) write_file_atomic(path(gid, ".offsets"), encode_offsets(m));
    }
  }

 private:
  using OffsetMap = std::map<TopicPartition, CommittedOffset>;

  fs::path path(const std::string& id, const char* ext) const { return dir_ / (hex(id) + ext); }

  static void put_str(std::string& out, std::string_view s) {
    std::uint8_t b[4];
    put_be(b, s.size(), 4);
    out.append(reinterpret_cast<char*>(b), 4);
    out.append(s);
  }
  static void put_int(std::string& out, std::int64_t v) {
    std::uint8_t b[8];
    put_be(b, static_cast<std::uint64_t>(v), 8);
    out.append(reinterpret_cast<char*>(b), 8);
  }

  static std::string encode_offsets(const OffsetMap& m) {
    std::string out;
    for (auto& [tp, o] : m) {
      put_str(out, tp.topic);
      put_int(out, tp.partition);
      put_int(out, o.offset);
      put_int(out, o.leader_epoch);
      put_str(out, o.metadata);
      put_int(out, o.commit_timestamp);
    }
    return out;
  }

  static OffsetMap decode_offsets(const std::string& s) {
    OffsetMap m;
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    std::size_t at = 0, n = s.size();
    auto str = [&](std::string& out) {
      if (at + 4 > n) return false;
      std::size_t len = get_be(p + at, 4);
      at += 4;
      if (at + len > n) return false;
      out.assign(s.data() + at, len);
      at += len;
      return true;
    };
    auto num = [&](std::int64_t& out) {
      if (at + 8 > n) return false;
      out = static_cast<std::int64_t>(get_be(p + at, 8));
      at += 8;
      return true;
    };
    while (at < n) {
      TopicPartition tp;
      CommittedOffset o;
      std::int64_t part = 0, epoch = 0;
      if (!str(tp.topic) || !num(part) || !num(o.offset) || !num(epoch) || !str(o.metadata) ||
          !num(o.commit_timestamp))
        break;
      tp.partition = static_cast<std::int32_t>(part);
      o.leader_epoch = static_cast<std::int32_t>(epoch);
      m[tp] = o;
    }
    return m;
  }

  fs::path dir_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::uint8_t>> blobs_;
  std::map<std::string, OffsetMap> offsets_;
};

// ---------------------------------------------------------------------------
// The store

class Store final : public Storage {
 public:
  explicit Store(const Options& o) : opts_(o), catalog_(*this) {
    if (!opts_.files) opts_.files = std::make_shared<FileCache>(1024);
    root_ = opts_.dir / opts_.ns.tenant / opts_.ns.ns;
    fs::create_directories(root_ / "topics");
    groups_ = std::make_unique<Groups>(root_ / "groups");
    if (auto s = read_file(opts_.dir / "producer-ids")) {
      try {
        next_pid_ = std::stoll(*s);
      } catch (...) {
      }
    }
    pid_limit_ = next_pid_;
    for (auto& e : fs::directory_iterator(root_ / "topics")) {
      if (!e.is_directory()) continue;
      std::string name = e.path().filename().string();
      if (!valid_topic_name(name)) continue;  // e.g. a topic being deleted
      auto text = read_file(e.path() / "topic.meta");
      if (!text) continue;
      auto info = decode_topic_meta(name, *text);
      if (!info) continue;
      auto& t = topics_[name];
      t.info = *info;
      for (std::int32_t p = 0; p < info->partitions; ++p) t.logs.push_back(open_partition(t.info, p));
    }
  }
  ~Store() override {
    std::lock_guard lk(mu_);
    for (auto& [_, t] : topics_)
      for (auto& l : t.logs) l->close();
  }

  const Namespace& ns() const noexcept override { return opts_.ns; }
  TopicCatalog& topics() override { return catalog_; }
  GroupStore& groups() override { return *groups_; }

  void open_log(TopicPartition tp, Handler<std::shared_ptr<PartitionLog>> done) override {
    std::shared_ptr<PartitionLog> log;
    {
      std::lock_guard lk(mu_);
      auto it = topics_.find(tp.topic);
      if (it != topics_.end() && tp.partition >= 0 &&
          tp.partition < static_cast<std::int32_t>(it->second.logs.size())) {
        log = it->second.logs[static_cast<std::size_t>(tp.partition)];
      }
    }
    if (!log) return done(Result<std::shared_ptr<PartitionLog>>::failure(Errc::unknown_topic));
    done(Result<std::shared_ptr<PartitionLog>>::success(std::move(log)));
  }

  void allocate_producer_ids(std::int32_t count, Handler<std::int64_t> done) override {
    std::int64_t first;
    {
      std::lock_guard lk(mu_);
      if (next_pid_ + count > pid_limit_) {
        pid_limit_ = next_pid_ + count + 1000;
        if (!write_file_atomic(opts_.dir / "producer-ids", std::to_string(pid_limit_))) {
          return done(Result<std::int64_t>::failure(Errc::io_error));
        }
      }
      first = next_pid_;
      next_pid_ += count;
    }
    done(Result<std::int64_t>::success(first));
  }

  void maintain(std::chrono::system_clock::time_point now) override {
    std::vector<std::shared_ptr<Log>> logs;
    {
      std::lock_guard lk(mu_);
      for (auto& [_, t] : topics_) logs.insert(logs.end(), t.logs.begin(), t.logs.end());
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    for (auto& l : logs) l->maintain(ms);
  }

  void close(Handler<Done> done) override {
    {
      std::lock_guard lk(mu_);
      for (auto& [_, t] : topics_)
        for (auto& l : t.logs) l->close();
      topics_.clear();
    }
    done(Result<Done>::success({}));
  }

  // ---- used by the catalog ----
  struct Topic {
    TopicInfo info;
    std::vector<std::shared_ptr<Log>> logs;
  };

  Result<TopicInfo> create(NewTopic nt) {
    using R = Result<TopicInfo>;
    if (!valid_topic_name(nt.name)) return R::failure(Errc::invalid_config, "invalid topic name");
    if (nt.partitions <= 0) return R::failure(Errc::invalid_partitions, "partitions must be positive");
    std::lock_guard lk(mu_);
    if (topics_.count(nt.name)) return R::failure(Errc::topic_exists, "topic '" + nt.name + "' already exists");
    TopicInfo info;
    info.name = nt.name;
    info.partitions = nt.partitions;
    info.configs = std::move(nt.configs);
    std::random_device rd;
    for (auto& b : info.id) b = static_cast<std::uint8_t>(rd());
    info.id[6] = static_cast<std::uint8_t>((info.id[6] & 0x0f) | 0x40);
    info.id[8] = static_cast<std::uint8_t>((info.id[8] & 0x3f) | 0x80);
    auto dir = root_ / "topics" / info.name;
    // A topic that could not be made whole leaves nothing behind: no
    // directory that a restart would skip over and a retry would trip on.
    auto undo = [&](std::string why) {
      remove_new_topic(dir, info.partitions);
      return R::failure(Errc::io_error, "cannot create topic '" + info.name + "': " + why);
    };
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return undo(ec.message());
    if (!write_file_atomic(dir / "topic.meta", encode_topic_meta(info))) return undo(std::strerror(errno));
    auto& t = topics_[info.name];
    t.info = info;
    try {
      for (std::int32_t p = 0; p < info.partitions; ++p) t.logs.push_back(open_partition(info, p));
    } catch (const std::exception& e) {
      topics_.erase(info.name);  // closes the partitions opened so far
      return undo(e.what());
    }
    return R::success(info);
  }

  Result<Done> remove(const std::string& name) {
    std::vector<std::shared_ptr<Log>> logs;
    {
      std::lock_guard lk(mu_);
      auto it = topics_.find(name);
      if (it == topics_.end()) return Result<Done>::failure(Errc::unknown_topic);
      logs = std::move(it->second.logs);
      topics_.erase(it);
      // The logs first: an append already past its check may still roll to
      // a new ledger, which it creates in the directory (if that were gone,
      // the append would fail on a live log). Then rename, so that a crash
      // mid-delete does not bring the topic back, and remove.
      for (auto& l : logs) l->retire();
      auto dir = root_ / "topics" / name;
      auto gone = root_ / "topics" / (name + ".deleted~" + std::to_string(now_ms()));
      std::error_code ec;
      fs::rename(dir, gone, ec);
      fs::remove_all(ec ? dir : gone, ec);
    }
    groups_->forget_topic(name);
    return Result<Done>::success({});
  }

  Result<TopicInfo> grow(const std::string& name, std::int32_t total) {
    using R = Result<TopicInfo>;
    std::lock_guard lk(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return R::failure(Errc::unknown_topic);
    auto& t = it->second;
    if (total <= t.info.partitions) {
      return R::failure(Errc::invalid_partitions, "topic has " + std::to_string(t.info.partitions) +
                                                      " partitions; the new count must be larger");
    }
    TopicInfo info = t.info;
    info.partitions = total;
    if (!write_file_atomic(root_ / "topics" / name / "topic.meta", encode_topic_meta(info)))
      return R::failure(Errc::io_error);
    for (std::int32_t p = t.info.partitions; p < total; ++p) t.logs.push_back(open_partition(info, p));
    t.info = info;
    return R::success(info);
  }

  Result<TopicInfo> alter(const std::string& name, const std::vector<ConfigChange>& changes) {
    using R = Result<TopicInfo>;
    std::lock_guard lk(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return R::failure(Errc::unknown_topic);
    TopicInfo info = it->second.info;
    for (auto& c : changes) {
      if (c.op == ConfigChange::Op::set)
        info.configs[c.key] = c.value;
      else
        info.configs.erase(c.key);
    }
    if (!write_file_atomic(root_ / "topics" / name / "topic.meta", encode_topic_meta(info)))
      return R::failure(Errc::io_error);
    it->second.info = info;
    for (auto& l : it->second.logs) l->set_configs(info.configs);
    return R::success(info);
  }

  std::vector<TopicInfo> list() const {
    std::lock_guard lk(mu_);
    std::vector<TopicInfo> out;
    for (auto& [_, t] : topics_) out.push_back(t.info);
    return out;
  }

  std::optional<TopicInfo> find(const std::string& name) const {
    std::lock_guard lk(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return std::nullopt;
    return it->second.info;
  }

  std::optional<TopicInfo> find(const TopicId& id) const {
    std::lock_guard lk(mu_);
    for (auto& [_, t] : topics_)
      if (t.info.id == id) return t.info;
    return std::nullopt;
  }

 private:
  std::shared_ptr<Log> open_partition(const TopicInfo& info, std::int32_t p) {
    auto log = std::make_shared<Log>(TopicPartition{info.name, p}, root_ / "topics" / info.name / std::to_string(p),
                                     opts_, info.configs);
    log->open();
    return log;
  }

  Options opts_;
  fs::path root_;
  Catalog catalog_;
  std::unique_ptr<Groups> groups_;
  mutable std::mutex mu_;
  std::map<std::string, Topic> topics_;
  std::int64_t next_pid_ = 1000;
  std::int64_t pid_limit_ = 1000;
};

void Catalog::create_topic(NewTopic topic, Handler<TopicInfo> done) { done(store_.create(std::move(topic))); }
void Catalog::delete_topic(std::string name, Handler<Done> done) { done(store_.remove(name)); }
void Catalog::add_partitions(std::string name, std::int32_t total, Handler<TopicInfo> done) {
  done(store_.grow(name, total));
}
void Catalog::alter_configs(std::string name, std::vector<ConfigChange> changes, Handler<TopicInfo> done) {
  done(store_.alter(name, changes));
}
void Catalog::list_topics(Handler<std::vector<TopicInfo>> done) {
  done(Result<std::vector<TopicInfo>>::success(store_.list()));
}
std::optional<TopicInfo> Catalog::find_topic(const std::string& name) const { return store_.find(name); }
std::optional<TopicInfo> Catalog::find_topic(const TopicId& id) const { return store_.find(id); }

}  // namespace

std::unique_ptr<Storage> open(const Options& options) {
  try {
    return std::make_unique<Store>(options);
  } catch (const fs::filesystem_error& e) {
    throw std::runtime_error(e.what());
  }
}

}  // namespace kwire_broker::storage::embedded
