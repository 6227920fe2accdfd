// The producer: PRODUCER and its answer, SEND with sequence ids, receipts
// matched to what is in flight, send errors, and the reconnect loop that
// resends what was not confirmed.
#include "kwire_pulsar/producer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

#include "kwire_pulsar/client.hpp"

namespace kwire_pulsar {

using detail::broker_error;
using detail::jittered;
using detail::Slot;

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

struct Producer::InFlight {
  explicit InFlight(Executor ex) : slot(ex) {}
  std::uint64_t sequence_id = 0;
  wire::MessageMetadata metadata;
  std::string payload;
  int num_messages = 1;
  Slot<SendReceipt> slot;
};

Producer::Producer(std::shared_ptr<Client> client, ProducerOptions options, std::uint64_t id)
    : client_(std::move(client)), options_(std::move(options)), id_(id), name_(options_.name) {}

Producer::~Producer() {
  if (cnx_) cnx_->detach_producer(id_);
}

awaitable<void> Producer::connect() {
  auto c = co_await client_->connection_for(options_.topic);
  const auto rid = c->next_request_id();
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::PRODUCER);
  auto* p = cmd.mutable_producer();
  p->set_topic(full_topic_name(options_.topic));
  p->set_producer_id(id_);
  p->set_request_id(rid);
  if (!name_.empty()) p->set_producer_name(name_);
  p->set_user_provided_producer_name(!options_.name.empty());
  p->set_epoch(epoch_);
  p->set_producer_access_mode(static_cast<wire::ProducerAccessMode>(options_.access_mode));
  if (topic_epoch_) p->set_topic_epoch(*topic_epoch_);
  for (auto& [k, v] : options_.metadata) {
    auto* kv = p->add_metadata();
    kv->set_key(k);
    kv->set_value(v);
  }
  // Attach before the request: a receipt can follow PRODUCER_SUCCESS at once.
  std::weak_ptr<Producer> weak = shared_from_this();
  c->attach_producer(
      id_, [weak](Frame& f) { if (auto s = weak.lock()) s->on_frame(f); },
      [weak]() { if (auto s = weak.lock()) s->on_disconnect(); });
  wire::BaseCommand r;
  try {
    r = co_await c->request(encode_command(cmd), rid, client_->options().operation_timeout);
  } catch (const Error& e) {
    c->detach_producer(id_);
    if (e.code() == wire::ProducerFenced || e.code() == wire::ProducerBusy) fenced_ = true;
    throw;
  }
  const auto& ok = r.producer_success();
  name_ = ok.producer_name();
  last_sequence_id_ = ok.last_sequence_id();
  if (ok.has_topic_epoch()) topic_epoch_ = ok.topic_epoch();
  const std::uint64_t next = static_cast<std::uint64_t>(last_sequence_id_ + 1);
  if (in_flight_.empty()) next_sequence_id_ = std::max(next_sequence_id_, next);
  cnx_ = c;
  // Resend what the previous connection did not confirm, in order; the
  // broker's deduplication drops what it had stored already.
  for (auto& f : in_flight_) {
    wire::BaseCommand send;
    send.set_type(wire::BaseCommand::SEND);
    send.mutable_send()->set_producer_id(id_);
    send.mutable_send()->set_sequence_id(f->sequence_id);
    if (f->num_messages != 1) send.mutable_send()->set_num_messages(f->num_messages);
    c->send(encode_payload_command(send, f->metadata, f->payload));
  }
}

awaitable<SendReceipt> Producer::send(OutgoingMessage m) {
  wire::MessageMetadata meta;
  if (m.key) meta.set_partition_key(*m.key);
  if (m.null_value) meta.set_null_value(true);
  if (m.event_time) meta.set_event_time(m.event_time);
  for (auto& [k, v] : m.properties) {
    auto* kv = meta.add_properties();
    kv->set_key(k);
    kv->set_value(v);
  }
  co_return co_await send_entry(std::move(meta), std::move(m.value), 1);
}

awaitable<SendReceipt> Producer::send_batch(std::vector<OutgoingMessage> ms) {
  wire::MessageMetadata meta;
  std::string payload;
  for (auto& m : ms) {
    wire::SingleMessageMetadata sm;
    if (m.key) sm.set_partition_key(*m.key);
    if (m.null_value) sm.set_null_value(true);
    if (m.event_time) sm.set_event_time(m.event_time);
    for (auto& [k, v] : m.properties) {
      auto* kv = sm.add_properties();
      kv->set_key(k);
      kv->set_value(v);
    }
    sm.set_payload_size(static_cast<int>(m.value.size()));
    append_to_batch(payload, sm, m.value);
  }
  const int n = static_cast<int>(ms.size());
  meta.set_num_messages_in_batch(n);
  co_return co_await send_entry(std::move(meta), std::move(payload), n);
}

awaitable<SendReceipt> Producer::send_entry(wire::MessageMetadata meta, std::string payload, int num_messages) {
  auto pending = post_entry(std::move(meta), std::move(payload), num_messages);
  co_return co_await pending.receipt();
}

Producer::PendingSend Producer::post_entry(wire::MessageMetadata meta, std::string payload, int num_messages) {
  if (closed_) throw Error(Error::client_closed, "producer closed");
  if (fenced_) throw Error(wire::ProducerFenced, "producer fenced on " + options_.topic);
  meta.set_producer_name(name_);
  meta.set_sequence_id(next_sequence_id_);
  meta.set_publish_time(now_ms());
  if (meta.has_num_messages_in_batch() || num_messages != 1) meta.set_num_messages_in_batch(num_messages);
  // The broker would close the connection on a frame past its limit, or
  // worse, take it and fail to store it: refuse it here, as Pulsar's own
  // clients do (metadata as sent, with the fields set above).
  const auto size = meta.ByteSizeLong() + payload.size();
  if (cnx_ && size > static_cast<std::size_t>(cnx_->max_message_size()))
    throw Error(Error::client_message_too_large, "message of " + std::to_string(size) + " bytes exceeds the broker's " +
                                                     std::to_string(cnx_->max_message_size()) + " on " +
                                                     options_.topic);
  auto f = std::make_shared<InFlight>(client_->executor());
  f->sequence_id = next_sequence_id_++;
  f->metadata = std::move(meta);
  f->payload = std::move(payload);
  f->num_messages = num_messages;
  in_flight_.push_back(f);
  if (cnx_ && cnx_->is_open() && !reconnecting_) {
    wire::BaseCommand send;
    send.set_type(wire::BaseCommand::SEND);
    send.mutable_send()->set_producer_id(id_);
    send.mutable_send()->set_sequence_id(f->sequence_id);
    if (num_messages != 1) send.mutable_send()->set_num_messages(num_messages);
    cnx_->send(encode_payload_command(send, f->metadata, f->payload));
  }
  PendingSend p;
  p.producer_ = shared_from_this();
  p.flight_ = std::move(f);
  return p;
}

awaitable<SendReceipt> Producer::PendingSend::receipt() {
  // Resent across reconnects until confirmed or failed; the timeout bounds
  // the wait of this caller only.
  co_return co_await flight_->slot.wait(producer_->client_->options().operation_timeout * 4, "a send receipt");
}

void Producer::on_frame(Frame& f) {
  if (f.command.type() == wire::BaseCommand::SEND_RECEIPT) {
    const auto& r = f.command.send_receipt();
    // Receipts come in order; drop in-flight entries they confirm.
    while (!in_flight_.empty() && in_flight_.front()->sequence_id <= r.sequence_id()) {
      auto fl = in_flight_.front();
      in_flight_.pop_front();
      if (fl->sequence_id == r.sequence_id()) {
        SendReceipt rc;
        rc.sequence_id = r.sequence_id();
        if (r.has_message_id()) {
          rc.id = MessageId::from_wire(r.message_id());
          // A duplicate's receipt says -1:-1; keep one form of "no position".
          if (rc.id.ledger == ~std::uint64_t{0} || rc.id.entry == ~std::uint64_t{0}) rc.id = MessageId::earliest();
        }
        fl->slot.fill(rc);
      } else {
        fl->slot.fail(Error(Error::client_protocol, "receipt skipped a sequence id"));
      }
    }
  } else {
    const auto& e = f.command.send_error();
    if (e.error() == wire::ChecksumError) {
      // Only that message is dropped by the broker.
      for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
        if ((*it)->sequence_id == e.sequence_id()) {
          auto fl = *it;
          in_flight_.erase(it);
          fl->slot.fail(broker_error(e.error(), e.message()));
          break;
        }
      }
    } else {
      // Other send errors close the producer on the broker: fail everything,
      // reconnect for later sends.
      if (e.error() == wire::ProducerFenced || e.error() == wire::TopicTerminatedError) fenced_ = true;
      fail_pending(broker_error(e.error(), e.message()));
      on_disconnect();
    }
  }
}

void Producer::fail_pending(const Error& e) {
  auto fl = std::move(in_flight_);
  in_flight_.clear();
  for (auto& f : fl) f->slot.fail(e);
}

void Producer::on_disconnect() {
  if (closed_ || reconnecting_) return;
  if (cnx_) cnx_->detach_producer(id_);
  cnx_.reset();
  if (fenced_) {
    fail_pending(Error(wire::ProducerFenced, "producer fenced on " + options_.topic));
    return;
  }
  reconnecting_ = true;
  asio::co_spawn(client_->executor(), [self = shared_from_this()]() { return self->reconnect_loop(); },
                 asio::detached);
}

awaitable<void> Producer::reconnect_loop() {
  auto backoff = client_->options().initial_backoff;
  while (!closed_ && !client_->closed()) {
    co_await sleep_for(jittered(backoff));
    try {
      ++epoch_;
      reconnecting_ = false;  // connect() resends the in-flight entries
      co_await connect();
      co_return;
    } catch (const Error& e) {
      reconnecting_ = true;
      if (fenced_ || !e.retriable()) {
        fenced_ = fenced_ || e.code() == wire::ProducerFenced || e.code() == wire::ProducerBusy;
        fail_pending(e);
        reconnecting_ = false;
        co_return;
      }
    } catch (const std::exception& e) {
      reconnecting_ = true;
    }
    backoff = std::min(backoff * 2, client_->options().max_backoff);
  }
  reconnecting_ = false;
}

awaitable<void> Producer::close() {
  if (closed_) co_return;
  closed_ = true;
  auto self = shared_from_this();
  if (cnx_ && cnx_->is_open()) {
    const auto rid = cnx_->next_request_id();
    wire::BaseCommand cmd;
    cmd.set_type(wire::BaseCommand::CLOSE_PRODUCER);
    cmd.mutable_close_producer()->set_producer_id(id_);
    cmd.mutable_close_producer()->set_request_id(rid);
    try {
      co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
    } catch (const Error&) {
    }
    cnx_->detach_producer(id_);
  }
  fail_pending(Error(Error::client_closed, "producer closed"));
}

}  // namespace kwire_pulsar
