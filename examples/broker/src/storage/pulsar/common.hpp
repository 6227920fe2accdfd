// What the pieces of the Pulsar storage (log, catalog, group store, root)
// share: the mapping of Pulsar failures to the seam's Errc, the two locks
// their coroutines queue on, and how an entry's broker index becomes Kafka
// offsets. Everything here runs on the storage's own I/O thread, except
// TicketLock::take(), which any thread may call.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "../storage.hpp"
#include "entry_format.hpp"
#include "kwire_pulsar/admin.hpp"
#include "kwire_pulsar/client.hpp"

namespace kwire_broker::storage::pulsar {

namespace asio = boost::asio;
namespace kp = kwire_pulsar;
using asio::awaitable;

/// For waits that only the storage itself ends (a timer cancelled on wake-up).
inline constexpr std::chrono::milliseconds forever{std::chrono::hours(24 * 365)};

/// Maps an exception from the Pulsar client or admin API to the seam's Errc:
/// the client and the admin API report failures by throwing, the seam by
/// Result.
template <class T>
Result<T> failure_of(const std::exception& e) {
  if (auto* pe = dynamic_cast<const kp::Error*>(&e)) {
    switch (pe->code()) {
      case kp::Error::client_timeout: return Result<T>::failure(Errc::timeout, e.what());
      case kp::Error::client_closed: return Result<T>::failure(Errc::closed, e.what());
      case kp::Error::client_message_too_large: return Result<T>::failure(Errc::batch_too_large, e.what());
      case kp::wire::TopicNotFound: return Result<T>::failure(Errc::unknown_topic, e.what());
      default: return Result<T>::failure(Errc::unavailable, e.what());
    }
  }
  if (auto* ae = dynamic_cast<const kp::AdminError*>(&e)) {
    if (ae->status() == 404) return Result<T>::failure(Errc::unknown_topic, e.what());
    if (ae->status() == 409) return Result<T>::failure(Errc::topic_exists, e.what());
    if (ae->status() >= 500 || ae->status() == 0) return Result<T>::failure(Errc::unavailable, e.what());
    return Result<T>::failure(Errc::io_error, e.what());
  }
  if (dynamic_cast<const BadEntry*>(&e)) return Result<T>::failure(Errc::corrupt_batch, e.what());
  if (dynamic_cast<const boost::system::system_error*>(&e)) return Result<T>::failure(Errc::unavailable, e.what());
  return Result<T>::failure(Errc::io_error, e.what());
}

/// `work` with its exceptions turned into failed Results.
template <class T>
awaitable<Result<T>> guarded(awaitable<Result<T>> work) {
  try {
    co_return co_await std::move(work);
  } catch (const std::exception& e) {
    co_return failure_of<T>(e);
  }
}

/// A FIFO lock for coroutines on one thread, taken in the order they ask.
class AsyncLock {
 public:
  explicit AsyncLock(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  awaitable<void> lock();
  void unlock();

 private:
  asio::any_io_executor ex_;
  bool locked_ = false;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

struct Unlock {
  AsyncLock& l;
  ~Unlock() { l.unlock(); }
};

/// A FIFO lock whose order is fixed when a ticket is taken, on any thread,
/// rather than when the lock is awaited. An append takes its ticket as its
/// coroutine starts, on the caller's thread, and enters on the I/O thread:
/// whatever order the hops to the I/O thread arrive in, appends keep the
/// order in which they started (the seam's rule).
class TicketLock : public std::enable_shared_from_this<TicketLock> {
 public:
  explicit TicketLock(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  /// A place in line. Dropped before entering, it gives its turn away;
  /// dropped (or release()d) inside, it lets the next one in.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& o) noexcept
        : lock_(std::move(o.lock_)), number_(o.number_), state_(std::exchange(o.state_, State::done)) {}
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();
    /// Leaves the lock early (on the I/O thread).
    void release();

   private:
    friend class TicketLock;
    enum class State { waiting, inside, done };
    std::shared_ptr<TicketLock> lock_;
    std::uint64_t number_ = 0;
    State state_ = State::done;
  };

  /// Any thread.
  Ticket take();
  /// Waits for the ticket's turn; on the I/O thread.
  awaitable<void> enter(Ticket& t);

 private:
  void leave();
  void abandon(std::uint64_t n);
  void wake();

  asio::any_io_executor ex_;
  std::atomic<std::uint64_t> next_{0};
  // On the I/O thread:
  std::uint64_t serving_ = 0;
  std::set<std::uint64_t> abandoned_;
  std::map<std::uint64_t, std::shared_ptr<asio::steady_timer>> waiting_;
};

/// Reads a compacted topic from its start up to the message that was its
/// last when called, handing every message to `apply`, and returns the
/// reader (non-durable, read_compacted) positioned after it: to close, or to
/// keep following the topic. Each wait for an entry is bounded by `timeout`.
awaitable<std::shared_ptr<kp::Consumer>> read_compacted_to_end(kp::Client& client, std::string topic,
                                                               std::chrono::milliseconds timeout,
                                                               std::function<void(const kp::Message&)> apply);

/// Offsets and timestamp of an entry, from its broker index: the index is
/// the Kafka offset of the entry's last record.
struct EntryInfo {
  std::int64_t base = -1, last = -1, max_timestamp = -1;
};
std::optional<EntryInfo> info_of(const kp::Entry& e);

/// A Kafka topic id as 32 lower-case hex digits, and back (nullopt for
/// anything else): topic properties and system-topic keys carry it so.
std::string hex_of(const TopicId& id);
std::optional<TopicId> topic_id_of(std::string_view hex);

}  // namespace kwire_broker::storage::pulsar
