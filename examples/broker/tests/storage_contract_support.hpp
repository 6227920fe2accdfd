// What the storage contract suite (storage_contract.hpp) and a backend's own
// cases share: running a storage coroutine to its end, and record batches
// built with kwire's builder.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kwire/records/batch.hpp"
#include "kwire/records/builder.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::contract {

/// Runs `task` on an io_context of its own until it completes (the work
/// guard keeps the loop alive while a backend works on threads of its own).
template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::optional<T> value;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
    failure = e;
    if (!e) value = std::move(v);
    guard.reset();
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*value);
}

/// Settings of a batch built for a test.
struct BatchSpec {
  int records = 1;
  std::int64_t first_timestamp = 1000;  // records are 1 ms apart
  std::string tag = "v";                // every value starts with it
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
  bool transactional = false;
};

/// A batch as the broker hands it to storage: bytes and the facts read from them.
inline AppendBatch make_batch(const BatchSpec& spec) {
  kwire::RecordBatchOptions o;
  o.producer_id = spec.producer_id;
  o.producer_epoch = spec.producer_epoch;
  o.base_sequence = spec.base_sequence;
  o.transactional = spec.transactional;
  kwire::RecordBatchBuilder b(o);
  for (int i = 0; i < spec.records; ++i) {
    std::string value = spec.tag + "-" + std::to_string(i);
    kwire::bytes_view v(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
    b.append(spec.first_timestamp + i, std::nullopt, v);
  }
  AppendBatch batch;
  batch.bytes = b.build();
  batch.info = BatchInfo::of(*kwire::RecordBatchView::parse(kwire::bytes_view(batch.bytes)));
  return batch;
}

inline AppendBatch make_batch(int records, std::int64_t first_timestamp = 1000) {
  BatchSpec s;
  s.records = records;
  s.first_timestamp = first_timestamp;
  return make_batch(s);
}

/// The batches of a read, in order: base offset, record count and the value
/// of the first record.
struct ReadBatch {
  std::int64_t base_offset;
  std::int32_t records;
  std::string first_value;
};

/// A transactional batch of `records` records from producer `pid`.
inline AppendBatch txn_batch(std::int64_t pid, std::int16_t epoch, std::int32_t seq, int records,
                             std::string tag = "t") {
  BatchSpec s;
  s.records = records;
  s.producer_id = pid;
  s.producer_epoch = epoch;
  s.base_sequence = seq;
  s.transactional = true;
  s.tag = std::move(tag);
  return make_batch(s);
}

inline TxnMarker marker(std::int64_t pid, std::int16_t epoch, bool commit, std::int32_t coordinator_epoch = 0) {
  TxnMarker m;
  m.producer_id = pid;
  m.producer_epoch = epoch;
  m.commit = commit;
  m.coordinator_epoch = coordinator_epoch;
  return m;
}

inline std::vector<ReadBatch> batches_of(const std::vector<std::uint8_t>& bytes) {
  std::vector<ReadBatch> out;
  kwire::RecordSetReader rs{kwire::bytes_view(bytes)};
  kwire::RecordBatchView b;
  while (rs.next(b)) {
    ReadBatch rb{b.base_offset(), b.record_count(), {}};
    auto reader = b.records();
    kwire::RecordView r;
    if (reader.next(r) && r.value) rb.first_value.assign(reinterpret_cast<const char*>(r.value->data()), r.value->size());
    out.push_back(std::move(rb));
  }
  return out;
}

}  // namespace kwire_broker::storage::contract
