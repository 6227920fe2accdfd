// Fuzzes the group coordinator's reading of a share partition's stored record
// (a store hands back whatever bytes it holds: another writer's, a damaged
// one), in both forms: a window of the log (share_partition.cpp) and a
// partition served from the store's queue (share_queue_partition.cpp).
// Whatever the bytes:
//  - neither decoder crashes nor hits UB, and memory stays bounded (a record
//    claiming a vast window is refused);
//  - a record that decodes is written back by encode into bytes that decode
//    again and encode to the same bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "coordinator/share_partition.hpp"
#include "coordinator/share_queue_partition.hpp"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "share_state: %s\n", what);
  std::abort();
}

template <class Partition>
void round_trip(const std::vector<std::uint8_t>& bytes) {
  auto p = Partition::decode(bytes);
  if (!p) return;
  const auto once = p->encode();
  auto again = Partition::decode(once);
  require(again.has_value(), "a record written back does not read");
  require(again->encode() == once, "a record written back reads as another");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  round_trip<kwire_broker::share::SharePartition>(bytes);
  round_trip<kwire_broker::share::QueuedPartition>(bytes);
  return 0;
}
