// One call to read a whole record set: every entry (magic-2 batch or legacy
// message), every record in it, CRCs checked and compressed data inflated.
// Meant for tools that print what a record set holds (kwire-decode
// --records). Needs kwire::compression.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

namespace kwire {

/// A record of either format, with its absolute offset and timestamp.
struct WalkedRecord {
  std::int64_t offset = 0;
  std::int64_t timestamp = no_timestamp;
  nullable_bytes key;
  nullable_bytes value;
  RecordHeaderRange headers;  // empty for legacy messages
  const RecordView* record = nullptr;         // set for magic-2 records
  const LegacyMessage* legacy = nullptr;      // set for legacy messages
};

/// One entry of the set as it is about to be read.
struct WalkedEntry {
  LogEntry entry;
  const RecordBatchView* batch = nullptr;  // set for magic-2 batches
  const LegacyMessage* legacy = nullptr;   // the (wrapper) message for magic 0/1
};

struct WalkOptions {
  bool allow_partial_tail = false;  // see RecordSetReader::Options
  std::size_t inflate_limit = RecordBatchView::default_inflate_limit;
};

/// Calls on_entry(const WalkedEntry&) for each entry and
/// on_record(const WalkedRecord&) for each record, in order. Stops at the
/// first error (framing, CRC, record, decompression) and returns it; entries
/// and records before it have been visited. The views passed to the callbacks
/// are valid only during the call.
template <class OnEntry, class OnRecord>
std::optional<DecodeError> walk_record_set(bytes_view set, OnEntry&& on_entry, OnRecord&& on_record,
                                           WalkOptions options = {}) {
  RecordSetReader rs(set, {.allow_partial_tail = options.allow_partial_tail});
  LogEntry e;
  std::vector<std::uint8_t> scratch;
  std::vector<LegacyMessage> messages;
  while (rs.next_entry(e)) {
    if (e.magic == 2) {
      DecodeError err;
      auto batch = RecordBatchView::parse(e.bytes, &err, e.position);
      if (!batch) return err;
      if (auto bad = batch->validate()) return bad;
      on_entry(WalkedEntry{e, &*batch, nullptr});
      auto rr = batch->records(scratch, &kwire::decompress, options.inflate_limit);
      RecordView r;
      while (rr.next(r)) {
        WalkedRecord w;
        w.offset = batch->offset_of(r);
        w.timestamp = batch->timestamp_of(r);
        w.key = r.key;
        w.value = r.value;
        w.headers = r.headers();
        w.record = &r;
        on_record(w);
      }
      if (!rr.ok()) return rr.error();
    } else {
      DecodeError err;
      auto wrapper = parse_legacy_message(e.bytes, &err, e.position);
      if (!wrapper) return err;
      on_entry(WalkedEntry{e, nullptr, &*wrapper});
      if (auto bad = read_legacy_entry(e.bytes, messages, scratch, &kwire::decompress, options.inflate_limit,
                                       e.position))
        return bad;
      for (const auto& m : messages) {
        WalkedRecord w;
        w.offset = m.offset;
        w.timestamp = m.timestamp;
        w.key = m.key;
        w.value = m.value;
        w.legacy = &m;
        on_record(w);
      }
    }
  }
  return rs.error();
}

}  // namespace kwire
