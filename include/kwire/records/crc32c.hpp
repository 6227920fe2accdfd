// Checksums of the record formats: CRC-32C (Castagnoli) guards magic-2 record
// batches, and the IEEE CRC-32 (the one zlib computes) guards legacy messages.
//
// Both are available as a portable slicing-by-8 implementation. CRC-32C also
// has hardware paths on x86-64, chosen at run time: the SSE4.2 crc32
// instruction over three interleaved streams (recombined with a carry-less
// multiply), and for long inputs on CPUs with AVX-512 VPCLMULQDQ, carry-less
// folding of 256 bytes per step. The hardware functions carry their own target attributes, so users
// of this header need no special compiler flags.
//
// Conventions follow zlib: crc32c::extend(crc, data) continues a finished
// checksum `crc` over more data, and crc32c::value(data) == extend(0, data).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define KWIRE_CRC32C_X86 1
#include <immintrin.h>
#else
#define KWIRE_CRC32C_X86 0
#endif

namespace kwire {

namespace crc_detail {

/// Slicing-by-8 tables for a reflected polynomial: table[0] is the classic
/// byte-at-a-time table, table[k] advances a byte through k more zero bytes.
template <std::uint32_t Poly>
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ Poly : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t k = 1; k < 8; ++k)
    for (std::size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  return t;
}

template <std::uint32_t Poly>
inline constexpr auto tables = make_tables<Poly>();

inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

/// Advances the raw (non-inverted) CRC register over [p, p+n).
template <std::uint32_t Poly>
inline std::uint32_t update_portable(std::uint32_t c, const std::uint8_t* p, std::size_t n) noexcept {
  const auto& t = tables<Poly>;
  while (n >= 8) {
    std::uint32_t lo = load_le32(p) ^ c;
    std::uint32_t hi = load_le32(p + 4);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
  return c;
}

/// Product of two polynomials modulo Poly, both in reflected form (bit 31 is
/// the x^0 coefficient).
template <std::uint32_t Poly>
constexpr std::uint32_t mul_mod(std::uint32_t a, std::uint32_t b) noexcept {
  std::uint32_t product = 0;
  for (int i = 0; i < 32; ++i) {
    if (a & (0x80000000u >> i)) product ^= b;
    b = (b & 1) ? (b >> 1) ^ Poly : b >> 1;
  }
  return product;
}

/// x^n modulo Poly in reflected form, by square-and-multiply.
template <std::uint32_t Poly>
constexpr std::uint32_t x_pow_mod(std::uint64_t n) noexcept {
  std::uint32_t result = 0x80000000u;  // x^0
  std::uint32_t square = 0x40000000u;  // x^1
  while (n) {
    if (n & 1) result = mul_mod<Poly>(result, square);
    square = mul_mod<Poly>(square, square);
    n >>= 1;
  }
  return result;
}

}  // namespace crc_detail

/// IEEE CRC-32 (reflected polynomial 0xEDB88320), the checksum of legacy
/// magic-0/1 messages; equal to zlib's crc32().
namespace crc32 {
inline constexpr std::uint32_t polynomial = 0xEDB88320u;

inline std::uint32_t extend(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  return ~crc_detail::update_portable<polynomial>(~crc, p, n);
}
inline std::uint32_t value(std::span<const std::uint8_t> b) noexcept { return extend(0, b.data(), b.size()); }
}  // namespace crc32

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
/// magic-2 record batches.
namespace crc32c {
inline constexpr std::uint32_t polynomial = 0x82F63B78u;

/// Portable slicing-by-8; works everywhere.
inline std::uint32_t extend_portable(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  return ~crc_detail::update_portable<polynomial>(~crc, p, n);
}

/// Combines crc(A) and crc(B) into crc(A || B) given B's length.
inline std::uint32_t combine(std::uint32_t crc_a, std::uint32_t crc_b, std::size_t len_b) noexcept {
  // CRCs are affine in the data; the pre- and post-inversions contribute the
  // same term to crc(B) and to crc(A||B), so only A's checksum moves forward
  // over len_b bytes.
  return crc_detail::mul_mod<polynomial>(crc_detail::x_pow_mod<polynomial>(8 * static_cast<std::uint64_t>(len_b)),
                                         crc_a) ^
         crc_b;
}

#if KWIRE_CRC32C_X86

namespace detail {

/// Multiplier that moves a CRC register forward over `bytes` zero bytes when
/// used as pclmul(register, k) followed by a crc32 of the 64-bit product. The
/// reflected carry-less product carries one extra factor of x and the crc32
/// step multiplies by x^32, hence the exponent 8·bytes − 33.
constexpr std::uint32_t shift_constant(std::size_t bytes) noexcept {
  return crc_detail::x_pow_mod<polynomial>(8 * static_cast<std::uint64_t>(bytes) - 33);
}

__attribute__((target("sse4.2,pclmul"))) inline std::uint32_t shift_register(std::uint32_t reg,
                                                                              std::uint32_t k) noexcept {
  __m128i product = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(reg)),
                                         _mm_cvtsi32_si128(static_cast<int>(k)), 0x00);
  return static_cast<std::uint32_t>(
      _mm_crc32_u64(0, static_cast<std::uint64_t>(_mm_cvtsi128_si64(product))));
}

__attribute__((target("sse4.2"))) inline std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

/// Runs three streams of Block bytes each through crc32 in parallel (the
/// instruction has a latency of three cycles and a throughput of one), then
/// folds the first two registers forward onto the third.
template <std::size_t Block>
__attribute__((target("sse4.2,pclmul"))) inline std::uint32_t three_streams(std::uint32_t reg,
                                                                            const std::uint8_t*& p,
                                                                            std::size_t& n) noexcept {
  static_assert(Block % 8 == 0);
  constexpr std::uint32_t k1 = shift_constant(Block);
  constexpr std::uint32_t k2 = shift_constant(2 * Block);
  while (n >= 3 * Block) {
    std::uint64_t a = reg, b = 0, c = 0;
    for (std::size_t i = 0; i < Block; i += 8) {
      a = _mm_crc32_u64(a, load64(p + i));
      b = _mm_crc32_u64(b, load64(p + Block + i));
      c = _mm_crc32_u64(c, load64(p + 2 * Block + i));
    }
    reg = shift_register(static_cast<std::uint32_t>(a), k2) ^ shift_register(static_cast<std::uint32_t>(b), k1) ^
          static_cast<std::uint32_t>(c);
    p += 3 * Block;
    n -= 3 * Block;
  }
  return reg;
}

/// Folding constants for moving a 128-bit block forward by `bits`: the low
/// quadword (the block's higher-degree half) is multiplied by x^(bits+31) and
/// the high one by x^(bits-33), which with the reflected carry-less product's
/// extra factor of x lands both on the block `bits` further on.
struct FoldConstants {
  std::uint64_t low, high;
};
constexpr FoldConstants fold_constants(std::size_t bits) noexcept {
  return {crc_detail::x_pow_mod<polynomial>(bits + 31), crc_detail::x_pow_mod<polynomial>(bits - 33)};
}

__attribute__((target("sse4.2,pclmul"))) inline __m128i fold128(__m128i x, __m128i k) noexcept {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/// Carry-less folding with 512-bit VPCLMULQDQ: four 64-byte accumulators take
/// 256 bytes per step, then fold into one 128-bit block whose CRC (taken
/// with the crc32 instruction) is the register for everything consumed.
/// Requires n >= 256; returns the register after the whole input.
#define KWIRE_CRC32C_FOLD_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,sse4.2,pclmul")))

KWIRE_CRC32C_FOLD_TARGET inline __m512i wide_constants(FoldConstants k) noexcept {
  return _mm512_set_epi64(static_cast<long long>(k.high), static_cast<long long>(k.low),
                          static_cast<long long>(k.high), static_cast<long long>(k.low),
                          static_cast<long long>(k.high), static_cast<long long>(k.low),
                          static_cast<long long>(k.high), static_cast<long long>(k.low));
}

KWIRE_CRC32C_FOLD_TARGET inline __m128i narrow_constants(FoldConstants k) noexcept {
  return _mm_set_epi64x(static_cast<long long>(k.high), static_cast<long long>(k.low));
}

/// x folded forward by the constants' distance, XOR-ed onto `next`.
KWIRE_CRC32C_FOLD_TARGET inline __m512i fold512(__m512i x, __m512i k, __m512i next) noexcept {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11), next,
                                   0x96);
}

KWIRE_CRC32C_FOLD_TARGET inline std::uint32_t update_vpclmul(std::uint32_t reg, const std::uint8_t* p,
                                                             std::size_t n) noexcept {
  constexpr FoldConstants k2048 = fold_constants(2048), k512 = fold_constants(512), k384 = fold_constants(384),
                          k256 = fold_constants(256), k128 = fold_constants(128);
  // The register enters as the first four message bytes XOR-ed with it.
  __m512i a0 = _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, reg));
  __m512i a1 = _mm512_loadu_si512(p + 64);
  __m512i a2 = _mm512_loadu_si512(p + 128);
  __m512i a3 = _mm512_loadu_si512(p + 192);
  p += 256;
  n -= 256;
  const __m512i k_step = wide_constants(k2048);
  while (n >= 256) {
    a0 = fold512(a0, k_step, _mm512_loadu_si512(p));
    a1 = fold512(a1, k_step, _mm512_loadu_si512(p + 64));
    a2 = fold512(a2, k_step, _mm512_loadu_si512(p + 128));
    a3 = fold512(a3, k_step, _mm512_loadu_si512(p + 192));
    p += 256;
    n -= 256;
  }
  const __m512i k_next = wide_constants(k512);
  a1 = fold512(a0, k_next, a1);
  a2 = fold512(a1, k_next, a2);
  a3 = fold512(a2, k_next, a3);
  __m128i x = _mm_xor_si128(
      _mm_xor_si128(fold128(_mm512_maskz_extracti32x4_epi32(0xF, a3, 0), narrow_constants(k384)),
                    fold128(_mm512_maskz_extracti32x4_epi32(0xF, a3, 1), narrow_constants(k256))),
      _mm_xor_si128(fold128(_mm512_maskz_extracti32x4_epi32(0xF, a3, 2), narrow_constants(k128)), _mm512_maskz_extracti32x4_epi32(0xF, a3, 3)));
  const __m128i k16 = narrow_constants(k128);
  while (n >= 16) {
    x = _mm_xor_si128(fold128(x, k16), _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    p += 16;
    n -= 16;
  }
  std::uint64_t r = _mm_crc32_u64(0, static_cast<std::uint64_t>(_mm_cvtsi128_si64(x)));
  r = _mm_crc32_u64(r, static_cast<std::uint64_t>(_mm_extract_epi64(x, 1)));
  while (n >= 8) {
    r = _mm_crc32_u64(r, load64(p));
    p += 8;
    n -= 8;
  }
  reg = static_cast<std::uint32_t>(r);
  while (n--) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

#undef KWIRE_CRC32C_FOLD_TARGET

inline bool vpclmul_available() noexcept {
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                                __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("sse4.2") &&
                                __builtin_cpu_supports("pclmul");
  return available;
}

/// Below this size the three crc32 streams win over the folding set-up.
inline constexpr std::size_t vpclmul_threshold = 512;

__attribute__((target("sse4.2,pclmul"))) inline std::uint32_t update_hw(std::uint32_t reg, const std::uint8_t* p,
                                                                        std::size_t n) noexcept {
  // Byte steps up to 8-byte alignment keep the wide loads aligned.
  while (n && (reinterpret_cast<std::uintptr_t>(p) & 7)) {
    reg = _mm_crc32_u8(reg, *p++);
    --n;
  }
  reg = three_streams<4096>(reg, p, n);
  reg = three_streams<512>(reg, p, n);
  reg = three_streams<64>(reg, p, n);
  std::uint64_t r = reg;
  while (n >= 8) {
    r = _mm_crc32_u64(r, load64(p));
    p += 8;
    n -= 8;
  }
  reg = static_cast<std::uint32_t>(r);
  while (n--) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

}  // namespace detail

/// True when the CPU has the instructions of the hardware path.
inline bool hardware_available() noexcept {
  static const bool available = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
  return available;
}

/// Hardware path (VPCLMULQDQ folding for long inputs when the CPU has
/// AVX-512 with it, crc32 streams otherwise); call only when
/// hardware_available().
inline std::uint32_t extend_hardware(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  if (n >= detail::vpclmul_threshold && detail::vpclmul_available()) return ~detail::update_vpclmul(~crc, p, n);
  return ~detail::update_hw(~crc, p, n);
}

/// The individual hardware paths, for tests and benchmarks.
inline std::uint32_t extend_sse42(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  return ~detail::update_hw(~crc, p, n);
}
inline bool vpclmul_available() noexcept { return detail::vpclmul_available(); }
/// Requires vpclmul_available() and n >= 256.
inline std::uint32_t extend_vpclmul(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  return ~detail::update_vpclmul(~crc, p, n);
}

#else

inline bool hardware_available() noexcept { return false; }
inline std::uint32_t extend_hardware(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  return extend_portable(crc, p, n);
}

#endif

/// Continues `crc` over [p, p+n) with the fastest implementation available.
inline std::uint32_t extend(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  return hardware_available() ? extend_hardware(crc, p, n) : extend_portable(crc, p, n);
}

inline std::uint32_t value(std::span<const std::uint8_t> b) noexcept { return extend(0, b.data(), b.size()); }

}  // namespace crc32c

/// xxHash32, used by LZ4 frame header checksums (which Kafka's magic-0 writers
/// computed over slightly different bytes, so the records layer needs it).
inline std::uint32_t xxh32(const std::uint8_t* p, std::size_t n, std::uint32_t seed) noexcept {
  constexpr std::uint32_t p1 = 2654435761u, p2 = 2246822519u, p3 = 3266489917u, p4 = 668265263u, p5 = 374761393u;
  auto rotl = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  auto rd = [](const std::uint8_t* q) { return crc_detail::load_le32(q); };
  const std::uint8_t* end = p + n;
  std::uint32_t h;
  if (n >= 16) {
    std::uint32_t v1 = seed + p1 + p2, v2 = seed + p2, v3 = seed, v4 = seed - p1;
    while (end - p >= 16) {
      v1 = rotl(v1 + rd(p) * p2, 13) * p1;
      v2 = rotl(v2 + rd(p + 4) * p2, 13) * p1;
      v3 = rotl(v3 + rd(p + 8) * p2, 13) * p1;
      v4 = rotl(v4 + rd(p + 12) * p2, 13) * p1;
      p += 16;
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
  } else {
    h = seed + p5;
  }
  h += static_cast<std::uint32_t>(n);
  while (end - p >= 4) {
    h = rotl(h + rd(p) * p3, 17) * p4;
    p += 4;
  }
  while (p < end) h = rotl(h + static_cast<std::uint32_t>(*p++) * p5, 11) * p1;
  h ^= h >> 15;
  h *= p2;
  h ^= h >> 13;
  h *= p3;
  h ^= h >> 16;
  return h;
}

}  // namespace kwire
