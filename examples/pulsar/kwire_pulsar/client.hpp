// A Pulsar client over the binary protocol: connections (with token auth and
// keep-alive), partitioned metadata, topic lookup with redirects, producers
// (shared or exclusive), consumers and readers with flow control, seek, acks
// and get-last-message-id. Lost connections are re-established with backoff
// and a fresh lookup; producers resend what was not confirmed and consumers
// resubscribe where they were.
//
// Threading: every object belongs to one Asio executor (an io_context run by
// one thread); call its coroutines on that executor only.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kwire_pulsar/error.hpp"
#include "kwire_pulsar/frame.hpp"

namespace kwire_pulsar {

namespace asio = boost::asio;
using asio::awaitable;
using Executor = asio::any_io_executor;
using namespace std::chrono_literals;

/// The protocol version this client announces (18+ gets broker entry metadata).
inline constexpr int protocol_version = 21;

struct MessageId {
  std::uint64_t ledger = 0;
  std::uint64_t entry = 0;
  std::int32_t partition = -1;
  std::int32_t batch_index = -1;

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

struct ClientOptions {
  std::string service_url = "pulsar://127.0.0.1:6650";
  /// A JWT for the token authentication provider; empty: no authentication.
  std::string auth_token;
  std::chrono::milliseconds operation_timeout = 30s;
  std::chrono::milliseconds connect_timeout = 10s;
  std::chrono::milliseconds keepalive_interval = 30s;
  std::chrono::milliseconds initial_backoff = 100ms;
  std::chrono::milliseconds max_backoff = 30s;
  std::string client_version = "kwire-pulsar 0.1";
};

class Client;

/// One TCP connection to one broker, shared by every producer and consumer of
/// the client that talk to that broker.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Executor ex, std::string url, const ClientOptions& options);
  ~Connection();

  /// Connects, sends CONNECT and waits for CONNECTED.
  awaitable<void> open();
  void close();
  bool is_open() const noexcept { return open_; }
  const std::string& url() const noexcept { return url_; }
  int server_protocol_version() const noexcept { return server_protocol_; }
  int max_message_size() const noexcept { return max_message_size_; }

  std::uint64_t next_request_id() noexcept { return next_request_id_++; }
  /// Sends a command carrying `request_id` and waits for the response that
  /// carries it; broker errors (ERROR, failed lookups) throw Error.
  awaitable<wire::BaseCommand> request(std::string frame, std::uint64_t request_id,
                                       std::chrono::milliseconds timeout);
  /// Queues a frame for writing.
  void send(std::string frame);

  using FrameHandler = std::function<void(Frame&)>;
  using CloseHandler = std::function<void()>;
  void attach_producer(std::uint64_t id, FrameHandler on_frame, CloseHandler on_close);
  void attach_consumer(std::uint64_t id, FrameHandler on_frame, CloseHandler on_close);
  void detach_producer(std::uint64_t id);
  void detach_consumer(std::uint64_t id);

 private:
  struct Pending;
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  awaitable<void> keepalive_loop();
  void dispatch(Frame& f);
  void complete(std::uint64_t request_id, wire::BaseCommand& cmd);
  void fail_all();

  Executor ex_;
  std::string url_;
  ClientOptions options_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer write_signal_;
  asio::steady_timer keepalive_timer_;
  std::deque<std::string> write_queue_;
  bool open_ = false;
  bool closed_ = false;
  int server_protocol_ = 0;
  int max_message_size_ = 5 * 1024 * 1024;
  std::uint64_t next_request_id_ = 1;
  std::chrono::steady_clock::time_point last_received_;
  std::map<std::uint64_t, std::shared_ptr<Pending>> pending_;
  std::map<std::uint64_t, std::pair<FrameHandler, CloseHandler>> producers_, consumers_;
};

// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------

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
  bool read_compacted = false;
};

/// One stored entry as delivered: what the producer stored plus the broker's
/// entry metadata (the continuous index of its last message, when enabled).
struct Entry {
  MessageId id;  // batch_index -1
  std::optional<std::uint64_t> index;
  std::optional<std::uint64_t> broker_timestamp;
  std::shared_ptr<const wire::MessageMetadata> metadata;
  std::string payload;  // a batch if metadata->num_messages_in_batch is set
  std::uint32_t redelivery_count = 0;
  bool batched() const { return metadata && metadata->has_num_messages_in_batch(); }
  int message_count() const { return batched() ? metadata->num_messages_in_batch() : 1; }
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
};

/// Splits an entry into its messages, inflating a compressed payload first.
/// Throws Error on a malformed or corrupt entry.
std::vector<Message> entry_messages(const Entry& e);

class Consumer : public std::enable_shared_from_this<Consumer> {
 public:
  Consumer(std::shared_ptr<Client> client, ConsumerOptions options, std::uint64_t id);
  ~Consumer();

  /// The next entry, or nullopt when none arrives within `timeout`.
  awaitable<std::optional<Entry>> receive_entry(std::chrono::milliseconds timeout);
  /// The next message (entries are split), or nullopt on timeout.
  awaitable<std::optional<Message>> receive(std::chrono::milliseconds timeout);
  /// Entries already delivered and not yet taken.
  std::size_t queued() const noexcept { return queue_.size(); }
  /// Called (on the client's executor) each time an entry arrives: lets a
  /// caller wait on Pulsar's delivery instead of polling.
  void on_arrival(std::function<void()> f) { on_arrival_ = std::move(f); }

  void acknowledge(const MessageId& id);
  void acknowledge_cumulative(const MessageId& id);
  /// Cumulative ack that waits for the broker's confirmation.
  awaitable<void> acknowledge_cumulative_confirmed(const MessageId& id);
  /// Moves the subscription: the message at `id` is delivered next.
  awaitable<void> seek(const MessageId& id);
  awaitable<void> seek_to_time(std::uint64_t publish_time_ms);
  awaitable<MessageId> last_message_id();
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
  bool closed_ = false;
  bool reconnecting_ = false;
  bool seeking_ = false;
  std::uint64_t generation_ = 0;
};

// ---------------------------------------------------------------------------

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> create(Executor ex, ClientOptions options);
  ~Client();

  const ClientOptions& options() const noexcept { return options_; }
  Executor executor() const { return ex_; }

  /// Number of partitions of a partitioned topic; 0 for a non-partitioned one.
  awaitable<std::uint32_t> partitions(const std::string& topic);
  /// The connection to the broker that owns `topic` (lookup, following
  /// redirects).
  awaitable<std::shared_ptr<Connection>> connection_for(const std::string& topic);
  /// A pooled connection to a broker url (pulsar://host:port).
  awaitable<std::shared_ptr<Connection>> connection(const std::string& url);

  awaitable<std::shared_ptr<Producer>> create_producer(ProducerOptions options);
  awaitable<std::shared_ptr<Consumer>> subscribe(ConsumerOptions options);
  /// A reader: non-durable, exclusive, starting at the entry `start`.
  awaitable<std::shared_ptr<Consumer>> create_reader(const std::string& topic, MessageId start,
                                                     std::uint32_t receiver_queue = 100);

  void close();
  bool closed() const noexcept { return closed_; }
  std::uint64_t next_object_id() noexcept { return next_object_id_++; }

 private:
  Client(Executor ex, ClientOptions options);
  Executor ex_;
  ClientOptions options_;
  std::map<std::string, std::shared_ptr<Connection>> pool_;
  std::uint64_t next_object_id_ = 1;
  bool closed_ = false;
};

/// Sleeps on the current executor.
awaitable<void> sleep_for(std::chrono::milliseconds d);

/// "persistent://tenant/ns/name" for a short name ("name" → public/default).
std::string full_topic_name(const std::string& topic);

}  // namespace kwire_pulsar
