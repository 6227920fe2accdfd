// The consumer's embedded protocol (see consumer_protocol.hpp), on kwire's
// generated ConsumerProtocolSubscription and ConsumerProtocolAssignment.
#include "coordinator/consumer_protocol.hpp"

#include <algorithm>
#include <memory_resource>

#include "kwire/codec.hpp"
#include "kwire/messages/consumer_protocol_assignment.hpp"
#include "kwire/messages/consumer_protocol_subscription.hpp"

namespace kwire_broker::consumer {

namespace {

/// Reads the version prefix and the body of data schema M from `bytes`
/// into `out`; false when they do not decode. The strings `out` holds point
/// into `bytes` and `mem`.
template <class M>
bool read_versioned(const std::vector<std::uint8_t>& bytes, std::pmr::memory_resource* mem, M& out) {
  kwire::Reader r(kwire::bytes_view(bytes), mem);
  const auto version = r.i16();
  if (!r.ok() || version < M::min_version) return false;
  kwire::decode_from(r, out, std::min<std::int16_t>(version, M::max_version));
  return r.ok();
}

template <class List>
NamedPartitions named(const List& list) {
  NamedPartitions out;
  for (auto& tp : list) out[std::string(tp.topic)].insert(tp.partitions.begin(), tp.partitions.end());
  return out;
}

}  // namespace

std::optional<Subscription> decode_subscription(const std::vector<std::uint8_t>& bytes) {
  std::pmr::unsynchronized_pool_resource mem;
  kwire::ConsumerProtocolSubscription sub;
  if (!read_versioned(bytes, &mem, sub)) return std::nullopt;
  Subscription out;
  for (auto t : sub.topics) out.topics.emplace_back(t);
  out.owned = named(sub.owned_partitions);
  if (sub.rack_id) out.rack_id = std::string(*sub.rack_id);
  return out;
}

std::optional<NamedPartitions> decode_assignment(const std::vector<std::uint8_t>& bytes) {
  std::pmr::unsynchronized_pool_resource mem;
  kwire::ConsumerProtocolAssignment a;
  if (!read_versioned(bytes, &mem, a)) return std::nullopt;
  return named(a.assigned_partitions);
}

std::vector<std::uint8_t> encode_assignment(const NamedPartitions& partitions) {
  // Version 0: every consumer reads it, and later versions add nothing to it.
  constexpr std::int16_t version = 0;
  kwire::ConsumerProtocolAssignment a;
  for (auto& [topic, ps] : partitions) {
    if (ps.empty()) continue;
    auto& tp = a.assigned_partitions.emplace_back();
    tp.topic = topic;  // a view of `partitions`, which outlives `a`
    tp.partitions.assign(ps.begin(), ps.end());
  }
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(version >> 8), static_cast<std::uint8_t>(version & 0xff)};
  kwire::encode_into(a, version, out);
  return out;
}

}  // namespace kwire_broker::consumer
