// Any bytes through the gzip decoder with a small output limit; whatever it
// accepts must re-compress and inflate back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kwire/records/compression.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kwire;
  std::vector<std::uint8_t> out, again, packed;
  if (decompress(Compression::gzip, bytes_view(data, size), out, 1 << 20)) return 0;
  if (out.size() > (1u << 20)) __builtin_trap();
  if (!compress(Compression::gzip, out, packed)) __builtin_trap();
  if (decompress(Compression::gzip, packed, again, 1 << 20) || again != out) __builtin_trap();
  return 0;
}
