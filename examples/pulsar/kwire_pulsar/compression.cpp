#include "compression.hpp"

#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>

#include <kwire/records/compression.hpp>

#include "error.hpp"

namespace kwire_pulsar {

namespace {

kwire::bytes_view view(std::string_view s) {
  return kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

void append(std::string& out, const std::vector<std::uint8_t>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size());
}

}  // namespace

bool compress_payload(wire::CompressionType codec, std::string_view in, std::string& out) {
  std::vector<std::uint8_t> v;
  switch (codec) {
    case wire::NONE: out.append(in); return true;
    case wire::LZ4: {
      if (in.size() > static_cast<std::size_t>(LZ4_MAX_INPUT_SIZE)) return false;
      const int bound = LZ4_compressBound(static_cast<int>(in.size()));
      const std::size_t at = out.size();
      out.resize(at + static_cast<std::size_t>(bound));
      const int n = LZ4_compress_default(in.data(), out.data() + at, static_cast<int>(in.size()), bound);
      if (n <= 0) {
        out.resize(at);
        return false;
      }
      out.resize(at + static_cast<std::size_t>(n));
      return true;
    }
    case wire::ZLIB: {
      // compress2 writes the zlib header Pulsar's Inflater expects (not gzip).
      uLongf n = compressBound(static_cast<uLong>(in.size()));
      const std::size_t at = out.size();
      out.resize(at + n);
      if (compress2(reinterpret_cast<Bytef*>(out.data() + at), &n, reinterpret_cast<const Bytef*>(in.data()),
                    static_cast<uLong>(in.size()), Z_DEFAULT_COMPRESSION) != Z_OK) {
        out.resize(at);
        return false;
      }
      out.resize(at + n);
      return true;
    }
    case wire::ZSTD:
      if (!kwire::zstd_compress(view(in), v)) return false;
      append(out, v);
      return true;
    case wire::SNAPPY:
      if (!kwire::snappy_compress_raw(view(in), v)) return false;
      append(out, v);
      return true;
  }
  return false;
}

std::string decompress_payload(wire::CompressionType codec, std::string_view in, std::size_t uncompressed_size) {
  if (uncompressed_size > max_uncompressed_payload)
    throw Error(Error::client_protocol, "compressed payload declares " + std::to_string(uncompressed_size) +
                                            " bytes, above the limit");
  std::string out;
  switch (codec) {
    case wire::NONE: return std::string(in);
    case wire::LZ4: {
      out.resize(uncompressed_size);
      if (in.size() > static_cast<std::size_t>(LZ4_MAX_INPUT_SIZE)) throw Error(Error::client_protocol, "LZ4 payload too large");
      const int n = LZ4_decompress_safe(in.data(), out.data(), static_cast<int>(in.size()),
                                        static_cast<int>(uncompressed_size));
      if (n < 0 || static_cast<std::size_t>(n) != uncompressed_size)
        throw Error(Error::client_protocol, "corrupt LZ4 payload");
      return out;
    }
    case wire::ZLIB: {
      // Pulsar's Java codec ends its stream with a sync flush, not a final
      // block: the declared size, not the end of the stream, says when the
      // payload is complete.
      out.resize(uncompressed_size);
      z_stream z{};
      if (inflateInit(&z) != Z_OK) throw Error(Error::client_protocol, "zlib");
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      z.avail_in = static_cast<uInt>(in.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      int rc = inflate(&z, Z_SYNC_FLUSH);
      const std::size_t produced = out.size() - z.avail_out;
      bool longer = false;
      if (rc == Z_OK || rc == Z_BUF_ERROR) {
        // Full: one more byte out of the rest would mean the payload is
        // larger than declared.
        char extra = 0;
        z.next_out = reinterpret_cast<Bytef*>(&extra);
        z.avail_out = 1;
        const int more = inflate(&z, Z_SYNC_FLUSH);
        longer = z.avail_out == 0;
        if (more != Z_OK && more != Z_STREAM_END && more != Z_BUF_ERROR) rc = more;
      }
      inflateEnd(&z);
      if ((rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) || produced != uncompressed_size || longer)
        throw Error(Error::client_protocol, "corrupt ZLIB payload");
      return out;
    }
    case wire::ZSTD: {
      std::vector<std::uint8_t> v;
      if (auto err = kwire::zstd_decompress(view(in), v, uncompressed_size))
        throw Error(Error::client_protocol, "corrupt ZSTD payload: " + err->message());
      if (v.size() != uncompressed_size)
        throw Error(Error::client_protocol, "ZSTD payload inflates to " + std::to_string(v.size()) +
                                                " bytes, not the declared " + std::to_string(uncompressed_size));
      out.assign(reinterpret_cast<const char*>(v.data()), v.size());
      return out;
    }
    case wire::SNAPPY: {
      // A raw block, always (kwire's snappy_decompress would also take the
      // xerial framing Kafka uses).
      std::size_t n = 0;
      if (snappy_uncompressed_length(in.data(), in.size(), &n) != SNAPPY_OK || n != uncompressed_size)
        throw Error(Error::client_protocol, "corrupt SNAPPY payload");
      out.resize(n);
      if (snappy_uncompress(in.data(), in.size(), out.data(), &n) != SNAPPY_OK || n != uncompressed_size)
        throw Error(Error::client_protocol, "corrupt SNAPPY payload");
      return out;
    }
  }
  throw Error(Error::client_protocol, "unknown compression codec " + std::to_string(codec));
}

}  // namespace kwire_pulsar
