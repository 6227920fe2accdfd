// ListOffsets by timestamp: storage finds the first batch whose max timestamp
// reaches the target (it reads batch headers only); the broker then reads that
// batch's records with kwire/records to name the exact record, as Kafka does.
#pragma once

#include "protocol/registry.hpp"
#include "kwire/records/batch.hpp"
#include "kwire/records/compression.hpp"

namespace kwire_broker {

inline asio::awaitable<storage::Result<storage::TimestampLookup>> find_by_timestamp(storage::PartitionLog& log,
                                                                                    std::int64_t ts) {
  auto r = co_await log.offset_for_timestamp(ts);
  if (!r.ok() || r.value.offset < 0) co_return r;
  storage::ReadOptions ro;
  ro.offset = r.value.offset;
  ro.max_bytes = 1;
  ro.at_least_one = true;
  auto rr = co_await log.read(ro);
  if (!rr.ok() || rr.value.size() == 0) co_return r;
  // The batch's records are needed here: file regions are read into memory.
  std::vector<std::uint8_t> batch;
  try {
    batch = storage::read_bytes(rr.value);
  } catch (const std::exception&) {
    co_return r;  // the batch, as storage found it
  }
  auto view = kwire::RecordBatchView::parse(kwire::bytes_view(batch));
  if (!view) co_return r;
  std::vector<std::uint8_t> scratch;
  auto reader = view->records(scratch, &kwire::decompress);
  kwire::RecordView rec;
  while (reader.next(rec)) {
    auto off = view->offset_of(rec);
    auto rts = view->timestamp_of(rec);
    if (off >= r.value.offset && rts >= ts) {
      r.value.offset = off;
      r.value.timestamp = rts;
      break;
    }
  }
  co_return r;
}

}  // namespace kwire_broker
