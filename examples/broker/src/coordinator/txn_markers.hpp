// Where a transaction coordinator's markers go. A transaction ends in every
// partition it wrote and in every shard of the offsets topic holding offsets
// it committed (AddOffsetsToTxn adds the shard as a partition of
// `__consumer_offsets`, as Kafka's does). The local sink writes into this
// gateway's store; with several gateways (PeerTxnMarkers) a partition led,
// or a shard coordinated, by another gateway gets its marker there with
// WriteTxnMarkers, since only the leader writes a partition.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <set>
#include <vector>

#include "storage/storage.hpp"

namespace kwire_broker {

class TxnMarkerSink {
 public:
  virtual ~TxnMarkerSink() = default;
  /// Ends the marker's transaction in each of `partitions`; answers the
  /// ones where it is done (written, or the topic is gone). The rest are
  /// tried again by the coordinator's next sweep.
  virtual boost::asio::awaitable<std::set<storage::TopicPartition>> write(storage::TxnMarker marker,
                                                                         std::vector<storage::TopicPartition> partitions) = 0;
};

/// Whether `tp` is a shard of the offsets topic rather than a partition of data.
bool is_offsets_shard(const storage::TopicPartition& tp);
/// The partition of the offsets topic that stands for `shard` in a transaction.
storage::TopicPartition offsets_shard(std::int32_t shard);

/// Writes markers into the logs of `store` and ends held offsets in its group store.
class LocalTxnMarkers final : public TxnMarkerSink {
 public:
  /// `on_marker`: called after a marker is written to a partition (wakes
  /// fetches waiting on its last stable offset).
  LocalTxnMarkers(storage::Storage& store, std::function<void(const storage::TopicPartition&)> on_marker)
      : store_(store), on_marker_(std::move(on_marker)) {}
  boost::asio::awaitable<std::set<storage::TopicPartition>> write(storage::TxnMarker marker,
                                                                 std::vector<storage::TopicPartition> partitions) override;
  /// One partition (or shard): whether it is done.
  boost::asio::awaitable<bool> write_one(const storage::TxnMarker& marker, const storage::TopicPartition& tp);

 private:
  storage::Storage& store_;
  std::function<void(const storage::TopicPartition&)> on_marker_;
};

}  // namespace kwire_broker
