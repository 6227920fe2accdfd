#include "coordinator/txn_peers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>

#include "coordinator/txn_coordinator.hpp"
#include "core/cluster.hpp"
#include "core/log.hpp"
#include "kwire/messages/add_partitions_to_txn_request.hpp"
#include "kwire/messages/add_partitions_to_txn_response.hpp"
#include "kwire/messages/write_txn_markers_request.hpp"
#include "kwire/messages/write_txn_markers_response.hpp"
#include "net/peer_link.hpp"

namespace kwire_broker {

namespace asio = boost::asio;
using kwire::ErrorCode;

asio::awaitable<ErrorCode> verify_here(TxnCoordinator& c, std::string txn_id, std::int64_t producer_id,
                                       std::int16_t epoch, storage::TopicPartition tp, bool add) {
  // From memory only where this gateway coordinates the id: an entry of a
  // shard lost a moment ago may be out of date.
  ErrorCode e = c.owns(txn_id) ? c.may_write(producer_id, epoch, tp) : ErrorCode::NotCoordinator;
  if (e == ErrorCode::None) co_return e;
  // Not in memory as asked: the id's shard may not be loaded yet, or (V2)
  // the partition is to be added now.
  auto check = c.verify(txn_id, producer_id, epoch, tp);
  e = co_await asio::co_spawn(c.strand(), std::move(check), asio::use_awaitable);
  if (e == ErrorCode::InvalidTxnState && add) {
    std::vector<storage::TopicPartition> partitions{tp};  // named: g++ 12 mishandles temporaries in co_await
    auto op = c.add_partitions(txn_id, producer_id, epoch, std::move(partitions), true);
    const auto added = co_await asio::co_spawn(c.strand(), std::move(op), asio::use_awaitable);
    e = added.error == ErrorCode::None && !added.unknown.empty() ? ErrorCode::UnknownTopicOrPartition : added.error;
  }
  co_return e;
}

asio::awaitable<ErrorCode> TxnPeers::verify(TxnCoordinator& here, std::string txn_id,
                                            std::int64_t producer_id, std::int16_t epoch, storage::TopicPartition tp,
                                            bool add) {
  const auto view = cluster_.view();
  const std::int32_t node = view.coordinator_of_shard(store_.groups().shard_of(txn_id));
  if (node == view.self()) {
    auto local = verify_here(here, txn_id, producer_id, epoch, std::move(tp), add);
    co_return co_await std::move(local);
  }
  auto to = view.endpoint(node, link_.listener());
  if (!to) co_return ErrorCode::CoordinatorNotAvailable;
  kwire::AddPartitionsToTxnRequest req;
  auto& txn = req.transactions.emplace_back();
  txn.transactional_id = txn_id;
  txn.producer_id = producer_id;
  txn.producer_epoch = epoch;
  txn.verify_only = !add;
  auto& topic = txn.topics.emplace_back();
  topic.name = tp.topic;
  topic.partitions.push_back(tp.partition);
  auto call = link_.call(*to, req, 5, timeout);
  const auto reply = co_await std::move(call);
  if (reply.error != ErrorCode::None) {
    KB_WARN("transaction {}: gateway {} could not be asked about {}-{}: {}", txn_id, node, tp.topic, tp.partition,
            reply.message);
    co_return reply.error;
  }
  if (reply.body.error_code != ErrorCode::None) co_return reply.body.error_code;
  for (const auto& r : reply.body.results_by_transaction)
    for (const auto& t : r.topic_results)
      for (const auto& p : t.results_by_partition)
        if (t.name == tp.topic && p.partition_index == tp.partition) co_return p.partition_error_code;
  co_return ErrorCode::UnknownServerError;  // an answer without the partition
}

asio::awaitable<std::set<storage::TopicPartition>> TxnPeers::write(storage::TxnMarker marker,
                                                                  std::vector<storage::TopicPartition> partitions) {
  const auto view = cluster_.view();
  std::map<std::int32_t, std::vector<storage::TopicPartition>> by_leader;
  for (auto& tp : partitions) {
    const std::int32_t leader =
        is_offsets_shard(tp) ? view.coordinator_of_shard(tp.partition) : view.leader_of(tp);
    by_leader[leader].push_back(std::move(tp));
  }
  std::set<storage::TopicPartition> done;
  for (auto& [leader, tps] : by_leader) {
    if (leader == view.self()) {
      auto local = local_.write(marker, tps);
      auto written = co_await std::move(local);
      done.insert(written.begin(), written.end());
      continue;
    }
    auto to = view.endpoint(leader, link_.listener());
    if (!to) continue;  // the sweep tries again once the gateway is known
    kwire::WriteTxnMarkersRequest req;
    auto& m = req.markers.emplace_back();
    m.producer_id = marker.producer_id;
    m.producer_epoch = marker.producer_epoch;
    m.transaction_result = marker.commit;
    m.coordinator_epoch = marker.coordinator_epoch;
    m.transaction_version = marker.v2 ? 2 : 1;  // v2 of the request carries it
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& tp : tps) by_topic[tp.topic].push_back(tp.partition);
    for (const auto& [name, ps] : by_topic) {
      auto& t = m.topics.emplace_back();
      t.name = name;
      t.partition_indexes.assign(ps.begin(), ps.end());
    }
    auto call = link_.call(*to, req, 2, timeout);
    const auto reply = co_await std::move(call);
    if (reply.error != ErrorCode::None) {
      KB_WARN("producer {}: markers to gateway {}: {}", marker.producer_id, leader, reply.message);
      continue;
    }
    for (const auto& r : reply.body.markers)
      for (const auto& t : r.topics)
        for (const auto& p : t.partitions) {
          storage::TopicPartition tp{std::string(t.name), p.partition_index};
          // A topic deleted meanwhile has nothing left to end.
          if (p.error_code == ErrorCode::None || p.error_code == ErrorCode::UnknownTopicOrPartition)
            done.insert(std::move(tp));
          else
            KB_WARN("producer {}: marker for {}-{} at gateway {}: {}", marker.producer_id, tp.topic, tp.partition,
                    leader, kwire::to_string(p.error_code));
        }
  }
  co_return done;
}

}  // namespace kwire_broker
