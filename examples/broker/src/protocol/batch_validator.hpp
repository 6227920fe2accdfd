// The one place where a produced record set is checked and stamped before
// storage sees it, after the rules of Kafka's ProduceRequest.validateRecords,
// UnifiedLog.analyzeAndValidateRecords and LogValidator for a leader taking a
// client's batch (magic 2, Produce v3 and later):
//
//   - exactly one complete magic-2 batch per partition;
//   - size limits, the CRC-32C, the header's own consistency;
//   - every record read (compressed batches are inflated to read them), with
//     per-record errors (Kafka's RecordErrors) for offsets, timestamps and
//     missing keys on compacted topics;
//   - stamps: partition leader epoch, and LogAppendTime or the true
//     maxTimestamp under CreateTime. The base offset is left for storage.
//
// Decisions where the broker does less than Kafka:
//   - compression.type of the topic is not honoured: batches are stored with
//     the producer's codec (Kafka's default, compression.type=producer).
//     Kafka recompresses when the topic names another codec; that needs a
//     rebuild of the batch and is left out.
//   - transactional batches are only checked for consistent producer fields
//     here; whether their transaction added the partition is the produce
//     handler's check with the transaction coordinator.
//   - inflated records are bounded (RecordBatchView::default_inflate_limit);
//     a batch inflating past it is refused as corrupt.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "kwire/messages/error_code.hpp"
#include "kwire/records/batch.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

/// The topic's settings that bear on produced batches.
struct TopicRules {
  std::int64_t max_message_bytes = 1048588;  // max.message.bytes (and the store's own limit)
  std::int64_t segment_bytes = 1LL << 30;    // segment.bytes
  kwire::TimestampType timestamp_type = kwire::TimestampType::create_time;  // message.timestamp.type
  std::int64_t timestamp_before_max_ms = std::numeric_limits<std::int64_t>::max();  // message.timestamp.before.max.ms
  std::int64_t timestamp_after_max_ms = 3600000;  // message.timestamp.after.max.ms (Kafka 4 default)
  bool compacted = false;                          // cleanup.policy contains compact

  /// From a topic's configs (Kafka's names), over the broker's defaults.
  static TopicRules from_configs(const std::map<std::string, std::string>& configs, TopicRules defaults);
  static TopicRules from_configs(const std::map<std::string, std::string>& configs) {
    return from_configs(configs, TopicRules{});
  }
};

/// The request around the records.
struct ProduceContext {
  std::int16_t version = 11;     // Produce request version
  std::int16_t acks = -1;
  std::int64_t now_ms = 0;       // the clock, for LogAppendTime and timestamp bounds
  std::int32_t leader_epoch = 0; // stamped into partitionLeaderEpoch
};

/// One refused record: its index in the batch and why (Produce v8+ answers
/// these as record_errors).
struct RecordError {
  std::int32_t batch_index = 0;
  std::string message;
};

struct Validation {
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::string message;
  std::vector<RecordError> record_errors;
  /// When ok: the batches to append, in order, each with the facts storage
  /// needs (storage::BatchInfo), read once from the stamped bytes.
  std::vector<storage::AppendBatch> batches;
  std::int64_t log_append_time = -1;    // the stamped time under LogAppendTime

  bool ok() const noexcept { return error == kwire::ErrorCode::None; }
  std::int16_t code() const noexcept { return static_cast<std::int16_t>(error); }
};

/// Checks and stamps one partition's records from a Produce request.
Validation validate_produce(kwire::records_view records, const TopicRules& rules, const ProduceContext& request);

}  // namespace kwire_broker
