// Fuzzes request decoding by API key and version. Input: api key (int16),
// api version (int16), then the body. Whatever decodes must re-encode, and the
// re-encoding must decode to an equal message (the codec's own invariant);
// and decoding never allocates past its memory budget, whatever the input.
#include <kwire/codec.hpp>
#include <kwire/json/json.hpp>
#include <kwire/messages/dispatch.hpp>

#include <cstdlib>
#include <memory_resource>

#include "../support/counting_resource.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  auto key = static_cast<std::int16_t>(data[0] << 8 | data[1]);
  auto version = static_cast<std::int16_t>(data[2] << 8 | data[3]);
  kwire::bytes_view body(data + 4, size - 4);
  kwire::with_request_type(key, [&]<class M>(std::type_identity<M>) {
    {
      // A budget tighter than the default: 0-15 times the body, from its last byte.
      kwire_test::CountingResource counting;
      const std::size_t budget = body.size() * (data[size - 1] & 15);
      M tight;
      (void)kwire::decode(tight, body, version, kwire::DecodeOptions{.memory = &counting, .max_memory = budget});
      if (counting.allocated > budget) __builtin_trap();
    }
    std::pmr::monotonic_buffer_resource arena;
    M msg;
    if (!kwire::decode(msg, body, version, &arena)) return;
    (void)kwire::to_json(msg, version).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto again = kwire::encode(msg, version);
    if (!again) std::abort();
    M back;
    if (!kwire::decode(back, again.bytes, version, &arena) || !(back == msg)) std::abort();
  });
  return 0;
}
