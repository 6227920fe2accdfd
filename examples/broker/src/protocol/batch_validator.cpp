// See batch_validator.hpp. The checks run in the order Kafka applies them, so
// that a batch breaking several rules gets the error Kafka would give.
#include "protocol/batch_validator.hpp"

#include <cstdint>
#include <string_view>

#include "kwire/records/compression.hpp"

namespace kwire_broker {

using kwire::ErrorCode;

namespace {

Validation refuse(ErrorCode e, std::string message) {
  Validation v;
  v.error = e;
  v.message = std::move(message);
  return v;
}

std::string produce_v(std::int16_t version) { return "Produce requests with version " + std::to_string(version); }

// Kafka's bounds: now - before <= timestamp <= now + after, saturating: the
// bounds default to Long.MAX_VALUE and a producer may send anything.
bool timestamp_in_range(std::int64_t ts, const TopicRules& rules, std::int64_t now) {
  std::int64_t lowest, highest;
  if (__builtin_sub_overflow(now, rules.timestamp_before_max_ms, &lowest))
    lowest = rules.timestamp_before_max_ms > 0 ? INT64_MIN : INT64_MAX;
  if (__builtin_add_overflow(now, rules.timestamp_after_max_ms, &highest))
    highest = rules.timestamp_after_max_ms > 0 ? INT64_MAX : INT64_MIN;
  return ts >= lowest && ts <= highest;
}

std::int64_t config_int(const std::map<std::string, std::string>& c, const char* key, std::int64_t fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (...) {
    return fallback;
  }
}

}  // namespace

TopicRules TopicRules::from_configs(const std::map<std::string, std::string>& c, TopicRules r) {
  r.max_message_bytes = config_int(c, "max.message.bytes", r.max_message_bytes);
  r.segment_bytes = config_int(c, "segment.bytes", r.segment_bytes);
  r.timestamp_before_max_ms = config_int(c, "message.timestamp.before.max.ms", r.timestamp_before_max_ms);
  r.timestamp_after_max_ms = config_int(c, "message.timestamp.after.max.ms", r.timestamp_after_max_ms);
  if (auto it = c.find("message.timestamp.type"); it != c.end())
    r.timestamp_type = it->second == "LogAppendTime" ? kwire::TimestampType::log_append_time
                                                     : kwire::TimestampType::create_time;
  if (auto it = c.find("cleanup.policy"); it != c.end())
    r.compacted = it->second.find("compact") != std::string::npos;
  return r;
}

Validation validate_produce(kwire::records_view records, const TopicRules& rules, const ProduceContext& rq) {
  // acks is checked per request by Kafka; answering it here keeps every
  // refusal of a partition's records in one place.
  if (rq.acks != 0 && rq.acks != 1 && rq.acks != -1)
    return refuse(ErrorCode::InvalidRequiredAcks, "acks must be -1, 0 or 1");

  // ---- ProduceRequest.validateRecords: one whole magic-2 batch ----
  kwire::bytes_view set = kwire::records_bytes(records);
  kwire::RecordSetReader reader(set);
  kwire::LogEntry entry;
  if (!reader.next_entry(entry)) {
    // A header that cannot be a batch is corruption; no complete batch at
    // all (empty, or cut short) is Kafka's "at least one record batch".
    if (reader.error() && reader.error()->code != kwire::DecodeErrc::truncated)
      return refuse(ErrorCode::CorruptMessage, reader.error()->message());
    return refuse(ErrorCode::InvalidRecord, produce_v(rq.version) + " must have at least one record batch per partition");
  }
  if (entry.magic != 2)
    return refuse(ErrorCode::InvalidRecord,
                  produce_v(rq.version) + " are only allowed to contain record batches with magic version 2");
  kwire::DecodeError parse_error;
  auto view = kwire::RecordBatchView::parse(entry.bytes, &parse_error);
  if (!view) return refuse(ErrorCode::CorruptMessage, parse_error.message());
  // Attribute bits no producer writes: the batch is damaged.
  if (view->compression_id() > 4)
    return refuse(ErrorCode::CorruptMessage, "unknown compression codec id " + std::to_string(view->compression_id()));
  // Clients learn from ApiVersions that zstd came with Produce v7.
  if (view->compression() == kwire::Compression::zstd && rq.version < 7)
    return refuse(ErrorCode::UnsupportedCompressionType,
                  produce_v(rq.version) + " are not allowed to use ZStandard compression");
  // Anything after the batch, even a partial one: producers send one batch
  // per partition since v3, so the rest is a broken or hostile client.
  if (reader.position() != set.size())
    return refuse(ErrorCode::InvalidRecord,
                  produce_v(rq.version) + " are only allowed to contain exactly one record batch per partition");

  // ---- UnifiedLog.analyzeAndValidateRecords: size, CRC, segment ----
  if (static_cast<std::int64_t>(view->size()) > rules.max_message_bytes)
    return refuse(ErrorCode::MessageTooLarge, "the record batch is " + std::to_string(view->size()) +
                                                  " bytes, more than max.message.bytes " +
                                                  std::to_string(rules.max_message_bytes));
  if (!view->crc_valid()) return refuse(ErrorCode::CorruptMessage, "record batch CRC mismatch");
  // A batch is never split across segments.
  if (static_cast<std::int64_t>(view->size()) > rules.segment_bytes)
    return refuse(ErrorCode::RecordListTooLarge, "the record batch is larger than segment.bytes " +
                                                     std::to_string(rules.segment_bytes));

  // ---- LogValidator.validateBatch: the header agrees with itself ----
  // Storage trusts lastOffsetDelta to number the records: it must match the
  // count, which must be positive.
  if (view->record_count() <= 0)
    return refuse(ErrorCode::InvalidRecord, "invalid record count " + std::to_string(view->record_count()));
  if (view->last_offset_delta() < 0 ||
      static_cast<std::int64_t>(view->last_offset_delta()) + 1 != view->record_count())
    return refuse(ErrorCode::InvalidRecord, "inconsistent batch offset range and record count");
  // Control records (transaction markers) are written by the broker itself.
  if (view->is_control()) return refuse(ErrorCode::InvalidRecord, "clients are not allowed to write control records");
  // Idempotence needs a sequence wherever there is a producer id; a
  // transaction needs a producer id.
  if (view->producer_id() >= 0 && view->base_sequence() < 0)
    return refuse(ErrorCode::InvalidRecord, "invalid sequence number " + std::to_string(view->base_sequence()) +
                                                " in record batch with producer id " +
                                                std::to_string(view->producer_id()));
  if (view->is_transactional() && view->producer_id() < 0)
    return refuse(ErrorCode::InvalidRecord, "a transactional record batch needs a producer id");

  // ---- LogValidator.validateRecord: every record ----
  // Compressed records are inflated to be read, as Kafka does: offsets,
  // timestamps and keys are inside the compressed data.
  std::vector<std::uint8_t> scratch;
  auto rr = view->records(scratch, &kwire::decompress);
  const bool create_time = rules.timestamp_type == kwire::TimestampType::create_time;
  Validation out;
  bool bad_timestamp = false;
  std::int64_t max_ts = kwire::no_timestamp;
  kwire::RecordView rec;
  std::int32_t index = 0;
  while (rr.next(rec)) {
    if (rec.offset_delta != index) {
      out.record_errors.push_back({index, "offset delta " + std::to_string(rec.offset_delta) + ", expected " +
                                              std::to_string(index)});
    }
    std::int64_t ts = view->timestamp_of(rec);
    if (ts > max_ts) max_ts = ts;
    if (create_time && ts != kwire::no_timestamp && !timestamp_in_range(ts, rules, rq.now_ms)) {
      bad_timestamp = true;
      out.record_errors.push_back({index, "timestamp " + std::to_string(ts) + " is out of range [now - " +
                                              std::to_string(rules.timestamp_before_max_ms) + ", now + " +
                                              std::to_string(rules.timestamp_after_max_ms) + "]"});
    }
    // Compaction keeps the last record of each key: a record without one
    // could never be compacted away.
    if (rules.compacted && !rec.key) out.record_errors.push_back({index, "compacted topic needs a key"});
    ++index;
  }
  if (!rr.ok()) {
    const auto& e = *rr.error();
    return refuse(e.code == kwire::DecodeErrc::decompression_failed || e.code == kwire::DecodeErrc::limit_exceeded
                      ? ErrorCode::CorruptMessage
                      : ErrorCode::InvalidRecord,
                  e.message());
  }
  if (!out.record_errors.empty()) {
    // As Kafka: any timestamp error makes the whole refusal INVALID_TIMESTAMP.
    out.error = bad_timestamp ? ErrorCode::InvalidTimestamp : ErrorCode::InvalidRecord;
    out.message = std::to_string(out.record_errors.size()) + " record(s) refused; first: record " +
                  std::to_string(out.record_errors.front().batch_index) + ": " + out.record_errors.front().message;
    return out;
  }

  // ---- stamps, once, on our own copy ----
  storage::AppendBatch vb;
  vb.bytes.assign(entry.bytes.begin(), entry.bytes.end());
  kwire::set_partition_leader_epoch(vb.bytes, rq.leader_epoch);
  if (create_time) {
    // The time index trusts maxTimestamp: make it the records' own maximum
    // (unchanged, and no CRC work, for every well-behaved producer).
    kwire::set_max_timestamp(vb.bytes, kwire::TimestampType::create_time, max_ts);
  } else {
    kwire::set_log_append_time(vb.bytes, rq.now_ms);
    out.log_append_time = rq.now_ms;
  }
  vb.info = storage::BatchInfo::of(*kwire::RecordBatchView::parse(vb.bytes));
  out.batches.push_back(std::move(vb));
  return out;
}

}  // namespace kwire_broker
