// The consumer: SUBSCRIBE, FLOW permits, MESSAGE frames queued as entries,
// seeks (which make the broker disconnect the consumer: it waits for
// its own resubscription), and the reconnect loop. Acknowledgements and
// redelivery are in consumer_acks.cpp.
#include "kwire_pulsar/consumer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

#include "kwire_pulsar/client.hpp"

namespace kwire_pulsar {

using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
using detail::broker_error;
using detail::jittered;

Consumer::Consumer(std::shared_ptr<Client> client, ConsumerOptions options, std::uint64_t id)
    : client_(std::move(client)), options_(std::move(options)), id_(id), arrival_(client_->executor()) {}

Consumer::~Consumer() {
  if (cnx_) cnx_->detach_consumer(id_);
}

awaitable<void> Consumer::connect() {
  auto c = co_await client_->connection_for(options_.topic);
  const auto rid = c->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::SUBSCRIBE);
  auto* s = cmd.mutable_subscribe();
  s->set_topic(full_topic_name(options_.topic));
  s->set_subscription(options_.subscription);
  s->set_subtype(static_cast<wire::CommandSubscribe::SubType>(options_.type));
  s->set_consumer_id(id_);
  s->set_request_id(rid);
  if (!options_.consumer_name.empty()) s->set_consumer_name(options_.consumer_name);
  s->set_durable(options_.durable);
  s->set_initialposition(static_cast<wire::CommandSubscribe::InitialPosition>(options_.initial_position));
  if (options_.read_compacted) s->set_read_compacted(true);
  if (!options_.durable) {
    // A reader resumes after the last entry it handed out.
    MessageId start = options_.start_message_id.value_or(MessageId::latest());
    if (last_taken_) start = {last_taken_->ledger, last_taken_->entry, -1, -1};
    *s->mutable_start_message_id() = start.to_wire();
  }
  std::weak_ptr<Consumer> weak = shared_from_this();
  c->attach_consumer(
      id_, [weak](Frame& f) { if (auto self = weak.lock()) self->on_frame(f); },
      [weak]() { if (auto self = weak.lock()) self->on_disconnect(); });
  try {
    co_await c->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (const Error&) {
    c->detach_consumer(id_);
    throw;
  }
  cnx_ = c;
  ++generation_;
  // The broker delivers again what a durable subscription had not
  // acknowledged, and a reader resumes after what it took: start afresh.
  // The new subscription starts without permits, and owes nothing.
  std::int64_t dropped = 0;
  for (auto& e : queue_) dropped += e.unacknowledged_count();
  queue_.clear();
  split_.clear();
  to_grant_ = 0;
  if (options_.auto_permits) {
    grant(options_.receiver_queue);
  } else {
    permitted_ = std::clamp<std::int64_t>(permitted_ + dropped, 0, UINT32_MAX);
    grant(static_cast<std::uint32_t>(permitted_));
  }
}

void Consumer::permit(std::uint32_t messages) {
  permitted_ += messages;
  grant(messages);
}

void Consumer::grant(std::uint32_t permits) {
  if (!cnx_ || !cnx_->is_open() || permits == 0) return;
  wire::BaseCommand flow;
  flow.set_type(wire::BaseCommand::FLOW);
  flow.mutable_flow()->set_consumer_id(id_);
  flow.mutable_flow()->set_messagepermits(permits);
  cnx_->send(encode_command(flow));
}

void Consumer::consumed(int messages) {
  if (!options_.auto_permits) return;  // counted as the entry arrived
  to_grant_ += static_cast<std::uint32_t>(messages);
  if (to_grant_ >= std::max<std::uint32_t>(1, options_.receiver_queue / 2)) {
    grant(to_grant_);
    to_grant_ = 0;
  }
}

void Consumer::on_frame(Frame& f) {
  if (f.command.type() != wire::BaseCommand::MESSAGE) return;
  if (seeking_ || !f.metadata) return;
  Entry e;
  const auto& m = f.command.message();
  e.id = MessageId::from_wire(m.message_id());
  e.id.batch_index = -1;
  if (f.entry_metadata) {
    if (f.entry_metadata->has_index()) e.index = f.entry_metadata->index();
    if (f.entry_metadata->has_broker_timestamp()) e.broker_timestamp = f.entry_metadata->broker_timestamp();
  }
  e.redelivery_count = m.redelivery_count();
  e.ack_set.assign(m.ack_set().begin(), m.ack_set().end());
  e.metadata = std::make_shared<const wire::MessageMetadata>(std::move(*f.metadata));
  e.payload = std::move(f.payload);
  if (!f.checksum_ok) return;  // dropped; the broker redelivers unacked entries
  // After a reconnect, a reader can see again what it had taken. (Messages
  // of non-persistent topics have no position: all ids are 0:0.)
  if (!options_.durable && last_taken_ && !(*last_taken_ < e.id) &&
      full_topic_name(options_.topic).rfind("non-persistent://", 0) != 0) {
    // Dropped: with auto_permits off its permit is asked for again.
    if (options_.auto_permits) consumed(e.unacknowledged_count());
    else grant(static_cast<std::uint32_t>(e.unacknowledged_count()));
    return;
  }
  // The broker counted the entry's messages against the permits.
  if (!options_.auto_permits) permitted_ -= e.unacknowledged_count();
  queue_.push_back(std::move(e));
  arrival_.cancel();
  if (on_arrival_) on_arrival_();
}

void Consumer::on_disconnect() {
  if (closed_ || reconnecting_) return;
  if (cnx_) cnx_->detach_consumer(id_);
  cnx_.reset();
  reconnecting_ = true;
  asio::co_spawn(client_->executor(), [self = shared_from_this()]() { return self->reconnect_loop(); },
                 asio::detached);
}

awaitable<void> Consumer::reconnect_loop() {
  auto backoff = client_->options().initial_backoff;
  while (!closed_ && !client_->closed()) {
    co_await sleep_for(jittered(backoff));
    try {
      co_await connect();
      break;
    } catch (const std::exception&) {
    }
    backoff = std::min(backoff * 2, client_->options().max_backoff);
  }
  reconnecting_ = false;
  seeking_ = false;
  arrival_.cancel();
}

awaitable<std::optional<Entry>> Consumer::receive_entry(std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  const auto deadline = Clock::now() + timeout;
  while (queue_.empty()) {
    if (closed_) throw Error(Error::client_closed, "consumer closed");
    const auto now = Clock::now();
    if (now >= deadline) co_return std::nullopt;
    arrival_.expires_after(deadline - now);
    boost::system::error_code ec;
    co_await arrival_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  Entry e = std::move(queue_.front());
  queue_.pop_front();
  last_taken_ = e.id;
  consumed(e.unacknowledged_count());
  co_return e;
}

awaitable<std::optional<Message>> Consumer::receive(std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  const auto deadline = Clock::now() + timeout;
  // An entry may hold no message left to hand out (all acknowledged alone).
  while (split_.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto e = co_await receive_entry(std::max(left, std::chrono::milliseconds{0}));
    if (!e) co_return std::nullopt;
    for (auto& m : entry_messages(*e)) split_.push_back(std::move(m));
  }
  Message m = std::move(split_.front());
  split_.pop_front();
  co_return m;
}

awaitable<void> Consumer::seek(const MessageId& id) {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::SEEK);
  cmd.mutable_seek()->set_consumer_id(id_);
  cmd.mutable_seek()->set_request_id(rid);
  *cmd.mutable_seek()->mutable_message_id() = id.to_wire();
  // The broker disconnects the consumer after a seek; it resubscribes at the
  // new position. Drop what was queued or is still in flight.
  seeking_ = true;
  queue_.clear();
  split_.clear();
  const auto gen = generation_;
  try {
    co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (...) {
    seeking_ = false;
    throw;
  }
  if (!options_.durable) {
    // A reader resubscribes at the sought entry.
    options_.start_message_id = MessageId{id.ledger, id.entry, -1, -1};
    last_taken_.reset();
  }
  // Wait for the resubscription the broker's disconnect causes (bounded).
  const auto deadline = Clock::now() + 5s;
  while (generation_ == gen && Clock::now() < deadline && !closed_) co_await sleep_for(5ms);
  seeking_ = false;
}

awaitable<void> Consumer::seek_to_time(std::uint64_t publish_time_ms) {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::SEEK);
  cmd.mutable_seek()->set_consumer_id(id_);
  cmd.mutable_seek()->set_request_id(rid);
  cmd.mutable_seek()->set_message_publish_time(publish_time_ms);
  seeking_ = true;
  queue_.clear();
  split_.clear();
  const auto gen = generation_;
  try {
    co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (...) {
    seeking_ = false;
    throw;
  }
  const auto deadline = Clock::now() + 5s;
  while (generation_ == gen && Clock::now() < deadline && !closed_) co_await sleep_for(5ms);
  seeking_ = false;
}

awaitable<MessageId> Consumer::last_message_id() {
  auto r = co_await get_last_message_id();
  co_return MessageId::from_wire(r.last_message_id());
}

awaitable<std::optional<MessageId>> Consumer::mark_delete_position() {
  auto r = co_await get_last_message_id();
  if (!r.has_consumer_mark_delete_position()) co_return std::nullopt;
  co_return MessageId::from_wire(r.consumer_mark_delete_position());
}

awaitable<wire::CommandGetLastMessageIdResponse> Consumer::get_last_message_id() {
  auto self = shared_from_this();
  for (int attempt = 0;; ++attempt) {
    if (cnx_ && cnx_->is_open()) {
      const auto rid = cnx_->next_request_id();
      wire::BaseCommand cmd;
      cmd.set_type(wire::BaseCommand::GET_LAST_MESSAGE_ID);
      cmd.mutable_getlastmessageid()->set_consumer_id(id_);
      cmd.mutable_getlastmessageid()->set_request_id(rid);
      try {
        auto r = co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
        co_return r.getlastmessageidresponse();
      } catch (const Error& e) {
        if (!e.retriable() || attempt >= 5) throw;
      }
    } else if (attempt >= 50) {
      throw Error(Error::client_disconnected, "consumer not connected");
    }
    co_await sleep_for(100ms);
  }
}

awaitable<void> Consumer::unsubscribe() {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::UNSUBSCRIBE);
  cmd.mutable_unsubscribe()->set_consumer_id(id_);
  cmd.mutable_unsubscribe()->set_request_id(rid);
  co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  closed_ = true;
  cnx_->detach_consumer(id_);
  arrival_.cancel();
}

awaitable<void> Consumer::close() {
  if (closed_) co_return;
  closed_ = true;
  auto self = shared_from_this();
  arrival_.cancel();
  if (cnx_ && cnx_->is_open()) {
    const auto rid = cnx_->next_request_id();
    wire::BaseCommand cmd;
    cmd.set_type(wire::BaseCommand::CLOSE_CONSUMER);
    cmd.mutable_close_consumer()->set_consumer_id(id_);
    cmd.mutable_close_consumer()->set_request_id(rid);
    cnx_->detach_consumer(id_);
    try {
      co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
    } catch (const Error&) {
    }
  }
}

}  // namespace kwire_pulsar
