// Any bytes as a record set that may hold legacy (magic 0/1) messages,
// including compressed wrappers, plus conversion of what was read to magic 2.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kwire;
  RecordSetReader rs(bytes_view(data, size), {.allow_partial_tail = true});
  LogEntry e;
  std::vector<LegacyMessage> msgs;
  std::vector<std::uint8_t> scratch, converted;
  while (rs.next_entry(e)) {
    if (e.magic == 2) continue;
    (void)parse_legacy_message(e.bytes, nullptr, e.position, false);
    if (read_legacy_entry(e.bytes, msgs, scratch, &kwire::decompress, 1 << 20, e.position)) continue;
    converted.clear();
    bool increasing = true;
    for (std::size_t i = 1; i < msgs.size(); ++i) increasing &= msgs[i].offset > msgs[i - 1].offset;
    bool plausible = increasing && !msgs.empty() && msgs.back().offset - msgs.front().offset < INT32_MAX &&
                     msgs.front().offset >= 0;
    for (const auto& m : msgs) plausible &= m.timestamp >= -1;
    if (plausible && legacy_to_batch(msgs, converted)) {
      auto v = RecordBatchView::parse(converted);
      if (!v || v->validate()) __builtin_trap();
    }
  }
  return 0;
}
