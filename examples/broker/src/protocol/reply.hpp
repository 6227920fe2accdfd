// What a connection does with a handled request, and the bytes it sends.
//
// A response is one frame in memory, or, when it carries record sets as they
// are (Fetch), a list of pieces sent in order: the bytes the encoder wrote
// (sizes, headers, every small field), memory the reply keeps alive (record
// sets a store returned in memory), and regions of files (record sets the
// embedded store returned as regions of its ledgers), which a plaintext
// connection sends with sendfile. Nothing of a record set is copied into the
// broker's memory on the way.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kwire/wire/types.hpp"
#include "storage/types.hpp"

namespace kwire_broker {

struct ReplyPiece {
  enum class Kind : std::uint8_t {
    frame,   // bytes of Reply::frame from `offset`
    memory,  // bytes at `data`, which Reply::keep holds
    file,    // bytes of `file` from `offset`
  };
  Kind kind = Kind::frame;
  std::size_t size = 0;
  std::uint64_t offset = 0;
  const std::uint8_t* data = nullptr;
  std::shared_ptr<const storage::OpenFile> file;
};

struct Reply {
  enum class Kind : std::uint8_t { respond, none, close } kind = Kind::respond;
  /// The whole frame (size prefix, response header, body); or, when there
  /// are pieces, the bytes the encoder wrote, which `frame` pieces refer to.
  /// For `close`, why the connection closes.
  std::vector<std::uint8_t> frame;
  /// Empty when `frame` is the whole frame.
  std::vector<ReplyPiece> pieces;
  /// Keeps alive what `memory` pieces point into.
  std::vector<std::shared_ptr<const void>> keep;

  /// Bytes on the wire.
  std::size_t size() const noexcept {
    if (pieces.empty()) return frame.size();
    std::size_t n = 0;
    for (const auto& p : pieces) n += p.size;
    return n;
  }
};

/// The reply's bytes in one buffer, file regions read with pread: for tests
/// and tools that decode a response. Throws std::runtime_error when a region
/// cannot be read whole.
std::vector<std::uint8_t> flatten(const Reply& r);

/// Views that stand for record sets not in memory while a response message
/// is encoded (kwire/scatter.hpp compares their addresses, never reads
/// them): `size` bytes at `offset` of a reserved range of address space
/// that nothing is mapped into, so that a stray read faults rather than
/// sending other memory. Offsets below stand_in_capacity().
kwire::bytes_view stand_in(std::uint64_t offset, std::size_t size);
std::uint64_t stand_in_capacity() noexcept;

}  // namespace kwire_broker
