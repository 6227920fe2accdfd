// Committed offsets: OffsetCommit, OffsetFetch and OffsetDelete, for groups of
// either protocol (classic members by generation, consumer-protocol members
// by member epoch). Each checks membership on the coordinator's strand
// (coordinator/group_coordinator.hpp), then reads or writes the store.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <map>
#include <set>

#include "coordinator/group_coordinator.hpp"
#include "core/log.hpp"
#include "handlers/consumer_groups.hpp"
#include "handlers/group_strand.hpp"
#include "kwire/messages/offset_commit_request.hpp"
#include "kwire/messages/offset_commit_response.hpp"
#include "kwire/messages/offset_delete_request.hpp"
#include "kwire/messages/offset_delete_response.hpp"
#include "kwire/messages/offset_fetch_request.hpp"
#include "kwire/messages/offset_fetch_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;
using State = GroupCoordinator::State;

asio::awaitable<void> offset_commit(Broker& b, Ctx& ctx, OffsetCommitRequest& req, OffsetCommitResponse& resp) {
  auto& c = ctx.realm().groups();
  auto& catalog = ctx.realm().store().topics();
  std::string group(req.group_id);
  kwire::ErrorCode group_error = kwire::ErrorCode::None;
  if (!allowed_on_group(b, ctx, acl::Operation::read, group)) group_error = kwire::ErrorCode::GroupAuthorizationFailed;
  else if (group.empty()) group_error = kwire::ErrorCode::InvalidGroupId;
  else if (!ctx.realm().cluster().coordinates(group)) group_error = kwire::ErrorCode::NotCoordinator;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (group_error != kwire::ErrorCode::None) co_return;
    if (auto e = check_consumer_offsets(c, group, std::string(req.member_id), req.generation_id_or_member_epoch)) {
      group_error = *e;
      co_return;
    }
    auto* g = c.find(group);
    group_error = c.check_commit(g, std::string(req.member_id), req.generation_id_or_member_epoch,
                                 req.group_instance_id ? std::optional<std::string>(*req.group_instance_id) : std::nullopt);
    if (group_error == kwire::ErrorCode::None && !g) c.get_or_create(group);
    co_return;
  });
  std::vector<std::pair<storage::TopicPartition, storage::CommittedOffset>> offsets;
  auto now = now_ms();
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    tr.topic_id = t.topic_id;
    auto info = ctx.version >= 10 ? catalog.find_topic(t.topic_id.bytes) : catalog.find_topic(std::string(t.name));
    // READ on each topic committed for (an unknown id has no name to check).
    const bool topic_denied = (ctx.version < 10 || info) &&
                              !allowed_on_topic(b, ctx, acl::Operation::read, info ? std::string_view(info->name) : t.name);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (group_error != kwire::ErrorCode::None) {
        pr.error_code = group_error;
      } else if (topic_denied) {
        pr.error_code = kwire::ErrorCode::TopicAuthorizationFailed;
      } else if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = ctx.version >= 10 && !info ? kwire::ErrorCode::UnknownTopicId : kwire::ErrorCode::UnknownTopicOrPartition;
      } else {
        storage::CommittedOffset o;
        o.offset = p.committed_offset;
        o.leader_epoch = ctx.version >= 6 ? p.committed_leader_epoch : -1;
        o.metadata = p.committed_metadata ? std::string(*p.committed_metadata) : std::string();
        o.commit_timestamp = ctx.version == 1 && p.commit_timestamp >= 0 ? p.commit_timestamp : now;
        offsets.emplace_back(storage::TopicPartition{info->name, p.partition_index}, std::move(o));
      }
      ctx.note(pr.error_code);
    }
  }
  if (!offsets.empty()) {
    auto r = co_await ctx.realm().store().groups().commit_offsets(group, std::move(offsets));
    if (!r.ok()) {
      for (auto& t : resp.topics)
        for (auto& p : t.partitions)
          if (p.error_code == kwire::ErrorCode::None) p.error_code = ctx.note(kwire::ErrorCode::CoordinatorNotAvailable);
    }
  }
}

asio::awaitable<void> offset_fetch(Broker& b, Ctx& ctx, OffsetFetchRequest& req, OffsetFetchResponse& resp) {
  auto& catalog = ctx.realm().store().topics();
  // DESCRIBE on a topic to see its committed offsets: the others are left
  // out of a group's whole list, and answered TOPIC_AUTHORIZATION_FAILED
  // when named (Kafka's rules).
  auto topic_visible = [&](std::string_view topic) { return allowed_on_topic(b, ctx, acl::Operation::describe, topic); };
  using Committed = std::vector<std::pair<storage::TopicPartition, storage::CommittedOffset>>;
  // The group's error when its offsets cannot be answered here: another
  // gateway coordinates it, or the storage failed (an empty answer would send
  // the consumer to its reset policy).
  // require_stable (KIP-447): offsets a transaction holds for a partition
  // are not answered until it ends; the consumer asks again.
  std::map<std::string, std::set<storage::TopicPartition>> held;
  auto load = [&](const std::string& group, Committed& out) -> asio::awaitable<kwire::ErrorCode> {
    if (!allowed_on_group(b, ctx, acl::Operation::describe, group)) co_return kwire::ErrorCode::GroupAuthorizationFailed;
    if (!ctx.realm().cluster().coordinates(group)) co_return kwire::ErrorCode::NotCoordinator;
    auto r = co_await ctx.realm().store().groups().fetch_offsets(group);
    if (!r.ok()) {
      KB_WARN("offsets of group {}: {}", group, r.message);
      co_return kwire::ErrorCode::CoordinatorNotAvailable;
    }
    out = std::move(r.value);
    if (req.require_stable) {
      auto holds = ctx.realm().store().groups().held_txn_offsets(group);  // named: g++ 12 mishandles temporaries in co_await
      auto h = co_await std::move(holds);
      if (!h.ok()) co_return kwire::ErrorCode::CoordinatorNotAvailable;
      held[group].insert(h.value.begin(), h.value.end());
    }
    co_return kwire::ErrorCode::None;
  };
  auto lookup = [](const Committed& all, const std::string& topic, std::int32_t p) -> const storage::CommittedOffset* {
    for (auto& [tp, o] : all)
      if (tp.topic == topic && tp.partition == p) return &o;
    return nullptr;
  };
  auto unstable = [&](bool require_stable, const std::string& group, const storage::TopicPartition& tp) {
    if (!require_stable) return false;
    auto it = held.find(group);
    return it != held.end() && it->second.count(tp) > 0;
  };
  if (ctx.version < 8) {
    std::string gid(req.group_id);
    Committed all;
    if (auto e = co_await load(gid, all); e != kwire::ErrorCode::None) {
      resp.error_code = ctx.note(e);  // v2+ carry it; older clients see no offsets
      co_return;
    }
    auto fill = [&](OffsetFetchResponse::OffsetFetchResponsePartition& pr, const storage::CommittedOffset* o) {
      pr.committed_offset = o ? o->offset : -1;
      pr.committed_leader_epoch = o ? o->leader_epoch : -1;
      pr.metadata = o ? ctx.keep(o->metadata) : std::string_view("");
    };
    if (!req.topics) {
      std::map<std::string, std::vector<const std::pair<storage::TopicPartition, storage::CommittedOffset>*>> by;
      for (auto& e : all)
        if (topic_visible(e.first.topic)) by[e.first.topic].push_back(&e);
      for (auto& [topic, list] : by) {
        auto& tr = resp.topics.emplace_back();
        tr.name = ctx.keep(topic);
        for (auto* e : list) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = e->first.partition;
          fill(pr, &e->second);
        }
      }
    } else {
      for (auto& t : *req.topics) {
        auto& tr = resp.topics.emplace_back();
        tr.name = t.name;
        for (auto p : t.partition_indexes) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = p;
          if (!topic_visible(t.name)) {
            pr.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
            pr.committed_offset = -1;
            continue;
          }
          fill(pr, lookup(all, std::string(t.name), p));
          if (unstable(req.require_stable, gid, {std::string(t.name), p})) {
            pr.error_code = ctx.note(kwire::ErrorCode::UnstableOffsetCommit);
            pr.committed_offset = -1;
          }
        }
      }
    }
    co_return;
  }
  for (auto& rg : req.groups) {
    auto& gr = resp.groups.emplace_back();
    gr.group_id = rg.group_id;
    std::string gid(rg.group_id);
    if (!allowed_on_group(b, ctx, acl::Operation::describe, gid)) {  // before anything about its members
      gr.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
      continue;
    }
    if (ctx.version >= 9 && (rg.member_epoch >= 0 || (rg.member_id && !rg.member_id->empty()))) {
      std::optional<kwire::ErrorCode> member_error;
      std::string member(rg.member_id ? *rg.member_id : std::string_view{});
      const auto epoch = rg.member_epoch;
      co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
        member_error = check_consumer_offsets(ctx.realm().groups(), gid, member, epoch);
        co_return;
      });
      if (member_error && *member_error != kwire::ErrorCode::None) {
        gr.error_code = ctx.note(*member_error);
        continue;
      }
    }
    Committed all;
    if (auto e = co_await load(gid, all); e != kwire::ErrorCode::None) {
      gr.error_code = ctx.note(e);
      continue;
    }
    auto fill = [&](OffsetFetchResponse::OffsetFetchResponsePartitions& pr, const storage::CommittedOffset* o) {
      pr.committed_offset = o ? o->offset : -1;
      pr.committed_leader_epoch = o ? o->leader_epoch : -1;
      pr.metadata = o ? ctx.keep(o->metadata) : std::string_view("");
    };
    if (!rg.topics) {
      std::map<std::string, std::vector<const std::pair<storage::TopicPartition, storage::CommittedOffset>*>> by;
      for (auto& e : all)
        if (topic_visible(e.first.topic)) by[e.first.topic].push_back(&e);
      for (auto& [topic, list] : by) {
        auto& tr = gr.topics.emplace_back();
        tr.name = ctx.keep(topic);
        if (auto info = catalog.find_topic(topic)) tr.topic_id.bytes = info->id;
        for (auto* e : list) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = e->first.partition;
          fill(pr, &e->second);
        }
      }
    } else {
      for (auto& t : *rg.topics) {
        auto& tr = gr.topics.emplace_back();
        tr.name = t.name;
        tr.topic_id = t.topic_id;
        std::string name(t.name);
        if (ctx.version >= 10) {
          auto info = catalog.find_topic(t.topic_id.bytes);
          name = info ? info->name : std::string();
        }
        for (auto p : t.partition_indexes) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = p;
          if (name.empty()) {
            pr.error_code = ctx.note(kwire::ErrorCode::UnknownTopicId);
            pr.committed_offset = -1;
            pr.committed_leader_epoch = -1;
            continue;
          }
          if (!topic_visible(name)) {
            pr.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
            pr.committed_offset = -1;
            pr.committed_leader_epoch = -1;
            continue;
          }
          fill(pr, lookup(all, name, p));
          if (unstable(req.require_stable, gid, {name, p})) {
            pr.error_code = ctx.note(kwire::ErrorCode::UnstableOffsetCommit);
            pr.committed_offset = -1;
          }
        }
      }
    }
  }
}

asio::awaitable<void> offset_delete(Broker& b, Ctx& ctx, OffsetDeleteRequest& req, OffsetDeleteResponse& resp) {
  auto& c = ctx.realm().groups();
  std::string group(req.group_id);
  if (!allowed_on_group(b, ctx, acl::Operation::del, group)) {
    resp.error_code = ctx.note(kwire::ErrorCode::GroupAuthorizationFailed);
    co_return;
  }
  bool exists = false;
  std::set<std::string> subscribed;
  co_await on_strand(ctx, [&]() -> asio::awaitable<void> {
    if (auto topics = consumer_group_topics(c, group)) {
      exists = true;
      subscribed = std::move(*topics);
      co_return;
    }
    auto* g = c.find(group);
    exists = g != nullptr;
    if (g && g->state != State::empty && g->state != State::dead) {
      subscribed = c.subscribed_topics(*g);
      if (g->protocol_type != "consumer") resp.error_code = kwire::ErrorCode::NonEmptyGroup;
    }
    co_return;
  });
  if (!exists) {
    resp.error_code = ctx.note(kwire::ErrorCode::GroupIdNotFound);
    co_return;
  }
  if (resp.error_code != kwire::ErrorCode::None) {
    ctx.note(resp.error_code);
    co_return;
  }
  std::vector<storage::TopicPartition> gone;
  for (auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    bool busy = subscribed.count(std::string(t.name)) != 0;
    const bool topic_denied = !allowed_on_topic(b, ctx, acl::Operation::read, t.name);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (topic_denied)
        pr.error_code = ctx.note(kwire::ErrorCode::TopicAuthorizationFailed);
      else if (busy)
        pr.error_code = ctx.note(kwire::ErrorCode::GroupSubscribedToTopic);
      else
        gone.push_back({std::string(t.name), p.partition_index});
    }
  }
  if (!gone.empty()) {
    auto r = co_await ctx.realm().store().groups().delete_offsets(group, std::move(gone));
    if (!r.ok()) KB_WARN("deleting offsets of group {}: {}", group, r.message);
  }
}

}  // namespace

std::vector<HandlerEntry> group_offset_handlers() {
  return {
      handler<OffsetCommitRequest, offset_commit>(0, 10),
      handler<OffsetFetchRequest, offset_fetch>(0, 10),
      handler<OffsetDeleteRequest, offset_delete>(0, 0),
  };
}

}  // namespace kwire_broker
