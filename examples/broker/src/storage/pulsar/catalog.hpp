// TopicCatalog on Pulsar: a Kafka topic is a partitioned topic of the
// namespace; its Kafka topic id and configs are properties of the
// partitioned topic's metadata ("kafka.topic.id", "kafka.config.<key>"), so
// that every gateway in front of the namespace reads the same ones. The
// catalog keeps what it last read in memory for find_topic().
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;

class Catalog final : public TopicCatalog {
 public:
  explicit Catalog(PulsarStorage& s) : s_(s) {}

  Task<TopicInfo> create_topic(NewTopic topic) override;
  Task<Done> delete_topic(std::string name) override;
  Task<TopicInfo> add_partitions(std::string name, std::int32_t total) override;
  Task<TopicInfo> alter_configs(std::string name, std::vector<ConfigChange> changes) override;
  Task<std::vector<TopicInfo>> list_topics() override;
  std::optional<TopicInfo> find_topic(const std::string& name) const override;
  std::optional<TopicInfo> find_topic(const TopicId& id) const override;

  // On the I/O thread:
  /// Reads every topic of the namespace (and forgets the ones gone).
  awaitable<std::vector<TopicInfo>> load();
  /// Reads one topic's metadata; nullopt if it does not exist.
  awaitable<std::optional<TopicInfo>> fetch(const std::string& name);

 private:
  awaitable<Result<TopicInfo>> create_here(NewTopic topic);
  awaitable<Result<Done>> delete_here(std::string name);
  awaitable<Result<TopicInfo>> add_partitions_here(std::string name, std::int32_t total);
  awaitable<Result<TopicInfo>> alter_configs_here(std::string name, std::vector<ConfigChange> changes);
  awaitable<Result<std::vector<TopicInfo>>> list_here();
  awaitable<std::optional<TopicInfo>> read(const std::string& name);
  void put(TopicInfo t);
  void erase(const std::string& name);

  PulsarStorage& s_;
  mutable std::mutex mu_;
  std::map<std::string, TopicInfo> topics_;
  // A load() lists the namespace, then reads each topic: a topic this
  // gateway creates or deletes meanwhile must not be undone by a list taken
  // before. Each local change is stamped; a load keeps the memory's state of
  // every name changed after it began. Stamps older than every running load
  // are dropped.
  std::uint64_t stamp_ = 0;
  std::map<std::string, std::uint64_t> changed_;
  std::multiset<std::uint64_t> loads_;  // the stamp each running load began at
};

}  // namespace kwire_broker::storage::pulsar
