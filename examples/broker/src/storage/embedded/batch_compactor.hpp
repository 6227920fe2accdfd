// Log compaction of one record batch: which of its records a compacted log
// keeps, and the batch that holds just those.
//
// The rules are Kafka's (its log cleaner): a record stays if no later record
// of the log has its key; a tombstone (null value) that stays is kept until
// the batch's delete horizon has passed, the horizon being set (KIP-534) the
// first time a cleaning keeps it; records of aborted transactions go; control
// batches (transaction markers) stay as they are. A batch that loses every
// record is dropped, unless it is its producer's last batch: then it stays
// empty, so that the producer's sequence and epoch are still found in the log.
//
// A rewritten batch keeps its base offset, last offset delta, producer
// fields and leader epoch, so offsets never move and consumers and producer
// state see what they saw before. Its records are the kept records' own bytes
// (re-encoded only when a new delete horizon moves their timestamp base),
// compressed again with the batch's codec.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kwire/records/batch.hpp"

namespace kwire_broker::storage::embedded {

/// What a cleaning knows when it looks at one batch.
struct CompactionContext {
  /// The offset of the newest record with `key` in the part of the log being
  /// compacted; nullopt when the key does not occur there.
  std::function<std::optional<std::int64_t>(kwire::bytes_view key)> latest_offset;
  /// Whether the batch is part of an aborted transaction.
  bool aborted = false;
  /// Whether the batch is the last its producer wrote.
  bool producers_last = false;
  std::int64_t now_ms = 0;
  /// delete.retention.ms: how long a kept tombstone stays after its first
  /// cleaning.
  std::int64_t delete_retention_ms = 86400000;
};

enum class BatchFate : std::uint8_t {
  unchanged,  // keep the batch's bytes as they are
  rewritten,  // `out` holds the batch that replaces it
  dropped,    // nothing of it stays
};

/// Decides the fate of `batch`; for `rewritten`, replaces `out` with the new
/// batch. A batch whose records cannot be read, or cannot be compressed
/// again, is kept unchanged: compaction never drops what it cannot account
/// for.
BatchFate compact_batch(const kwire::RecordBatchView& batch, const CompactionContext& ctx,
                        std::vector<std::uint8_t>& out);

}  // namespace kwire_broker::storage::embedded
