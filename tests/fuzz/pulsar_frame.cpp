// Fuzzes the Pulsar side of kwire-broker's storage: a frame body as the
// broker sends it (command, broker entry metadata, checksum, message
// metadata), then the payload inflated as its metadata declares and split
// into a batch's messages.
#include <cstdint>
#include <string>
#include <vector>

#include "kwire_pulsar/compression.hpp"
#include "kwire_pulsar/error.hpp"
#include "kwire_pulsar/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace kp = kwire_pulsar;
  kp::Frame frame;
  if (!kp::decode_frame({data, size}, frame) || !frame.metadata) return 0;
  const auto& meta = *frame.metadata;
  std::string payload = frame.payload;
  if (meta.compression() != kp::wire::NONE) {
    try {
      payload = kp::decompress_payload(meta.compression(), payload, meta.uncompressed_size());
    } catch (const kp::Error&) {
      return 0;
    }
    if (payload.size() != meta.uncompressed_size()) __builtin_trap();
  }
  if (meta.has_num_messages_in_batch()) {
    std::vector<kp::BatchedMessage> messages;
    if (kp::split_batch(payload, meta.num_messages_in_batch(), messages)) {
      std::size_t total = 0;
      for (const auto& m : messages) total += m.payload.size();
      if (total > payload.size()) __builtin_trap();
    }
  }
  return 0;
}
