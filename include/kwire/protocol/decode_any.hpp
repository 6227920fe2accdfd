// Decoding a message whose type is known only at run time, from (api key,
// version, bytes): the decoded message is handed to a generic callback.
//
//   kwire::decode_request(key, version, body, [&](const auto& msg) { ... });
#pragma once

#include <cstdint>
#include <memory_resource>

#include "kwire/codec.hpp"
#include "kwire/messages/dispatch.hpp"

namespace kwire {

namespace detail {
template <bool Request, class F>
DecodeResult decode_any(std::int16_t api_key, std::int16_t version, bytes_view body, F&& on_message,
                        std::pmr::memory_resource* mem) {
  DecodeResult result(DecodeError{DecodeErrc::unknown_api_key, 0, {}});
  auto run = [&]<class M>(std::type_identity<M>) {
    M msg;
    result = decode(msg, body, version, mem);
    if (result) on_message(msg);
  };
  if constexpr (Request)
    with_request_type(api_key, run);
  else
    with_response_type(api_key, run);
  return result;
}
}  // namespace detail

/// Decodes the body of a request; calls on_message(const M&) on success.
template <class F>
DecodeResult decode_request(std::int16_t api_key, std::int16_t version, bytes_view body, F&& on_message,
                            std::pmr::memory_resource* mem = std::pmr::get_default_resource()) {
  return detail::decode_any<true>(api_key, version, body, on_message, mem);
}

/// Decodes the body of a response; calls on_message(const M&) on success.
template <class F>
DecodeResult decode_response(std::int16_t api_key, std::int16_t version, bytes_view body, F&& on_message,
                             std::pmr::memory_resource* mem = std::pmr::get_default_resource()) {
  return detail::decode_any<false>(api_key, version, body, on_message, mem);
}

}  // namespace kwire
