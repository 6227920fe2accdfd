// A directory of records kept one per file (`<name><extension>`) and in
// memory: the embedded store's transaction and share-partition states.
// Memory changes at once; each file is replaced (temporary file, fsync,
// rename) or removed on the store's flusher thread in the order of the
// changes, and a call completes once its file is written.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/embedded/flusher.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

/// Queues, on `disk`, the replacement of `file` with `data` (written
/// atomically) or its removal (nullopt); the completion tells whether it
/// happened.
std::shared_ptr<Completion> replace_file_later(Flusher& disk, std::filesystem::path file,
                                               std::optional<std::string> data);

class RecordFiles {
 public:
  /// Loads every `*<extension>` file of `dir` (created if missing). Throws.
  RecordFiles(std::filesystem::path dir, std::string extension, Flusher& disk);

  /// `name` must be file-safe (hex, digits, dots).
  Task<Done> put(std::string name, std::vector<std::uint8_t> record);
  Task<Done> erase(std::string name);
  /// Every record by name; fails with closed after close().
  Result<std::map<std::string, std::vector<std::uint8_t>>> all() const;

  /// Later calls fail with closed.
  void close() noexcept { closed_ = true; }

 private:
  Task<Done> change(std::string name, std::optional<std::vector<std::uint8_t>> record);

  std::filesystem::path dir_;
  std::string extension_;
  Flusher& disk_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::uint8_t>> records_;
};

}  // namespace kwire_broker::storage::embedded
