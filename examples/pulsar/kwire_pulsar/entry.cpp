// MessageId's wire form and text, and the splitting of a stored entry into
// its messages: no I/O here, only the entry's bytes.
#include "kwire_pulsar/entry.hpp"

#include "kwire_pulsar/compression.hpp"
#include "kwire_pulsar/error.hpp"

namespace kwire_pulsar {

std::string MessageId::str() const {
  if (is_earliest()) return "earliest";
  std::string s = std::to_string(ledger) + ":" + std::to_string(entry);
  if (partition >= 0 || batch_index >= 0) s += ":" + std::to_string(partition);
  if (batch_index >= 0) s += ":" + std::to_string(batch_index);
  return s;
}

wire::MessageIdData MessageId::to_wire() const {
  wire::MessageIdData d;
  d.set_ledgerid(ledger);
  d.set_entryid(entry);
  if (partition >= 0) d.set_partition(partition);
  if (batch_index >= 0) d.set_batch_index(batch_index);
  return d;
}

MessageId MessageId::from_wire(const wire::MessageIdData& d) {
  return {d.ledgerid(), d.entryid(), d.partition(), d.batch_index()};
}

bool Entry::acknowledged(int batch_index) const {
  if (ack_set.empty() || batch_index < 0) return false;
  const auto word = static_cast<std::size_t>(batch_index) / 64;
  if (word >= ack_set.size()) return true;  // past the words the broker sent: no bit set
  return (static_cast<std::uint64_t>(ack_set[word]) >> (batch_index % 64) & 1) == 0;
}

int Entry::unacknowledged_count() const {
  const int n = message_count();
  if (ack_set.empty() || !batched()) return n;
  int left = 0;
  for (int i = 0; i < n; ++i) left += acknowledged(i) ? 0 : 1;
  return left;
}

std::vector<Message> entry_messages(const Entry& e) {
  std::vector<Message> out;
  const auto& meta = *e.metadata;
  std::string inflated;
  if (meta.compression() != wire::NONE)
    inflated = decompress_payload(meta.compression(), e.payload, meta.uncompressed_size());
  const std::string& payload = meta.compression() != wire::NONE ? inflated : e.payload;
  auto base = [&](Message& m) {
    m.redelivery_count = e.redelivery_count;
    m.publish_time = meta.publish_time();
    m.event_time = meta.event_time();
    m.producer_name = meta.producer_name();
    m.sequence_id = meta.sequence_id();
  };
  if (!e.batched()) {
    Message m;
    base(m);
    m.id = e.id;
    if (meta.has_partition_key()) m.key = meta.partition_key();
    m.null_value = meta.null_value();
    m.value = payload;
    for (auto& kv : meta.properties()) m.properties.emplace_back(kv.key(), kv.value());
    m.index = e.index;
    out.push_back(std::move(m));
    return out;
  }
  std::vector<BatchedMessage> parts;
  const int n = meta.num_messages_in_batch();
  if (!split_batch(payload, n, parts)) throw Error(Error::client_protocol, "malformed batch " + e.id.str());
  for (int i = 0; i < n; ++i) {
    if (e.acknowledged(i)) continue;
    auto& p = parts[static_cast<std::size_t>(i)];
    Message m;
    base(m);
    m.id = e.id;
    m.id.batch_index = i;
    m.id.batch_size = n;
    if (p.metadata.has_partition_key()) m.key = p.metadata.partition_key();
    m.null_value = p.metadata.null_value();
    if (p.metadata.has_event_time()) m.event_time = p.metadata.event_time();
    if (p.metadata.has_sequence_id()) m.sequence_id = p.metadata.sequence_id();
    for (auto& kv : p.metadata.properties()) m.properties.emplace_back(kv.key(), kv.value());
    m.value = std::move(p.payload);
    if (e.index) m.index = *e.index - static_cast<std::uint64_t>(n - 1 - i);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace kwire_pulsar
