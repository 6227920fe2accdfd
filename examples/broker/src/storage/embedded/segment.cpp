#include "storage/embedded/segment.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <system_error>

#include "kwire/records/batch.hpp"
#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {

std::optional<EntryHeader> read_entry_header(const std::uint8_t* header) noexcept {
  namespace layout = kwire::batch_layout;
  auto length = kwire::records_detail::load_be<std::int32_t>(header + layout::batch_length);
  constexpr auto header_only = static_cast<std::int32_t>(layout::header_size - layout::log_overhead);
  if (length < header_only) return std::nullopt;
  // RecordBatchView views whole batches, and only the header has been read:
  // every fact needed is in it, so view a copy whose length covers it alone.
  std::array<std::uint8_t, layout::header_size> copy;
  std::copy_n(header, copy.size(), copy.begin());
  kwire::records_detail::store_be(copy.data() + layout::batch_length, header_only);
  auto view = kwire::RecordBatchView::parse(kwire::bytes_view(copy));
  if (!view || view->last_offset_delta() < 0) return std::nullopt;
  return EntryHeader{static_cast<std::size_t>(length) + layout::log_overhead, BatchInfo::of(*view)};
}

std::string segment_name(std::int64_t base) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(base));
  return buf;
}

std::uint64_t Segment::next_id() noexcept {
  static std::atomic<std::uint64_t> ids{1};
  return ids.fetch_add(1, std::memory_order_relaxed);
}

void Segment::close_files() {
  log.close();
}

std::filesystem::path Segment::sibling(const char* ext) const {
  auto p = log_path;
  p.replace_extension(ext);
  return p;
}

void Segment::remove_files() {
  close_files();
  std::error_code ec;
  fs::remove(log_path, ec);
  fs::remove(sibling(".index"), ec);
  fs::remove(sibling(".timeindex"), ec);
}

std::uint64_t Segment::lookup(std::int64_t offset) const {
  auto rel = static_cast<std::uint32_t>(std::max<std::int64_t>(0, offset - base));
  auto it = std::upper_bound(index.begin(), index.end(), rel,
                             [](std::uint32_t r, const IndexEntry& e) { return r < e.rel_offset; });
  if (it == index.begin()) return 0;
  return std::prev(it)->position;
}

std::uint64_t Segment::indexed_at_or_before(std::uint64_t pos) const {
  auto it = std::upper_bound(index.begin(), index.end(), pos,
                             [](std::uint64_t p, const IndexEntry& e) { return p < e.position; });
  if (it == index.begin()) return 0;
  return std::prev(it)->position;
}

std::optional<EntryHeader> Segment::header_at(std::uint64_t pos) const {
  std::uint8_t buf[kwire::batch_layout::header_size];
  if (pos + sizeof buf > size) return std::nullopt;
  auto file = log.use();
  if (!file || !pread_all(file.fd(), buf, sizeof buf, pos)) return std::nullopt;
  return read_entry_header(buf);
}

void Segment::add_index(std::int64_t batch_base, std::uint64_t pos, std::int64_t max_ts, std::int64_t last_off,
                        std::int64_t interval) {
  if (index.empty() || bytes_since_index >= static_cast<std::uint64_t>(interval)) {
    IndexEntry e{static_cast<std::uint32_t>(batch_base - base), static_cast<std::uint32_t>(pos)};
    index.push_back(e);
    bytes_since_index = 0;
    if (max_ts > (tindex.empty() ? -1 : tindex.back().timestamp)) {
      TimeEntry t{max_ts, static_cast<std::uint32_t>(last_off - base)};
      tindex.push_back(t);
    }
  }
  if (max_ts > max_timestamp) {
    max_timestamp = max_ts;
    max_ts_offset = last_off;
  }
}

bool Segment::load_indexes() {
  auto idx = read_file(sibling(".index"));
  auto tix = read_file(sibling(".timeindex"));
  if (!idx || !tix || idx->empty() || idx->size() % 8 || tix->size() % 12) return false;
  const auto* p = reinterpret_cast<const std::uint8_t*>(idx->data());
  for (std::size_t i = 0; i < idx->size(); i += 8) {
    IndexEntry e{static_cast<std::uint32_t>(get_be(p + i, 4)), static_cast<std::uint32_t>(get_be(p + i + 4, 4))};
    if (e.position >= size) return false;
    index.push_back(e);
  }
  p = reinterpret_cast<const std::uint8_t*>(tix->data());
  for (std::size_t i = 0; i < tix->size(); i += 12) {
    tindex.push_back({static_cast<std::int64_t>(get_be(p + i, 8)), static_cast<std::uint32_t>(get_be(p + i + 8, 4))});
  }
  if (!tindex.empty()) {
    max_timestamp = tindex.back().timestamp;
    max_ts_offset = base + tindex.back().rel_offset;
  }
  entries = 0;  // not needed for sealed ledgers
  return true;
}

bool Segment::write_indexes() {
  // Index entries are sparse: without this, a ledger reloaded from its files
  // would seem as old as its last indexed batch.
  if (max_timestamp > (tindex.empty() ? -1 : tindex.back().timestamp) && max_ts_offset >= base) {
    tindex.push_back({max_timestamp, static_cast<std::uint32_t>(max_ts_offset - base)});
  }
  std::string idx(index.size() * 8, '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(idx.data());
  for (const auto& e : index) {
    put_be(p, e.rel_offset, 4);
    put_be(p + 4, e.position, 4);
    p += 8;
  }
  std::string tix(tindex.size() * 12, '\0');
  p = reinterpret_cast<std::uint8_t*>(tix.data());
  for (const auto& t : tindex) {
    put_be(p, static_cast<std::uint64_t>(t.timestamp), 8);
    put_be(p + 8, t.rel_offset, 4);
    p += 12;
  }
  return write_file_atomic(sibling(".index"), idx) && write_file_atomic(sibling(".timeindex"), tix);
}

}  // namespace kwire_broker::storage::embedded
