// One ledger (segment) of a partition log: a file of record batches, its
// sparse offset index and its time index.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "storage/embedded/file_cache.hpp"
#include "storage/types.hpp"

namespace kwire_broker::storage::embedded {

struct IndexEntry {
  std::uint32_t rel_offset;
  std::uint32_t position;
};
struct TimeEntry {
  std::int64_t timestamp;
  std::uint32_t rel_offset;
};

/// What the header of one stored batch says: its size and its facts.
struct EntryHeader {
  std::size_t size = 0;
  BatchInfo info;
};

/// Reads a batch header on its own (the batch's first 61 bytes); nullopt if
/// it is not the header of a magic-2 batch.
std::optional<EntryHeader> read_entry_header(const std::uint8_t* header) noexcept;

/// The ledger file name for a base offset, zero-padded so names sort.
std::string segment_name(std::int64_t base);

struct Segment {
  std::int64_t base = 0;  // Kafka offset of its first batch; also its ledger id
  // Tells a ledger from the one that replaced it (compaction) or that was
  // created at the same base after it was dropped.
  std::uint64_t id = next_id();
  std::filesystem::path log_path;
  // The indexes below live in memory; a sealed ledger also has them in
  // its .index and .timeindex files, written once when it is sealed. The
  // active ledger's are never written: reopening scans it anyway (recovery),
  // so an append costs one write, not three.
  CachedFile log;
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
  void close_files();
  std::filesystem::path sibling(const char* ext) const;
  void remove_files();

  /// Position in the file of the last indexed batch at or before `offset`.
  std::uint64_t lookup(std::int64_t offset) const;
  /// Position of the last indexed batch that starts at or before `pos`.
  std::uint64_t indexed_at_or_before(std::uint64_t pos) const;
  /// The header of the batch at `pos`, if a whole header is there.
  std::optional<EntryHeader> header_at(std::uint64_t pos) const;

  /// Notes a batch written at `pos` in the indexes (every `interval` bytes).
  void add_index(std::int64_t batch_base, std::uint64_t pos, std::int64_t max_ts, std::int64_t last_off,
                 std::int64_t interval);
  /// Loads a sealed ledger's index files; false if they are missing or bad.
  bool load_indexes();
  /// Seals the indexes: the time index gets the ledger's largest timestamp
  /// as its last entry (what retention and lookups by time read of a sealed
  /// ledger after a restart), then both files are written whole from
  /// memory, each atomically and synced (a crash leaves the old file or the
  /// new one, never a part).
  bool write_indexes();

 private:
  static std::uint64_t next_id() noexcept;
};

}  // namespace kwire_broker::storage::embedded
