// A bound on the files the embedded store holds open. Every ledger has a log
// file, and the active one an index and a time index too, so holding them all
// open would tie the descriptors a broker needs to the number of partitions:
// a few hundred topics under a low `ulimit -n` would leave none for sockets.
// Files are opened when used and closed, least recently used first, once
// more than `max_open` are open; one in use (leased) is never closed under
// its user, so the bound may be exceeded by the files in use at that moment.
//
// Closing a file that was written and not yet synced loses nothing: the data
// is in the page cache, and fdatasync on the file opened again writes it out
// (it syncs the file, not what one descriptor wrote).
//
// A read result may hold a file (share()) while a response carrying regions
// of it is written: the cache then forgets the descriptor when it closes the
// file, and the descriptor is closed when the last holder lets it go. Held
// files count toward the bound like open ones.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <utility>

#include "storage/types.hpp"

namespace kwire_broker::storage::embedded {

class FileCache {
 public:
  explicit FileCache(std::size_t max_open)
      : max_open_(max_open < 1 ? 1 : max_open), open_(std::make_shared<std::atomic<std::size_t>>(0)) {}
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  std::size_t open_files() const;
  std::size_t max_open() const { return max_open_; }

  struct Slot;

 private:
  friend class CachedFile;
  int pin(Slot& s);
  void unpin(Slot& s);
  std::shared_ptr<const OpenFile> share(Slot& s);
  void close(Slot& s);
  bool open_locked(Slot& s);               // with mu_ held
  void close_idle_over(std::size_t keep);  // with mu_ held

  const std::size_t max_open_;
  mutable std::mutex mu_;
  /// Descriptors open, the cache's and those only holders keep; shared with
  /// the files, which count themselves out when closed.
  std::shared_ptr<std::atomic<std::size_t>> open_;
  std::list<Slot*> idle_;  // open and not in use, most recently used first
};

struct FileCache::Slot {
  std::filesystem::path path;
  int flags = 0;
  int fd = -1;                          // file->fd() while open
  std::shared_ptr<const OpenFile> file;  // null while closed
  int users = 0;
  bool idle = false;
  std::list<Slot*>::iterator idle_at;
};

/// One file that the cache may close while it is not in use.
class CachedFile {
 public:
  CachedFile() = default;
  /// Opens the file now (with `flags`, O_CREAT allowed), so that a failure is
  /// seen at once; reopening later never creates it again. Throws
  /// std::runtime_error.
  CachedFile(std::shared_ptr<FileCache> cache, std::filesystem::path path, int flags);
  CachedFile(CachedFile&&) noexcept = default;
  CachedFile& operator=(CachedFile&& other) noexcept;
  ~CachedFile() { close(); }

  /// A descriptor held open while the Lease lives.
  class Lease {
   public:
    Lease(Lease&& o) noexcept : cache_(std::exchange(o.cache_, nullptr)), slot_(o.slot_), fd_(o.fd_) {}
    Lease(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (cache_ && fd_ >= 0) cache_->unpin(*slot_);
    }
    int fd() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

   private:
    friend class CachedFile;
    Lease(FileCache* cache, FileCache::Slot* slot, int fd) : cache_(cache), slot_(slot), fd_(fd) {}
    FileCache* cache_;
    FileCache::Slot* slot_;
    int fd_;
  };

  /// The file's descriptor, reopened if it was closed; on failure the lease
  /// is false and errno tells why (or there is no file).
  Lease use() const;
  /// The open file itself, for a holder that outlives this object's use of
  /// it (a region being sent); null on failure, with errno.
  std::shared_ptr<const OpenFile> share() const;
  explicit operator bool() const { return slot_ != nullptr; }
  const std::filesystem::path& path() const { return slot_->path; }
  /// The file was renamed to `path` (a compacted ledger put in place of the
  /// original): reopening uses the new name.
  void renamed(std::filesystem::path path);
  void close();

 private:
  std::shared_ptr<FileCache> cache_;
  std::unique_ptr<FileCache::Slot> slot_;
};

}  // namespace kwire_broker::storage::embedded
