// Share partitions' state on the embedded store: a file per share partition,
// `<hex group>.<hex topic id>.<partition>.state` in the namespace's
// `share-states` directory, holding the broker's record (RecordFiles:
// written on the flusher thread in the order of the changes).
#pragma once

#include <filesystem>
#include <vector>

#include "storage/embedded/record_files.hpp"

namespace kwire_broker::storage::embedded {

class ShareStates final : public ShareStateStore {
 public:
  /// Loads every record found in `dir` (created if missing). Throws.
  ShareStates(std::filesystem::path dir, Flusher& disk) : files_(std::move(dir), ".state", disk) {}

  Task<Done> store_share_state(SharePartitionKey key, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_share_state(SharePartitionKey key) override;
  Task<std::vector<ShareStateBlob>> load_share_states() override;

  /// Later calls fail with closed.
  void close() noexcept { files_.close(); }

 private:
  RecordFiles files_;
};

}  // namespace kwire_broker::storage::embedded
