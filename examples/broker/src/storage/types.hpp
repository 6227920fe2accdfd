// Value types shared by every storage implementation behind the broker's seam.
//
// Nothing here knows the Kafka protocol beyond the 61-byte record batch header
// (magic 2), which the seam is allowed to read: base offset, lengths, the
// producer fields for idempotence, and the timestamps for the time index.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

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
  group_not_found,           // GROUP_ID_NOT_FOUND
  unavailable,               // the backend cannot be reached now: retriable
  timeout,                   // the backend did not answer in time: retriable
  io_error,                  // local disk or remote call failed: KAFKA_STORAGE_ERROR
  closed,                    // the store is shutting down
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

/// Completion of an asynchronous storage call. See storage.hpp for the rules
/// (exactly once; any thread; possibly before the call returns).
template <class T>
using Handler = std::function<void(Result<T>)>;

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

/// Topic-level configuration, by Kafka's names ("retention.ms", ...). Only the
/// keys a user set are present; defaults are the broker's business.
using Configs = std::map<std::string, std::string>;

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
// The record batch header (magic 2), the only Kafka bytes storage reads.

namespace batch {
inline constexpr std::size_t header_size = 61;
inline constexpr std::size_t base_offset_at = 0;
inline constexpr std::size_t length_at = 8;            // int32: bytes after this field
inline constexpr std::size_t leader_epoch_at = 12;
inline constexpr std::size_t magic_at = 16;
inline constexpr std::size_t crc_at = 17;               // CRC32C of bytes [21, end)
inline constexpr std::size_t attributes_at = 21;
inline constexpr std::size_t last_offset_delta_at = 23;
inline constexpr std::size_t base_timestamp_at = 27;
inline constexpr std::size_t max_timestamp_at = 35;
inline constexpr std::size_t producer_id_at = 43;
inline constexpr std::size_t producer_epoch_at = 51;
inline constexpr std::size_t base_sequence_at = 53;
inline constexpr std::size_t record_count_at = 57;

inline std::uint64_t get_be(const std::uint8_t* p, int n) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
inline void put_be(std::uint8_t* p, std::uint64_t v, int n) noexcept {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}
}  // namespace batch

/// The decoded header of one record batch.
struct BatchHeader {
  std::int64_t base_offset = 0;
  std::int32_t length = 0;  // as written: bytes after the length field
  std::int32_t leader_epoch = -1;
  std::int8_t magic = 2;
  std::uint32_t crc = 0;
  std::int16_t attributes = 0;
  std::int32_t last_offset_delta = 0;
  std::int64_t base_timestamp = -1;
  std::int64_t max_timestamp = -1;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
  std::int32_t record_count = 0;

  std::size_t total_size() const noexcept { return static_cast<std::size_t>(length) + 12; }
  std::int64_t last_offset() const noexcept { return base_offset + last_offset_delta; }
  int compression() const noexcept { return attributes & 0x7; }
  bool log_append_time() const noexcept { return (attributes & 0x8) != 0; }
  bool transactional() const noexcept { return (attributes & 0x10) != 0; }
  bool control() const noexcept { return (attributes & 0x20) != 0; }
  bool idempotent() const noexcept { return producer_id >= 0; }
  std::int32_t last_sequence() const noexcept {
    if (base_sequence < 0) return -1;
    std::int64_t s = static_cast<std::int64_t>(base_sequence) + last_offset_delta;
    return static_cast<std::int32_t>(s > 0x7fffffff ? s - 0x80000000LL : s);
  }

  /// Parses the header at the start of `bytes`; nullopt if too short, not magic
  /// 2, or a length that is impossible.
  static std::optional<BatchHeader> parse(std::span<const std::uint8_t> bytes) noexcept {
    using batch::get_be;
    if (bytes.size() < batch::header_size) return std::nullopt;
    const auto* p = bytes.data();
    BatchHeader h;
    h.base_offset = static_cast<std::int64_t>(get_be(p + batch::base_offset_at, 8));
    h.length = static_cast<std::int32_t>(get_be(p + batch::length_at, 4));
    h.leader_epoch = static_cast<std::int32_t>(get_be(p + batch::leader_epoch_at, 4));
    h.magic = static_cast<std::int8_t>(p[batch::magic_at]);
    h.crc = static_cast<std::uint32_t>(get_be(p + batch::crc_at, 4));
    h.attributes = static_cast<std::int16_t>(get_be(p + batch::attributes_at, 2));
    h.last_offset_delta = static_cast<std::int32_t>(get_be(p + batch::last_offset_delta_at, 4));
    h.base_timestamp = static_cast<std::int64_t>(get_be(p + batch::base_timestamp_at, 8));
    h.max_timestamp = static_cast<std::int64_t>(get_be(p + batch::max_timestamp_at, 8));
    h.producer_id = static_cast<std::int64_t>(get_be(p + batch::producer_id_at, 8));
    h.producer_epoch = static_cast<std::int16_t>(get_be(p + batch::producer_epoch_at, 2));
    h.base_sequence = static_cast<std::int32_t>(get_be(p + batch::base_sequence_at, 4));
    h.record_count = static_cast<std::int32_t>(get_be(p + batch::record_count_at, 4));
    if (h.magic != 2) return std::nullopt;
    if (h.length < static_cast<std::int32_t>(batch::header_size - 12)) return std::nullopt;
    if (h.last_offset_delta < 0) return std::nullopt;
    return h;
  }
};

/// CRC32C (Castagnoli), as record batches use it. A small table-driven
/// implementation so that storage does not depend on the codec's records layer.
inline std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t crc = 0) noexcept {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (auto b : data) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/// True if a whole batch's CRC matches its header.
inline bool batch_crc_ok(std::span<const std::uint8_t> whole_batch) noexcept {
  auto h = BatchHeader::parse(whole_batch);
  if (!h || whole_batch.size() < h->total_size()) return false;
  return crc32c(whole_batch.subspan(batch::attributes_at, h->total_size() - batch::attributes_at)) == h->crc;
}

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
    case Errc::group_not_found: return "group not found";
    case Errc::unavailable: return "storage unavailable";
    case Errc::timeout: return "storage timeout";
    case Errc::io_error: return "storage i/o error";
    case Errc::closed: return "storage closed";
  }
  return "unknown";
}

}  // namespace kwire_broker::storage
