// Transaction state of the embedded store: a file per transactional id,
// `<hex id>.txn` in the namespace's `transactions` directory, holding the
// coordinator's record. Memory changes at once; the files are replaced
// (temporary file, fsync, rename) on the store's flusher thread in the order
// of the changes, after the group files queued before them, and a call
// completes once its file is written.
#pragma once

#include <atomic>
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

class Transactions final : public TxnStore {
 public:
  /// Loads every record found in `dir` (created if missing). Throws.
  Transactions(std::filesystem::path dir, Flusher& disk);

  Task<Done> store_txn(std::string transactional_id, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_txn(std::string transactional_id) override;
  Task<std::vector<TxnBlob>> load_txns() override;

  /// Later calls fail with closed.
  void close() noexcept { closed_ = true; }

 private:
  std::filesystem::path path(const std::string& id) const;
  std::shared_ptr<Completion> write_later(std::filesystem::path file, std::optional<std::string> data);

  std::filesystem::path dir_;
  Flusher& disk_;
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::map<std::string, std::vector<std::uint8_t>> records_;
};

}  // namespace kwire_broker::storage::embedded
