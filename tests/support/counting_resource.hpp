// A memory resource that counts the bytes allocated through it: decoding
// allocates only through the resource it is given, so tests and fuzz targets
// measure what a decode cost.
#pragma once

#include <cstddef>
#include <memory_resource>

namespace kwire_test {

class CountingResource : public std::pmr::memory_resource {
 public:
  std::size_t allocated = 0;  // bytes, over the resource's life

 private:
  void* do_allocate(std::size_t n, std::size_t align) override {
    allocated += n;
    return std::pmr::new_delete_resource()->allocate(n, align);
  }
  void do_deallocate(void* p, std::size_t n, std::size_t align) override {
    std::pmr::new_delete_resource()->deallocate(p, n, align);
  }
  bool do_is_equal(const memory_resource& o) const noexcept override { return this == &o; }
};

}  // namespace kwire_test
