// Fuzzes how a stored Pulsar entry is read: its metadata and payload (one
// message or a batch, compressed or not, in the pulsar or the kafka entry
// format) split into messages by kwire_pulsar::entry_messages, and turned
// into one Kafka record batch by kwire-broker's entry_to_kafka, as a fetch
// does. Whatever the entry:
//  - neither crashes nor hits UB, and a malformed entry is refused with the
//    exception each documents (kwire_pulsar::Error, BadEntry);
//  - the heap either uses stays within a bound of the entry's size and the
//    uncompressed size it declares;
//  - a batch delivered again with an ack set gives exactly the messages its
//    bits leave unacknowledged;
//  - a batch entry_to_kafka produces parses, passes its CRC and header checks
//    and ends at the offset asked for; one built from the entry's messages
//    holds exactly those messages, one record each.
//
// Input, big-endian: [index u64][metadata size u32][MessageMetadata][payload].
// With the index's top bit set the entry comes without a broker index, and
// only entry_messages runs (the broker converts indexed entries only); else
// the low 62 bits are the index: the Kafka offset of the entry's last message.
#include <google/protobuf/stubs/logging.h>
#include <sanitizer/allocator_interface.h>

#include <kwire/records/compression.hpp>
#include <kwire/records/records.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "entry_format.hpp"
#include "kwire_pulsar/compression.hpp"
#include "kwire_pulsar/entry.hpp"
#include "kwire_pulsar/error.hpp"

namespace {

namespace kp = kwire_pulsar;
namespace storage = kwire_broker::storage::pulsar;

// Live heap bytes while counting, and their peak: ASan's allocator reports
// every allocation and release (operator new and delete included) here.
struct HeapUse {
  bool counting = false;
  std::size_t live = 0;
  std::size_t peak = 0;
} heap;

void on_malloc(const volatile void*, std::size_t n) {
  if (!heap.counting) return;
  heap.live += n;
  heap.peak = std::max(heap.peak, heap.live);
}

void on_free(const volatile void* p) {
  if (!heap.counting || !p) return;
  // What was allocated before counting began may be released during it.
  heap.live -= std::min(heap.live, __sanitizer_get_allocated_size(p));
}

// The most a conversion may hold at once, for an entry of `input` bytes whose
// payload inflates to `inflated`. Each message of a batch takes six payload
// bytes at least and becomes its parsed metadata, a Message and a Kafka
// record, some 700 bytes with the vectors' growth; the rest is a few copies
// of the payload, and the codecs' state: a zstd window of up to 8 MiB for any
// frame (larger only as the declared size allows), a compressor's tables for
// the Kafka batch. What this rules out is memory taken on the word of a
// count or size the entry declares rather than for bytes it holds.
std::size_t heap_bound(std::size_t input, std::size_t inflated) {
  return 256 * (input + inflated) + (std::size_t{16} << 20);
}

template <class F>
void within_heap_bound(std::size_t bound, F&& f) {
  heap = {.counting = true};
  f();
  heap.counting = false;
  if (heap.peak > bound) {
    std::fprintf(stderr, "heap peak of %zu bytes, above the bound of %zu\n", heap.peak, bound);
    __builtin_trap();
  }
}

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

std::optional<std::string> property(const kp::wire::MessageMetadata& m, std::string_view key) {
  for (const auto& kv : m.properties())
    if (kv.key() == key) return kv.value();
  return std::nullopt;
}

bool same(kwire::nullable_bytes b, std::string_view s) {
  return b && std::string_view(reinterpret_cast<const char*>(b->data()), b->size()) == s;
}

void check_messages(const kp::Entry& entry, const std::vector<kp::Message>& messages, std::size_t inflated) {
  const int declared = entry.batched() ? entry.metadata->num_messages_in_batch() : 1;
  if (messages.size() != static_cast<std::size_t>(std::max(declared, 0))) __builtin_trap();
  std::size_t values = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const std::int32_t batch_index = entry.batched() ? static_cast<std::int32_t>(i) : -1;
    if (m.id.ledger != entry.id.ledger || m.id.entry != entry.id.entry || m.id.batch_index != batch_index)
      __builtin_trap();
    if (m.index.has_value() != entry.index.has_value()) __builtin_trap();
    values += m.value.size();
  }
  if (values > std::max(entry.payload.size(), inflated)) __builtin_trap();
  if (entry.index && !messages.empty() && messages.back().index != entry.index) __builtin_trap();
}

// The same batch delivered again with an ack set (here the input's index as
// its one word): exactly the messages whose bit is set come out, the rest
// (and any past the word) count as acknowledged.
void check_ack_set(kp::Entry entry, const std::vector<kp::Message>& all, std::uint64_t word, std::size_t bound) {
  entry.ack_set = {static_cast<std::int64_t>(word)};
  std::optional<std::vector<kp::Message>> left;
  within_heap_bound(bound, [&] { left = kp::entry_messages(entry); });
  std::size_t next = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i >= 64 || !(word >> i & 1)) continue;
    if (next >= left->size() || (*left)[next].id.batch_index != all[i].id.batch_index ||
        (*left)[next].value != all[i].value)
      __builtin_trap();
    ++next;
  }
  if (next != left->size() || static_cast<int>(next) != entry.unacknowledged_count()) __builtin_trap();
}

// A batch built from the entry's messages: one record each, in order, at
// consecutive offsets, with their keys, values, properties and times.
void check_records(const kwire::RecordBatchView& batch, const std::vector<kp::Message>& messages) {
  if (batch.record_count() != static_cast<std::int32_t>(messages.size())) __builtin_trap();
  std::vector<std::uint8_t> scratch;
  auto reader = batch.records(scratch, kwire::decompress, 4 * kp::max_uncompressed_payload);
  kwire::RecordView r;
  std::size_t i = 0;
  while (reader.next(r)) {
    if (i >= messages.size()) __builtin_trap();
    const auto& m = messages[i];
    if (batch.offset_of(r) != batch.base_offset() + static_cast<std::int64_t>(i)) __builtin_trap();
    if (m.key ? !same(r.key, *m.key) : r.key.has_value()) __builtin_trap();
    if (m.null_value ? r.value.has_value() : !same(r.value, m.value)) __builtin_trap();
    const std::uint64_t time = m.event_time ? m.event_time : m.publish_time;
    const std::int64_t timestamp = time <= INT64_MAX ? static_cast<std::int64_t>(time) : kwire::no_timestamp;
    if (batch.timestamp_of(r) != timestamp) __builtin_trap();
    std::size_t h = 0;
    for (const auto& header : r.headers()) {
      if (h >= m.properties.size() || header.key != m.properties[h].first ||
          !same(header.value, m.properties[h].second))
        __builtin_trap();
      ++h;
    }
    if (h != m.properties.size()) __builtin_trap();
    ++i;
  }
  if (!reader.ok() || i != messages.size()) __builtin_trap();
}

void check_batch(const kp::Entry& entry, std::int64_t last_offset, const std::vector<std::uint8_t>& out,
                 const std::vector<kp::Message>* messages) {
  auto batch = kwire::RecordBatchView::parse(out);
  if (!batch || batch->size() != out.size() || batch->validate()) __builtin_trap();
  if (batch->last_offset() != last_offset) __builtin_trap();
  if (property(*entry.metadata, storage::format_property) == "kafka") {
    // Served as stored, but for the base offset, which the index sets.
    const std::size_t base = kwire::batch_layout::base_offset + 8;
    if (entry.payload.size() < out.size() ||
        std::string_view(entry.payload).substr(base, out.size() - base) !=
            std::string_view(reinterpret_cast<const char*>(out.data()) + base, out.size() - base))
      __builtin_trap();
    return;
  }
  // Otherwise it is made of the messages entry_messages finds.
  if (!messages) __builtin_trap();
  check_records(*batch, *messages);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
  // Protobuf logs each message it cannot parse: most inputs here.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 12) return 0;
  const std::uint64_t index = get_u64(data);
  const std::uint32_t meta_size = kp::get_u32(data + 8);
  if (meta_size > size - 12) return 0;
  auto meta = std::make_shared<kp::wire::MessageMetadata>();
  if (!kp::parse_metadata({data + 12, meta_size}, *meta)) return 0;

  kp::Entry entry;
  entry.id = {12, 34, -1, -1};
  if (!(index >> 63)) entry.index = index & ((std::uint64_t{1} << 62) - 1);
  entry.metadata = meta;
  entry.payload.assign(reinterpret_cast<const char*>(data) + 12 + meta_size, size - 12 - meta_size);
  const std::size_t inflated =
      meta->compression() == kp::wire::NONE
          ? 0
          : std::min<std::size_t>(meta->uncompressed_size(), kp::max_uncompressed_payload);
  const std::size_t bound = heap_bound(size, inflated);

  std::optional<std::vector<kp::Message>> messages;
  within_heap_bound(bound, [&] {
    try {
      messages = kp::entry_messages(entry);
    } catch (const kp::Error&) {
    }
  });
  if (messages) check_messages(entry, *messages, inflated);
  if (messages && entry.batched()) check_ack_set(entry, *messages, index, bound);

  if (!entry.index) return 0;
  const auto last_offset = static_cast<std::int64_t>(*entry.index);
  std::vector<std::uint8_t> out;
  bool converted = false;
  within_heap_bound(bound, [&] {
    try {
      storage::entry_to_kafka(entry, last_offset, out);
      converted = true;
    } catch (const storage::BadEntry&) {
    }
  });
  if (converted) check_batch(entry, last_offset, out, messages ? &*messages : nullptr);
  return 0;
}
