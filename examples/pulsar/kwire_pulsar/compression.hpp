// Pulsar's payload compression. An entry's metadata names the codec and the
// uncompressed size; the whole payload (one message, or a batch with its
// per-message headers) is compressed as one block:
//   LZ4     a raw LZ4 block (no frame)
//   ZLIB    a zlib stream (deflate with the zlib header)
//   ZSTD    a zstd frame
//   SNAPPY  a raw snappy block (no framing)
// The codecs are kwire's (zlib, snappy, zstd) and liblz4's block API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pulsar_wire.pb.h"

namespace kwire_pulsar {

/// Largest uncompressed payload accepted (Pulsar's own message limit is a
/// few MiB; a batch of them stays well below this).
inline constexpr std::size_t max_uncompressed_payload = 64u << 20;

/// Appends `in` compressed with `codec` to `out`; false if the codec fails
/// or is unknown.
bool compress_payload(wire::CompressionType codec, std::string_view in, std::string& out);

/// `in` inflated to exactly `uncompressed_size` bytes. Throws Error
/// (client_protocol) on an unknown codec, corrupt input, a size other than
/// the declared one, or a declared size above max_uncompressed_payload.
std::string decompress_payload(wire::CompressionType codec, std::string_view in, std::size_t uncompressed_size);

}  // namespace kwire_pulsar
