// Fuzzes request decoding by API key and version. Input: api key (int16),
// api version (int16), then the body. Whatever decodes must re-encode, and the
// re-encoding must decode to an equal message (the codec's own invariant).
#include <kwire/codec.hpp>
#include <kwire/json/json.hpp>
#include <kwire/messages/dispatch.hpp>

#include <cstdlib>
#include <memory_resource>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  auto key = static_cast<std::int16_t>(data[0] << 8 | data[1]);
  auto version = static_cast<std::int16_t>(data[2] << 8 | data[3]);
  kwire::bytes_view body(data + 4, size - 4);
  kwire::with_request_type(key, [&]<class M>(std::type_identity<M>) {
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
