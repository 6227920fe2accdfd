// Entry points for decoding and encoding any generated message.
//
//   kwire::ProduceRequest req;
//   if (auto res = kwire::decode(req, body, version); !res) { log(res.error().message()); }
//   auto out = kwire::encode(req, version);   // out.bytes, or out.error
//
// Decoded messages view the input buffer (see kwire/wire/reader.hpp for the
// lifetime rule). Flexibility (compact encodings, tagged fields) is decided
// once per message from its version, not per field.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <optional>
#include <string>
#include <vector>

#include "kwire/wire/fields.hpp"

namespace kwire {

template <class M>
concept Message = requires(M m, Reader& r, TracingReader& t, Sizer& s) {
  { M::min_version } -> std::convertible_to<std::int16_t>;
  { M::max_version } -> std::convertible_to<std::int16_t>;
  { M::flexible_from } -> std::convertible_to<std::int16_t>;
  m.decode_from(r, std::int16_t{0}, false);
  m.decode_from(t, std::int16_t{0}, false);
  m.encode_to(s, std::int16_t{0}, false);
};

/// True if `version` of message M uses the flexible (compact, tagged) encoding.
template <Message M>
constexpr bool is_flexible(std::int16_t version) noexcept {
  return M::flexible_from >= 0 && version >= M::flexible_from;
}

/// Outcome of decode(): converts to true on success.
class DecodeResult {
 public:
  DecodeResult() = default;
  explicit DecodeResult(DecodeError e) : error_(std::move(e)) {}
  explicit operator bool() const noexcept { return !error_; }
  bool ok() const noexcept { return !error_; }
  const DecodeError& error() const { return *error_; }
  /// Bytes after the message that were ignored (DecodeOptions::allow_trailing_bytes).
  std::size_t trailing_bytes() const noexcept { return trailing_; }

 private:
  template <class M>
  friend DecodeResult decode(M&, bytes_view, std::int16_t, const struct DecodeOptions&);
  std::optional<DecodeError> error_;
  std::size_t trailing_ = 0;
};

struct DecodeOptions {
  /// Where arrays are allocated.
  std::pmr::memory_resource* memory = std::pmr::get_default_resource();
  /// Bytes after the end of the message are an error by default. Kafka's broker
  /// ignores them, and some clients send them (librdkafka pads its Metadata
  /// request for all topics), so a broker or gateway that must accept what
  /// Kafka accepts sets this.
  bool allow_trailing_bytes = false;
  /// Most bytes decoding may allocate (arrays and kept unknown tagged fields,
  /// its only allocations), checked before each allocation: past it, decoding
  /// fails with limit_exceeded. Unset: default_memory_limit(input size), which
  /// every message the schemas allow fits (see kwire/wire/reader.hpp). A
  /// server sets less for untrusted input it expects to be ordinary.
  std::optional<std::size_t> max_memory = std::nullopt;
};

namespace detail {
/// Names the field of an error that decoding M from `r` met: decodes the same
/// bytes again with a TracingReader, from where `r` started (`start`) with the
/// budget it had then (`budget`), so it stops at the same byte for the same
/// reason, and returns the path it recorded (empty if it did not stop
/// there). Only failed decodes pay for this. What the second pass allocates
/// comes from a scratch arena over new/delete, freed on return, not from the
/// caller's resource, and it is bounded by the same budget.
template <class M>
std::string error_field_path(const Reader& r, std::size_t start, std::size_t budget, std::int16_t version,
                             const DecodeError& error) {
  std::pmr::monotonic_buffer_resource scratch(std::pmr::new_delete_resource());
  TracingReader t(r.buffer(), &scratch);
  t.seek(start);
  t.set_memory_limit(budget);
  {
    M again;
    again.decode_from(t, version, is_flexible<M>(version));
  }
  if (!t.ok() && t.error()->code == error.code && t.error()->offset == error.offset) return t.error()->path;
  return {};
}
}  // namespace detail

/// Decodes a whole message body.
template <class M>
DecodeResult decode(M& msg, bytes_view in, std::int16_t version, const DecodeOptions& options) {
  if (version < M::min_version || version > M::max_version) {
    return DecodeResult(DecodeError{DecodeErrc::unsupported_version, 0, {}});
  }
  Reader r(in, options.memory);
  if (options.max_memory) r.set_memory_limit(*options.max_memory);
  const std::size_t budget = r.memory_left();
  msg.decode_from(r, version, is_flexible<M>(version));
  if (!r.ok()) [[unlikely]] {
    DecodeError e = *r.error();
    e.path = detail::error_field_path<M>(r, 0, budget, version, e);
    return DecodeResult(std::move(e));
  }
  if (r.remaining() != 0 && !options.allow_trailing_bytes) {
    return DecodeResult(DecodeError{DecodeErrc::trailing_bytes, r.offset(), {}});
  }
  DecodeResult ok;
  ok.trailing_ = r.remaining();
  return ok;
}

/// Decodes a whole message body; bytes left over after the message are an error.
template <Message M>
DecodeResult decode(M& msg, bytes_view in, std::int16_t version,
                    std::pmr::memory_resource* mem = std::pmr::get_default_resource()) {
  return decode(msg, in, version, DecodeOptions{.memory = mem});
}

/// Decodes a message from the front of a Reader (for bodies that are followed
/// by more data, or a header followed by its body). Check r.ok() afterwards;
/// an error names its field as decode()'s do.
template <Message M>
void decode_from(Reader& r, M& msg, std::int16_t version) {
  if (version < M::min_version || version > M::max_version) {
    r.fail(DecodeErrc::unsupported_version);
    return;
  }
  if (!r.ok()) return;
  const std::size_t start = r.offset();
  const std::size_t budget = r.memory_left();
  msg.decode_from(r, version, is_flexible<M>(version));
  if (!r.ok()) [[unlikely]] r.set_error_path(detail::error_field_path<M>(r, start, budget, version, *r.error()));
}

/// The exact encoded size of msg at `version`, or the reason it cannot be encoded.
struct SizeResult {
  std::size_t size = 0;
  std::optional<EncodeError> error;
  explicit operator bool() const noexcept { return !error; }
};

template <Message M>
SizeResult encoded_size(const M& msg, std::int16_t version) {
  if (version < M::min_version || version > M::max_version) {
    return {0, EncodeError{EncodeErrc::unsupported_version, {}}};
  }
  Sizer s;
  msg.encode_to(s, version, is_flexible<M>(version));
  return {s.size(), s.error()};
}

namespace detail {
/// Appends what `write(out_type)` writes, `size` bytes as a Sizer counted them
/// (`large` of them in large byte fields), to `out` with one allocation at
/// most. Mostly small fields: the vector is grown to the whole size and a
/// Writer fills it without checks. Mostly large byte fields (record sets):
/// an AppendWriter copies them in without zero-filling their bytes first.
template <class Write>
void append_encoded(std::vector<std::uint8_t>& out, std::size_t size, std::size_t large, Write&& write) {
  const std::size_t at = out.size();
  if (large > size / 2) {
    out.reserve(at + size);
    AppendWriter w(out);
    write(w);
    w.finish();
    return;
  }
  out.resize(at + size);
  Writer w(out.data() + at, out.data() + out.size());
  write(w);
}
}  // namespace detail

/// Appends the encoding of msg to `out`: one size pass, one allocation, one write.
template <Message M>
std::optional<EncodeError> encode_into(const M& msg, std::int16_t version, std::vector<std::uint8_t>& out) {
  if (version < M::min_version || version > M::max_version) {
    return EncodeError{EncodeErrc::unsupported_version, {}};
  }
  const bool flex = is_flexible<M>(version);
  Sizer s;
  msg.encode_to(s, version, flex);
  if (s.error()) return s.error();
  detail::append_encoded(out, s.size(), s.large_bytes(), [&](auto& w) { msg.encode_to(w, version, flex); });
  return std::nullopt;
}

/// Writes the encoding into a caller-provided buffer of exactly encoded_size()
/// bytes (for callers that manage their own memory, e.g. an I/O buffer).
template <Message M>
void encode_to_buffer(const M& msg, std::int16_t version, std::uint8_t* dst, std::size_t size) {
  Writer w(dst, dst + size);
  msg.encode_to(w, version, is_flexible<M>(version));
}

struct EncodeResult {
  std::vector<std::uint8_t> bytes;
  std::optional<EncodeError> error;
  explicit operator bool() const noexcept { return !error; }
};

template <Message M>
EncodeResult encode(const M& msg, std::int16_t version) {
  EncodeResult r;
  r.error = encode_into(msg, version, r.bytes);
  return r;
}

}  // namespace kwire
