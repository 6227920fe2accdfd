// TxnStore on Pulsar: the transaction coordinator's record of each
// transactional id is a message keyed "txn/<transactional id>" on the
// compacted offsets topic of the group store (group_store.hpp), on the
// partition the id hashes to, as a group's; a null value deletes. Writing a
// partition takes its exclusive producer, so one gateway at a time writes a
// transactional id's record, and one taking a partition over reads it again
// first.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;
class Groups;

class Txns final : public TxnStore {
 public:
  Txns(PulsarStorage& s, Groups& groups) : s_(s), groups_(groups) {}

  Task<Done> store_txn(std::string transactional_id, std::vector<std::uint8_t> blob) override;
  Task<Done> delete_txn(std::string transactional_id) override;
  Task<std::vector<TxnBlob>> load_txns() override;
  Task<std::vector<TxnBlob>> load_shard_txns(std::int32_t shard) override;

 private:
  awaitable<Result<Done>> write_here(std::string transactional_id, std::optional<std::vector<std::uint8_t>> blob);
  awaitable<Result<std::vector<TxnBlob>>> load_here();
  awaitable<Result<std::vector<TxnBlob>>> load_shard_here(std::int32_t shard);

  PulsarStorage& s_;
  Groups& groups_;
};

}  // namespace kwire_broker::storage::pulsar
