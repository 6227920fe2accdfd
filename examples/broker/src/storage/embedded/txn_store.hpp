// Transaction state of the embedded store: a file per transactional id,
// `<hex id>.txn` in the namespace's `transactions` directory, holding the
// coordinator's record (RecordFiles: written on the flusher thread in the
// order of the changes, after the group files queued before them).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "storage/embedded/record_files.hpp"

namespace kwire_broker::storage::embedded {

class Transactions final : public TxnStore {
 public:
  /// Loads every record found in `dir` (created if missing). Throws.
  Transactions(std::filesystem::path dir, Flusher& disk) : files_(std::move(dir), ".txn", disk) {}

  Task<Done> store_txn(std::string transactional_id, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_txn(std::string transactional_id) override;
  Task<std::vector<TxnBlob>> load_txns() override;
  /// One shard: every record (the embedded store has one).
  Task<std::vector<TxnBlob>> load_shard_txns(std::int32_t) override { return load_txns(); }

  /// Later calls fail with closed.
  void close() noexcept { files_.close(); }

 private:
  RecordFiles files_;
};

}  // namespace kwire_broker::storage::embedded
