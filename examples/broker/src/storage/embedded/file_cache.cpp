#include "storage/embedded/file_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kwire_broker::storage::embedded {

std::size_t FileCache::open_files() const { return open_->load(); }

void FileCache::close_idle_over(std::size_t keep) {
  while (open_->load() > keep && !idle_.empty()) {
    Slot* victim = idle_.back();
    idle_.pop_back();
    victim->idle = false;
    victim->file.reset();  // closes it, unless a holder still has it
    victim->fd = -1;
  }
}

bool FileCache::open_locked(Slot& s) {
  if (s.file) return true;
  close_idle_over(max_open_ - 1);
  int fd = ::open(s.path.c_str(), s.flags, 0644);
  // Out of descriptors for the whole process (sockets hold most of them):
  // give back every idle file and try once more.
  if (fd < 0 && (errno == EMFILE || errno == ENFILE) && !idle_.empty()) {
    close_idle_over(0);
    fd = ::open(s.path.c_str(), s.flags, 0644);
  }
  if (fd < 0) return false;
  open_->fetch_add(1);
  s.file = std::shared_ptr<const OpenFile>(new OpenFile(fd), [count = open_](const OpenFile* f) {
    delete f;
    count->fetch_sub(1);
  });
  s.fd = fd;
  return true;
}

int FileCache::pin(Slot& s) {
  std::lock_guard lk(mu_);
  if (!open_locked(s)) return -1;
  if (s.idle) {
    idle_.erase(s.idle_at);
    s.idle = false;
  }
  ++s.users;
  return s.fd;
}

void FileCache::unpin(Slot& s) {
  std::lock_guard lk(mu_);
  if (--s.users > 0 || !s.file) return;
  idle_.push_front(&s);
  s.idle_at = idle_.begin();
  s.idle = true;
  close_idle_over(max_open_);  // files opened past the bound while others were in use
}

std::shared_ptr<const OpenFile> FileCache::share(Slot& s) {
  std::lock_guard lk(mu_);
  if (!open_locked(s)) return nullptr;
  if (s.users == 0) {  // now the most recently used
    if (s.idle) idle_.erase(s.idle_at);
    idle_.push_front(&s);
    s.idle_at = idle_.begin();
    s.idle = true;
  }
  return s.file;
}

void FileCache::close(Slot& s) {
  std::lock_guard lk(mu_);
  if (s.idle) {
    idle_.erase(s.idle_at);
    s.idle = false;
  }
  s.file.reset();
  s.fd = -1;
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

std::shared_ptr<const OpenFile> CachedFile::share() const {
  if (!slot_) {
    errno = EBADF;
    return nullptr;
  }
  return cache_->share(*slot_);
}

void CachedFile::renamed(std::filesystem::path path) {
  if (!slot_) return;
  std::lock_guard lk(cache_->mu_);
  slot_->path = std::move(path);
}

void CachedFile::close() {
  if (slot_) cache_->close(*slot_);
  slot_.reset();
}

}  // namespace kwire_broker::storage::embedded
