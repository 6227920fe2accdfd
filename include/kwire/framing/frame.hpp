// Size-prefixed frames: every Kafka request and response is an int32 size
// followed by that many bytes. FrameSplitter finds whole frames at the front
// of a byte stream without copying, and rejects sizes above a limit before any
// buffer is grown for them.
#pragma once

#include <boost/endian/conversion.hpp>

#include <cstdint>
#include <cstring>
#include <optional>

#include "kwire/wire/error.hpp"
#include "kwire/wire/types.hpp"

namespace kwire {

/// Kafka's default socket.request.max.bytes.
inline constexpr std::size_t default_max_frame_size = 100 * 1024 * 1024;

struct FrameStatus {
  enum Kind : std::uint8_t { complete, need_more, failed } kind = need_more;
  bytes_view frame;           // complete: the frame body, without its size prefix
  std::size_t consumed = 0;   // complete: bytes to drop from the front of the stream
  std::size_t needed = 0;     // need_more: total bytes the next frame needs (0 if unknown yet)
  std::optional<DecodeError> error;
};

class FrameSplitter {
 public:
  explicit FrameSplitter(std::size_t max_frame_size = default_max_frame_size) noexcept : max_(max_frame_size) {}

  std::size_t max_frame_size() const noexcept { return max_; }

  /// Checks a frame's 4-byte size prefix: the body size, or an error for a
  /// negative size or one above the limit.
  std::optional<DecodeError> check_size(std::int32_t size) const {
    if (size < 0) return DecodeError{DecodeErrc::invalid_frame_size, 0, {}};
    if (static_cast<std::size_t>(size) > max_) return DecodeError{DecodeErrc::frame_too_large, 0, {}};
    return std::nullopt;
  }

  static std::int32_t read_size(const std::uint8_t* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return static_cast<std::int32_t>(boost::endian::big_to_native(v));
  }

  /// Looks at the front of `stream` for one whole frame.
  FrameStatus next(bytes_view stream) const {
    FrameStatus st;
    if (stream.size() < 4) {
      st.needed = 4;
      return st;
    }
    std::int32_t size = read_size(stream.data());
    if (auto err = check_size(size)) {
      st.kind = FrameStatus::failed;
      st.error = std::move(err);
      return st;
    }
    std::size_t total = 4 + static_cast<std::size_t>(size);
    if (stream.size() < total) {
      st.needed = total;
      return st;
    }
    st.kind = FrameStatus::complete;
    st.frame = stream.subspan(4, static_cast<std::size_t>(size));
    st.consumed = total;
    return st;
  }

 private:
  std::size_t max_;
};

}  // namespace kwire
