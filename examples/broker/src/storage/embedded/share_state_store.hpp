// Share partitions' state on the embedded store: a file per share partition,
// `<hex group>.<hex topic id>.<partition>.state` in the namespace's
// `share-states` directory, holding the broker's record. Memory changes at
// once; the files are replaced (temporary file, fsync, rename) on the store's
// flusher thread in the order of the changes, and a call completes once its
// file is written.
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

class ShareStates final : public ShareStateStore {
 public:
  /// Loads every record found in `dir` (created if missing). Throws.
  ShareStates(std::filesystem::path dir, Flusher& disk);

  Task<Done> store_share_state(SharePartitionKey key, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_share_state(SharePartitionKey key) override;
  Task<std::vector<ShareStateBlob>> load_share_states() override;

  /// Later calls fail with closed.
  void close() noexcept { closed_ = true; }

 private:
  std::filesystem::path path(const SharePartitionKey& key) const;
  std::shared_ptr<Completion> write_later(std::filesystem::path file, std::optional<std::string> data);

  std::filesystem::path dir_;
  Flusher& disk_;
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::map<SharePartitionKey, std::vector<std::uint8_t>> records_;
};

}  // namespace kwire_broker::storage::embedded
