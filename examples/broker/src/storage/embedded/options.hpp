// Settings of the embedded store, from the broker's configuration.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "storage/embedded/file_cache.hpp"
#include "storage/types.hpp"

namespace kwire_broker::storage::embedded {

class Flusher;

enum class FlushPolicy : std::uint8_t {
  every_append,  // fdatasync before an append completes
  interval,      // fdatasync dirty logs every flush_interval
  never,         // leave it to the OS (and to close())
};

struct Options {
  std::filesystem::path dir;
  Namespace ns;
  std::int64_t segment_bytes = 1LL << 30;                 // log.segment.bytes
  std::int64_t segment_ms = 7LL * 24 * 3600 * 1000;       // log.roll.ms
  std::int64_t retention_ms = 7LL * 24 * 3600 * 1000;     // log.retention.ms (-1: forever)
  std::int64_t retention_bytes = -1;                      // log.retention.bytes per partition
  std::int64_t index_interval_bytes = 4096;               // log.index.interval.bytes
  FlushPolicy flush = FlushPolicy::interval;
  std::chrono::milliseconds flush_interval{1000};         // log.flush.interval.ms
  std::int32_t max_batch_bytes = 1048588;                 // message.max.bytes
  // Log compaction (topics with cleanup.policy=compact), Kafka's defaults.
  bool cleaner_enable = true;                             // log.cleaner.enable
  std::int64_t cleaner_backoff_ms = 15000;                // log.cleaner.backoff.ms
  std::int64_t dedupe_buffer_bytes = 128LL << 20;         // log.cleaner.dedupe.buffer.size
  double min_cleanable_ratio = 0.5;                       // log.cleaner.min.cleanable.ratio
  std::int64_t delete_retention_ms = 86400000;            // log.cleaner.delete.retention.ms
  std::int64_t min_compaction_lag_ms = 0;                 // log.cleaner.min.compaction.lag.ms
  std::int64_t max_compaction_lag_ms = INT64_MAX;         // log.cleaner.max.compaction.lag.ms
  /// Bounds the ledger files held open (kwire.log.max.open.files); shared by
  /// every namespace's store. Null: the store makes its own of 1024.
  std::shared_ptr<FileCache> files;
  /// The thread that runs fdatasync for the store's logs (set by the store,
  /// which owns it and outlives them).
  Flusher* flusher = nullptr;
  /// Told about recovery and retention (truncated tails, dropped ledgers).
  std::function<void(const std::string&)> report;
  /// Told what compaction did (routine, unlike `report`).
  std::function<void(const std::string&)> inform;
};

}  // namespace kwire_broker::storage::embedded
