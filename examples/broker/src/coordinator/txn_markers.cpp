#include "coordinator/txn_markers.hpp"

#include "core/log.hpp"
#include "protocol/internal_topics.hpp"

namespace kwire_broker {

bool is_offsets_shard(const storage::TopicPartition& tp) { return tp.topic == internal_topics::group_offsets; }

storage::TopicPartition offsets_shard(std::int32_t shard) {
  return storage::TopicPartition{std::string(internal_topics::group_offsets), shard};
}

boost::asio::awaitable<std::set<storage::TopicPartition>> LocalTxnMarkers::write(
    storage::TxnMarker marker, std::vector<storage::TopicPartition> partitions) {
  std::set<storage::TopicPartition> done;
  for (const auto& tp : partitions) {
    auto one = write_one(marker, tp);
    if (co_await std::move(one)) done.insert(tp);
  }
  co_return done;
}

boost::asio::awaitable<bool> LocalTxnMarkers::write_one(const storage::TxnMarker& marker,
                                                       const storage::TopicPartition& tp) {
  if (is_offsets_shard(tp)) {
    auto end = store_.groups().end_txn_offsets(tp.partition, marker.producer_id, storage::txn_epoch(marker),
                                               marker.commit);
    auto r = co_await std::move(end);
    if (!r.ok()) KB_WARN("producer {}: offsets held on shard {}: {}", marker.producer_id, tp.partition, r.message);
    co_return r.ok();
  }
  auto open = store_.open_log(tp);
  auto lr = co_await std::move(open);
  if (lr.error == storage::Errc::unknown_topic) co_return true;  // deleted meanwhile: nothing to end
  if (!lr.ok()) co_return false;
  auto append = lr.value->append_marker(marker);
  auto r = co_await std::move(append);
  if (r.ok() && on_marker_) on_marker_(tp);
  if (!r.ok() && r.error != storage::Errc::unknown_topic)
    KB_WARN("producer {}: marker for {}-{}: {}", marker.producer_id, tp.topic, tp.partition, r.message);
  co_return r.ok() || r.error == storage::Errc::unknown_topic;
}

}  // namespace kwire_broker
