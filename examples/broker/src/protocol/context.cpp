#include "protocol/context.hpp"

#include <stdexcept>

#include "kwire/scatter.hpp"
#include "protocol/registry.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

bytes_view Ctx::attach(std::vector<std::uint8_t> bytes) {
  if (bytes.empty()) return bytes_view{};
  auto kept = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
  auto& a = attached.emplace_back();
  a.view = bytes_view(*kept);
  a.memory = std::move(kept);
  return a.view;
}

bytes_view Ctx::attach(std::vector<storage::FileRegion> regions) {
  std::uint64_t size = 0;
  for (const auto& r : regions) size += r.size;
  if (size == 0) return bytes_view{};
  if (size > stand_in_capacity() - stand_ins_used) {
    // More than any response can carry: it fails to encode either way, but
    // with the bytes in memory nothing depends on stand-ins that ran out.
    storage::ReadResult read;
    read.regions = std::move(regions);
    return attach(storage::read_bytes(read));
  }
  auto& a = attached.emplace_back();
  a.view = stand_in(stand_ins_used, static_cast<std::size_t>(size));
  a.regions = std::move(regions);
  stand_ins_used += size;
  return a.view;
}

Reply reply_of(kwire::Scattered& s, const std::vector<Attached>& attached) {
  Reply r;
  r.pieces.reserve(s.pieces.size() + attached.size());
  for (const auto& p : s.pieces) {
    switch (p.kind) {
      case kwire::ScatterPiece::Kind::buffer:
        r.pieces.push_back({ReplyPiece::Kind::frame, p.size, p.offset, nullptr, nullptr});
        break;
      case kwire::ScatterPiece::Kind::borrowed:  // not asked for: the message's own memory goes away
        throw std::logic_error("a borrowed piece in a reply");
      case kwire::ScatterPiece::Kind::external: {
        const Attached& a = attached.at(p.external);
        if (a.memory) {
          r.pieces.push_back({ReplyPiece::Kind::memory, p.size, 0, a.view.data(), nullptr});
          r.keep.push_back(a.memory);
        } else {
          for (const auto& region : a.regions)
            r.pieces.push_back(
                {ReplyPiece::Kind::file, static_cast<std::size_t>(region.size), region.offset, nullptr, region.file});
        }
        break;
      }
    }
  }
  r.frame = std::move(s.buffer);
  return r;
}

}  // namespace kwire_broker
