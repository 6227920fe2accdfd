// Any bytes as a record set: framing, header checks, CRC, and every record
// and header of every batch (compressed ones inflated with a small limit).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kwire;
  for (bool lenient : {false, true}) {
    RecordSetReader rs(bytes_view(data, size), {.allow_partial_tail = lenient});
    RecordBatchView b;
    std::vector<std::uint8_t> scratch;
    while (rs.next(b)) {
      (void)b.validate();  // CRC and header; keep going to exercise records
      // Offset arithmetic on wire values (baseOffset is not even under the CRC).
      std::size_t sum = static_cast<std::size_t>(b.next_offset() != b.last_offset());
      sum += static_cast<std::size_t>(b.last_sequence() != 0);
      auto rr = b.records(scratch, &kwire::decompress, 1 << 20);
      RecordView r;
      while (rr.next(r)) {
        for (const auto& h : r.headers()) sum += h.key.size() + (h.value ? h.value->size() : 0);
        if (auto k = parse_control_key(r.key)) sum += static_cast<std::size_t>(k->type);
        if (auto m = parse_end_txn_marker(r.value)) sum += static_cast<std::size_t>(m->version);
        sum += b.offset_of(r) != 0;
        sum += b.timestamp_of(r) != 0;
      }
      if (!rr.ok() && rr.error()->message().empty()) __builtin_trap();
      // Mutations on a copy must keep a valid batch valid.
      std::vector<std::uint8_t> copy(b.bytes().begin(), b.bytes().end());
      bool was_valid = !b.validate();
      set_base_offset(copy, 42);
      set_partition_leader_epoch(copy, 7);
      set_log_append_time(copy, 1234);
      if (was_valid && RecordBatchView::parse(copy)->validate()) __builtin_trap();
      (void)sum;
    }
  }
  return 0;
}
