// The embedded store: the broker's default storage, on local disk.
//
// Layout under the data directory:
//
//   <dir>/<tenant>/<ns>/topics/<topic>/topic.meta        id, partitions, configs
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/<base>.log    a ledger (segment): entries
//                                                        = record batches, as produced
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/<base>.index  sparse: (relative offset, position)
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/<base>.timeindex  (max timestamp, relative offset)
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/log-start     log start offset after DeleteRecords
//   <dir>/<tenant>/<ns>/groups/<hex id>.group            group metadata blob
//   <dir>/<tenant>/<ns>/groups/<hex id>.offsets          committed offsets
//   <dir>/producer-ids                                   next producer id block
//
// Every call completes inline on the calling thread. Each partition log has
// its own mutex; appends write to the page cache and are made durable according
// to the flush policy. Opening the store recovers every partition: the last
// ledger is read entry by entry, checking each batch's CRC, and a torn tail is
// cut off.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "storage/embedded/file_cache.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

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
  /// Bounds the ledger files held open (kwire.log.max.open.files); shared by
  /// every namespace's store. Null: the store makes its own of 1024.
  std::shared_ptr<FileCache> files;
  /// Told about recovery and retention (truncated tails, dropped ledgers).
  std::function<void(const std::string&)> report;
};

/// Opens (creating if needed) the store and recovers every partition.
/// Throws std::runtime_error when the directory cannot be used.
std::unique_ptr<Storage> open(const Options& options);

}  // namespace kwire_broker::storage::embedded
