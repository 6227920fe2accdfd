// Which gateway leads each partition and coordinates each group when several
// kwire-brokers share one storage (storage::Membership). Every gateway
// computes the same answer from the same member list: rendezvous hashing, so
// a gateway leaving moves only its own partitions and groups, and one joining
// takes only its share. The storage's single-writer fencing covers the
// moments when two gateways' lists differ.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

/// The members at one moment; cheap to ask many questions of.
class ClusterView {
 public:
  ClusterView(std::vector<storage::Gateway> gateways, std::int32_t self)
      : gateways_(std::move(gateways)), self_(self) {}

  const std::vector<storage::Gateway>& gateways() const noexcept { return gateways_; }
  std::int32_t self() const noexcept { return self_; }

  /// The gateway that owns `key` (a partition or a group shard).
  std::int32_t owner(std::string_view key) const;
  std::int32_t leader_of(const storage::TopicPartition& tp) const;
  std::int32_t coordinator_of_shard(std::int32_t shard) const;

  /// Where clients reach `node` through the listener named `listener`.
  std::optional<storage::Endpoint> endpoint(std::int32_t node, const std::string& listener) const;

 private:
  std::vector<storage::Gateway> gateways_;
  std::int32_t self_;
};

class Cluster {
 public:
  Cluster(const Settings& settings, storage::Storage& store);

  /// Announces this gateway (its advertised listeners) to the others.
  void join();
  ClusterView view() const;

  bool leads(const storage::TopicPartition& tp) const { return view().leader_of(tp) == settings_.node_id; }
  std::int32_t coordinator_of(const std::string& group) const;
  bool coordinates(const std::string& group) const { return coordinator_of(group) == settings_.node_id; }

  /// Hands over what this gateway no longer owns: `logs` are the open
  /// partition logs. Called periodically; cheap when nothing changed.
  void release_lost(const std::vector<std::shared_ptr<storage::PartitionLog>>& logs);

 private:
  const Settings& settings_;
  storage::Storage& store_;
  std::vector<std::int32_t> last_members_;
};

}  // namespace kwire_broker
