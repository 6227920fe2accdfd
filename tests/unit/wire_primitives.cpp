// Primitives against the encodings the Kafka protocol guide defines: varints
// (protobuf's unsigned LEB128 and zig-zag), compact lengths (N+1, 0 = null),
// int16/int32 lengths with -1 for null, UUIDs, and tagged-field sections.
#include <doctest/doctest.h>

#include <kwire/wire/fields.hpp>

#include <optional>
#include <vector>

using kwire::bytes_view;
using kwire::DecodeErrc;
using kwire::Reader;
using bytes = std::vector<std::uint8_t>;

namespace {
template <class F>
bytes write(F&& f) {
  kwire::Sizer s;
  f(s);
  bytes out(s.size());
  kwire::Writer w(out.data(), out.data() + out.size());
  f(w);
  CHECK(w.position() == out.data() + out.size());
  return out;
}
}  // namespace

TEST_CASE("unsigned varints") {
  CHECK(write([](auto& w) { w.uvarint(0); }) == bytes{0x00});
  CHECK(write([](auto& w) { w.uvarint(1); }) == bytes{0x01});
  CHECK(write([](auto& w) { w.uvarint(127); }) == bytes{0x7f});
  CHECK(write([](auto& w) { w.uvarint(128); }) == bytes{0x80, 0x01});
  CHECK(write([](auto& w) { w.uvarint(300); }) == bytes{0xac, 0x02});
  CHECK(write([](auto& w) { w.uvarint(0xffffffff); }) == bytes{0xff, 0xff, 0xff, 0xff, 0x0f});
  for (std::uint32_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, 2097151u, 2097152u, 268435455u, 268435456u, 0xffffffffu}) {
    auto b = write([&](auto& w) { w.uvarint(v); });
    CHECK(b.size() == kwire::varint::size_u32(v));
    Reader r(b);
    CHECK(r.uvarint() == v);
    CHECK(r.ok());
    CHECK(r.remaining() == 0);
  }
}

TEST_CASE("zig-zag varints and varlongs") {
  CHECK(kwire::varint::zigzag32(0) == 0u);
  CHECK(kwire::varint::zigzag32(-1) == 1u);
  CHECK(kwire::varint::zigzag32(1) == 2u);
  CHECK(kwire::varint::zigzag32(-2) == 3u);
  CHECK(kwire::varint::zigzag32(2147483647) == 4294967294u);
  CHECK(kwire::varint::zigzag32(INT32_MIN) == 4294967295u);
  CHECK(kwire::varint::zigzag64(INT64_MIN) == UINT64_MAX);
  CHECK(write([](auto& w) { w.varint(-1); }) == bytes{0x01});
  CHECK(write([](auto& w) { w.varint(-64); }) == bytes{0x7f});
  CHECK(write([](auto& w) { w.varint(64); }) == bytes{0x80, 0x01});
  for (std::int64_t v : std::initializer_list<std::int64_t>{0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN, -1234567890123}) {
    auto b = write([&](auto& w) { w.varlong(v); });
    CHECK(b.size() == kwire::varint::size_i64(v));
    Reader r(b);
    CHECK(r.varlong() == v);
    CHECK(r.ok());
  }
  auto max = write([](auto& w) { w.varlong(INT64_MIN); });
  CHECK(max.size() == 10);
}

TEST_CASE("varints longer than their type are rejected, not wrapped") {
  bytes five_bytes_too_big{0xff, 0xff, 0xff, 0xff, 0x1f};  // 33 bits
  Reader r(five_bytes_too_big);
  r.uvarint();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error()->code == DecodeErrc::varint_overflow);
  CHECK(r.error()->offset == 0);

  bytes six{0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  Reader r2(six);
  r2.uvarint();
  CHECK(r2.error()->code == DecodeErrc::varint_overflow);

  bytes eleven(10, 0x80);
  eleven.push_back(0x01);
  Reader r3(eleven);
  r3.varlong();
  CHECK(r3.error()->code == DecodeErrc::varint_overflow);

  bytes cut{0x80, 0x80};
  Reader r4(cut);
  r4.uvarint();
  CHECK(r4.error()->code == DecodeErrc::truncated);
}

TEST_CASE("strings: int16 and compact lengths, null") {
  using namespace std::literals;
  CHECK(write([](auto& w) { kwire::fields::put_str(w, "hello"sv, false, "S"); }) ==
        bytes{0x00, 0x05, 'h', 'e', 'l', 'l', 'o'});
  CHECK(write([](auto& w) { kwire::fields::put_str(w, "hello"sv, true, "S"); }) == bytes{0x06, 'h', 'e', 'l', 'l', 'o'});
  kwire::nullable_string null;
  CHECK(write([&](auto& w) { kwire::fields::put_str(w, null, false, true, "S"); }) == bytes{0xff, 0xff});
  CHECK(write([&](auto& w) { kwire::fields::put_str(w, null, true, true, "S"); }) == bytes{0x00});
  CHECK(write([](auto& w) { kwire::fields::put_str(w, ""sv, true, "S"); }) == bytes{0x01});

  bytes in{0x06, 'h', 'e', 'l', 'l', 'o', 0x00};
  Reader r(in);
  CHECK(r.str(true) == "hello");
  CHECK_FALSE(r.nullable_str(true).has_value());
  CHECK(r.ok());

  bytes null_where_not_allowed{0xff, 0xff};
  Reader r2(null_where_not_allowed);
  r2.str(false);
  CHECK(r2.error()->code == DecodeErrc::invalid_length);

  bytes minus_two{0xff, 0xfe};
  Reader r3(minus_two);
  r3.nullable_str(false);
  CHECK(r3.error()->code == DecodeErrc::invalid_length);

  bytes longer_than_input{0x00, 0x09, 'a'};
  Reader r4(longer_than_input);
  r4.str(false);
  CHECK(r4.error()->code == DecodeErrc::length_exceeds_input);
}

TEST_CASE("bytes and arrays: int32 and compact lengths checked before allocation") {
  kwire::nullable_bytes null;
  CHECK(write([&](auto& w) { kwire::fields::put_bytes(w, null, false, true, "B"); }) == bytes{0xff, 0xff, 0xff, 0xff});
  // An array claiming 2^31-1 elements of a 4-byte type in a 6-byte buffer.
  bytes huge{0x7f, 0xff, 0xff, 0xff, 0, 0};
  Reader r(huge);
  kwire::array<std::int32_t> out;
  kwire::fields::read_scalars(r, out, false, 4, [](Reader& in) { return in.i32(); });
  CHECK(r.error()->code == DecodeErrc::length_exceeds_input);
  CHECK(out.capacity() == 0);

  // Compact: 0xffffffff means 2^32-2 elements.
  bytes compact_huge{0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
  Reader r2(compact_huge);
  kwire::array<std::int32_t> out2;
  kwire::fields::read_scalars(r2, out2, true, 4, [](Reader& in) { return in.i32(); });
  CHECK(r2.error()->code == DecodeErrc::length_exceeds_input);
  CHECK(out2.capacity() == 0);
}

TEST_CASE("uuid is 16 raw bytes") {
  kwire::Uuid u;
  for (int i = 0; i < 16; ++i) u.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i * 17);
  auto b = write([&](auto& w) { w.uuid(u); });
  REQUIRE(b.size() == 16);
  CHECK(b[1] == 17);
  Reader r(b);
  CHECK(r.uuid() == u);
}

TEST_CASE("tagged-field sections keep unknown tags byte for byte, in tag order") {
  // count=2, tag 3 size 2 [aa bb], tag 40 size 0
  bytes section{0x02, 0x03, 0x02, 0xaa, 0xbb, 0x28, 0x00};
  Reader r(section);
  kwire::unknown_tagged_fields unknown;
  kwire::fields::read_tags(r, unknown, [](std::uint32_t) { return false; });
  REQUIRE(r.ok());
  REQUIRE(unknown.size() == 2);
  CHECK(unknown[0].tag == 3);
  CHECK(unknown[0].data.size() == 2);
  CHECK(unknown[1].tag == 40);
  auto again = write([&](auto& w) {
    w.uvarint(static_cast<std::uint32_t>(unknown.size()));
    kwire::fields::TagWriter(unknown).finish(w);
  });
  CHECK(again == section);

  bytes count_too_big{0x7f, 0x00};
  Reader r2(count_too_big);
  kwire::unknown_tagged_fields u2;
  kwire::fields::read_tags(r2, u2, [](std::uint32_t) { return false; });
  CHECK(r2.error()->code == DecodeErrc::length_exceeds_input);

  bytes size_too_big{0x01, 0x00, 0x05, 0x01};
  Reader r3(size_too_big);
  kwire::unknown_tagged_fields u3;
  kwire::fields::read_tags(r3, u3, [](std::uint32_t) { return false; });
  CHECK(r3.error()->code == DecodeErrc::length_exceeds_input);
  CHECK(r3.error()->offset == 2);
}

TEST_CASE("errors are sticky and carry offset and field path") {
  bytes in{0x00, 0x01};
  kwire::TracingReader r(in);
  r.field("Topics");
  REQUIRE(r.enter(2));
  r.field("Partitions");
  REQUIRE(r.enter(0));
  r.field("Index");
  r.i32();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error()->offset == 0);
  CHECK(r.error()->path == "Topics[2].Partitions[0].Index");
  CHECK(r.error()->message() == "truncated input at byte 0 in Topics[2].Partitions[0].Index");
  CHECK(r.i64() == 0);  // later reads return zero values
  CHECK(r.error()->path == "Topics[2].Partitions[0].Index");
}

TEST_CASE("a Reader records no field path; its errors keep code and offset") {
  bytes in{0x00, 0x01};
  Reader r(in);
  r.field("Topics");
  REQUIRE(r.enter(2));
  r.i32();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error()->code == DecodeErrc::truncated);
  CHECK(r.error()->offset == 0);
  CHECK(r.error()->path.empty());
}

namespace {
// The protocol's definition, one byte at a time with a check before each:
// what the readers' unrolled paths must agree with.
template <class U, int MaxBytes>
kwire::varint::Parse reference_varint(const std::uint8_t*& p, const std::uint8_t* end, U& out) {
  U v = 0;
  for (int i = 0; i < MaxBytes; ++i) {
    if (p == end) return kwire::varint::Parse::truncated;
    U b = *p++;
    if (i == MaxBytes - 1 && (b >> (sizeof(U) * 8 - 7 * i)) != 0) return kwire::varint::Parse::overflow;
    v |= (b & 0x7F) << (7 * i);
    if (!(b & 0x80)) {
      out = v;
      return kwire::varint::Parse::ok;
    }
  }
  return kwire::varint::Parse::overflow;
}
}  // namespace

TEST_CASE("varints read the same with and without room for the unchecked path") {
  // Every length of every value class, at every distance from the end: the
  // reader skips the per-byte end check when 5 (10 for varlongs) bytes remain.
  std::uint64_t seed = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  for (int round = 0; round < 20000; ++round) {
    bytes b(1 + next() % 12);
    for (auto& x : b) {
      std::uint64_t r = next();
      // Mostly continuation bytes, so that long and overlong varints are common.
      x = static_cast<std::uint8_t>((r % 4 != 0 ? 0x80 : 0) | ((r >> 8) & 0x7f));
      if (r % 7 == 0) x = static_cast<std::uint8_t>((r >> 16) & 0xff);
    }
    {
      const std::uint8_t *p = b.data(), *q = b.data();
      std::uint32_t got = 0, want = 0;
      auto rg = kwire::varint::get_u32(p, b.data() + b.size(), got);
      auto rw = reference_varint<std::uint32_t, 5>(q, b.data() + b.size(), want);
      REQUIRE(rg == rw);
      if (rg == kwire::varint::Parse::ok) {
        CHECK(got == want);
        CHECK(p == q);
      }
    }
    {
      const std::uint8_t *p = b.data(), *q = b.data();
      std::uint64_t got = 0, want = 0;
      auto rg = kwire::varint::get_u64(p, b.data() + b.size(), got);
      auto rw = reference_varint<std::uint64_t, 10>(q, b.data() + b.size(), want);
      REQUIRE(rg == rw);
      if (rg == kwire::varint::Parse::ok) {
        CHECK(got == want);
        CHECK(p == q);
      }
    }
  }
  // Written values, followed by padding so that the unchecked path reads them.
  for (std::uint32_t v : {0u, 127u, 128u, 16384u, 2097152u, 268435456u, 0xffffffffu}) {
    auto b = write([&](auto& w) { w.uvarint(v); });
    b.resize(b.size() + 10, 0xff);
    Reader r(b);
    CHECK(r.uvarint() == v);
    CHECK(r.remaining() == 10);
  }
  for (std::int64_t v : std::initializer_list<std::int64_t>{0, -1, 64, INT64_MAX, INT64_MIN}) {
    auto b = write([&](auto& w) { w.varlong(v); });
    b.resize(b.size() + 10, 0xff);
    Reader r(b);
    CHECK(r.varlong() == v);
    CHECK(r.remaining() == 10);
  }
  bytes overlong{0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0, 0};
  Reader r(overlong);
  r.uvarint();
  CHECK(r.error()->code == DecodeErrc::varint_overflow);
  CHECK(r.error()->offset == 0);
  bytes overlong64{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0};
  Reader r64(overlong64);
  r64.varlong();
  CHECK(r64.error()->code == DecodeErrc::varint_overflow);
}

TEST_CASE("take: a run of fixed-width fields checked once") {
  bytes in{0x00, 0x07, 0x00, 0x00, 0x01, 0x00, 0xff};
  Reader r(in);
  const std::uint8_t* p = r.take(6);
  REQUIRE(p != nullptr);
  CHECK(kwire::unchecked::i16(p) == 7);
  CHECK(kwire::unchecked::i32(p) == 256);
  CHECK(r.offset() == 6);
  CHECK(r.take(2) == nullptr);  // one byte left: nothing taken, no error
  CHECK(r.ok());
  CHECK(r.offset() == 6);
}

TEST_CASE("arrays of numbers: converted in one pass, counts checked first") {
  bytes in{0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xfe, 0x7f, 0xff, 0xff, 0xff, 0x09};
  Reader r(in);
  kwire::array<std::int32_t> out;
  kwire::fields::read_fixed(r, out, false);
  REQUIRE(r.ok());
  CHECK(out == kwire::array<std::int32_t>{1, -2, INT32_MAX});
  CHECK(r.remaining() == 1);

  bytes compact{0x03, 0x00, 0x05, 0x80, 0x00};  // two int16
  Reader rc(compact);
  std::optional<kwire::array<std::int16_t>> opt;
  kwire::fields::read_fixed(rc, opt, true, true);
  REQUIRE(rc.ok());
  REQUIRE(opt);
  CHECK(*opt == kwire::array<std::int16_t>{5, INT16_MIN});

  bytes null{0x00};
  Reader rn(null);
  kwire::fields::read_fixed(rn, opt, true, true);
  CHECK(rn.ok());
  CHECK_FALSE(opt.has_value());

  bytes short_by_one{0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
  Reader rs(short_by_one);
  kwire::fields::read_fixed(rs, out, false);
  CHECK(rs.error()->code == DecodeErrc::length_exceeds_input);
  CHECK(rs.error()->offset == 0);
}

TEST_CASE("empty_tags consumes only the empty section") {
  bytes in{0x00, 0x01};
  Reader r(in);
  CHECK(r.empty_tags());
  CHECK_FALSE(r.empty_tags());
  CHECK(r.offset() == 1);
  bytes none;
  Reader r2(none);
  CHECK_FALSE(r2.empty_tags());
  CHECK(r2.ok());
}

TEST_CASE("compact lengths read the same on the inline paths and the general one") {
  // Random prefixes (canonical, overlong, null, cut short) at every distance
  // from the end, against the rule: a varint N, the length N-1, which must
  // fit in what follows at `unit` bytes each.
  std::uint64_t seed = 0x2545f4914f6cdd1dull;
  auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  for (int round = 0; round < 50000; ++round) {
    bytes b(1 + next() % 8);
    for (auto& x : b) {
      std::uint64_t r = next();
      x = static_cast<std::uint8_t>((r % 3 != 0 ? 0x80 : 0) | ((r >> 8) & (r % 5 == 0 ? 0x01 : 0x7f)));
    }
    // Sometimes enough bytes after the prefix for the length to fit.
    if (next() % 2 == 0) b.resize(b.size() + next() % 300, 0);
    for (std::size_t unit : {std::size_t{1}, std::size_t{4}}) {
      const std::uint8_t* q = b.data();
      std::uint32_t n = 0;
      auto parse = kwire::varint::get_u32(q, b.data() + b.size(), n);
      const std::size_t after = static_cast<std::size_t>(b.data() + b.size() - q);
      Reader r(b);
      const std::int64_t got = r.length(true, true, unit);
      if (parse != kwire::varint::Parse::ok) {
        CHECK_FALSE(r.ok());
        continue;
      }
      const std::int64_t want = static_cast<std::int64_t>(n) - 1;
      if (want > 0 && static_cast<std::uint64_t>(want) * unit > after) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.error()->code == DecodeErrc::length_exceeds_input);
        CHECK(r.error()->offset == 0);
        continue;
      }
      REQUIRE(r.ok());
      CHECK(got == want);
      CHECK(r.position() == q);
    }
  }
  // Three-byte lengths, the size of a record set up to 2 MiB, exactly fitting.
  for (std::size_t n : {std::size_t{16383}, std::size_t{16384}, std::size_t{70000}}) {
    bytes b = write([&](auto& w) { w.length(true, true, static_cast<std::int64_t>(n)); });
    const std::size_t prefix = b.size();
    b.resize(prefix + n, 0x5a);
    Reader r(b);
    CHECK(r.length(true, true) == static_cast<std::int64_t>(n));
    CHECK(r.offset() == prefix);
    b.pop_back();
    Reader cut(b);
    cut.length(true, true);
    CHECK(cut.error()->code == DecodeErrc::length_exceeds_input);
  }
  // The compact null, where allowed and where not.
  bytes null{0x00};
  Reader rn(null);
  CHECK_FALSE(rn.nullable_byts(true).has_value());
  CHECK(rn.ok());
  Reader rs(null);
  rs.str(true);
  CHECK(rs.error()->code == DecodeErrc::invalid_length);
  CHECK(rs.error()->offset == 0);
}

TEST_CASE("arrays of numbers and runs of fixed-width fields: written with one cursor") {
  kwire::array<std::int32_t> a{1, -2, INT32_MAX};
  CHECK(write([&](auto& w) { kwire::fields::put_fixed(w, a, false); }) ==
        bytes{0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xfe, 0x7f, 0xff, 0xff, 0xff});
  kwire::array<std::int64_t> l{-1};
  CHECK(write([&](auto& w) { kwire::fields::put_fixed(w, l, true); }) ==
        bytes{0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  kwire::array<double> d{1.0};
  CHECK(write([&](auto& w) { kwire::fields::put_fixed(w, d, true); }) ==
        bytes{0x02, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0});
  std::optional<kwire::array<std::int16_t>> none;
  CHECK(write([&](auto& w) { kwire::fields::put_fixed(w, none, true, true, "A"); }) == bytes{0x00});
  CHECK(write([&](auto& w) { kwire::fields::put_fixed(w, none, false, true, "A"); }) == bytes{0xff, 0xff, 0xff, 0xff});
  kwire::Sizer s;
  kwire::fields::put_fixed(s, none, true, false, "A");
  CHECK(s.error()->code == kwire::EncodeErrc::null_not_allowed);

  bytes out(7);
  kwire::Writer w(out.data(), out.data() + out.size());
  std::uint8_t* p = w.take(6);
  kwire::unchecked::put_i16(p, -2);
  kwire::unchecked::put_i32(p, 256);
  w.u8(9);
  CHECK(w.position() == out.data() + out.size());
  CHECK(out == bytes{0xff, 0xfe, 0x00, 0x00, 0x01, 0x00, 0x09});
}
