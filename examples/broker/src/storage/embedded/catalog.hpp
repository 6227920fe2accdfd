// Topics of the embedded store: a directory per topic with its metadata
// (topic.meta: id, partition count, configs) and a directory per partition,
// whose logs the catalog opens and owns.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/embedded/group_store.hpp"
#include "storage/embedded/log.hpp"
#include "storage/embedded/options.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

class Catalog final : public TopicCatalog {
 public:
  /// Opens every topic found under `topics_dir` and recovers its partitions.
  /// Throws. `groups` forgets the offsets of a deleted topic.
  Catalog(const Options& opts, std::filesystem::path topics_dir, Groups& groups);
  ~Catalog() override;

  Task<TopicInfo> create_topic(NewTopic topic) override;
  Task<Done> delete_topic(std::string name) override;
  Task<TopicInfo> add_partitions(std::string name, std::int32_t total) override;
  Task<TopicInfo> alter_configs(std::string name, std::vector<ConfigChange> changes) override;
  Task<std::vector<TopicInfo>> list_topics() override;
  std::optional<TopicInfo> find_topic(const std::string& name) const override;
  std::optional<TopicInfo> find_topic(const TopicId& id) const override;

  /// The log of a partition; nullptr if the topic or partition is unknown.
  std::shared_ptr<Log> log(const TopicPartition& tp) const;
  /// Every open log (for housekeeping).
  std::vector<std::shared_ptr<Log>> logs() const;
  /// Flushes and closes every log; later calls fail with closed.
  void close();

 private:
  struct Topic {
    TopicInfo info;
    std::vector<std::shared_ptr<Log>> logs;
  };

  Result<TopicInfo> create(NewTopic nt);
  Result<Done> remove(const std::string& name);
  Result<TopicInfo> grow(const std::string& name, std::int32_t total);
  Result<TopicInfo> alter(const std::string& name, const std::vector<ConfigChange>& changes);
  std::shared_ptr<Log> open_partition(const TopicInfo& info, std::int32_t p);

  const Options& opts_;
  std::filesystem::path dir_;
  Groups& groups_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::map<std::string, Topic> topics_;
};

}  // namespace kwire_broker::storage::embedded
