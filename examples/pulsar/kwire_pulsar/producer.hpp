// A Pulsar producer: sends single messages, batches or prepared entries, keeps
// what the broker has not confirmed and resends it, in order, after a
// reconnect (with a fixed name and deduplication, exactly once), and notices
// when another exclusive producer fences it.
//
// Threading: as for the client (client.hpp), one executor.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kwire_pulsar/connection.hpp"
#include "kwire_pulsar/entry.hpp"

namespace kwire_pulsar {

class Client;

enum class AccessMode { shared = 0, exclusive = 1, wait_for_exclusive = 2, exclusive_with_fencing = 3 };

struct ProducerOptions {
  std::string topic;
  /// Empty: the broker picks a name. A fixed name plus the namespace's
  /// deduplication makes resends after a reconnect exactly-once.
  std::string name;
  AccessMode access_mode = AccessMode::shared;
  std::map<std::string, std::string> metadata;
};

struct OutgoingMessage {
  std::optional<std::string> key;
  std::string value;
  bool null_value = false;
  std::uint64_t event_time = 0;  // ms; 0: none
  std::vector<std::pair<std::string, std::string>> properties;
};

struct SendReceipt {
  /// Where the entry was stored. A resend that the broker's deduplication
  /// took for one it had already (sequence id not above the producer's last)
  /// is answered without a position: id is then MessageId::earliest().
  MessageId id = MessageId::earliest();
  std::uint64_t sequence_id = 0;
  bool has_position() const noexcept { return !id.is_earliest(); }
};

class Producer : public std::enable_shared_from_this<Producer> {
 public:
  Producer(std::shared_ptr<Client> client, ProducerOptions options, std::uint64_t id);
  ~Producer();

  /// One message, one entry.
  awaitable<SendReceipt> send(OutgoingMessage m);
  /// Several messages in one batched entry (what native Pulsar producers do).
  awaitable<SendReceipt> send_batch(std::vector<OutgoingMessage> ms);
  /// A prepared entry: metadata (producer name, sequence id and publish time
  /// are filled in here) and payload, counting as `num_messages` messages.
  awaitable<SendReceipt> send_entry(wire::MessageMetadata meta, std::string payload, int num_messages);

  struct InFlight;
  /// An entry on its way: queued (and sent, when connected) by post_entry(),
  /// confirmed by receipt(). Lets a caller keep several entries in flight
  /// while knowing their order.
  class PendingSend {
   public:
    /// The broker's receipt; throws Error when the send failed or timed out
    /// (a timed-out entry may still be stored: close the producer to know).
    awaitable<SendReceipt> receipt();

   private:
    friend class Producer;
    std::shared_ptr<Producer> producer_;
    std::shared_ptr<InFlight> flight_;
  };
  /// Queues an entry now, in call order (throws Error when fenced or closed,
  /// and client_message_too_large when metadata and payload exceed the
  /// maxMessageSize the connected broker announced).
  PendingSend post_entry(wire::MessageMetadata meta, std::string payload, int num_messages);

  awaitable<void> close();

  const std::string& name() const noexcept { return name_; }
  const std::string& topic() const noexcept { return options_.topic; }
  /// The last sequence id the broker had stored for this producer name when
  /// it was (re)created: -1 when none or deduplication is off.
  std::int64_t last_sequence_id() const noexcept { return last_sequence_id_; }
  /// Set once another exclusive producer took the topic or the producer was
  /// closed; sends then fail.
  bool fenced() const noexcept { return fenced_; }
  std::uint64_t topic_epoch() const noexcept { return topic_epoch_.value_or(0); }

  /// Connects (lookup, CONNECT, PRODUCER). Called by Client::create_producer.
  awaitable<void> connect();

 private:
  void on_frame(Frame& f);
  void on_disconnect();
  awaitable<void> reconnect_loop();
  void fail_pending(const Error& e);

  std::shared_ptr<Client> client_;
  ProducerOptions options_;
  std::uint64_t id_;
  std::string name_;
  std::shared_ptr<Connection> cnx_;
  std::int64_t last_sequence_id_ = -1;
  std::uint64_t next_sequence_id_ = 0;
  std::optional<std::uint64_t> topic_epoch_;
  std::uint64_t epoch_ = 0;
  bool fenced_ = false;
  bool closed_ = false;
  bool reconnecting_ = false;
  std::deque<std::shared_ptr<InFlight>> in_flight_;
};

}  // namespace kwire_pulsar
