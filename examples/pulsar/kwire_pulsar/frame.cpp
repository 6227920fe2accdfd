#include "kwire_pulsar/frame.hpp"

#include <kwire/records/crc32c.hpp>

namespace kwire_pulsar {

namespace {

std::uint16_t get_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

std::uint32_t crc32c_of(std::string_view s, std::size_t from) {
  return kwire::crc32c::extend(0, reinterpret_cast<const std::uint8_t*>(s.data()) + from, s.size() - from);
}

// Whether every field of the message in `b` lies within `b`, each
// length-delimited one included (without looking into it).
bool fields_fit(std::span<const std::uint8_t> b) {
  std::size_t at = 0;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at == b.size()) return false;
      const std::uint8_t byte = b[at++];
      v |= std::uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  };
  while (at < b.size()) {
    std::uint64_t key = 0, v = 0;
    if (!varint(key)) return false;
    switch (key & 7) {
      case 0:  // varint
        if (!varint(v)) return false;
        break;
      case 1:  // 64-bit
        if (b.size() - at < 8) return false;
        at += 8;
        break;
      case 2:  // length-delimited
        if (!varint(v) || v > b.size() - at) return false;
        at += static_cast<std::size_t>(v);
        break;
      case 3:  // group start and end: the group's fields follow inline
      case 4:
        break;
      case 5:  // 32-bit
        if (b.size() - at < 4) return false;
        at += 4;
        break;
      default:
        return false;
    }
  }
  return true;
}

// Protobuf reserves room for a string on the word of its declared length (up
// to 50 MB) when that length fits in the enclosing message's, and takes an
// embedded message's length on trust until the message is parsed: a few
// bytes declaring a long KeyValue with a long key would cost 50 MB. With
// every field of the metadata first found to fit in its bytes, each limit
// the parser sets lies within them (the metadata embeds KeyValues only, and
// their fields are strings). Bytes that fail the check would not parse.
template <class M>
bool parse_checked(std::span<const std::uint8_t> b, M& out) {
  return fields_fit(b) && out.ParseFromArray(b.data(), static_cast<int>(b.size()));
}

}  // namespace

bool parse_metadata(std::span<const std::uint8_t> bytes, wire::MessageMetadata& out) {
  return parse_checked(bytes, out);
}

bool parse_metadata(std::span<const std::uint8_t> bytes, wire::SingleMessageMetadata& out) {
  return parse_checked(bytes, out);
}

std::string encode_command(const wire::BaseCommand& cmd) {
  const auto cmd_size = static_cast<std::uint32_t>(cmd.ByteSizeLong());
  std::string out;
  out.reserve(8 + cmd_size);
  put_u32(out, 4 + cmd_size);
  put_u32(out, cmd_size);
  cmd.AppendToString(&out);
  return out;
}

std::string encode_payload_command(const wire::BaseCommand& cmd, const wire::MessageMetadata& meta,
                                   std::string_view payload) {
  const auto cmd_size = static_cast<std::uint32_t>(cmd.ByteSizeLong());
  const auto meta_size = static_cast<std::uint32_t>(meta.ByteSizeLong());
  const std::uint32_t total = 4 + cmd_size + 2 + 4 + 4 + meta_size + static_cast<std::uint32_t>(payload.size());
  std::string out;
  out.reserve(4 + total);
  put_u32(out, total);
  put_u32(out, cmd_size);
  cmd.AppendToString(&out);
  out.push_back(static_cast<char>(checksum_magic >> 8));
  out.push_back(static_cast<char>(checksum_magic & 0xff));
  const std::size_t crc_at = out.size();
  put_u32(out, 0);
  const std::size_t covered_from = out.size();
  put_u32(out, meta_size);
  meta.AppendToString(&out);
  out.append(payload);
  const std::uint32_t crc = crc32c_of(out, covered_from);
  std::string crc_bytes;
  put_u32(crc_bytes, crc);
  out.replace(crc_at, 4, crc_bytes);
  return out;
}

bool decode_frame(std::span<const std::uint8_t> body, Frame& out) {
  const std::uint8_t* p = body.data();
  const std::size_t n = body.size();
  if (n < 4) return false;
  const std::uint32_t cmd_size = get_u32(p);
  if (cmd_size > n - 4) return false;
  if (!out.command.ParseFromArray(p + 4, static_cast<int>(cmd_size))) return false;
  std::size_t at = 4 + cmd_size;
  if (at == n) return true;
  if (n - at >= 2 && get_u16(p + at) == entry_metadata_magic) {
    at += 2;
    if (n - at < 4) return false;
    const std::uint32_t size = get_u32(p + at);
    at += 4;
    if (size > n - at) return false;
    wire::BrokerEntryMetadata bem;
    if (!bem.ParseFromArray(p + at, static_cast<int>(size))) return false;
    out.entry_metadata = std::move(bem);
    at += size;
  }
  if (n - at < 2) return at == n;
  if (get_u16(p + at) == checksum_magic) {
    at += 2;
    if (n - at < 4) return false;
    const std::uint32_t expected = get_u32(p + at);
    at += 4;
    out.checksum_ok = kwire::crc32c::extend(0, p + at, n - at) == expected;
  }
  if (n - at < 4) return false;
  const std::uint32_t meta_size = get_u32(p + at);
  at += 4;
  if (meta_size > n - at) return false;
  wire::MessageMetadata meta;
  if (!parse_metadata(body.subspan(at, meta_size), meta)) return false;
  out.metadata = std::move(meta);
  at += meta_size;
  out.payload.assign(reinterpret_cast<const char*>(p + at), n - at);
  return true;
}

void append_to_batch(std::string& batch, const wire::SingleMessageMetadata& meta, std::string_view payload) {
  put_u32(batch, static_cast<std::uint32_t>(meta.ByteSizeLong()));
  meta.AppendToString(&batch);
  batch.append(payload);
}

bool split_batch(std::string_view batch, int count, std::vector<BatchedMessage>& out) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(batch.data());
  const std::size_t n = batch.size();
  std::size_t at = 0;
  for (int i = 0; i < count; ++i) {
    if (n - at < 4) return false;
    const std::uint32_t meta_size = get_u32(p + at);
    at += 4;
    if (meta_size > n - at) return false;
    BatchedMessage m;
    if (!parse_metadata({p + at, meta_size}, m.metadata)) return false;
    at += meta_size;
    const auto size = static_cast<std::size_t>(m.metadata.payload_size());
    if (m.metadata.payload_size() < 0 || size > n - at) return false;
    m.payload.assign(batch.substr(at, size));
    at += size;
    out.push_back(std::move(m));
  }
  return true;
}

}  // namespace kwire_pulsar
