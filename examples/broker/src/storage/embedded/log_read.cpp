// The embedded store's read path: which bytes of which ledgers a read returns.
//
// Batches in a ledger are contiguous and their offsets dense, so a read is
// one run of bytes per ledger: it starts at the batch holding the asked
// offset and ends at a batch boundary within the byte budget. Both ends are
// found with the sparse offset index (an entry every log.index.interval.bytes,
// each at a batch boundary) and a few header reads from there, so a read of a
// thousand small batches reads a handful of headers, not a thousand.
//
// The result is a region of each ledger file, not its bytes: the broker sends
// regions with sendfile, and nothing is copied into the broker's memory. A
// region ends at most at the ledger's committed size, read under the log's
// lock, so it never shows bytes an append has not finished. The store never
// changes committed bytes (it cuts a ledger back only to its committed size:
// a torn tail when the log is opened, the partial write of a failed append),
// and it removes ledgers by unlinking them, so a region held while its
// ledger is dropped (retention, DeleteRecords, a deleted topic) still reads
// what it read.
#include <unistd.h>

#include <algorithm>

#include "storage/embedded/files.hpp"
#include "storage/embedded/log.hpp"

namespace kwire_broker::storage::embedded {

namespace {

/// Where a run of whole batches ends in a ledger, and the offset after it.
struct RunEnd {
  std::uint64_t pos = 0;
  std::int64_t next_offset = 0;
};

/// The first batch boundary at or after `pos` whose batch starts at or after
/// offset `end` (a batch holding `end` is included whole: offsets are
/// exclusive limits only between batches).
RunEnd boundary_for_offset(const Segment& s, std::int64_t end) {
  std::uint64_t pos = s.lookup(end);
  while (pos < s.size) {
    auto h = s.header_at(pos);
    if (!h) break;
    if (h->info.base_offset >= end) return {pos, h->info.base_offset};
    pos += h->size;
  }
  return {s.size, s.next_offset};
}

/// The last batch boundary at or before `cap`, at or after `from` (itself a
/// boundary), scanning headers from the closest index entry below `cap`.
RunEnd boundary_below(const Segment& s, std::uint64_t from, std::uint64_t cap) {
  std::uint64_t pos = std::max(from, s.indexed_at_or_before(cap));
  for (;;) {
    auto h = s.header_at(pos);
    if (!h) return {pos, -1};
    if (pos + h->size > cap) return {pos, h->info.base_offset};
    pos += h->size;
  }
}

}  // namespace

Result<ReadResult> Log::read_locked(const ReadOptions& o) const {
  using R = Result<ReadResult>;
  if (auto e = gone(); e != Errc::ok) return R::failure(e);
  ReadResult rr;
  rr.offsets = offsets_locked();
  rr.next_offset = o.offset;
  // read_committed stops at the last stable offset, which is a batch
  // boundary (the first batch of an open transaction).
  const std::int64_t readable_end = o.read_committed ? rr.offsets.last_stable : rr.offsets.high_watermark;
  const std::int64_t end = o.end_offset < 0 ? readable_end : std::min(o.end_offset, readable_end);
  if (o.offset < rr.offsets.log_start || o.offset > rr.offsets.high_watermark) {
    R r = R::failure(Errc::offset_out_of_range);
    r.value.offsets = rr.offsets;
    return r;
  }
  struct Run {
    const Segment* seg;
    std::uint64_t from, to;
  };
  std::vector<Run> runs;
  std::uint64_t taken = 0;
  const std::uint64_t budget = o.max_bytes < 0 ? 0 : static_cast<std::uint64_t>(o.max_bytes);
  std::int64_t offset = o.offset;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](std::int64_t off, const std::unique_ptr<Segment>& s) { return off < s->base; });
  if (it != segments_.begin()) --it;
  for (; it != segments_.end() && offset < end; ++it) {
    const Segment& s = **it;
    // The batch holding `offset`: from the index entry at or below it.
    std::uint64_t start = offset > s.base ? s.lookup(offset) : 0;
    std::optional<EntryHeader> first;
    while (start < s.size) {
      first = s.header_at(start);
      if (!first || first->info.last_offset() >= offset) break;
      start += first->size;
      first.reset();
    }
    if (!first) continue;
    if (first->info.base_offset >= end) break;
    // Committed bytes only: up to the ledger's size, and not past `end`.
    RunEnd limit{s.size, s.next_offset};
    if (end < s.next_offset) limit = boundary_for_offset(s, end);
    const std::uint64_t room = budget > taken ? budget - taken : 0;
    RunEnd stop = limit;
    if (limit.pos - start > room) {
      if (first->size > room) {
        // Kafka returns the first batch whole even past the limit, so that
        // a consumer always progresses.
        if (runs.empty() && o.at_least_one)
          stop = {start + first->size, first->info.last_offset() + 1};
        else
          break;
      } else {
        stop = boundary_below(s, start, start + room);
        if (stop.next_offset < 0) stop = {start + first->size, first->info.last_offset() + 1};
      }
    }
    runs.push_back({&s, start, stop.pos});
    taken += stop.pos - start;
    offset = stop.next_offset;
    rr.next_offset = offset;
    if (stop.pos < limit.pos || limit.pos < s.size || taken >= budget) break;
  }
  // The bytes stay where they are: each run is a region of its ledger, whose
  // descriptor the result holds open.
  for (const auto& run : runs) {
    auto file = run.seg->log.share();
    if (!file) return R::failure(Errc::io_error, "cannot open " + run.seg->log_path.string());
    rr.regions.push_back({std::move(file), run.from, run.to - run.from});
  }
  if (o.read_committed && rr.next_offset > o.offset) rr.aborted = aborted_between_locked(o.offset, rr.next_offset);
  return R::success(std::move(rr));
}

}  // namespace kwire_broker::storage::embedded
