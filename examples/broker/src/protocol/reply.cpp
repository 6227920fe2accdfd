#include "protocol/reply.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace kwire_broker {

std::vector<std::uint8_t> flatten(const Reply& r) {
  if (r.pieces.empty()) return r.frame;
  std::vector<std::uint8_t> out;
  out.reserve(r.size());
  for (const auto& p : r.pieces) {
    switch (p.kind) {
      case ReplyPiece::Kind::frame:
        out.insert(out.end(), r.frame.begin() + static_cast<std::ptrdiff_t>(p.offset),
                   r.frame.begin() + static_cast<std::ptrdiff_t>(p.offset + p.size));
        break;
      case ReplyPiece::Kind::memory: out.insert(out.end(), p.data, p.data + p.size); break;
      case ReplyPiece::Kind::file: {
        const std::size_t at = out.size();
        out.resize(at + p.size);
        std::size_t done = 0;
        while (done < p.size) {
          const ssize_t n = ::pread(p.file->fd(), out.data() + at + done, p.size - done,
                                    static_cast<off_t>(p.offset + done));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) throw std::runtime_error("cannot read a file region of a reply");
          done += static_cast<std::size_t>(n);
        }
        break;
      }
    }
  }
  return out;
}

namespace {

// Larger than any response: a frame's size is an int32.
constexpr std::uint64_t reserved = std::uint64_t{1} << 32;

const std::uint8_t* stand_in_base() noexcept {
  static const std::uint8_t* base = [] {
    void* p = ::mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<const std::uint8_t*>(p);
  }();
  return base;
}

}  // namespace

std::uint64_t stand_in_capacity() noexcept { return stand_in_base() ? reserved : 0; }

kwire::bytes_view stand_in(std::uint64_t offset, std::size_t size) {
  return {stand_in_base() + offset, size};
}

}  // namespace kwire_broker
