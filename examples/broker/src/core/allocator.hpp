// The process's malloc settings, set once at startup by whoever owns the
// process (kwire-broker's main, the broker benchmark).
//
// glibc serves every allocation above 128 KiB with a fresh mmap and gives it
// back with munmap when freed, and trims the heap top above 128 KiB. The
// broker's request path allocates buffers of that size all the time (a
// 128 KiB produced batch, a 1 MiB fetch of stored batches, the response frame
// that carries it), so each request paid for page faults and the kernel
// zeroing fresh pages: a third of Fetch's CPU went there. Keeping buffers up
// to 4 MiB in the heap, and up to 16 MiB of free memory at its top, lets
// them be reused; larger buffers (a frame's own mapping in FrameBuffer, a
// huge fetch) still come and go as mappings, so what stays resident is
// bounded by these two numbers per malloc arena.
#pragma once

#include <malloc.h>

namespace kwire_broker {

inline void tune_allocator() noexcept {
#if defined(__GLIBC__)
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
}

}  // namespace kwire_broker
