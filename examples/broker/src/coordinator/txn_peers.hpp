// Transactions across gateways. The coordinator of a transactional id is the
// gateway that owns its shard; a partition is written only by its leader. So
// a leader asks the coordinator whether a transactional batch may go in (and
// a group coordinator whether a transaction may hold offsets), and the
// coordinator sends its markers to the leaders: Kafka's AddPartitionsToTxn
// (v5, as Kafka's brokers send it) and WriteTxnMarkers between gateways
// (net/peer_link.hpp), and the same calls straight into this gateway's own
// coordinator and store when it is the one.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

#include "coordinator/txn_markers.hpp"
#include "kwire/messages/error_code.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

class Cluster;
class PeerLink;
class TxnCoordinator;

class TxnPeers final : public TxnMarkerSink {
 public:
  /// `coordinator`: this gateway's (its own ids, and the store it writes).
  TxnPeers(Cluster& cluster, PeerLink& link, storage::Storage& store, LocalTxnMarkers& local)
      : cluster_(cluster), link_(link), store_(store), local_(local) {}

  /// Whether the producer's open transaction of `txn_id` holds `tp`, or, with
  /// `add` (Transactions V2), adds it, at the id's coordinator: `here` when
  /// this gateway is it. The coordinator's error (PRODUCER_FENCED for
  /// another epoch, TRANSACTION_ABORTABLE for a partition outside the
  /// transaction, ...), or NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE /
  /// NETWORK_EXCEPTION when it could not be asked.
  boost::asio::awaitable<kwire::ErrorCode> verify(TxnCoordinator& here, std::string txn_id,
                                                  std::int64_t producer_id, std::int16_t epoch,
                                                  storage::TopicPartition tp, bool add);

  /// Markers: partitions (and offsets shards) this gateway leads are written
  /// here; the others go to their leaders, one WriteTxnMarkers each.
  boost::asio::awaitable<std::set<storage::TopicPartition>> write(storage::TxnMarker marker,
                                                                 std::vector<storage::TopicPartition> partitions) override;

  /// How long a request to another gateway may take.
  static constexpr std::chrono::milliseconds timeout{10000};

 private:
  Cluster& cluster_;
  PeerLink& link_;
  storage::Storage& store_;
  LocalTxnMarkers& local_;
};

/// Verification against this gateway's own coordinator (no peers): the
/// check from memory, then, if it fails, once more on the coordinator's
/// strand with the id's shard loaded, adding the partition with `add`.
boost::asio::awaitable<kwire::ErrorCode> verify_here(TxnCoordinator& c, std::string txn_id,
                                                     std::int64_t producer_id, std::int16_t epoch,
                                                     storage::TopicPartition tp, bool add);

}  // namespace kwire_broker
