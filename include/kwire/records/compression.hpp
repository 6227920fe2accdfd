// Compression codecs of record batches and legacy wrapper messages. This is
// the only records header that needs the codec libraries (zlib, snappy, lz4,
// zstd): link kwire::compression.
//
// Output settings follow Kafka's Java client defaults so that batches look
// like the ones a Java producer writes:
//   gzip   - raw deflate at level 6 (Java's default) behind the fixed 10-byte
//            header java.util.zip.GZIPOutputStream writes (mtime 0, OS 255),
//            then CRC-32 and size. With the same zlib, bytes are identical.
//   snappy - the xerial snappy-java stream: magic "\x82SNAPPY\0", version 1,
//            compatible version 1, then [int32 length][raw block] per 32 KiB
//            of input. Blocks depend on the snappy version.
//   lz4    - the LZ4 frame format with 64 KiB independent blocks, no block or
//            content checksum, fast (level 0) compression: what Kafka's
//            Lz4BlockOutputStream writes at its default level.
//   zstd   - one frame at level 3 written as a stream, flushed, then ended
//            with an empty last block (no content size, no checksum), as
//            zstd-jni's output stream does when Kafka closes it. Block
//            contents depend on the zstd version.
//
// Decompression is streamed into a caller-owned vector with an output bound;
// an input that inflates past the bound fails with limit_exceeded before more
// memory is taken. Readers accept what real producers send: concatenated gzip
// members, raw snappy as well as the xerial framing, LZ4 frames with Kafka's
// old (magic 0) header checksum that covered the frame magic too, and
// concatenated zstd frames.
#pragma once

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kwire/records/batch.hpp"
#include "kwire/records/crc32c.hpp"
#include "kwire/wire/error.hpp"
#include "kwire/wire/types.hpp"

namespace kwire {

namespace compression_detail {

inline DecodeError failure(DecodeErrc code, std::size_t offset, const char* what) {
  return records_detail::error_at(code, offset, what);
}

/// Grows `out` toward limit + 1 bytes in steps, so that an output that
/// reaches limit + 1 proves the bound was exceeded. Returns the room now
/// available after `used` bytes, or 0 when the bound is reached.
inline std::size_t grow(std::vector<std::uint8_t>& out, std::size_t used, std::size_t limit, std::size_t hint) {
  std::size_t cap = limit == SIZE_MAX ? limit : limit + 1;
  if (used >= cap) return 0;
  if (out.size() <= used) {
    std::size_t want = std::max<std::size_t>({std::size_t{64} << 10, hint, out.size() * 2});
    out.resize(std::min(cap, std::max(want, used + 1)));
  }
  return out.size() - used;
}

using kwire::xxh32;

// Java's GZIPOutputStream header: no name, mtime 0, no extra flags, OS 255.
inline constexpr std::array<std::uint8_t, 10> java_gzip_header = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
inline constexpr std::array<std::uint8_t, 8> xerial_magic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
inline constexpr std::size_t xerial_header_size = 16;
inline constexpr std::size_t xerial_block = 32 * 1024;

}  // namespace compression_detail

// ---------------------------------------------------------------- gzip

inline bool gzip_compress(bytes_view in, std::vector<std::uint8_t>& out, int level = 6) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  const std::size_t start = out.size();
  out.insert(out.end(), compression_detail::java_gzip_header.begin(), compression_detail::java_gzip_header.end());
  std::size_t bound = deflateBound(&z, static_cast<uLong>(in.size()));
  std::size_t pos = out.size();
  out.resize(pos + bound + 8);
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data() + pos;
  z.avail_out = static_cast<uInt>(bound);
  int rc = deflate(&z, Z_FINISH);
  std::size_t produced = bound - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    out.resize(start);
    return false;
  }
  out.resize(pos + produced);
  std::uint32_t crc = crc32::value(in);
  std::uint32_t size = static_cast<std::uint32_t>(in.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(size >> (8 * i)));
  return true;
}

/// Inflates one or more concatenated gzip members (zlib streams are accepted
/// too) into `out`, at most `limit` bytes.
inline std::optional<DecodeError> gzip_decompress(bytes_view in, std::vector<std::uint8_t>& out, std::size_t limit) {
  using compression_detail::failure;
  out.clear();
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return failure(DecodeErrc::decompression_failed, 0, "gzip");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  std::size_t used = 0;
  for (;;) {
    std::size_t room = compression_detail::grow(out, used, limit, in.size() * 4);
    if (room == 0) {
      out.clear();
      return failure(DecodeErrc::limit_exceeded, in.size() - z.avail_in, "gzip");
    }
    z.next_out = out.data() + used;
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(room, UINT32_MAX));
    uInt before = z.avail_out;
    int rc = inflate(&z, Z_NO_FLUSH);
    used += before - z.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow (Java's reader accepts concatenated ones).
      if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
        if (inflateReset(&z) != Z_OK) break;
        continue;
      }
      if (z.avail_in != 0) {
        out.clear();
        return failure(DecodeErrc::decompression_failed, in.size() - z.avail_in, "gzip: bytes after the stream");
      }
      if (used > limit) {
        out.clear();
        return failure(DecodeErrc::limit_exceeded, in.size(), "gzip");
      }
      out.resize(used);
      return std::nullopt;
    }
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // input ended inside the stream
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
  out.clear();
  return failure(DecodeErrc::decompression_failed, in.size() - z.avail_in, "gzip");
}

// ---------------------------------------------------------------- snappy

/// Raw snappy block compression (no framing).
inline bool snappy_compress_raw(bytes_view in, std::vector<std::uint8_t>& out) {
  std::size_t start = out.size();
  std::size_t n = snappy_max_compressed_length(in.size());
  out.resize(start + n);
  if (snappy_compress(reinterpret_cast<const char*>(in.data()), in.size(), reinterpret_cast<char*>(out.data() + start),
                      &n) != SNAPPY_OK) {
    out.resize(start);
    return false;
  }
  out.resize(start + n);
  return true;
}

/// The xerial snappy-java stream that Kafka's Java client writes.
inline bool snappy_compress_xerial(bytes_view in, std::vector<std::uint8_t>& out) {
  using namespace compression_detail;
  std::size_t start = out.size();
  out.insert(out.end(), xerial_magic.begin(), xerial_magic.end());
  for (std::uint8_t b : {0, 0, 0, 1, 0, 0, 0, 1}) out.push_back(b);  // version 1, compatible 1
  for (std::size_t pos = 0; pos < in.size(); pos += xerial_block) {
    std::size_t chunk = std::min(xerial_block, in.size() - pos);
    std::size_t len_at = out.size();
    out.resize(len_at + 4);
    if (!snappy_compress_raw(in.subspan(pos, chunk), out)) {
      out.resize(start);
      return false;
    }
    records_detail::store_be<std::uint32_t>(out.data() + len_at, static_cast<std::uint32_t>(out.size() - len_at - 4));
  }
  return true;
}

namespace compression_detail {
/// Appends one raw snappy block to `out` at `used`, within the limit.
inline std::optional<DecodeError> snappy_block(bytes_view block, std::size_t at, std::vector<std::uint8_t>& out,
                                               std::size_t& used, std::size_t limit) {
  std::size_t n = 0;
  if (snappy_uncompressed_length(reinterpret_cast<const char*>(block.data()), block.size(), &n) != SNAPPY_OK)
    return failure(DecodeErrc::decompression_failed, at, "snappy");
  if (n > limit - used) return failure(DecodeErrc::limit_exceeded, at, "snappy");
  // The declared length is not trusted with memory: the densest snappy
  // element (a 64-byte copy in three bytes) expands less than 22 times.
  if (n / 22 > block.size()) return failure(DecodeErrc::decompression_failed, at, "snappy: impossible length");
  out.resize(used + n);
  std::size_t produced = n;
  if (snappy_uncompress(reinterpret_cast<const char*>(block.data()), block.size(),
                        reinterpret_cast<char*>(out.data() + used), &produced) != SNAPPY_OK ||
      produced != n)
    return failure(DecodeErrc::decompression_failed, at, "snappy");
  used += n;
  return std::nullopt;
}
}  // namespace compression_detail

/// Inflates the xerial framing, or a raw snappy block when the input does not
/// start with the xerial magic.
inline std::optional<DecodeError> snappy_decompress(bytes_view in, std::vector<std::uint8_t>& out, std::size_t limit) {
  using namespace compression_detail;
  out.clear();
  std::size_t used = 0;
  std::optional<DecodeError> err;
  if (in.size() >= xerial_magic.size() && std::equal(xerial_magic.begin(), xerial_magic.end(), in.begin())) {
    if (in.size() < xerial_header_size) return failure(DecodeErrc::truncated, in.size(), "snappy: xerial header");
    std::size_t pos = xerial_header_size;
    while (!err && pos < in.size()) {
      if (in.size() - pos < 4) {
        err = failure(DecodeErrc::truncated, pos, "snappy: block length");
        break;
      }
      std::uint32_t len = records_detail::load_be<std::uint32_t>(in.data() + pos);
      if (len > in.size() - pos - 4) {
        err = failure(DecodeErrc::length_exceeds_input, pos, "snappy: block length");
        break;
      }
      err = snappy_block(in.subspan(pos + 4, len), pos + 4, out, used, limit);
      pos += 4 + len;
    }
  } else {
    err = snappy_block(in, 0, out, used, limit);
  }
  if (err) {
    out.clear();
    return err;
  }
  out.resize(used);
  return std::nullopt;
}

// ---------------------------------------------------------------- lz4

/// An LZ4 frame as Kafka's Java client writes it (see the top of the file).
inline bool lz4_compress(bytes_view in, std::vector<std::uint8_t>& out, int level = 0) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  prefs.frameInfo.contentSize = 0;
  prefs.compressionLevel = level;
  std::size_t start = out.size();
  std::size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
  out.resize(start + bound);
  std::size_t n = LZ4F_compressFrame(out.data() + start, bound, in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    out.resize(start);
    return false;
  }
  out.resize(start + n);
  return true;
}

/// Inflates LZ4 frames. A frame whose header checksum is the one Kafka's
/// magic-0 writers computed (over the frame magic as well as the descriptor)
/// is accepted by correcting that byte before decoding.
inline std::optional<DecodeError> lz4_decompress(bytes_view in, std::vector<std::uint8_t>& out, std::size_t limit) {
  using namespace compression_detail;
  out.clear();
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
    return failure(DecodeErrc::decompression_failed, 0, "lz4");
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(dctx, LZ4F_freeDecompressionContext);

  std::size_t pos = 0, used = 0;
  std::array<std::uint8_t, 19> header{};  // magic + FLG + BD + content size + dict id + HC
  while (pos < in.size()) {
    // Each frame starts here: check its header checksum and fix the old form.
    std::size_t left = in.size() - pos;
    if (left < 7) return failure(DecodeErrc::truncated, pos, "lz4: frame header");
    if (crc_detail::load_le32(in.data() + pos) != 0x184D2204u)
      return failure(DecodeErrc::decompression_failed, pos, "lz4: frame magic");
    std::uint8_t flg = in[pos + 4];
    std::size_t desc = 2 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
    if (left < 4 + desc + 1) return failure(DecodeErrc::truncated, pos, "lz4: frame header");
    std::size_t hlen = 4 + desc + 1;
    std::memcpy(header.data(), in.data() + pos, hlen);
    std::uint8_t hc = header[hlen - 1];
    std::uint8_t standard = static_cast<std::uint8_t>(xxh32(header.data() + 4, desc, 0) >> 8);
    if (hc != standard) {
      std::uint8_t legacy = static_cast<std::uint8_t>(xxh32(header.data(), 4 + desc, 0) >> 8);
      if (hc != legacy) return failure(DecodeErrc::decompression_failed, pos + hlen - 1, "lz4: header checksum");
      header[hlen - 1] = standard;
    }
    // Feed the (possibly corrected) header, then the frame's blocks until
    // the decoder reports the frame complete (a hint of 0).
    std::size_t hint = 1;
    auto step = [&](const std::uint8_t* src, std::size_t src_left, std::size_t& consumed) -> std::optional<DecodeError> {
      std::size_t room = grow(out, used, limit, in.size() * 4);
      if (room == 0) return failure(DecodeErrc::limit_exceeded, pos, "lz4");
      std::size_t dst_n = room;
      consumed = src_left;
      hint = LZ4F_decompress(dctx, out.data() + used, &dst_n, src, &consumed, nullptr);
      if (LZ4F_isError(hint)) return failure(DecodeErrc::decompression_failed, pos, "lz4");
      used += dst_n;
      return std::nullopt;
    };
    for (std::size_t fed = 0; fed < hlen;) {
      std::size_t consumed = 0;
      if (auto e = step(header.data() + fed, hlen - fed, consumed)) {
        out.clear();
        return e;
      }
      fed += consumed;
    }
    pos += hlen;
    while (hint != 0) {
      if (pos >= in.size()) {
        out.clear();
        return failure(DecodeErrc::truncated, in.size(), "lz4: frame");
      }
      std::size_t consumed = 0;
      if (auto e = step(in.data() + pos, in.size() - pos, consumed)) {
        out.clear();
        return e;
      }
      pos += consumed;
    }
  }
  if (used > limit) {
    out.clear();
    return failure(DecodeErrc::limit_exceeded, in.size(), "lz4");
  }
  if (in.empty()) return failure(DecodeErrc::truncated, 0, "lz4: frame header");
  out.resize(used);
  return std::nullopt;
}

// ---------------------------------------------------------------- zstd

/// One zstd frame written as a stream (no content size), level 3 by default.
inline bool zstd_compress(bytes_view in, std::vector<std::uint8_t>& out, int level = 3) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (!cctx) return false;
  std::unique_ptr<ZSTD_CCtx, std::size_t (*)(ZSTD_CCtx*)> guard(cctx, ZSTD_freeCCtx);
  if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level))) return false;
  std::size_t start = out.size();
  std::size_t used = start;
  out.resize(start + ZSTD_compressBound(in.size()) + 64);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  // Java's writer streams the records, flushes when the builder closes its
  // stream and then ends the frame: the input goes out before the frame ends
  // (so the header has no content size) and the frame closes with an empty
  // last block. The same three steps give the same frame layout.
  for (ZSTD_EndDirective mode : {ZSTD_e_continue, ZSTD_e_flush, ZSTD_e_end}) {
    for (;;) {
      if (out.size() - used < ZSTD_CStreamOutSize()) out.resize(used + ZSTD_CStreamOutSize() * 2);
      ZSTD_outBuffer dst{out.data() + used, out.size() - used, 0};
      std::size_t r = ZSTD_compressStream2(cctx, &dst, &src, mode);
      used += dst.pos;
      if (ZSTD_isError(r)) {
        out.resize(start);
        return false;
      }
      if (mode == ZSTD_e_continue ? src.pos == src.size : r == 0) break;
    }
  }
  out.resize(used);
  return true;
}

/// Inflates one or more zstd frames. The decoder's window is capped by the
/// limit (with a floor of 8 MiB) so that a frame cannot make it reserve much
/// more memory than its output could use.
inline std::optional<DecodeError> zstd_decompress(bytes_view in, std::vector<std::uint8_t>& out, std::size_t limit) {
  using namespace compression_detail;
  out.clear();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (!dctx) return failure(DecodeErrc::decompression_failed, 0, "zstd");
  std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> guard(dctx, ZSTD_freeDCtx);
  // Streamed frames (no content size) make the decoder reserve their whole
  // window. Level 3 declares 2 MiB and high levels up to 8 MiB, so 8 MiB is
  // always allowed; beyond that the window may grow with the limit, up to
  // zstd's default ceiling of 128 MiB.
  int window_log = 23;
  while (window_log < 27 && (std::size_t{1} << window_log) < limit) ++window_log;
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log);
  if (in.empty()) return failure(DecodeErrc::truncated, 0, "zstd");
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::size_t used = 0;
  std::size_t last = 1;
  while (src.pos < src.size || last != 0) {
    std::size_t room = grow(out, used, limit, in.size() * 4);
    if (room == 0) {
      out.clear();
      return failure(DecodeErrc::limit_exceeded, src.pos, "zstd");
    }
    ZSTD_outBuffer dst{out.data() + used, room, 0};
    std::size_t before_in = src.pos;
    last = ZSTD_decompressStream(dctx, &dst, &src);
    if (ZSTD_isError(last)) {
      out.clear();
      auto code = ZSTD_getErrorCode(last) == ZSTD_error_frameParameter_windowTooLarge ? DecodeErrc::limit_exceeded
                                                                                        : DecodeErrc::decompression_failed;
      return failure(code, src.pos, "zstd");
    }
    used += dst.pos;
    // No progress with input exhausted means the frame is cut short.
    if (dst.pos == 0 && src.pos == before_in && src.pos == src.size && last != 0) {
      out.clear();
      return failure(DecodeErrc::truncated, src.pos, "zstd");
    }
  }
  if (used > limit) {
    out.clear();
    return failure(DecodeErrc::limit_exceeded, in.size(), "zstd");
  }
  out.resize(used);
  return std::nullopt;
}

// ---------------------------------------------------------------- dispatch

/// Appends the compressed form of `in` (see the settings above). Matches
/// kwire::compress_fn.
inline bool compress(Compression codec, bytes_view in, std::vector<std::uint8_t>& out) {
  switch (codec) {
    case Compression::none: out.insert(out.end(), in.begin(), in.end()); return true;
    case Compression::gzip: return gzip_compress(in, out);
    case Compression::snappy: return snappy_compress_xerial(in, out);
    case Compression::lz4: return lz4_compress(in, out);
    case Compression::zstd: return zstd_compress(in, out);
  }
  return false;
}

/// Inflates `in` into `out` (replacing it), at most `limit` bytes. Matches
/// kwire::decompress_fn.
inline std::optional<DecodeError> decompress(Compression codec, bytes_view in, std::vector<std::uint8_t>& out,
                                             std::size_t limit) {
  switch (codec) {
    case Compression::none:
      if (in.size() > limit) return compression_detail::failure(DecodeErrc::limit_exceeded, 0, "records");
      out.assign(in.begin(), in.end());
      return std::nullopt;
    case Compression::gzip: return gzip_decompress(in, out, limit);
    case Compression::snappy: return snappy_decompress(in, out, limit);
    case Compression::lz4: return lz4_decompress(in, out, limit);
    case Compression::zstd: return zstd_decompress(in, out, limit);
  }
  return compression_detail::failure(DecodeErrc::decompression_failed, 0, "unknown codec");
}

}  // namespace kwire
