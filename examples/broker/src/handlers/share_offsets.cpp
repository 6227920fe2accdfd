// A share group's offsets as the admin tools see them (KIP-932):
// DescribeShareGroupOffsets (each share partition's start offset and lag),
// AlterShareGroupOffsets and DeleteShareGroupOffsets (of an empty group
// only, as Kafka allows them). `kafka-share-groups --describe`,
// `--reset-offsets` and `--delete-offsets` use these.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

#include "coordinator/group_coordinator.hpp"
#include "handlers/group_strand.hpp"
#include "kwire/messages/alter_share_group_offsets_request.hpp"
#include "kwire/messages/alter_share_group_offsets_response.hpp"
#include "kwire/messages/delete_share_group_offsets_request.hpp"
#include "kwire/messages/delete_share_group_offsets_response.hpp"
#include "kwire/messages/describe_share_group_offsets_request.hpp"
#include "kwire/messages/describe_share_group_offsets_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/errors.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

namespace {

using namespace kwire;
using storage::SharePartitionKey;

/// The records of a share partition still to be delivered: from its start
/// offset to the high watermark, less those in flight that are done with.
std::int64_t lag_of(const share::SharePartition& sp, std::int64_t high_watermark) {
  if (!sp.initialized()) return -1;
  std::int64_t lag = std::max<std::int64_t>(0, high_watermark - sp.start_offset());
  for (auto o = sp.start_offset(); o < std::min(sp.end_offset(), high_watermark); ++o)
    if (auto r = sp.record(o); r && (r->first == share::RecordState::acknowledged || r->first == share::RecordState::archived))
      --lag;
  return lag;
}

/// A share partition served by the store's queue: its start offset is the
/// queue's, and its lag the records from there to the high watermark (the
/// store does not say which records above its start are settled).
template <class PartitionOut>
asio::awaitable<void> describe_queued(Ctx& ctx, GroupCoordinator& c, SharePartitionKey key, const std::string& topic,
                                      PartitionOut& op) {
  if (!c.share_state().queued.count(key)) co_return;  // never fetched
  storage::TopicPartition tp{topic, key.partition};
  auto q = co_await c.share_queue(std::move(key), tp);
  if (!q.ok()) {
    op.error_code = ctx.note(to_kafka(q.error));
    co_return;
  }
  auto start = co_await q.value->start_offset();
  if (!start.ok()) {
    op.error_code = ctx.note(to_kafka(start.error));
    co_return;
  }
  if (!start.value) co_return;
  op.start_offset = *start.value;
  if (ctx.version < 1) co_return;
  auto lr = co_await ctx.realm().log(tp);
  if (lr.ok()) op.lag = std::max<std::int64_t>(0, lr.value->offsets().high_watermark - *start.value);
}

asio::awaitable<void> describe_share_group_offsets(Broker& b, Ctx& ctx, DescribeShareGroupOffsetsRequest& req,
                                                   DescribeShareGroupOffsetsResponse& resp) {
  auto& c = ctx.realm().groups();
  auto& catalog = ctx.realm().store().topics();
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    for (auto& rg : req.groups) {
      auto& out = resp.groups.emplace_back();
      out.group_id = rg.group_id;
      const std::string gid(rg.group_id);
      if (!allowed_on_group(b, ctx, acl::Operation::describe, gid)) {
        out.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
        continue;
      }
      if (!ctx.realm().cluster().coordinates(gid)) {
        out.error_code = ctx.note(ErrorCode::NotCoordinator);
        continue;
      }
      if (!c.shares().find(gid)) {
        out.error_code = ctx.note(ErrorCode::GroupIdNotFound);
        out.error_message = ctx.keep("Group " + gid + " not found.");
        continue;
      }
      // The partitions asked for, or every share partition the group has.
      std::map<std::string, std::set<std::int32_t>> wanted;
      if (rg.topics) {
        for (auto& t : *rg.topics)
          for (auto p : t.partitions) wanted[std::string(t.topic_name)].insert(p);
      } else {
        for (auto& [key, _] : c.share_state().partitions)
          if (key.group_id == gid)
            if (auto t = catalog.find_topic(key.topic_id)) wanted[t->name].insert(key.partition);
        for (auto& [key, _] : c.share_state().queued)
          if (key.group_id == gid)
            if (auto t = catalog.find_topic(key.topic_id)) wanted[t->name].insert(key.partition);
      }
      for (auto& [name, partitions] : wanted) {
        auto& ot = out.topics.emplace_back();
        ot.topic_name = ctx.keep(name);
        auto info = catalog.find_topic(name);
        if (info) ot.topic_id.bytes = info->id;
        for (auto p : partitions) {
          auto& op = ot.partitions.emplace_back();
          op.partition_index = p;
          op.start_offset = -1;
          if (!info || p < 0 || p >= info->partitions) {
            op.error_code = ctx.note(ErrorCode::UnknownTopicOrPartition);
            continue;
          }
          if (ctx.realm().store().share_queues()) {
            SharePartitionKey key{gid, info->id, p};  // named: g++ 12 mishandles temporaries in co_await
            co_await describe_queued(ctx, c, std::move(key), name, op);
            continue;
          }
          auto it = c.share_state().partitions.find(SharePartitionKey{gid, info->id, p});
          if (it == c.share_state().partitions.end() || !it->second.initialized()) continue;
          op.start_offset = it->second.start_offset();
          if (ctx.version >= 1) {
            storage::TopicPartition tp{name, p};  // named: g++ 12 mishandles temporaries in co_await
            auto lr = co_await ctx.realm().log(tp);
            // Looked up again: the map may have changed while the log opened.
            auto again = c.share_state().partitions.find(SharePartitionKey{gid, info->id, p});
            if (lr.ok() && again != c.share_state().partitions.end())
              op.lag = lag_of(again->second, lr.value->offsets().high_watermark);
          }
        }
      }
    }
  });
}

/// Why an admin change of a share group's offsets is refused, if it is.
std::optional<std::pair<ErrorCode, std::string>> refuse_change(GroupCoordinator& c, const std::string& gid) {
  if (gid.empty()) return std::pair{ErrorCode::InvalidRequest, std::string("The group id must not be empty.")};
  if (auto* g = c.shares().find(gid)) {
    if (!g->members.empty())
      return std::pair{ErrorCode::NonEmptyGroup, "The group " + gid + " has active members; stop them first."};
    return std::nullopt;
  }
  if (c.find(gid) || c.consumers().find(gid))
    return std::pair{ErrorCode::GroupIdNotFound, "Group " + gid + " is not a share group."};
  return std::pair{ErrorCode::GroupIdNotFound, "Group " + gid + " not found."};
}

asio::awaitable<void> alter_share_group_offsets(Broker& b, Ctx& ctx, AlterShareGroupOffsetsRequest& req,
                                                AlterShareGroupOffsetsResponse& resp) {
  auto& c = ctx.realm().groups();
  auto& catalog = ctx.realm().store().topics();
  const std::string gid(req.group_id);
  if (!allowed_on_group(b, ctx, acl::Operation::read, gid)) {
    resp.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  std::set<SharePartitionKey> changed;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    // An id no group holds becomes an empty share group, as Kafka creates
    // one here: an administrator sets the start offsets before any
    // consumer has joined.
    if (!gid.empty() && !c.shares().find(gid) && !c.find(gid) && !c.consumers().find(gid)) {
      auto record = share::ShareGroups::record_of(c.shares().get_or_create(gid));
      std::string id = gid;  // named: g++ 12 mishandles temporaries in co_await
      co_await c.persist(std::move(id), std::move(record));
    }
    if (auto why = refuse_change(c, gid)) {
      resp.error_code = ctx.note(why->first);
      resp.error_message = ctx.keep(why->second);
      co_return;
    }
    for (auto& t : req.topics) {
      auto& ot = resp.responses.emplace_back();
      ot.topic_name = t.topic_name;
      auto info = catalog.find_topic(std::string(t.topic_name));
      if (info) ot.topic_id.bytes = info->id;
      for (auto& p : t.partitions) {
        auto& op = ot.partitions.emplace_back();
        op.partition_index = p.partition_index;
        if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
          op.error_code = ctx.note(ErrorCode::UnknownTopicOrPartition);
          continue;
        }
        if (p.start_offset < 0) {
          op.error_code = ctx.note(ErrorCode::InvalidRequest);
          op.error_message = "The start offset must not be negative.";
          continue;
        }
        SharePartitionKey key{gid, info->id, p.partition_index};
        if (ctx.realm().store().share_queues()) {
          // The queue moves; the delivery counts start over, as Kafka's do.
          storage::TopicPartition tp{info->name, p.partition_index};
          auto q = co_await c.share_queue(key, tp);
          auto moved = storage::Result<storage::Done>::failure(q.error, q.message);
          if (q.ok()) moved = co_await q.value->seek(p.start_offset);
          if (!moved.ok()) {
            op.error_code = ctx.note(to_kafka(moved.error));
            op.error_message = ctx.keep(moved.message);
            continue;
          }
          if (auto it = c.share_state().queued.find(key); it != c.share_state().queued.end()) {
            auto queue = it->second.queue;
            auto generation = it->second.generation;
            it->second = share::QueuedPartition{};
            it->second.queue = queue;
            it->second.generation = generation;
          }
          changed.insert(key);
          continue;
        }
        c.share_state().partitions[key].reset(p.start_offset);
        changed.insert(key);
      }
    }
    for (auto key : changed) co_await c.persist_share(std::move(key));
  });
}

asio::awaitable<void> delete_share_group_offsets(Broker& b, Ctx& ctx, DeleteShareGroupOffsetsRequest& req,
                                                 DeleteShareGroupOffsetsResponse& resp) {
  auto& c = ctx.realm().groups();
  auto& catalog = ctx.realm().store().topics();
  const std::string gid(req.group_id);
  if (!allowed_on_group(b, ctx, acl::Operation::del, gid)) {
    resp.error_code = ctx.note(ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  std::vector<SharePartitionKey> gone;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (auto why = refuse_change(c, gid)) {
      resp.error_code = ctx.note(why->first);
      resp.error_message = ctx.keep(why->second);
      co_return;
    }
    auto& partitions = c.share_state().partitions;
    for (auto& t : req.topics) {
      auto& ot = resp.responses.emplace_back();
      ot.topic_name = t.topic_name;
      auto info = catalog.find_topic(std::string(t.topic_name));
      if (!info) {
        ot.error_code = ctx.note(ErrorCode::UnknownTopicOrPartition);
        continue;
      }
      ot.topic_id.bytes = info->id;
      if (ctx.realm().store().share_queues()) {
        // The queues go: the next fetch starts one from share.auto.offset.reset.
        std::vector<SharePartitionKey> keys;
        for (auto it = c.share_state().queued.lower_bound(SharePartitionKey{gid, info->id, 0});
             it != c.share_state().queued.end() && it->first.group_id == gid && it->first.topic_id == info->id; ++it)
          keys.push_back(it->first);
        for (auto& key : keys) {
          storage::TopicPartition tp{info->name, key.partition};
          auto e = co_await c.remove_share_queue(key, tp);
          if (e != ErrorCode::None && ot.error_code == ErrorCode::None) ot.error_code = ctx.note(e);
        }
        continue;
      }
      // The partitions start over, from share.auto.offset.reset.
      for (auto it = partitions.lower_bound(SharePartitionKey{gid, info->id, 0});
           it != partitions.end() && it->first.group_id == gid && it->first.topic_id == info->id;) {
        gone.push_back(it->first);
        it = partitions.erase(it);
      }
    }
    for (auto key : gone) co_await c.persist_share(std::move(key));
  });
}

}  // namespace

std::vector<HandlerEntry> share_offsets_handlers() {
  auto shared = [](HandlerEntry e) {
    e.share = true;
    return e;
  };
  return {
      shared(handler<DescribeShareGroupOffsetsRequest, describe_share_group_offsets>(0, 1)),
      shared(handler<AlterShareGroupOffsetsRequest, alter_share_group_offsets>(0, 0)),
      shared(handler<DeleteShareGroupOffsetsRequest, delete_share_group_offsets>(0, 0)),
  };
}

}  // namespace kwire_broker
