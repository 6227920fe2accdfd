// Offsets a transaction holds for a group until it ends (TxnOffsetCommit),
// on the group's shard of the offsets topic as "txnoffset/<producer id>/<group>"
// (the producer id first: a group id may hold '/'), the value a JSON object
// with the transaction's epoch and the offsets; a null value drops the hold. Ending a transaction writes,
// per group, its committed offsets and the hold's removal as one entry: both
// or neither, so a gateway taking the shard over finds either the hold (and
// the coordinator ends the transaction again) or the committed offsets.
#include <nlohmann/json.hpp>

#include "group_store.hpp"
#include "store.hpp"

namespace kwire_broker::storage::pulsar {

using nlohmann::json;

namespace {

std::string held_key(std::int64_t producer_id, const std::string& group) {
  return "txnoffset/" + std::to_string(producer_id) + "/" + group;
}

}  // namespace

void Groups::apply_held(const std::string& rest, const kp::Message& m) {
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return;
  std::int64_t producer = -1;
  try {
    producer = std::stoll(rest.substr(0, slash));
  } catch (const std::exception&) {
    return;
  }
  const std::string group = rest.substr(slash + 1);
  if (m.null_value) {
    if (auto g = groups_.find(group); g != groups_.end()) g->second.held.erase(producer);
    return;
  }
  // Another writer's malformed record is skipped, not trusted in part.
  Group::Held held;
  try {
    const auto j = json::parse(m.value);
    if (!j.is_object() || !j.at("epoch").is_number_integer() || !j.at("offsets").is_array()) return;
    const auto epoch = j.at("epoch").get<std::int64_t>();
    if (epoch < 0 || epoch > 32767) return;
    held.epoch = static_cast<std::int16_t>(epoch);
    for (const auto& e : j.at("offsets")) {
      const auto& partition = e.at("partition");
      const auto& offset = e.at("offset");
      if (!partition.is_number_integer() || !offset.is_number_integer()) return;
      CommittedOffset c;
      c.offset = offset.get<std::int64_t>();
      c.leader_epoch = e.value("leader_epoch", -1);
      c.metadata = e.value("metadata", std::string());
      c.commit_timestamp = e.value("timestamp", std::int64_t{-1});
      held.offsets[TopicPartition{e.at("topic").get<std::string>(), partition.get<std::int32_t>()}] = std::move(c);
    }
  } catch (const std::exception&) {
    return;
  }
  groups_[group].held[producer] = std::move(held);
}

std::vector<kp::OutgoingMessage> Groups::drop_holds(const std::string& group) const {
  std::vector<kp::OutgoingMessage> ms;
  if (auto it = groups_.find(group); it != groups_.end())
    for (const auto& [producer, h] : it->second.held) {
      kp::OutgoingMessage drop;
      drop.key = held_key(producer, group);
      drop.null_value = true;
      ms.push_back(std::move(drop));
    }
  return ms;
}

Task<Done> Groups::hold_txn_offsets(std::string group_id, std::int64_t producer_id, std::int16_t epoch,
                                    Offsets offsets) {
  auto work = hold_here(std::move(group_id), producer_id, epoch, std::move(offsets));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Groups::hold_here(std::string group_id, std::int64_t producer_id, std::int16_t epoch,
                                         Offsets offsets) {
  co_await take(partition_of(group_id));
  auto merged = groups_[group_id].held[producer_id];
  if (!merged.offsets.empty() && epoch < merged.epoch)
    co_return Result<Done>::failure(Errc::invalid_producer_epoch, "a newer epoch holds offsets");
  if (epoch > merged.epoch) merged.offsets.clear();  // a fenced producer's, written after its end
  merged.epoch = epoch;
  for (auto& [tp, c] : offsets) merged.offsets[tp] = c;
  json arr = json::array();
  for (const auto& [tp, c] : merged.offsets)
    arr.push_back(json{{"topic", tp.topic},
                       {"partition", tp.partition},
                       {"offset", c.offset},
                       {"leader_epoch", c.leader_epoch},
                       {"metadata", c.metadata},
                       {"timestamp", c.commit_timestamp}});
  const std::string value = json{{"epoch", merged.epoch}, {"offsets", std::move(arr)}}.dump();
  std::optional<std::vector<std::uint8_t>> blob(std::in_place, value.begin(), value.end());
  // Held in memory before the write is on its way: a marker that ends the
  // transaction meanwhile finds the hold with its offsets, and its entry,
  // queued behind this one on the shard's producer, ends it in the log too
  // (held only once written, the end would find an empty entry and commit
  // none of them). A failed write leaves it held: whether Pulsar stored it
  // is unknown, and the transaction's end drops it either way.
  groups_[group_id].held[producer_id] = std::move(merged);
  std::string key = held_key(producer_id, group_id);  // named: g++ 12 mishandles temporaries in co_await
  co_await write_record(group_id, std::move(key), blob);
  co_return Result<Done>::success({});
}

Task<Done> Groups::end_txn_offsets(std::int32_t shard, std::int64_t producer_id, std::int16_t epoch, bool commit) {
  auto work = end_held_here(shard, producer_id, epoch, commit);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Groups::end_held_here(std::int32_t shard, std::int64_t producer_id, std::int16_t epoch,
                                             bool commit) {
  co_await take(shard);
  std::vector<std::string> holding;
  for (const auto& [g, v] : groups_)
    if (partition_of(g) == shard && v.held.count(producer_id)) holding.push_back(g);
  for (const auto& g : holding) {
    auto it = groups_.find(g);
    if (it == groups_.end()) continue;  // changed while an earlier group's entry was written
    auto h = it->second.held.find(producer_id);
    if (h == it->second.held.end() || h->second.epoch > epoch) continue;
    const bool committing = commit && h->second.epoch == epoch;
    const auto offsets = h->second.offsets;
    std::vector<kp::OutgoingMessage> ms;
    if (committing)
      for (const auto& [tp, c] : offsets) ms.push_back(offset_message(g, tp, c));
    kp::OutgoingMessage drop;
    drop.key = held_key(producer_id, g);
    drop.null_value = true;
    ms.push_back(std::move(drop));
    co_await write(g, std::move(ms));
    auto& group = groups_[g];
    group.held.erase(producer_id);
    if (committing) {
      Offsets committed(offsets.begin(), offsets.end());
      for (const auto& [tp, c] : offsets) group.offsets[tp] = c;
      mirror(g, committed);
    }
  }
  co_return Result<Done>::success({});
}

Task<std::int32_t> Groups::shard_epoch(std::int32_t shard) {
  auto work = shard_epoch_here(shard);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::int32_t>> Groups::shard_epoch_here(std::int32_t shard) {
  co_await take(shard);
  const auto epoch = producers_[shard]->topic_epoch();
  co_return Result<std::int32_t>::success(static_cast<std::int32_t>(std::min<std::uint64_t>(epoch, INT32_MAX)));
}

Task<std::vector<TopicPartition>> Groups::held_txn_offsets(std::string group_id) {
  auto work = held_here(std::move(group_id));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<TopicPartition>>> Groups::held_here(std::string group_id) {
  co_await take(partition_of(group_id));  // fresh if another gateway coordinated it
  std::vector<TopicPartition> out;
  if (auto it = groups_.find(group_id); it != groups_.end())
    for (const auto& [producer, h] : it->second.held)
      for (const auto& [tp, c] : h.offsets) out.push_back(tp);
  co_return Result<std::vector<TopicPartition>>::success(std::move(out));
}

}  // namespace kwire_broker::storage::pulsar
