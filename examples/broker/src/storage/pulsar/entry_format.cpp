#include "entry_format.hpp"

#include <kwire/records/batch.hpp>
#include <kwire/records/builder.hpp>
#include <kwire/records/compression.hpp>

#include <algorithm>
#include <charconv>
#include <optional>

#include "../txn_marker.hpp"
#include "kwire_pulsar/compression.hpp"

namespace kwire_broker::storage::pulsar {

namespace wire = kwire_pulsar::wire;

namespace {

kwire::RecordBatchView view_of(std::span<const std::uint8_t> batch) {
  kwire::DecodeError err;
  auto v = kwire::RecordBatchView::parse(batch, &err);
  if (!v) throw BadEntry("not a record batch: " + err.message());
  return *v;
}

void add_property(google::protobuf::RepeatedPtrField<wire::KeyValue>* props, std::string key, std::string value) {
  auto* kv = props->Add();
  kv->set_key(std::move(key));
  kv->set_value(std::move(value));
}

std::optional<std::string> property(const wire::MessageMetadata& m, const char* key) {
  for (const auto& kv : m.properties())
    if (kv.key() == key) return kv.value();
  return std::nullopt;
}

// A Kafka producer field the gateway wrote as a property (decimal, as
// std::to_string writes it); -1 when absent. Any other text did not come
// from the gateway: BadEntry, as for the rest of a malformed entry.
template <class T>
T number_property(const wire::MessageMetadata& m, const char* key) {
  const auto v = property(m, key);
  if (!v) return -1;
  T n = 0;
  const char* end = v->data() + v->size();
  const auto [stop, ec] = std::from_chars(v->data(), end, n);
  if (ec != std::errc() || stop != end) throw BadEntry(std::string("property ") + key + " is not a number: " + *v);
  return n;
}

std::string text(kwire::bytes_view b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

kwire::bytes_view bytes(const std::string& s) {
  return kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

wire::CompressionType pulsar_codec(kwire::Compression c) {
  switch (c) {
    case kwire::Compression::gzip: return wire::ZLIB;
    case kwire::Compression::snappy: return wire::SNAPPY;
    case kwire::Compression::lz4: return wire::LZ4;
    case kwire::Compression::zstd: return wire::ZSTD;
    case kwire::Compression::none: break;
  }
  return wire::NONE;
}

kwire::Compression kafka_codec(wire::CompressionType c) {
  switch (c) {
    case wire::ZLIB: return kwire::Compression::gzip;
    case wire::SNAPPY: return kwire::Compression::snappy;
    case wire::LZ4: return kwire::Compression::lz4;
    case wire::ZSTD: return kwire::Compression::zstd;
    default: break;
  }
  return kwire::Compression::none;
}

// A message's time as a Kafka record's: its event time, else its publish
// time. Kafka's times are signed: a Pulsar time past their range is served
// as no time (-1), which Kafka allows, not as a negative one, which it
// refuses.
std::int64_t kafka_timestamp(const kwire_pulsar::Message& m) {
  const std::uint64_t t = m.event_time ? m.event_time : m.publish_time;
  return t <= static_cast<std::uint64_t>(INT64_MAX) ? static_cast<std::int64_t>(t) : kwire::no_timestamp;
}

// A Kafka control batch as a marker entry: one message without payload,
// described by its properties, so that native Pulsar readers can tell it
// apart (and skip it) by `kwire.control`.
EncodedEntry marker_entry(const kwire::RecordBatchView& v) {
  std::vector<std::uint8_t> scratch;
  auto reader = v.records(scratch, kwire::decompress);
  kwire::RecordView r;
  if (!reader.next(r)) throw BadEntry("control batch without a record");
  const auto key = kwire::parse_control_key(r.key);
  if (!key || (key->control_type() != kwire::ControlType::commit && key->control_type() != kwire::ControlType::abort))
    throw BadEntry("only transaction markers are stored as control batches");
  const auto value = kwire::parse_end_txn_marker(r.value);
  if (!value) throw BadEntry("transaction marker without its value");
  if (v.producer_id() < 0 || v.producer_epoch() < 0) throw BadEntry("transaction marker without a producer");
  EncodedEntry e;
  auto* props = e.metadata.mutable_properties();
  add_property(props, control_property, key->control_type() == kwire::ControlType::commit ? "commit" : "abort");
  add_property(props, producer_id_property, std::to_string(v.producer_id()));
  add_property(props, producer_epoch_property, std::to_string(v.producer_epoch()));
  add_property(props, coordinator_epoch_property, std::to_string(value->coordinator_epoch));
  if (v.max_timestamp() > 0) e.metadata.set_event_time(static_cast<std::uint64_t>(v.max_timestamp()));
  e.messages = 1;
  return e;
}

}  // namespace

void add_entry_property(EncodedEntry& e, std::string key, std::string value) {
  add_property(e.metadata.mutable_properties(), std::move(key), std::move(value));
}

std::optional<std::int64_t> entry_number(const wire::MessageMetadata& m, const char* key) {
  if (!property(m, key)) return std::nullopt;
  return number_property<std::int64_t>(m, key);
}

std::optional<EntryMarker> marker_of(const wire::MessageMetadata& m) {
  const auto control = property(m, control_property);
  if (!control) return std::nullopt;
  if (*control != "commit" && *control != "abort") throw BadEntry("unknown marker type " + *control);
  EntryMarker mk;
  mk.commit = *control == "commit";
  mk.producer_id = number_property<std::int64_t>(m, producer_id_property);
  mk.producer_epoch = number_property<std::int16_t>(m, producer_epoch_property);
  mk.coordinator_epoch = number_property<std::int32_t>(m, coordinator_epoch_property);
  mk.txn_first = number_property<std::int64_t>(m, txn_first_property);
  if (mk.producer_id < 0 || mk.producer_epoch < 0) throw BadEntry("marker without a producer");
  return mk;
}

int index_span(std::span<const std::uint8_t> batch) { return view_of(batch).last_offset_delta() + 1; }

EncodedEntry kafka_to_entry(std::span<const std::uint8_t> batch, EntryFormat format) {
  auto v = view_of(batch);
  if (v.is_control()) return marker_entry(v);
  EncodedEntry e;
  auto* props = e.metadata.mutable_properties();
  if (v.producer_id() >= 0) {
    add_property(props, producer_id_property, std::to_string(v.producer_id()));
    add_property(props, producer_epoch_property, std::to_string(v.producer_epoch()));
    add_property(props, base_sequence_property, std::to_string(v.base_sequence()));
  }
  if (format == EntryFormat::kafka) {
    e.messages = v.last_offset_delta() + 1;
    add_property(props, format_property, "kafka");
    e.metadata.set_num_messages_in_batch(e.messages);
    if (v.max_timestamp() > 0) e.metadata.set_event_time(static_cast<std::uint64_t>(v.max_timestamp()));
    e.payload.assign(reinterpret_cast<const char*>(v.bytes().data()), v.bytes().size());
    return e;
  }
  // pulsar: one message per record.
  add_property(props, format_property, "pulsar");
  if (v.is_transactional() && v.producer_id() >= 0) add_property(props, transactional_property, "true");
  std::vector<std::uint8_t> scratch;
  auto reader = v.records(scratch, kwire::decompress);
  kwire::RecordView r;
  int n = 0;
  std::int64_t last_delta = -1;
  while (reader.next(r)) {
    if (r.offset_delta != last_delta + 1)
      throw BadEntry("records with offset gaps cannot be stored as Pulsar messages");
    last_delta = r.offset_delta;
    wire::SingleMessageMetadata sm;
    if (r.key) sm.set_partition_key(text(*r.key));
    if (!r.value) sm.set_null_value(true);
    const auto ts = v.timestamp_of(r);
    if (ts > 0) sm.set_event_time(static_cast<std::uint64_t>(ts));
    for (const auto& h : r.headers()) {
      add_property(sm.mutable_properties(), std::string(h.key), h.value ? text(*h.value) : std::string());
    }
    const std::string payload = r.value ? text(*r.value) : std::string();
    sm.set_payload_size(static_cast<int>(payload.size()));
    kwire_pulsar::append_to_batch(e.payload, sm, payload);
    ++n;
  }
  if (auto err = reader.error()) throw BadEntry("bad records: " + err->message());
  if (n == 0) throw BadEntry("empty batch");
  e.messages = n;
  e.metadata.set_num_messages_in_batch(n);
  // A compressed Kafka batch stays compressed, with Pulsar's form of the
  // same codec, so native consumers inflate it as their own.
  if (const auto codec = pulsar_codec(v.compression()); codec != wire::NONE) {
    std::string packed;
    if (!kwire_pulsar::compress_payload(codec, e.payload, packed)) throw BadEntry("compression failed");
    e.metadata.set_compression(codec);
    e.metadata.set_uncompressed_size(static_cast<std::uint32_t>(e.payload.size()));
    e.payload = std::move(packed);
  }
  // The entry's event time is the batch's latest: timestamp lookups read it
  // without splitting the batch.
  if (v.max_timestamp() > 0) e.metadata.set_event_time(static_cast<std::uint64_t>(v.max_timestamp()));
  return e;
}

void entry_to_kafka(const kwire_pulsar::Entry& entry, std::int64_t last_offset, std::vector<std::uint8_t>& out) {
  const auto& meta = *entry.metadata;
  if (const auto mk = marker_of(meta)) {
    MarkerFields m;
    m.producer_id = mk->producer_id;
    m.producer_epoch = mk->producer_epoch;
    m.coordinator_epoch = mk->coordinator_epoch;
    m.commit = mk->commit;
    const std::uint64_t t = meta.event_time() ? meta.event_time() : meta.publish_time();
    m.timestamp = t <= static_cast<std::uint64_t>(INT64_MAX) ? static_cast<std::int64_t>(t) : 0;
    const auto b = marker_batch(m, last_offset);
    out.insert(out.end(), b.begin(), b.end());
    return;
  }
  if (property(meta, format_property) == std::optional<std::string>("kafka")) {
    auto v = view_of(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(entry.payload.data()),
                                                   entry.payload.size()));
    // The gateway stored a batch it had checked; one that fails the checks
    // now was written by someone else or damaged since, and is not served.
    if (auto err = v.validate()) throw BadEntry("stored batch: " + err->message());
    const std::size_t at = out.size();
    out.insert(out.end(), v.bytes().begin(), v.bytes().end());
    // The base offset is outside the CRC: set it from the broker's index.
    kwire::set_base_offset(std::span<std::uint8_t>(out.data() + at, v.bytes().size()),
                           last_offset - v.last_offset_delta());
    return;
  }
  std::vector<kwire_pulsar::Message> messages;
  try {
    messages = kwire_pulsar::entry_messages(entry);
  } catch (const std::exception& e) {
    throw BadEntry(e.what());
  }
  if (messages.empty()) throw BadEntry("entry without messages");
  // Messages of a batch acknowledged alone (a subscription's batch-index
  // acks) are not delivered again: each record keeps the offset of its place
  // in the entry, so the batch may have gaps.
  const int count = entry.message_count();
  kwire::RecordBatchOptions o;
  o.base_offset = last_offset - (count - 1);
  // An entry Pulsar holds compressed goes to Kafka clients compressed with
  // the same codec: served inflated, it would cost the network and the
  // client's memory its whole ratio, past any decompression limit the
  // client sets.
  o.compression = kafka_codec(meta.compression());
  if (property(meta, producer_id_property)) {
    o.producer_id = number_property<std::int64_t>(meta, producer_id_property);
    o.producer_epoch = number_property<std::int16_t>(meta, producer_epoch_property);
    o.base_sequence = number_property<std::int32_t>(meta, base_sequence_property);
    o.transactional = property(meta, transactional_property) == std::optional<std::string>("true");
  }
  kwire::RecordBatchBuilder b(o);
  std::vector<kwire::RecordHeader> headers;
  for (const auto& m : messages) {
    headers.clear();
    for (const auto& [k, val] : m.properties) headers.push_back({k, bytes(val)});
    const auto ts = kafka_timestamp(m);
    kwire::nullable_bytes key;
    if (m.key) key = bytes(*m.key);
    kwire::nullable_bytes value;
    if (!m.null_value) value = bytes(m.value);
    const std::int64_t place = m.id.batch_index >= 0 ? m.id.batch_index : 0;
    b.append_with_offset(o.base_offset + place, ts, key, value, headers);
  }
  if (!b.build(out, kwire::compress)) throw BadEntry("cannot compress the batch");
}

EntryLimits entry_limits(std::int64_t max_message_size, std::int64_t bookie_max_frame) {
  EntryLimits l;
  l.entry_bytes = std::max<std::int64_t>(0, std::min(max_message_size, bookie_max_frame - bookie_frame_reserve));
  l.batch_bytes = std::max<std::int64_t>(0, l.entry_bytes - entry_metadata_reserve);
  return l;
}

std::int64_t encoded_size(const EncodedEntry& e) {
  return static_cast<std::int64_t>(e.metadata.ByteSizeLong() + e.payload.size());
}

}  // namespace kwire_broker::storage::pulsar
