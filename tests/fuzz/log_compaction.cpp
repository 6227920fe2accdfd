// Fuzzes log compaction of one batch (storage/embedded/batch_compactor.hpp)
// with whatever a ledger could hold. The first input byte chooses the
// cleaning's view: which keys a later record supersedes, the time against
// the delete horizon, an aborted transaction, the producer's last batch; the
// rest is the batch. Whatever the bytes:
//  - nothing crashes or hits UB;
//  - a rewritten batch is a valid batch (CRC included) with the same base
//    offset, last offset, producer fields and leader epoch, and its records
//    are records of the original, in order, with their offsets, keys,
//    values, headers and timestamps unchanged;
//  - a record is dropped only by a rule: a later record has its key, it is a
//    tombstone past its horizon, or its transaction was aborted.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "kwire/records/compression.hpp"
#include "storage/embedded/batch_compactor.hpp"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "log_compaction: %s\n", what);
  std::abort();
}

struct Rec {
  std::int64_t offset, timestamp;
  std::string key, value, headers;
  bool has_key, has_value;
  bool operator==(const Rec&) const = default;
};

std::string str(kwire::bytes_view b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

bool records_of(const kwire::RecordBatchView& b, std::vector<Rec>& out) {
  std::vector<std::uint8_t> scratch;
  auto reader = b.records(scratch, &kwire::decompress);
  kwire::RecordView r;
  while (reader.next(r)) {
    out.push_back({b.offset_of(r), kwire::records_detail::wrapping_add(b.base_timestamp(), r.timestamp_delta),
                   r.key ? str(*r.key) : "", r.value ? str(*r.value) : "", str(r.header_bytes), r.key.has_value(),
                   r.value.has_value()});
  }
  return reader.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t view = data[0];
  const kwire::bytes_view bytes(data + 1, size - 1);
  auto parsed = kwire::RecordBatchView::parse(bytes);
  if (!parsed || parsed->size() != bytes.size() || parsed->validate()) return 0;
  const auto& batch = *parsed;

  using namespace kwire_broker::storage::embedded;
  CompactionContext ctx;
  // Keys whose first byte is below the threshold are superseded by a record
  // far ahead; the others occur nowhere else.
  const std::uint8_t threshold = static_cast<std::uint8_t>((view & 0x0f) << 4);
  ctx.latest_offset = [threshold](kwire::bytes_view key) -> std::optional<std::int64_t> {
    if (!key.empty() && key[0] < threshold) return INT64_MAX;
    return std::nullopt;
  };
  ctx.aborted = view & 0x10;
  ctx.producers_last = view & 0x20;
  ctx.now_ms = (view & 0x40) ? INT64_MAX / 2 : 0;
  ctx.delete_retention_ms = 1000;

  std::vector<std::uint8_t> out;
  const BatchFate fate = compact_batch(batch, ctx, out);
  std::vector<Rec> before;
  const bool readable = records_of(batch, before);
  if (fate == BatchFate::unchanged) return 0;
  require(readable || ctx.aborted, "a batch whose records cannot be read was changed");
  if (fate == BatchFate::dropped) {
    require(!batch.is_control(), "a control batch was dropped");
    if (!ctx.aborted) {
      for (const auto& r : before) {
        const bool superseded = r.has_key && !r.key.empty() && static_cast<std::uint8_t>(r.key[0]) < threshold;
        const bool expired = !r.has_value && batch.has_delete_horizon() && ctx.now_ms >= *batch.delete_horizon_ms();
        require(superseded || expired, "a batch was dropped with a record no rule removes");
      }
    }
    return 0;
  }
  auto again = kwire::RecordBatchView::parse(kwire::bytes_view(out));
  require(again && again->size() == out.size(), "a rewritten batch does not frame");
  require(!again->validate(), "a rewritten batch is not valid");
  require(again->crc_valid(), "a rewritten batch has a wrong CRC");
  require(again->base_offset() == batch.base_offset(), "base offset moved");
  require(again->last_offset() == batch.last_offset(), "last offset moved");
  require(again->producer_id() == batch.producer_id() && again->producer_epoch() == batch.producer_epoch() &&
              again->base_sequence() == batch.base_sequence(),
          "producer fields changed");
  require(again->partition_leader_epoch() == batch.partition_leader_epoch(), "leader epoch changed");
  require(again->is_transactional() == batch.is_transactional(), "transactional flag changed");
  std::vector<Rec> after;
  require(records_of(*again, after), "a rewritten batch's records do not read");
  require(after.size() <= before.size(), "records were added");
  std::size_t i = 0;
  for (const auto& r : after) {
    while (i < before.size() && !(before[i] == r)) ++i;
    require(i < before.size(), "a record of the rewritten batch is not one of the original's");
    ++i;
  }
  return 0;
}
