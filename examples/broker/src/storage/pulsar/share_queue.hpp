// Share groups (KIP-932) as Pulsar Shared subscriptions: the share partition
// of group G on Kafka partition T-p is the subscription named G on the topic
// T-partition-p, which native Pulsar consumers may join. The gateway
// subscribes one consumer per share partition that asks for no messages of
// its own (auto_permits off): each ShareFetch permits what its members can
// take, so that Pulsar hands the rest to the subscription's other consumers.
//
//   a member accepts or rejects    individual acks (batch-index acks for a
//   (or the delivery limit hits)   record of a batch entry), confirmed by
//                                  Pulsar before the member's request is
//                                  answered
//   a member releases, or its      the entry goes back to the subscription
//   lock passes                    (redelivery), once no record of it is held
//   share-partition start offset   the offset after the subscription's
//                                  mark-delete position
//   AlterShareGroupOffsets         a seek of the subscription
//   DeleteShareGroupOffsets        unsubscribing (refused while native
//                                  consumers are attached)
//
// A lost connection makes Pulsar deliver again everything the gateway held
// (as Kafka's locks do not outlive a broker); the queue's generation tells
// the coordinator. All state lives on the storage's I/O thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;

class ShareQueue final : public storage::ShareQueue, public std::enable_shared_from_this<ShareQueue> {
 public:
  ShareQueue(PulsarStorage& s, TopicPartition tp, std::string subscription);

  Task<std::vector<QueuedBatch>> take(std::int32_t max_records) override;
  Task<Done> settle(std::uint64_t handle, std::vector<std::int64_t> offsets, bool whole) override;
  Task<Done> give_back(std::uint64_t handle) override;
  std::uint64_t generation() const noexcept override { return generation_.load(); }
  Task<std::optional<std::int64_t>> start_offset() override;
  Task<Done> seek(std::int64_t offset) override;
  Task<Done> remove() override;
  Task<Done> close() override;

  /// Subscribes (on the I/O thread): a new subscription starts at the
  /// partition's first entry (`earliest`) or after its last.
  awaitable<void> open(bool earliest);

 private:
  /// An entry handed to the broker and not yet settled or given back.
  struct Held {
    kp::MessageId id;
    std::int64_t base = 0;
    std::int32_t messages = 1;
    bool batched = false;
  };
  /// A new subscription of the consumer: what it held, Pulsar delivers again.
  void follow_generation();
  awaitable<Result<std::vector<QueuedBatch>>> take_here(std::int32_t max_records);
  awaitable<Result<Done>> settle_here(std::uint64_t handle, std::vector<std::int64_t> offsets, bool whole);

  PulsarStorage& s_;
  TopicPartition tp_;
  std::string subscription_;
  std::shared_ptr<kp::Consumer> consumer_;
  std::map<std::uint64_t, Held> held_;
  std::uint64_t next_handle_ = 1;
  std::uint64_t seen_generation_ = 0;
  std::atomic<std::uint64_t> generation_{0};
};

class ShareQueues final : public storage::ShareQueues {
 public:
  explicit ShareQueues(PulsarStorage& s) : s_(s) {}
  Task<std::shared_ptr<storage::ShareQueue>> open_share_queue(SharePartitionKey key, TopicPartition tp,
                                                              bool earliest) override;

 private:
  PulsarStorage& s_;
};

}  // namespace kwire_broker::storage::pulsar
