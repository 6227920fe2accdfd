// The buffer a request frame is read into as its bytes arrive.
//
// It grows with the bytes received, never with the size a prefix announces.
// Growing a std::vector copies: at the last step the old and the new buffer
// are both resident, so a frame of N bytes costs up to 2N at its peak. Past
// 4 MiB this buffer lives in its own mapping instead, which the kernel grows
// in place or moves by remapping pages (mremap), so a frame of N bytes costs
// N. Below that it comes from the malloc heap, which keeps such buffers for
// reuse (core/allocator.hpp): a fresh mapping per request costs page faults
// and zeroed pages on every request. Its bytes are not zeroed: every byte is
// read from the socket before use.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace kwire_broker {

class FrameBuffer {
 public:
  FrameBuffer() = default;
  FrameBuffer(const FrameBuffer&) = delete;
  FrameBuffer& operator=(const FrameBuffer&) = delete;
  ~FrameBuffer() { release(); }

  std::uint8_t* data() noexcept { return data_; }
  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

  /// Makes room for `n` bytes (keeping the first size() bytes); the bytes
  /// past the old size are uninitialised.
  void resize(std::size_t n) {
    if (n > capacity_) grow(n);
    size_ = n;
  }

  /// Frees the memory (a handled request gives it back at once).
  void release() noexcept {
    if (mapped_) {
      ::munmap(data_, capacity_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    size_ = capacity_ = 0;
    mapped_ = false;
  }

 private:
  static constexpr std::size_t map_from = std::size_t{4} << 20;  // as the heap's mmap threshold
  static constexpr std::size_t page = 4096;

  void grow(std::size_t n) {
    // Doubling keeps the number of steps logarithmic in the frame's size.
    std::size_t want = std::max(n, capacity_ * 2);
    if (want < map_from) {
      auto* p = static_cast<std::uint8_t*>(std::realloc(data_, want));
      if (!p) throw std::bad_alloc();
      data_ = p;
      capacity_ = want;
      return;
    }
    want = (want + page - 1) / page * page;
    void* p = nullptr;
    if (mapped_) {
      p = ::mremap(data_, capacity_, want, MREMAP_MAYMOVE);
    } else {
      p = ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED && size_ > 0) std::memcpy(p, data_, size_);  // below 4 MiB: one small copy
      if (p != MAP_FAILED) std::free(data_);
    }
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<std::uint8_t*>(p);
    capacity_ = want;
    mapped_ = true;
  }

  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  bool mapped_ = false;
};

}  // namespace kwire_broker
