// Reading and writing whole request and response frames: the header chosen
// for the API version, then the body.
#pragma once

#include <boost/endian/conversion.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "kwire/codec.hpp"
#include "kwire/messages/request_header.hpp"
#include "kwire/messages/response_header.hpp"
#include "kwire/protocol/header_versions.hpp"

namespace kwire {

/// A request frame split into its header and its (still encoded) body.
struct RequestFrame {
  RequestHeader header;
  std::int16_t header_version = 1;
  bytes_view body;  // the API message, to decode with header.request_api_version
};

/// Decodes the header of a request frame (without its size prefix). Works for
/// API keys and versions kwire does not know, so that a broker can still answer
/// with the right correlation id; check find_api() and the version after.
inline DecodeResult read_request_header(bytes_view frame, RequestFrame& out) {
  if (frame.size() < 4) return DecodeResult(DecodeError{DecodeErrc::truncated, frame.size(), "RequestApiKey"});
  std::int16_t key = static_cast<std::int16_t>(frame[0] << 8 | frame[1]);
  std::int16_t version = static_cast<std::int16_t>(frame[2] << 8 | frame[3]);
  out.header_version = request_header_version(key, version);
  Reader r(frame);
  out.header.decode_from(r, out.header_version, out.header_version >= RequestHeader::flexible_from);
  if (!r.ok()) return DecodeResult(*r.take_error());
  out.body = frame.subspan(r.offset());
  return {};
}

namespace detail {
/// Appends [size][header][body]: one size pass for both, one write.
template <class Header, Message M>
std::optional<EncodeError> encode_frame(const Header& header, std::int16_t header_version, const M& body,
                                        std::int16_t api_version, std::vector<std::uint8_t>& out) {
  const bool header_flex = header_version >= Header::flexible_from;
  Sizer hs;
  header.encode_to(hs, header_version, header_flex);
  if (hs.error()) return hs.error();
  SizeResult bs = encoded_size(body, api_version);
  if (bs.error) return bs.error;
  std::size_t at = out.size();
  std::size_t total = hs.size() + bs.size;
  out.resize(at + 4 + total);
  std::uint32_t be = boost::endian::native_to_big(static_cast<std::uint32_t>(total));
  std::memcpy(out.data() + at, &be, 4);
  Writer w(out.data() + at + 4, out.data() + out.size());
  header.encode_to(w, header_version, header_flex);
  body.encode_to(w, api_version, is_flexible<M>(api_version));
  return std::nullopt;
}
}  // namespace detail

/// Appends a whole response frame (size, header, body) for `body` answering a
/// request with `api_key`/`api_version` and `correlation_id`.
template <Message M>
std::optional<EncodeError> encode_response_frame(const M& body, std::int16_t api_key, std::int16_t api_version,
                                                 std::int32_t correlation_id, std::vector<std::uint8_t>& out) {
  ResponseHeader header;
  header.correlation_id = correlation_id;
  return detail::encode_frame(header, response_header_version(api_key, api_version), body, api_version, out);
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
  out.header.decode_from(r, hv, hv >= ResponseHeader::flexible_from);
  if (!r.ok()) return DecodeResult(*r.take_error());
  out.body = frame.subspan(r.offset());
  return {};
}
inline DecodeResult read_response_header(bytes_view frame, ApiKey api_key, std::int16_t api_version,
                                         ResponseFrame& out) {
  return read_response_header(frame, static_cast<std::int16_t>(api_key), api_version, out);
}

}  // namespace kwire
