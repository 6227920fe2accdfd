// The locks, the entry reading and the topic id text that common.hpp declares.
#include "common.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <kwire/records/batch.hpp>

#include <algorithm>

namespace kwire_broker::storage::pulsar {

using asio::use_awaitable;

awaitable<void> AsyncLock::lock() {
  if (!locked_) {
    locked_ = true;
    co_return;
  }
  auto t = std::make_shared<asio::steady_timer>(ex_, forever);
  waiters_.push_back(t);
  boost::system::error_code ec;
  co_await t->async_wait(asio::redirect_error(use_awaitable, ec));
}

void AsyncLock::unlock() {
  if (waiters_.empty()) {
    locked_ = false;
    return;
  }
  auto t = waiters_.front();
  waiters_.pop_front();
  t->cancel();  // ownership passes to that waiter
}

// ---------------------------------------------------------------------------

TicketLock::Ticket TicketLock::take() {
  Ticket t;
  t.lock_ = shared_from_this();
  t.number_ = next_.fetch_add(1);
  t.state_ = Ticket::State::waiting;
  return t;
}

awaitable<void> TicketLock::enter(Ticket& t) {
  while (serving_ != t.number_) {
    auto timer = std::make_shared<asio::steady_timer>(ex_, forever);
    waiting_[t.number_] = timer;
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(use_awaitable, ec));
  }
  waiting_.erase(t.number_);
  t.state_ = Ticket::State::inside;
}

void TicketLock::leave() {
  ++serving_;
  wake();
}

void TicketLock::abandon(std::uint64_t n) {
  if (n == serving_) {
    leave();
  } else {
    abandoned_.insert(n);
  }
}

void TicketLock::wake() {
  while (abandoned_.erase(serving_)) ++serving_;
  if (auto it = waiting_.find(serving_); it != waiting_.end()) it->second->cancel();
}

void TicketLock::Ticket::release() {
  if (state_ != State::inside) return;
  state_ = State::done;
  lock_->leave();
}

TicketLock::Ticket::~Ticket() {
  if (!lock_ || state_ == State::done) return;
  // Possibly on another thread (a caller's coroutine dropped before its hop
  // ran): the lock's state belongs to the I/O thread.
  const bool inside = state_ == State::inside;
  asio::post(lock_->ex_, [lock = lock_, n = number_, inside] {
    if (inside) lock->leave();
    else lock->abandon(n);
  });
}

// ---------------------------------------------------------------------------

awaitable<std::shared_ptr<kp::Consumer>> read_compacted_to_end(kp::Client& client, std::string topic,
                                                               std::chrono::milliseconds timeout,
                                                               std::function<void(const kp::Message&)> apply) {
  kp::ConsumerOptions o;
  o.topic = std::move(topic);
  // Its own name: several gateways read the topic at once, and a second
  // exclusive subscription of one name would be refused.
  o.subscription = "kwire-load-" + std::to_string(client.next_object_id()) + "-" +
                   std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  o.durable = false;
  o.start_message_id = kp::MessageId::earliest();
  o.initial_position = kp::InitialPosition::earliest;
  o.read_compacted = true;
  auto r = co_await client.subscribe(o);
  const auto last = co_await r->last_message_id();
  // An empty topic answers an id before any entry.
  const bool empty = last.entry == ~std::uint64_t{0} || last.entry > (std::uint64_t{1} << 62);
  while (!empty) {
    auto e = co_await r->receive_entry(timeout);
    if (!e) break;
    for (auto& m : kp::entry_messages(*e)) apply(m);
    if (!(e->id < kp::MessageId{last.ledger, last.entry, -1, -1})) break;
  }
  co_return r;
}

std::optional<EntryInfo> info_of(const kp::Entry& e) {
  if (!e.index) return std::nullopt;
  EntryInfo i;
  i.last = static_cast<std::int64_t>(*e.index);
  i.base = i.last - (e.message_count() - 1);
  i.max_timestamp = static_cast<std::int64_t>(e.metadata->event_time() ? e.metadata->event_time()
                                                                        : e.metadata->publish_time());
  if (!e.metadata->event_time() && e.batched()) {
    // A native producer's batch: its messages' event times, if any.
    try {
      std::int64_t latest = -1;
      for (const auto& m : kp::entry_messages(e))
        latest = std::max(latest, static_cast<std::int64_t>(m.event_time ? m.event_time : m.publish_time));
      if (latest >= 0) i.max_timestamp = latest;
    } catch (const std::exception&) {
    }
  }
  for (const auto& kv : e.metadata->properties()) {
    if (kv.key() == format_property && kv.value() == "kafka") {
      auto v = kwire::RecordBatchView::parse(kwire::bytes_view(reinterpret_cast<const std::uint8_t*>(e.payload.data()),
                                                               e.payload.size()));
      if (v) i.max_timestamp = v->max_timestamp();
    }
  }
  return i;
}

std::string hex_of(const TopicId& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (auto b : id) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::optional<TopicId> topic_id_of(std::string_view hex) {
  if (hex.size() != 2 * TopicId{}.size()) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  TopicId id{};
  for (std::size_t i = 0; i < id.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return id;
}

}  // namespace kwire_broker::storage::pulsar
