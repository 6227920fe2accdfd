// Where a message is (MessageId), a stored entry as a consumer receives it
// (Entry), and the messages it holds (Message, entry_messages). Kept apart
// from the connection and the consumer so that code which only reads entries,
// such as kwire-broker's conversion of entries into Kafka batches and its fuzz
// target, needs neither Asio nor a client.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kwire_pulsar/frame.hpp"

namespace kwire_pulsar {

struct MessageId {
  std::uint64_t ledger = 0;
  std::uint64_t entry = 0;
  std::int32_t partition = -1;
  std::int32_t batch_index = -1;
  /// The number of messages in the batch entry of a batch_index >= 0 (0:
  /// unknown). Needed to acknowledge that one message alone.
  std::int32_t batch_size = 0;

  /// Before every message of a topic, and after every message.
  static MessageId earliest() { return {~std::uint64_t{0}, ~std::uint64_t{0}, -1, -1}; }
  static MessageId latest() { return {0x7fffffffffffffffULL, 0x7fffffffffffffffULL, -1, -1}; }

  /// Orders by ledger, entry, batch index (partition is not compared).
  friend bool operator<(const MessageId& a, const MessageId& b) {
    if (a.ledger != b.ledger) return a.ledger < b.ledger;
    if (a.entry != b.entry) return a.entry < b.entry;
    return a.batch_index < b.batch_index;
  }
  friend bool operator==(const MessageId& a, const MessageId& b) {
    return a.ledger == b.ledger && a.entry == b.entry && a.batch_index == b.batch_index;
  }
  bool is_earliest() const { return ledger == ~std::uint64_t{0} && entry == ~std::uint64_t{0}; }
  std::string str() const;

  wire::MessageIdData to_wire() const;
  static MessageId from_wire(const wire::MessageIdData& d);
};

/// One stored entry as delivered: what the producer stored plus the broker's
/// entry metadata (the continuous index of its last message, when enabled).
struct Entry {
  MessageId id;  // batch_index -1
  std::optional<std::uint64_t> index;
  std::optional<std::uint64_t> broker_timestamp;
  std::shared_ptr<const wire::MessageMetadata> metadata;
  std::string payload;  // a batch if metadata->num_messages_in_batch is set
  /// How often the subscription delivered this entry again. Pulsar counts
  /// per entry (for Shared and Key_Shared subscriptions) and forgets the
  /// count when a message of the entry is acknowledged alone.
  std::uint32_t redelivery_count = 0;
  /// Of a batch entry delivered again after some of its messages were
  /// acknowledged alone (batch-index acks): bit i (of word i / 64) is set
  /// while message i is unacknowledged. Empty: none was acknowledged alone.
  std::vector<std::int64_t> ack_set;
  bool batched() const { return metadata && metadata->has_num_messages_in_batch(); }
  int message_count() const { return batched() ? metadata->num_messages_in_batch() : 1; }
  /// Whether message `batch_index` was acknowledged alone (see ack_set).
  bool acknowledged(int batch_index) const;
  /// The messages not yet acknowledged: what the broker counts against the
  /// consumer's permits.
  int unacknowledged_count() const;
};

struct Message {
  MessageId id;
  std::optional<std::string> key;
  std::string value;
  bool null_value = false;
  std::uint64_t event_time = 0;
  std::uint64_t publish_time = 0;
  std::vector<std::pair<std::string, std::string>> properties;
  std::string producer_name;
  std::uint64_t sequence_id = 0;
  /// The broker entry index of this message (entry index minus the messages
  /// after it in the entry), when the broker sends entry metadata.
  std::optional<std::uint64_t> index;
  /// The redelivery count of its entry.
  std::uint32_t redelivery_count = 0;
};

/// Splits an entry into its messages, inflating a compressed payload first;
/// messages of a batch already acknowledged alone (Entry::ack_set) are left
/// out. Throws Error on a malformed or corrupt entry.
std::vector<Message> entry_messages(const Entry& e);

}  // namespace kwire_pulsar
