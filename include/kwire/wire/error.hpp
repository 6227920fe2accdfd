// Errors raised while decoding or encoding. A decode error says what went
// wrong (DecodeErrc), where (byte offset from the start of the decoded buffer)
// and in which field (a path such as "Topics[2].Partitions[0].Records").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kwire {

enum class DecodeErrc : std::uint8_t {
  truncated,             // the input ends inside a value
  invalid_length,        // a length or count below -1 (or null where null is not allowed)
  length_exceeds_input,  // a length or count larger than the bytes that remain
  string_too_long,       // a string longer than 32767 bytes
  varint_overflow,       // a varint longer than its type allows
  unsupported_version,   // the API version is outside the message's valid versions
  unknown_api_key,       // no message is known for this API key
  trailing_bytes,        // bytes remain after the message ended
  frame_too_large,       // a size-prefixed frame above the configured limit
  invalid_frame_size,    // a negative frame size
  too_deep,              // nesting deeper than the reader supports
  invalid_record,        // a record batch or record is malformed
  crc_mismatch,          // a record batch or message checksum does not match
  decompression_failed,  // a compressed record set could not be inflated
  limit_exceeded,        // a configured limit (inflated size, record count...) was hit
};

constexpr std::string_view to_string(DecodeErrc e) noexcept {
  switch (e) {
    case DecodeErrc::truncated: return "truncated input";
    case DecodeErrc::invalid_length: return "invalid length";
    case DecodeErrc::length_exceeds_input: return "length exceeds remaining input";
    case DecodeErrc::string_too_long: return "string longer than 32767 bytes";
    case DecodeErrc::varint_overflow: return "varint overflow";
    case DecodeErrc::unsupported_version: return "unsupported version";
    case DecodeErrc::unknown_api_key: return "unknown API key";
    case DecodeErrc::trailing_bytes: return "trailing bytes after message";
    case DecodeErrc::frame_too_large: return "frame larger than the limit";
    case DecodeErrc::invalid_frame_size: return "invalid frame size";
    case DecodeErrc::too_deep: return "nesting too deep";
    case DecodeErrc::invalid_record: return "invalid record";
    case DecodeErrc::crc_mismatch: return "checksum mismatch";
    case DecodeErrc::decompression_failed: return "decompression failed";
    case DecodeErrc::limit_exceeded: return "limit exceeded";
  }
  return "unknown error";
}

struct DecodeError {
  DecodeErrc code = DecodeErrc::truncated;
  std::size_t offset = 0;  // from the start of the buffer given to the decoder
  std::string path;        // field path, empty at top level

  std::string message() const {
    std::string m(to_string(code));
    m += " at byte ";
    m += std::to_string(offset);
    if (!path.empty()) {
      m += " in ";
      m += path;
    }
    return m;
  }
};

enum class EncodeErrc : std::uint8_t {
  unsupported_version,  // the message has no such version
  field_not_in_version, // a non-ignorable field holds a non-default value the version cannot carry
  null_not_allowed,     // null in a field that is not nullable in this version
  too_long,             // a string, bytes or array longer than the encoding allows
};

constexpr std::string_view to_string(EncodeErrc e) noexcept {
  switch (e) {
    case EncodeErrc::unsupported_version: return "unsupported version";
    case EncodeErrc::field_not_in_version: return "field has a non-default value but is not in this version";
    case EncodeErrc::null_not_allowed: return "null is not allowed in this version";
    case EncodeErrc::too_long: return "value too long for its encoding";
  }
  return "unknown error";
}

struct EncodeError {
  EncodeErrc code = EncodeErrc::unsupported_version;
  std::string field;  // the offending field's name
  std::string message() const {
    std::string m(to_string(code));
    if (!field.empty()) {
      m += ": ";
      m += field;
    }
    return m;
  }
};

}  // namespace kwire
