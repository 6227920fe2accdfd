// Share partitions' state (KIP-932) on Pulsar: one message per share
// partition on the group's shard of the compacted offsets topic
// (group_store.hpp), keyed "share/<hex topic id>/<partition>/<group>" (the
// group last: group ids may hold any character) with the broker's record as
// its value; a null value deletes. Kept beside the group's own records, the
// state is written by the gateway that coordinates the group, through the
// shard's exclusive producer, and compaction keeps the newest record of each
// share partition.
//
// All state lives on the storage's I/O thread; every call hops there and
// resumes its caller on the caller's executor.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;
class Groups;

class ShareStates final : public ShareStateStore {
 public:
  /// Registers its records with the group store, which reads them.
  ShareStates(PulsarStorage& s, Groups& groups);

  Task<Done> store_share_state(SharePartitionKey key, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_share_state(SharePartitionKey key) override;
  Task<std::vector<ShareStateBlob>> load_share_states() override;

 private:
  /// Stores the record (nullopt: deletes it).
  awaitable<Result<Done>> write_here(SharePartitionKey key, std::optional<std::vector<std::uint8_t>> blob);
  awaitable<Result<std::vector<ShareStateBlob>>> load_here();
  void apply(const kp::Message& m);
  void forget(int shard);

  PulsarStorage& s_;
  Groups& groups_;
  std::map<SharePartitionKey, std::vector<std::uint8_t>> records_;
};

}  // namespace kwire_broker::storage::pulsar
