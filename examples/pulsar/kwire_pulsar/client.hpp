// A Pulsar client over the binary protocol: connections (plain or TLS, with
// token auth and keep-alive), partitioned metadata, topic lookup with redirects, producers
// (shared or exclusive), consumers and readers with flow control, seek, acks
// and get-last-message-id. Lost connections are re-established with backoff
// and a fresh lookup; producers resend what was not confirmed and consumers
// resubscribe where they were.
//
// Threading: every object belongs to one Asio executor (an io_context run by
// one thread); call its coroutines on that executor only.
//
// This header is the one to include: it brings the connection, entries,
// producers and consumers (connection.hpp, entry.hpp, producer.hpp,
// consumer.hpp) with the client that creates them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "kwire_pulsar/connection.hpp"
#include "kwire_pulsar/consumer.hpp"
#include "kwire_pulsar/entry.hpp"
#include "kwire_pulsar/error.hpp"
#include "kwire_pulsar/frame.hpp"
#include "kwire_pulsar/producer.hpp"

namespace kwire_pulsar {

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
  std::string broker_url(const wire::CommandLookupTopicResponse& r) const;
  Executor ex_;
  ClientOptions options_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // made at the first TLS connection
  std::map<std::string, std::shared_ptr<Connection>> pool_;
  std::uint64_t next_object_id_ = 1;
  bool closed_ = false;
};

/// Sleeps on the current executor.
awaitable<void> sleep_for(std::chrono::milliseconds d);

/// "persistent://tenant/ns/name" for a short name ("name" → public/default).
std::string full_topic_name(const std::string& topic);

namespace detail {

/// A reconnect delay: `d` plus up to a fifth of it at random, so that the
/// producers and consumers of a lost connection do not all return at once.
std::chrono::milliseconds jittered(std::chrono::milliseconds d);

}  // namespace detail

}  // namespace kwire_pulsar
