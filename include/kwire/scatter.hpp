// Scatter encoding: a message (or a whole response frame) encoded as a list of
// pieces instead of one buffer, for servers that send large byte fields
// without copying them.
//
//   std::vector<kwire::bytes_view> held = {records_on_disk};  // views in `resp`
//   kwire::Scattered out;
//   kwire::encode_response_frame_scattered(resp, api_key, version, correlation_id, out,
//                                          {.externals = held});
//   for (auto& p : out.pieces) ...  // buffer bytes, borrowed bytes, external #i
//
// The encoder writes what it produces itself (sizes, lengths, headers, small
// fields) into one buffer and leaves a hole wherever the message holds one of
// the caller's `externals` views: an external piece, whose bytes the encoder
// never reads. So a record set can be a region of a file, sent with sendfile:
// the message holds a view of the right size at an address the caller chose
// to stand for it, and only that address and size are compared. Byte fields
// of at least `borrow_from` bytes become borrowed pieces, referenced where
// they are rather than copied (the caller keeps that memory alive until the
// pieces are written). Concatenating the pieces gives exactly the bytes the
// plain encoders give.
//
// Two passes, as for a plain encode: a size pass that also counts the bytes
// left out of the buffer, then a write pass into a buffer of exactly the
// remaining size.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "kwire/codec.hpp"
#include "kwire/framing/request.hpp"

namespace kwire {

/// One piece of a scattered encoding; the pieces are in wire order.
struct ScatterPiece {
  enum class Kind : std::uint8_t {
    buffer,    // bytes of Scattered::buffer from `offset`
    borrowed,  // the caller's bytes at `data` (a view the message holds)
    external,  // the caller's external view number `external`, never read
  };
  Kind kind = Kind::buffer;
  std::size_t size = 0;
  std::size_t offset = 0;              // buffer
  const std::uint8_t* data = nullptr;  // borrowed
  std::size_t external = 0;            // external: index in ScatterOptions::externals
};

struct ScatterOptions {
  /// Views the encoder must not read. A byte field of the message that is
  /// one of them (the same address and size) becomes an external piece; a
  /// view that only overlaps one is not recognised and would be read, so the
  /// message must hold these views themselves. Empty views are ignored.
  std::span<const bytes_view> externals{};
  /// Byte fields (bytes, records, strings, kept unknown tags) of at least
  /// this many bytes are borrowed instead of copied. Off by default.
  std::size_t borrow_from = std::numeric_limits<std::size_t>::max();
};

/// The result: the encoder's own bytes and the pieces that make up the
/// encoding.
struct Scattered {
  std::vector<std::uint8_t> buffer;
  std::vector<ScatterPiece> pieces;

  /// Bytes of the whole encoding.
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const auto& p : pieces) n += p.size;
    return n;
  }
  void clear() noexcept {
    buffer.clear();
    pieces.clear();
  }
  /// Appends the whole encoding to `out`; `external(index, out)` appends the
  /// bytes external view `index` stands for.
  template <class External>
  void concatenate(std::vector<std::uint8_t>& out, External&& external) const {
    out.reserve(out.size() + size());
    for (const auto& p : pieces) {
      switch (p.kind) {
        case ScatterPiece::Kind::buffer:
          out.insert(out.end(), buffer.begin() + static_cast<std::ptrdiff_t>(p.offset),
                     buffer.begin() + static_cast<std::ptrdiff_t>(p.offset + p.size));
          break;
        case ScatterPiece::Kind::borrowed: out.insert(out.end(), p.data, p.data + p.size); break;
        case ScatterPiece::Kind::external: external(p.external, out); break;
      }
    }
  }
};

namespace scatter_detail {

/// Decides, for every byte field, whether it is copied, borrowed or left as
/// an external hole. Both passes ask it, so they agree.
class Classifier {
 public:
  enum class Take : std::uint8_t { copy, borrow, external };

  explicit Classifier(const ScatterOptions& o) : borrow_from_(o.borrow_from), copy_below_(o.borrow_from) {
    for (std::size_t i = 0; i < o.externals.size(); ++i) {
      if (o.externals[i].empty()) continue;
      sorted_.push_back({o.externals[i].data(), o.externals[i].size(), i});
      copy_below_ = std::min(copy_below_, o.externals[i].size());
    }
    copy_below_ = std::max<std::size_t>(copy_below_, 1);
    // std::less gives a total order over unrelated pointers.
    std::stable_sort(sorted_.begin(), sorted_.end(),
                     [](const Entry& a, const Entry& b) { return std::less<>{}(a.data, b.data); });
  }

  /// Byte fields shorter than this are copied, whatever their address: the
  /// encoders' inline path, so that names and small fields cost what they
  /// cost in a plain encode.
  std::size_t copy_below() const noexcept { return copy_below_; }

  Take take(bytes_view b, std::size_t& index) const noexcept {
    if (b.empty()) return Take::copy;
    if (!sorted_.empty()) {
      auto it = std::lower_bound(sorted_.begin(), sorted_.end(), b.data(),
                                 [](const Entry& e, const std::uint8_t* p) { return std::less<>{}(e.data, p); });
      for (; it != sorted_.end() && it->data == b.data(); ++it) {
        if (it->size == b.size()) {
          index = it->index;
          return Take::external;
        }
      }
    }
    return b.size() >= borrow_from_ ? Take::borrow : Take::copy;
  }

 private:
  struct Entry {
    const std::uint8_t* data;
    std::size_t size;
    std::size_t index;
  };
  std::vector<Entry> sorted_;
  std::size_t borrow_from_;
  std::size_t copy_below_;
};

}  // namespace scatter_detail

/// Size pass: the whole encoding's size (size()), and what of it the
/// encoder's buffer must hold (buffer_size()).
class ScatterSizer : public Sizer {
 public:
  explicit ScatterSizer(const scatter_detail::Classifier& c) noexcept : c_(c) {}
  [[gnu::always_inline]] void raw(bytes_view b) noexcept {
    Sizer::raw(b);
    if (b.size() >= c_.copy_below()) [[unlikely]]
      classify(b);
  }
  [[gnu::always_inline]] void raw(std::string_view s) noexcept { raw(as_bytes(s)); }
  std::size_t buffer_size() const noexcept { return size() - left_out_; }

 private:
  [[gnu::noinline]] void classify(bytes_view b) noexcept {
    std::size_t index = 0;
    if (c_.take(b, index) != scatter_detail::Classifier::Take::copy) left_out_ += b.size();
  }

  const scatter_detail::Classifier& c_;
  std::size_t left_out_ = 0;
};

/// Write pass: writes into Scattered::buffer (sized by a ScatterSizer) and
/// records the pieces.
class ScatterWriter : public Writer {
 public:
  ScatterWriter(Scattered& out, const scatter_detail::Classifier& c, std::size_t at) noexcept
      : Writer(out.buffer.data() + at, out.buffer.data() + out.buffer.size()), out_(out), c_(c), start_(at) {}

  [[gnu::always_inline]] void raw(bytes_view b) {
    if (b.size() < c_.copy_below()) [[likely]] {
      Writer::raw(b);
      return;
    }
    place(b);
  }
  [[gnu::always_inline]] void raw(std::string_view s) { raw(as_bytes(s)); }

  /// Records the buffer bytes written since the last hole.
  void close_buffer_piece() {
    const auto end = static_cast<std::size_t>(position() - out_.buffer.data());
    if (end > start_) out_.pieces.push_back({ScatterPiece::Kind::buffer, end - start_, start_, nullptr, 0});
    start_ = end;
  }

 private:
  /// A field long enough to be borrowed or external: copied, or a piece.
  [[gnu::noinline]] void place(bytes_view b) {
    std::size_t index = 0;
    const auto take = c_.take(b, index);
    if (take == scatter_detail::Classifier::Take::copy) {
      Writer::raw(b);
      return;
    }
    close_buffer_piece();
    ScatterPiece p;
    p.size = b.size();
    if (take == scatter_detail::Classifier::Take::borrow) {
      p.kind = ScatterPiece::Kind::borrowed;
      p.data = b.data();
    } else {
      p.kind = ScatterPiece::Kind::external;
      p.external = index;
    }
    out_.pieces.push_back(p);
  }

  Scattered& out_;
  const scatter_detail::Classifier& c_;
  std::size_t start_;
};

/// Encodes `msg` into `out` (cleared first). On error `out` is left empty.
template <Message M>
std::optional<EncodeError> encode_scattered(const M& msg, std::int16_t version, Scattered& out,
                                            const ScatterOptions& options = {}) {
  out.clear();
  if (version < M::min_version || version > M::max_version) return EncodeError{EncodeErrc::unsupported_version, {}};
  const scatter_detail::Classifier c(options);
  const bool flex = is_flexible<M>(version);
  ScatterSizer s(c);
  msg.encode_to(s, version, flex);
  if (s.error()) return s.error();
  out.buffer.resize(s.buffer_size());
  ScatterWriter w(out, c, 0);
  msg.encode_to(w, version, flex);
  w.close_buffer_piece();
  return std::nullopt;
}

/// A whole response frame (size, header, body) as pieces: the scattered
/// counterpart of encode_response_frame, with the same header rules. On
/// error `out` is left empty.
template <Message M>
std::optional<EncodeError> encode_response_frame_scattered(const M& body, std::int16_t api_key,
                                                           std::int16_t api_version, std::int32_t correlation_id,
                                                           Scattered& out, const ScatterOptions& options = {}) {
  out.clear();
  if (api_version < M::min_version || api_version > M::max_version)
    return EncodeError{EncodeErrc::unsupported_version, {}};
  ResponseHeader header;
  header.correlation_id = correlation_id;
  const std::int16_t hv = response_header_version(api_key, api_version);
  const bool header_flex = hv >= ResponseHeader::flexible_from;
  const bool flex = is_flexible<M>(api_version);
  const scatter_detail::Classifier c(options);
  ScatterSizer s(c);
  header.encode_to(s, hv, header_flex);
  body.encode_to(s, api_version, flex);
  if (s.error()) return s.error();
  if (s.size() > static_cast<std::size_t>(INT32_MAX)) return EncodeError{EncodeErrc::too_long, "frame size"};
  out.buffer.resize(4 + s.buffer_size());
  ScatterWriter w(out, c, 0);
  w.i32(static_cast<std::int32_t>(s.size()));
  header.encode_to(w, hv, header_flex);
  body.encode_to(w, api_version, flex);
  w.close_buffer_piece();
  return std::nullopt;
}

}  // namespace kwire
