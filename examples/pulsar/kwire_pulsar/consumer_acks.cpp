// The consumer's acknowledgements (individual, of one message inside a batch
// entry, cumulative; sent alone or confirmed by the broker) and its requests
// to deliver unacknowledged entries again.
#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

#include "kwire_pulsar/client.hpp"
#include "kwire_pulsar/consumer.hpp"

namespace kwire_pulsar {

using detail::broker_error;

namespace {

MessageId whole_entry(const MessageId& id) {
  MessageId whole = id;
  whole.batch_index = -1;
  whole.batch_size = 0;
  return whole;
}

/// The wire id that acknowledges `id` alone: its whole entry, or, for a
/// message of a batch entry whose size is known, an ack set with every
/// message's bit set but its own (the broker clears what is acknowledged).
wire::MessageIdData individual_ack_id(const MessageId& id) {
  auto d = whole_entry(id).to_wire();
  if (id.batch_index < 0 || id.batch_size <= 0) return d;
  if (id.batch_index >= id.batch_size)
    throw std::invalid_argument("batch index past the batch: " + id.str());
  const auto size = static_cast<std::size_t>(id.batch_size);
  for (std::size_t word = 0; word * 64 < size; ++word) {
    const std::size_t bits = std::min<std::size_t>(64, size - word * 64);
    std::uint64_t mask = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    if (static_cast<std::size_t>(id.batch_index) / 64 == word) mask &= ~(std::uint64_t{1} << (id.batch_index % 64));
    d.add_ack_set(static_cast<std::int64_t>(mask));
  }
  d.set_batch_size(id.batch_size);
  return d;
}

}  // namespace

wire::BaseCommand Consumer::ack_command(wire::CommandAck::AckType type, const std::vector<MessageId>& ids) const {
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::ACK);
  auto* a = cmd.mutable_ack();
  a->set_consumer_id(id_);
  a->set_ack_type(type);
  for (auto& id : ids)
    *a->add_message_id() = type == wire::CommandAck::Individual ? individual_ack_id(id) : whole_entry(id).to_wire();
  return cmd;
}

awaitable<void> Consumer::ack_confirmed(wire::BaseCommand cmd) {
  auto self = shared_from_this();
  if (!cnx_ || !cnx_->is_open()) throw Error(Error::client_disconnected, "consumer not connected");
  const auto rid = cnx_->next_request_id();
  cmd.mutable_ack()->set_request_id(rid);
  auto r = co_await cnx_->request(encode_command(cmd), rid, client_->options().operation_timeout);
  if (r.ackresponse().has_error()) throw broker_error(r.ackresponse().error(), r.ackresponse().message());
}

void Consumer::acknowledge(const MessageId& id) {
  if (!cnx_ || !cnx_->is_open()) return;
  cnx_->send(encode_command(ack_command(wire::CommandAck::Individual, {whole_entry(id)})));
}

void Consumer::acknowledge_cumulative(const MessageId& id) {
  if (!cnx_ || !cnx_->is_open()) return;
  cnx_->send(encode_command(ack_command(wire::CommandAck::Cumulative, {id})));
}

awaitable<void> Consumer::acknowledge_cumulative_confirmed(const MessageId& id) {
  const std::vector<MessageId> ids(1, id);  // not a braced list: g++ 12 cannot keep one in a coroutine frame
  co_await ack_confirmed(ack_command(wire::CommandAck::Cumulative, ids));
}

void Consumer::acknowledge_message(const MessageId& id) {
  if (!cnx_ || !cnx_->is_open()) return;
  cnx_->send(encode_command(ack_command(wire::CommandAck::Individual, {id})));
}

awaitable<void> Consumer::acknowledge_messages_confirmed(const std::vector<MessageId>& ids) {
  if (ids.empty()) co_return;
  co_await ack_confirmed(ack_command(wire::CommandAck::Individual, ids));
}

void Consumer::redeliver(const std::vector<MessageId>& ids) {
  if (!cnx_ || !cnx_->is_open() || ids.empty()) return;
  std::set<std::pair<std::uint64_t, std::uint64_t>> entries;  // the broker redelivers entries, once each
  wire::BaseCommand cmd;
  cmd.set_type(wire::BaseCommand::REDELIVER_UNACKNOWLEDGED_MESSAGES);
  auto* r = cmd.mutable_redeliverunacknowledgedmessages();
  r->set_consumer_id(id_);
  for (auto& id : ids)
    if (entries.insert({id.ledger, id.entry}).second) *r->add_message_ids() = whole_entry(id).to_wire();
  cnx_->send(encode_command(cmd));
}

}  // namespace kwire_pulsar
