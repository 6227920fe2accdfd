// Value types shared by every storage implementation behind the broker's seam.
//
// Nothing here knows the Kafka protocol beyond a record batch's header
// (magic 2), read through kwire/records: its offsets, the producer fields for
// idempotence, and the timestamps for the time index.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "kwire/records/batch.hpp"

namespace kwire_broker::storage {

/// What went wrong in a storage call. The broker maps each to a Kafka error code.
enum class Errc : std::uint8_t {
  ok,
  unknown_topic,             // UNKNOWN_TOPIC_OR_PARTITION
  topic_exists,              // TOPIC_ALREADY_EXISTS
  invalid_partitions,        // INVALID_PARTITIONS (count not larger, or not positive)
  invalid_config,            // INVALID_CONFIG
  offset_out_of_range,       // OFFSET_OUT_OF_RANGE
  corrupt_batch,             // CORRUPT_MESSAGE (bad header, CRC, magic below 2)
  batch_too_large,           // MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE
  duplicate_sequence,        // an idempotent retry of a batch already in the log
  out_of_order_sequence,     // OUT_OF_ORDER_SEQUENCE_NUMBER
  invalid_producer_epoch,    // INVALID_PRODUCER_EPOCH (an older epoch writes)
  unknown_producer_id,       // UNKNOWN_PRODUCER_ID
  invalid_txn_state,         // INVALID_TXN_STATE (a plain write inside a producer's open transaction)
  coordinator_fenced,        // TRANSACTION_COORDINATOR_FENCED (a marker from an older coordinator)
  unsupported,               // the backend does not do this (transactions on Pulsar, for now)
  group_not_found,           // GROUP_ID_NOT_FOUND
  unavailable,               // the backend cannot be reached now: retriable
  timeout,                   // the backend did not answer in time: retriable
  io_error,                  // local disk or remote call failed: KAFKA_STORAGE_ERROR
  closed,                    // the store is shutting down
  in_use,                    // others use it (a share queue with consumers): NON_EMPTY_GROUP
};

const char* to_string(Errc e) noexcept;

/// The outcome of an asynchronous call: an error code with text, and a value.
/// `value` is meaningful when ok(), and for duplicate_sequence (where it holds
/// the result of the original append).
template <class T>
struct Result {
  Errc error = Errc::ok;
  std::string message;
  T value{};

  bool ok() const noexcept { return error == Errc::ok; }
  static Result success(T v) { return Result{Errc::ok, {}, std::move(v)}; }
  static Result failure(Errc e, std::string msg = {}) { return Result{e, std::move(msg), T{}}; }
};

/// For calls that return nothing but success or failure.
using Done = std::monostate;

/// Where Kafka topics live in the backend's hierarchy. A Kafka topic `orders`
/// is the backend topic `persistent://<tenant>/<ns>/orders`, and its partition
/// p is `orders-partition-<p>`, exactly Pulsar's naming for partitioned topics.
struct Namespace {
  std::string tenant = "public";
  std::string ns = "default";
};

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;

  friend bool operator==(const TopicPartition&, const TopicPartition&) = default;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

/// 16 bytes, as Kafka's topic ids.
using TopicId = std::array<std::uint8_t, 16>;

/// A position in a partition's log: the ledger (a segment of the log) and the
/// entry within it. One entry holds one Kafka record batch, so a position names
/// a batch; the Kafka offset of its first record is kept alongside.
struct Position {
  std::uint64_t ledger = 0;
  std::uint64_t entry = 0;
  friend bool operator==(const Position&, const Position&) = default;
  friend auto operator<=>(const Position&, const Position&) = default;
};

/// An open file that read results refer to: the descriptor stays open while
/// anyone holds it, whatever the store does meanwhile. A store that hands
/// out regions of its files only appends to them and removes them by
/// unlinking, so the bytes of a region never change and stay readable
/// through the descriptor after the file is gone (retention, DeleteRecords,
/// a deleted topic).
class OpenFile {
 public:
  explicit OpenFile(int fd) noexcept : fd_(fd) {}
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

/// `size` bytes of `file` from `offset`.
struct FileRegion {
  std::shared_ptr<const OpenFile> file;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

/// Topic-level configuration, by Kafka's names ("retention.ms", ...). Only the
/// keys a user set are present; defaults are the broker's business.
using Configs = std::map<std::string, std::string>;

/// Kafka's rule for topic names (its Topic.validate): 1 to 249 of
/// [a-zA-Z0-9._-], not "." or "..". Stores refuse other names, and the
/// broker answers INVALID_TOPIC_EXCEPTION for them.
inline bool valid_topic_name(std::string_view n) noexcept {
  if (n.empty() || n.size() > 249 || n == "." || n == "..") return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

struct TopicInfo {
  std::string name;
  TopicId id{};
  std::int32_t partitions = 0;
  Configs configs;
};

struct ConfigChange {
  enum class Op : std::uint8_t { set, remove };
  std::string key;
  Op op = Op::set;
  std::string value;
};

// ---------------------------------------------------------------------------
// What storage knows of a record batch

/// The facts of one record batch (magic 2) that storage needs: its size in
/// offsets, its timestamps for the time index, and the producer fields for
/// idempotence. Read once from the header with kwire/records (`of`) by
/// whoever holds the batch: the broker's validator for an append, the store
/// itself when it scans its own log.
struct BatchInfo {
  std::int64_t base_offset = 0;
  std::int32_t last_offset_delta = 0;
  std::int32_t record_count = 0;
  std::int64_t max_timestamp = -1;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;
  bool log_append_time = false;

  static BatchInfo of(const kwire::RecordBatchView& b) noexcept {
    BatchInfo i;
    i.base_offset = b.base_offset();
    i.last_offset_delta = b.last_offset_delta();
    i.record_count = b.record_count();
    i.max_timestamp = b.max_timestamp();
    i.producer_id = b.producer_id();
    i.producer_epoch = b.producer_epoch();
    i.base_sequence = b.base_sequence();
    i.transactional = b.is_transactional();
    i.control = b.is_control();
    i.log_append_time = b.timestamp_type() == kwire::TimestampType::log_append_time;
    return i;
  }

  std::int64_t last_offset() const noexcept { return kwire::records_detail::wrapping_add(base_offset, last_offset_delta); }
  bool idempotent() const noexcept { return producer_id >= 0; }
  /// The sequence number of the last record, wrapping as Kafka does.
  std::int32_t last_sequence() const noexcept {
    if (base_sequence < 0) return -1;
    std::int64_t s = static_cast<std::int64_t>(base_sequence) + last_offset_delta;
    return static_cast<std::int32_t>(s > 0x7fffffff ? s - 0x80000000LL : s);
  }
};

inline const char* to_string(Errc e) noexcept {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::unknown_topic: return "unknown topic or partition";
    case Errc::topic_exists: return "topic already exists";
    case Errc::invalid_partitions: return "invalid partition count";
    case Errc::invalid_config: return "invalid config";
    case Errc::offset_out_of_range: return "offset out of range";
    case Errc::corrupt_batch: return "corrupt record batch";
    case Errc::batch_too_large: return "record batch too large";
    case Errc::duplicate_sequence: return "duplicate sequence";
    case Errc::out_of_order_sequence: return "out of order sequence";
    case Errc::invalid_producer_epoch: return "invalid producer epoch";
    case Errc::unknown_producer_id: return "unknown producer id";
    case Errc::invalid_txn_state: return "invalid transaction state";
    case Errc::coordinator_fenced: return "transaction coordinator fenced";
    case Errc::unsupported: return "not supported by this storage";
    case Errc::group_not_found: return "group not found";
    case Errc::unavailable: return "storage unavailable";
    case Errc::timeout: return "storage timeout";
    case Errc::io_error: return "storage i/o error";
    case Errc::in_use: return "in use";
    case Errc::closed: return "storage closed";
  }
  return "unknown";
}

}  // namespace kwire_broker::storage
