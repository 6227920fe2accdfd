// Consumer groups of the embedded store: a metadata blob and a file of
// committed offsets per group, and a file of the offsets a transaction holds
// for it per producer, each replaced atomically on change and all held in
// memory. Memory changes at once; the files are written (and
// synced) on the store's flusher thread in the order of the changes, and a
// call completes once its file is written.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/embedded/flusher.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

class Groups final : public GroupStore {
 public:
  /// Loads every group found in `dir` (created if missing). Throws.
  Groups(std::filesystem::path dir, Flusher& disk);

  Task<Done> store_group(std::string group_id, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_group(std::string group_id) override;
  Task<std::vector<GroupBlob>> load_groups() override;
  Task<Done> commit_offsets(std::string group_id, Offsets offsets) override;
  Task<Offsets> fetch_offsets(std::string group_id) override;
  Task<Done> delete_offsets(std::string group_id, std::vector<TopicPartition> partitions) override;
  Task<std::vector<std::string>> list_groups() override;
  Task<Done> hold_txn_offsets(std::string group_id, std::int64_t producer_id, std::int16_t epoch,
                              Offsets offsets) override;
  Task<Done> end_txn_offsets(std::int32_t shard, std::int64_t producer_id, std::int16_t epoch, bool commit) override;
  Task<std::vector<TopicPartition>> held_txn_offsets(std::string group_id) override;

  /// Forgets committed offsets of a deleted topic.
  void forget_topic(const std::string& topic);
  /// Later calls fail with closed.
  void close() noexcept { closed_ = true; }

 private:
  using OffsetMap = std::map<TopicPartition, CommittedOffset>;

  std::filesystem::path path(const std::string& id, const char* ext) const;
  /// The file of the offsets a transaction of `producer_id` holds for the group.
  std::filesystem::path held_path(const std::string& id, std::int64_t producer_id) const;
  /// Queues the replacement of `file` by `data` (nullopt: its removal)
  /// behind every change queued before; called under mu_, so the files
  /// change in the order memory did.
  std::shared_ptr<Completion> write_later(std::filesystem::path file, std::optional<std::string> data);
  std::shared_ptr<Completion> write_offsets_later(const std::string& group_id);
  static Task<Done> outcome(const std::shared_ptr<Completion>& done);

  std::filesystem::path dir_;
  Flusher& disk_;
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::map<std::string, std::vector<std::uint8_t>> blobs_;
  std::map<std::string, OffsetMap> offsets_;
  struct Held {
    std::int16_t epoch = -1;
    OffsetMap offsets;
  };
  std::map<std::string, std::map<std::int64_t, Held>> held_;  // group → producer id → its hold
};

}  // namespace kwire_broker::storage::embedded
