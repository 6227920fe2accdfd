// Fuzzes the group coordinator's reading of the consumer's embedded protocol
// (a JoinGroup's ConsumerProtocolSubscription, a SyncGroup's
// ConsumerProtocolAssignment; coordinator/consumer_protocol.cpp), as it meets
// them when a classic member joins a consumer group or a classic group is
// upgraded. Whatever the bytes:
//  - neither decoder crashes nor hits UB;
//  - what they return is no larger than the input allows (every topic name
//    and partition takes bytes of its own);
//  - an assignment that decodes is written back by encode_assignment into
//    bytes that decode to the same partitions.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "coordinator/consumer_protocol.hpp"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "consumer_protocol: %s\n", what);
  std::abort();
}

std::size_t partitions_in(const kwire_broker::consumer::NamedPartitions& named) {
  std::size_t n = 0;
  for (auto& [_, ps] : named) n += ps.size();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  if (auto sub = kwire_broker::consumer::decode_subscription(bytes)) {
    require(sub->topics.size() <= size, "more topics than bytes");
    require(partitions_in(sub->owned) <= size, "more owned partitions than bytes");
  }
  if (auto assigned = kwire_broker::consumer::decode_assignment(bytes)) {
    require(partitions_in(*assigned) <= size, "more assigned partitions than bytes");
    // Topics without partitions are not written back.
    std::erase_if(*assigned, [](const auto& entry) { return entry.second.empty(); });
    auto again = kwire_broker::consumer::decode_assignment(kwire_broker::consumer::encode_assignment(*assigned));
    require(again.has_value(), "an encoded assignment does not decode");
    require(*again == *assigned, "an assignment changed through encode and decode");
  }
  return 0;
}
