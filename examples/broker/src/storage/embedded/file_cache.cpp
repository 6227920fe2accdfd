#include "storage/embedded/file_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kwire_broker::storage::embedded {

std::size_t FileCache::open_files() const {
  std::lock_guard lk(mu_);
  return open_;
}

void FileCache::close_idle_over(std::size_t keep) {
  while (open_ > keep && !idle_.empty()) {
    Slot* victim = idle_.back();
    idle_.pop_back();
    victim->idle = false;
    ::close(victim->fd);
    victim->fd = -1;
    --open_;
  }
}

int FileCache::pin(Slot& s) {
  std::lock_guard lk(mu_);
  if (s.fd < 0) {
    close_idle_over(max_open_ - 1);
    s.fd = ::open(s.path.c_str(), s.flags, 0644);
    // Out of descriptors for the whole process (sockets hold most of them):
    // give back every idle file and try once more.
    if (s.fd < 0 && (errno == EMFILE || errno == ENFILE) && !idle_.empty()) {
      close_idle_over(0);
      s.fd = ::open(s.path.c_str(), s.flags, 0644);
    }
    if (s.fd < 0) return -1;
    ++open_;
  }
  if (s.idle) {
    idle_.erase(s.idle_at);
    s.idle = false;
  }
  ++s.users;
  return s.fd;
}

void FileCache::unpin(Slot& s) {
  std::lock_guard lk(mu_);
  if (--s.users > 0 || s.fd < 0) return;
  idle_.push_front(&s);
  s.idle_at = idle_.begin();
  s.idle = true;
  close_idle_over(max_open_);  // files opened past the bound while others were in use
}

void FileCache::close(Slot& s) {
  std::lock_guard lk(mu_);
  if (s.idle) {
    idle_.erase(s.idle_at);
    s.idle = false;
  }
  if (s.fd >= 0) {
    ::close(s.fd);
    s.fd = -1;
    --open_;
  }
}

CachedFile::CachedFile(std::shared_ptr<FileCache> cache, std::filesystem::path path, int flags)
    : cache_(std::move(cache)), slot_(std::make_unique<FileCache::Slot>()) {
  slot_->path = std::move(path);
  slot_->flags = flags;
  auto lease = use();
  if (!lease) {
    int err = errno;
    auto what = "cannot open " + slot_->path.string() + ": " + std::strerror(err);
    slot_.reset();
    throw std::runtime_error(what);
  }
  slot_->flags &= ~(O_CREAT | O_TRUNC | O_EXCL);
}

CachedFile& CachedFile::operator=(CachedFile&& other) noexcept {
  if (this != &other) {
    close();
    cache_ = std::move(other.cache_);
    slot_ = std::move(other.slot_);
  }
  return *this;
}

CachedFile::Lease CachedFile::use() const {
  if (!slot_) {
    errno = EBADF;
    return Lease(nullptr, nullptr, -1);
  }
  return Lease(cache_.get(), slot_.get(), cache_->pin(*slot_));
}

void CachedFile::close() {
  if (slot_) cache_->close(*slot_);
  slot_.reset();
}

}  // namespace kwire_broker::storage::embedded
