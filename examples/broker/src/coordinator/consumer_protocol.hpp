// The consumer's embedded protocol of classic groups (protocol type
// "consumer"): the ConsumerProtocolSubscription a member sends in JoinGroup
// and the ConsumerProtocolAssignment it gets back in SyncGroup, each a
// version (int16) followed by its body. The group coordinator reads them to
// know what a classic group subscribes to, and to move members between a
// classic group and a consumer group (KIP-848's online upgrade and downgrade).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kwire_broker::consumer {

/// Partitions by topic name, as the embedded protocol names them.
using NamedPartitions = std::map<std::string, std::set<std::int32_t>>;

struct Subscription {
  std::vector<std::string> topics;
  NamedPartitions owned;  // ownedPartitions (version 1 on)
  std::optional<std::string> rack_id;
};

/// nullopt when the bytes are not a subscription (a newer version than
/// kwire knows is read as the newest it knows).
std::optional<Subscription> decode_subscription(const std::vector<std::uint8_t>& bytes);
std::optional<NamedPartitions> decode_assignment(const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> encode_assignment(const NamedPartitions& partitions);

}  // namespace kwire_broker::consumer
