// Pulsar's binary framing.
//
// Every frame is  [total size u32][command size u32][BaseCommand]  and, for
// commands that carry a message (SEND, MESSAGE), continues with
//
//   [0x0e02][size u32][BrokerEntryMetadata]      only broker → client, and only
//                                                for clients that asked for it
//   [0x0e01][crc32c u32][metadata size u32][MessageMetadata][payload]
//
// where the CRC-32C covers everything after itself. Sizes are big-endian.
// A batched payload is a run of  [size u32][SingleMessageMetadata][bytes].
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pulsar_wire.pb.h"

namespace kwire_pulsar {

inline constexpr std::uint16_t checksum_magic = 0x0e01;
inline constexpr std::uint16_t entry_metadata_magic = 0x0e02;
/// Frames larger than this are refused (the broker's default is 5 MiB plus
/// headroom for the headers).
inline constexpr std::uint32_t max_frame_size = 5 * 1024 * 1024 + 10 * 1024;

/// A simple command: no payload.
std::string encode_command(const wire::BaseCommand& cmd);

/// A command with a message: metadata and payload, with the CRC-32C.
std::string encode_payload_command(const wire::BaseCommand& cmd, const wire::MessageMetadata& meta,
                                   std::string_view payload);

struct Frame {
  wire::BaseCommand command;
  std::optional<wire::BrokerEntryMetadata> entry_metadata;
  std::optional<wire::MessageMetadata> metadata;
  std::string payload;     // the bytes after the metadata (maybe a batch)
  bool checksum_ok = true;  // false when the CRC did not match
};

/// Parses one frame without its leading total-size field. Returns false when
/// the bytes are not a well-formed frame.
bool decode_frame(std::span<const std::uint8_t> body, Frame& out);

/// Parses a message's metadata, as its producer wrote it: false when the
/// bytes are not well-formed. Unlike a bare ParseFromArray, it never reserves
/// memory on the word of a length the bytes do not hold (see frame.cpp).
bool parse_metadata(std::span<const std::uint8_t> bytes, wire::MessageMetadata& out);
bool parse_metadata(std::span<const std::uint8_t> bytes, wire::SingleMessageMetadata& out);

/// One message inside a batched payload.
struct BatchedMessage {
  wire::SingleMessageMetadata metadata;
  std::string payload;
};

/// Appends one message to a batched payload under construction.
void append_to_batch(std::string& batch, const wire::SingleMessageMetadata& meta,
                     std::string_view payload);

/// Splits a batched payload holding `count` messages. False when malformed.
bool split_batch(std::string_view batch, int count, std::vector<BatchedMessage>& out);

// Big-endian helpers shared with the client.
inline void put_u32(std::string& s, std::uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  s.append(b, 4);
}
inline std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace kwire_pulsar
