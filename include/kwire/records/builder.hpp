// Building magic-2 record batches. For the same records and settings the
// output is byte for byte what Kafka's Java client (MemoryRecordsBuilder)
// writes for uncompressed batches; compressed batches carry the same header
// and the same records once inflated (the compressed bytes depend on the
// compressor; see kwire/records/compression.hpp for the settings used).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "kwire/records/batch.hpp"

namespace kwire {

/// A header to append with a record.
struct RecordHeader {
  std::string_view key;
  nullable_bytes value;
};

/// Settings of one batch; the defaults are those of a plain, non-idempotent
/// producer batch.
struct RecordBatchOptions {
  std::int64_t base_offset = 0;
  std::int32_t partition_leader_epoch = no_partition_leader_epoch;
  Compression compression = Compression::none;
  TimestampType timestamp_type = TimestampType::create_time;
  /// maxTimestamp under LogAppendTime.
  std::int64_t log_append_time = no_timestamp;
  std::int64_t producer_id = no_producer_id;
  std::int16_t producer_epoch = no_producer_epoch;
  std::int32_t base_sequence = no_sequence;
  bool transactional = false;
  bool control = false;
  /// When set, stored in baseTimestamp with the delete-horizon flag (batches
  /// rewritten by log compaction); record timestamps stay relative to it.
  std::optional<std::int64_t> delete_horizon_ms;
};

namespace records_detail {
/// The allocator of the builder's record buffer: resize() default-initialises
/// the bytes it adds, which leaves them as they are, where std::allocator
/// would zero them first; every one of them is written right after.
template <class T>
struct uninitialized_allocator : std::allocator<T> {
  using std::allocator<T>::allocator;
  template <class U>
  struct rebind {
    using other = uninitialized_allocator<U>;
  };
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace records_detail

class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(RecordBatchOptions options = {}) : opt_(options) {}

  /// Appends a record at the next offset (the base offset for the first).
  void append(std::int64_t timestamp, nullable_bytes key, nullable_bytes value,
              std::span<const RecordHeader> headers = {}) {
    append_with_offset(next_offset(), timestamp, key, value, headers);
  }

  /// Appends a record at an explicit offset; offsets must increase.
  void append_with_offset(std::int64_t offset, std::int64_t timestamp, nullable_bytes key, nullable_bytes value,
                          std::span<const RecordHeader> headers = {}) {
    if (count_ > 0 && offset <= last_offset_) throw std::invalid_argument("record offsets must increase");
    if (offset < opt_.base_offset || offset - opt_.base_offset > INT32_MAX)
      throw std::invalid_argument("record offset outside the batch's offset range");
    if (timestamp < 0 && timestamp != no_timestamp) throw std::invalid_argument("negative record timestamp");
    if (count_ == INT32_MAX) throw std::length_error("too many records for one batch");
    const std::int64_t first = first_timestamp_ ? *first_timestamp_ : timestamp;
    first_timestamp_ = first;
    const std::int64_t base_ts = opt_.delete_horizon_ms ? *opt_.delete_horizon_ms : first;
    write_record(static_cast<std::int32_t>(offset - opt_.base_offset), timestamp - base_ts, key, value, headers);
    ++count_;
    last_offset_ = offset;
    if (timestamp > max_timestamp_) max_timestamp_ = timestamp;
  }

  /// Appends a transaction marker (the batch must be a transactional control
  /// batch), as the transaction coordinator asks a partition leader to write.
  void append_end_txn_marker(std::int64_t timestamp, ControlType type, std::int32_t coordinator_epoch) {
    if (type != ControlType::abort && type != ControlType::commit)
      throw std::invalid_argument("a transaction marker is an abort or a commit");
    if (!opt_.transactional) throw std::logic_error("transaction markers belong in transactional batches");
    std::uint8_t value[6];
    records_detail::store_be<std::int16_t>(value, 0);  // marker value version 0
    records_detail::store_be<std::int32_t>(value + 2, coordinator_epoch);
    append_control(timestamp, static_cast<std::int16_t>(type), bytes_view(value));
  }

  /// Appends a control record with key (version 0, `type`) and `value`.
  void append_control(std::int64_t timestamp, std::int16_t type, nullable_bytes value) {
    if (!opt_.control) throw std::logic_error("control records belong in control batches");
    std::uint8_t key[4];
    records_detail::store_be<std::int16_t>(key, 0);
    records_detail::store_be<std::int16_t>(key + 2, type);
    append(timestamp, bytes_view(key), value);
  }

  /// Starts a new batch with `options`, keeping the buffer's capacity (a
  /// producer reuses one builder per partition).
  void reset(RecordBatchOptions options) {
    opt_ = options;
    records_.clear();
    count_ = 0;
    last_offset_ = 0;
    max_timestamp_ = no_timestamp;
    first_timestamp_.reset();
  }
  /// Reserves room for `bytes` of encoded records.
  void reserve(std::size_t bytes) { records_.reserve(bytes); }

  std::int32_t record_count() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  /// The records written so far, uncompressed.
  bytes_view uncompressed_records() const noexcept { return records_; }

  /// Appends the batch to `out`. An empty builder appends nothing (as Kafka's
  /// builder returns an empty record set). Compressed batches need
  /// `compress` (kwire::compress from kwire/records/compression.hpp); returns
  /// false, leaving `out` as it was, if it is missing or fails.
  bool build(std::vector<std::uint8_t>& out, compress_fn compress = nullptr) const {
    if (count_ == 0) return true;
    const std::size_t start = out.size();
    out.resize(start + batch_layout::header_size);
    if (opt_.compression == Compression::none) {
      out.insert(out.end(), records_.begin(), records_.end());
    } else if (!compress || !compress(opt_.compression, records_, out)) {
      out.resize(start);
      return false;
    }
    std::size_t size = out.size() - start;
    if (size - batch_layout::log_overhead > INT32_MAX) {
      out.resize(start);
      return false;
    }
    write_header(out.data() + start, size);
    return true;
  }

  std::vector<std::uint8_t> build(compress_fn compress = nullptr) const {
    std::vector<std::uint8_t> out;
    if (!build(out, compress)) throw std::runtime_error("record batch compression failed");
    return out;
  }

 private:
  std::int64_t next_offset() const noexcept { return count_ == 0 ? opt_.base_offset : last_offset_ + 1; }

  static std::size_t bytes_field_size(const nullable_bytes& b) noexcept {
    if (!b) return varint::size_i32(-1);
    return varint::size_i32(static_cast<std::int32_t>(b->size())) + b->size();
  }

  static std::uint8_t* put_varint(std::uint8_t* p, std::int32_t v) noexcept {
    return varint::put_u32(p, varint::zigzag32(v));
  }
  static std::uint8_t* put_bytes(std::uint8_t* p, const nullable_bytes& b) noexcept {
    if (!b) return put_varint(p, -1);
    p = put_varint(p, static_cast<std::int32_t>(b->size()));
    if (!b->empty()) std::memcpy(p, b->data(), b->size());
    return p + b->size();
  }

  void write_record(std::int32_t offset_delta, std::int64_t timestamp_delta, const nullable_bytes& key,
                    const nullable_bytes& value, std::span<const RecordHeader> headers) {
    std::size_t body = 1 + varint::size_i64(timestamp_delta) + varint::size_i32(offset_delta) +
                       bytes_field_size(key) + bytes_field_size(value) +
                       varint::size_i32(static_cast<std::int32_t>(headers.size()));
    for (const auto& h : headers) {
      body += varint::size_i32(static_cast<std::int32_t>(h.key.size())) + h.key.size() + bytes_field_size(h.value);
    }
    if (body > INT32_MAX) throw std::length_error("record too large");
    // The record's size is known: the buffer grows once, and the fields are
    // written straight into it.
    const std::size_t at = records_.size();
    const std::size_t size = varint::size_i32(static_cast<std::int32_t>(body)) + body;
    records_.resize(at + size);
    std::uint8_t* p = records_.data() + at;
    p = put_varint(p, static_cast<std::int32_t>(body));
    *p++ = 0;  // record attributes: none defined
    p = varint::put_u64(p, varint::zigzag64(timestamp_delta));
    p = put_varint(p, offset_delta);
    p = put_bytes(p, key);
    p = put_bytes(p, value);
    p = put_varint(p, static_cast<std::int32_t>(headers.size()));
    for (const auto& h : headers) {
      p = put_bytes(p, as_bytes(h.key));
      p = put_bytes(p, h.value);
    }
    assert(p == records_.data() + records_.size());
  }

  void write_header(std::uint8_t* b, std::size_t size) const {
    namespace L = batch_layout;
    using records_detail::store_be;
    std::uint16_t attrs = static_cast<std::uint16_t>(opt_.compression);
    if (opt_.timestamp_type == TimestampType::log_append_time) attrs |= batch_attr::log_append_time;
    if (opt_.transactional) attrs |= batch_attr::transactional;
    if (opt_.control) attrs |= batch_attr::control;
    if (opt_.delete_horizon_ms) attrs |= batch_attr::delete_horizon;
    std::int64_t max_ts =
        opt_.timestamp_type == TimestampType::log_append_time ? opt_.log_append_time : max_timestamp_;
    store_be<std::int64_t>(b + L::base_offset, opt_.base_offset);
    store_be<std::int32_t>(b + L::batch_length, static_cast<std::int32_t>(size - L::log_overhead));
    store_be<std::int32_t>(b + L::partition_leader_epoch, opt_.partition_leader_epoch);
    b[L::magic] = 2;
    store_be<std::uint16_t>(b + L::attributes, attrs);
    store_be<std::int32_t>(b + L::last_offset_delta, static_cast<std::int32_t>(last_offset_ - opt_.base_offset));
    store_be<std::int64_t>(b + L::base_timestamp,
                           opt_.delete_horizon_ms ? *opt_.delete_horizon_ms : first_timestamp_.value_or(no_timestamp));
    store_be<std::int64_t>(b + L::max_timestamp, max_ts);
    store_be<std::int64_t>(b + L::producer_id, opt_.producer_id);
    store_be<std::int16_t>(b + L::producer_epoch, opt_.producer_epoch);
    store_be<std::int32_t>(b + L::base_sequence, opt_.base_sequence);
    store_be<std::int32_t>(b + L::record_count, count_);
    store_be<std::uint32_t>(b + L::crc, crc32c::value({b + L::attributes, size - L::attributes}));
  }

  RecordBatchOptions opt_;
  std::vector<std::uint8_t, records_detail::uninitialized_allocator<std::uint8_t>> records_;
  std::int32_t count_ = 0;
  std::int64_t last_offset_ = 0;
  std::int64_t max_timestamp_ = no_timestamp;
  std::optional<std::int64_t> first_timestamp_;
};

}  // namespace kwire
