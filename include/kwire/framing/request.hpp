// Reading and writing whole request and response frames: the header chosen
// for the API version, then the body.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kwire/codec.hpp"
#include "kwire/messages/api.hpp"
#include "kwire/messages/pairing.hpp"
#include "kwire/messages/request_header.hpp"
#include "kwire/messages/response_header.hpp"
#include "kwire/protocol/header_versions.hpp"

namespace kwire {

/// The first 8 bytes of every request header, whatever its version: enough to
/// route a request, and to answer it (with its correlation id) even when the
/// rest of the header or the body cannot be decoded.
struct RequestPrefix {
  ApiKey api_key{};  // may be a key kwire does not know: check find_api()
  std::int16_t api_version = 0;
  std::int32_t correlation_id = 0;
};

/// Reads the API key, version and correlation id at the front of a request
/// frame (without its size prefix), leaving the client id and tagged fields
/// undecoded. A frame shorter than 8 bytes is a `truncated` error naming the
/// field it cuts; `out` is then unchanged.
inline DecodeResult peek_request_header(bytes_view frame, RequestPrefix& out) {
  // Three fixed fields: tracing their names costs nothing worth saving.
  TracingReader r(frame);
  r.field("RequestApiKey");
  const std::int16_t key = r.i16();
  r.field("RequestApiVersion");
  const std::int16_t version = r.i16();
  r.field("CorrelationId");
  const std::int32_t correlation_id = r.i32();
  if (!r.ok()) return DecodeResult(*r.take_error());
  out = RequestPrefix{static_cast<ApiKey>(key), version, correlation_id};
  return {};
}

/// A request frame split into its header and its (still encoded) body.
struct RequestFrame {
  RequestHeader header;
  std::int16_t header_version = 1;
  bytes_view body;  // the API message, to decode with header.request_api_version

  /// The header's API key, typed to compare with a message's `api_key`.
  ApiKey api_key() const noexcept { return static_cast<ApiKey>(header.request_api_key); }
};

/// Decodes the header of a request frame (without its size prefix). Works for
/// API keys and versions kwire does not know, so that a broker can still answer
/// with the right correlation id; check find_api() and the version after.
inline DecodeResult read_request_header(bytes_view frame, RequestFrame& out) {
  RequestPrefix prefix;
  if (auto p = peek_request_header(frame, prefix); !p) return p;
  out.header_version = request_header_version(prefix.api_key, prefix.api_version);
  Reader r(frame);
  decode_from(r, out.header, out.header_version);
  if (!r.ok()) return DecodeResult(*r.take_error());
  out.body = frame.subspan(r.offset());
  return {};
}

namespace detail {
/// Appends [size][header][body]: one size pass for both, one write. Nothing is
/// appended unless the whole frame can be encoded.
template <class Header, Message M>
std::optional<EncodeError> encode_frame(const Header& header, std::int16_t header_version, const M& body,
                                        std::int16_t api_version, std::vector<std::uint8_t>& out) {
  const bool header_flex = header_version >= Header::flexible_from;
  Sizer hs;
  header.encode_to(hs, header_version, header_flex);
  if (hs.error()) return hs.error();
  if (api_version < M::min_version || api_version > M::max_version) {
    return EncodeError{EncodeErrc::unsupported_version, {}};
  }
  const bool flex = is_flexible<M>(api_version);
  Sizer bs;
  body.encode_to(bs, api_version, flex);
  if (bs.error()) return bs.error();
  const std::size_t total = hs.size() + bs.size();
  // The size prefix is an int32; record sets are views, so a body can be larger.
  if (total > static_cast<std::size_t>(INT32_MAX)) return EncodeError{EncodeErrc::too_long, "frame size"};
  detail::append_encoded(out, 4 + total, hs.large_bytes() + bs.large_bytes(), [&](auto& w) {
    w.i32(static_cast<std::int32_t>(total));
    header.encode_to(w, header_version, header_flex);
    body.encode_to(w, api_version, flex);
  });
  return std::nullopt;
}
}  // namespace detail

/// Appends a whole response frame (size, header, body) for `body` answering a
/// request with `api_key`/`api_version` and `correlation_id`. The header is v1
/// for a flexible version, v0 otherwise and always for ApiVersions (KIP-511).
/// On error (the body does not fit the version) nothing is appended.
template <Message M>
std::optional<EncodeError> encode_response_frame(const M& body, std::int16_t api_key, std::int16_t api_version,
                                                 std::int32_t correlation_id, std::vector<std::uint8_t>& out) {
  ResponseHeader header;
  header.correlation_id = correlation_id;
  return detail::encode_frame(header, response_header_version(api_key, api_version), body, api_version, out);
}

/// The same, with the API key taken from the response type.
template <Message M>
  requires ResponseMessage<M>
std::optional<EncodeError> encode_response_frame(const M& body, std::int16_t api_version, std::int32_t correlation_id,
                                                 std::vector<std::uint8_t>& out) {
  return encode_response_frame(body, static_cast<std::int16_t>(M::api_key), api_version, correlation_id, out);
}

/// Appends a whole request frame (size, header, body).
template <Message M>
std::optional<EncodeError> encode_request_frame(const M& body, const RequestHeader& header,
                                                std::vector<std::uint8_t>& out) {
  return detail::encode_frame(header, request_header_version(header.request_api_key, header.request_api_version),
                              body, header.request_api_version, out);
}

/// Splits a response frame's header from its body, given the request it answers.
struct ResponseFrame {
  ResponseHeader header;
  bytes_view body;
};
inline DecodeResult read_response_header(bytes_view frame, std::int16_t api_key, std::int16_t api_version,
                                         ResponseFrame& out) {
  std::int16_t hv = response_header_version(api_key, api_version);
  Reader r(frame);
  decode_from(r, out.header, hv);
  if (!r.ok()) return DecodeResult(*r.take_error());
  out.body = frame.subspan(r.offset());
  return {};
}
inline DecodeResult read_response_header(bytes_view frame, ApiKey api_key, std::int16_t api_version,
                                         ResponseFrame& out) {
  return read_response_header(frame, static_cast<std::int16_t>(api_key), api_version, out);
}

}  // namespace kwire
