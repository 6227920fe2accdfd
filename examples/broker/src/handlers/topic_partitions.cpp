// DescribeTopicPartitions (KIP-966): Metadata's topic and partition view,
// paged. Kafka's admin client describes topics with it when the broker
// offers it, and follows the cursor until the answer is whole.
//
// As Kafka answers it: topics in name order from the cursor's topic on, the
// cursor's topic from its partition, at most
// min(response_partition_limit, max.request.partition.size.limit) partitions
// in all; where the limit cuts a topic, or falls just before the next one,
// next_cursor says where to go on. Unknown topics named in the request are
// answered UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for a name
// Kafka would refuse), without counting against the limit. Topics the
// principal may not DESCRIBE are left out of a listing of all topics and,
// when named, answered TOPIC_AUTHORIZATION_FAILED after the others.
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <algorithm>
#include <set>

#include "kwire/messages/describe_topic_partitions_request.hpp"
#include "kwire/messages/describe_topic_partitions_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/internal_topics.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;
using Resp = DescribeTopicPartitionsResponse;

/// Operations Metadata reports on a topic without an authorizer.
constexpr std::int32_t topic_operations = 0b0000'1111'1111'1000;

Resp::Cursor cursor_at(std::string_view topic, std::int32_t partition) {
  Resp::Cursor c;
  c.topic_name = topic;
  c.partition_index = partition;
  return c;
}

asio::awaitable<void> describe_topic_partitions(Broker& b, Ctx& ctx, DescribeTopicPartitionsRequest& req, Resp& resp) {
  auto& catalog = ctx.realm().store().topics();
  const bool all = req.topics.empty();
  const std::string_view cursor_topic = req.cursor ? req.cursor->topic_name : std::string_view{};

  // The names to describe, in order, none before the cursor's topic.
  std::set<std::string, std::less<>> names;
  if (all) {
    auto listed = co_await catalog.list_topics();
    for (auto& t : listed.value)
      if (t.name >= cursor_topic) names.insert(t.name);
    if (auto t = internal_topics::group_offsets_topic(ctx.realm()); t && t->name >= cursor_topic)
      names.insert(t->name);
  } else {
    // A topic another gateway created is not in this one's memory yet.
    const bool unknown = std::any_of(req.topics.begin(), req.topics.end(), [&](const auto& t) {
      return !internal_topics::is_internal(t.name) && !catalog.find_topic(std::string(t.name));
    });
    if (unknown) (void)co_await catalog.list_topics();
    for (auto& t : req.topics)
      if (t.name >= cursor_topic) names.emplace(t.name);
    if (req.cursor && !names.count(cursor_topic)) {
      // Kafka refuses the request: every topic named gets the error.
      for (auto& t : req.topics) {
        Resp::DescribeTopicPartitionsResponseTopic out;
        out.name = t.name;
        out.error_code = ctx.note(ErrorCode::InvalidRequest);
        resp.topics.push_back(std::move(out));
      }
      co_return;
    }
  }

  const auto view = ctx.realm().cluster().view();
  std::int64_t remaining = std::min(b.settings().max_request_partition_size_limit, req.response_partition_limit);
  std::vector<Resp::DescribeTopicPartitionsResponseTopic> refused;
  for (const auto& name : names) {
    if (!allowed_on_topic(b, ctx, acl::Operation::describe, name)) {
      if (!all) {
        Resp::DescribeTopicPartitionsResponseTopic out;
        out.name = ctx.keep(name);
        out.error_code = ctx.note(ErrorCode::TopicAuthorizationFailed);
        refused.push_back(std::move(out));
      }
      continue;
    }
    if (remaining <= 0) {
      // The limit fell between two topics: go on from this one.
      resp.next_cursor = cursor_at(ctx.keep(name), 0);
      break;
    }
    auto t = internal_topics::is_internal(name) ? internal_topics::find(ctx.realm(), name) : catalog.find_topic(name);
    Resp::DescribeTopicPartitionsResponseTopic out;
    out.name = ctx.keep(name);
    out.is_internal = internal_topics::is_internal(name);
    if (!t) {
      if (all) continue;  // gone since it was listed
      out.error_code = ctx.note(storage::valid_topic_name(name) ? ErrorCode::UnknownTopicOrPartition : ErrorCode::InvalidTopicException);
      out.topic_authorized_operations =
          authorized_operations(b, ctx, acl::ResourceType::topic, name, topic_operations);
      resp.topics.push_back(std::move(out));
      continue;
    }
    out.topic_id.bytes = t->id;
    const std::int32_t first = name == cursor_topic ? std::max(req.cursor->partition_index, 0) : 0;
    const std::int64_t upper = std::min<std::int64_t>(t->partitions, first + remaining);
    for (std::int32_t p = first; p < upper; ++p) {
      Resp::DescribeTopicPartitionsResponsePartition part;
      part.partition_index = p;
      part.leader_id = internal_topics::leader_shown(view, name, p);
      part.leader_epoch = 0;
      part.replica_nodes.push_back(part.leader_id);
      part.isr_nodes.push_back(part.leader_id);
      // One copy of each partition: no replicas that could become eligible.
      part.eligible_leader_replicas.emplace();
      part.last_known_elr.emplace();
      out.partitions.push_back(std::move(part));
    }
    out.topic_authorized_operations = authorized_operations(b, ctx, acl::ResourceType::topic, name, topic_operations);
    const auto returned = static_cast<std::int64_t>(out.partitions.size());
    resp.topics.push_back(std::move(out));
    if (upper < t->partitions) {
      resp.next_cursor = cursor_at(ctx.keep(name), static_cast<std::int32_t>(upper));
      break;
    }
    remaining -= returned;
  }
  for (auto& r : refused) resp.topics.push_back(std::move(r));
}

}  // namespace

std::vector<HandlerEntry> topic_partition_handlers() {
  return {handler<DescribeTopicPartitionsRequest, describe_topic_partitions>(0, 0)};
}

}  // namespace kwire_broker
