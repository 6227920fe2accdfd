// A Pulsar consumer or reader: subscribes, grants permits as entries are
// taken, receives entries (or their messages), acknowledges (entries, or
// single messages of a batch), asks for redelivery, seeks and asks
// for the last message id; after a lost connection it resubscribes where it
// was.
//
// Threading: as for the client (client.hpp), one executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kwire_pulsar/connection.hpp"
#include "kwire_pulsar/entry.hpp"

namespace kwire_pulsar {

class Client;

enum class SubscriptionType { exclusive = 0, shared = 1, failover = 2, key_shared = 3 };
enum class InitialPosition { latest = 0, earliest = 1 };

struct ConsumerOptions {
  std::string topic;
  std::string subscription;
  SubscriptionType type = SubscriptionType::exclusive;
  /// A durable subscription keeps a cursor in the broker; a non-durable one
  /// (a reader) starts at start_message_id and vanishes with the consumer.
  bool durable = true;
  /// Non-durable: the entry at this id comes first (earliest: the first).
  std::optional<MessageId> start_message_id;
  InitialPosition initial_position = InitialPosition::latest;
  std::string consumer_name;
  std::uint32_t receiver_queue = 1000;
  /// Off: the consumer asks for no messages of its own (receiver_queue is
  /// not used); the broker delivers only as many as permit() allows, and a
  /// Shared subscription's other consumers get the rest.
  bool auto_permits = true;
  bool read_compacted = false;
};

class Consumer : public std::enable_shared_from_this<Consumer> {
 public:
  Consumer(std::shared_ptr<Client> client, ConsumerOptions options, std::uint64_t id);
  ~Consumer();

  /// The next entry, or nullopt when none arrives within `timeout`.
  awaitable<std::optional<Entry>> receive_entry(std::chrono::milliseconds timeout);
  /// The next message (entries are split), or nullopt on timeout.
  awaitable<std::optional<Message>> receive(std::chrono::milliseconds timeout);
  /// With auto_permits off: lets the broker deliver `messages` more
  /// messages (what is outstanding, and what was queued and not taken, is
  /// asked again after a reconnect). Pulsar hands out whole entries: a batch
  /// entry may bring more messages than were left to ask for.
  void permit(std::uint32_t messages);
  /// Entries already delivered and not yet taken.
  std::size_t queued() const noexcept { return queue_.size(); }
  /// With auto_permits off: the messages the broker may still deliver, as
  /// the broker counts them: asked for with permit(), less those delivered
  /// since. Negative when batch entries brought more than was asked for (the
  /// broker then delivers nothing until permits make up the difference).
  std::int64_t permitted() const noexcept { return permitted_; }
  /// Counts the subscriptions made: it changes with every reconnect, after
  /// which the broker delivers again whatever this consumer had not
  /// acknowledged (to any consumer of a Shared subscription).
  std::uint64_t generation() const noexcept { return generation_; }
  /// Called (on the client's executor) each time an entry arrives: lets a
  /// caller wait on Pulsar's delivery instead of polling.
  void on_arrival(std::function<void()> f) { on_arrival_ = std::move(f); }

  /// Acknowledges the whole entry of `id` (every message of a batch).
  void acknowledge(const MessageId& id);
  void acknowledge_cumulative(const MessageId& id);
  /// Cumulative ack that waits for the broker's confirmation.
  awaitable<void> acknowledge_cumulative_confirmed(const MessageId& id);
  /// Acknowledges one message: a message of a batch entry (batch_index and
  /// batch_size set, as entry_messages gives them) alone, by a batch-index
  /// ack (which the broker keeps only with acknowledgmentAtBatchIndexLevelEnabled);
  /// any other id its whole entry.
  void acknowledge_message(const MessageId& id);
  /// Individual acks of `ids` (as acknowledge_message) in one command, once
  /// the broker confirms them. Throws Error when it refuses.
  awaitable<void> acknowledge_messages_confirmed(const std::vector<MessageId>& ids);
  /// Asks the broker to deliver the entries of `ids` again, to any consumer of
  /// the subscription, with their redelivery count one higher: Shared and
  /// Key_Shared subscriptions (other types deliver everything unacknowledged
  /// again). Pulsar redelivers whole entries; messages of a batch acknowledged
  /// alone are left out when the entry comes back (Entry::ack_set). Only for
  /// entries this consumer took and has not acknowledged.
  void redeliver(const std::vector<MessageId>& ids);
  /// Moves the subscription: the message at `id` is delivered next.
  awaitable<void> seek(const MessageId& id);
  awaitable<void> seek_to_time(std::uint64_t publish_time_ms);
  awaitable<MessageId> last_message_id();
  /// The subscription's mark-delete position (every message up to it is
  /// acknowledged), as the broker reports it with the last message id;
  /// nullopt from a broker that does not.
  awaitable<std::optional<MessageId>> mark_delete_position();
  awaitable<void> unsubscribe();
  awaitable<void> close();

  const ConsumerOptions& options() const noexcept { return options_; }
  /// Connects and subscribes. Called by Client::subscribe.
  awaitable<void> connect();

 private:
  void on_frame(Frame& f);
  void on_disconnect();
  awaitable<void> reconnect_loop();
  void grant(std::uint32_t permits);
  wire::BaseCommand ack_command(wire::CommandAck::AckType type, const std::vector<MessageId>& ids) const;
  awaitable<void> ack_confirmed(wire::BaseCommand cmd);
  awaitable<wire::CommandGetLastMessageIdResponse> get_last_message_id();
  void consumed(int messages);

  std::shared_ptr<Client> client_;
  ConsumerOptions options_;
  std::uint64_t id_;
  std::shared_ptr<Connection> cnx_;
  std::deque<Entry> queue_;
  std::deque<Message> split_;
  asio::steady_timer arrival_;
  std::optional<MessageId> last_taken_;
  std::function<void()> on_arrival_;
  std::uint32_t to_grant_ = 0;
  std::int64_t permitted_ = 0;  // auto_permits off: see permitted()
  bool closed_ = false;
  bool reconnecting_ = false;
  bool seeking_ = false;
  std::uint64_t generation_ = 0;
};

}  // namespace kwire_pulsar
