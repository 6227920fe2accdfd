// Client quotas as Kafka enforces them (KIP-13, KIP-55, KIP-219): a byte
// rate per user and client id, for producers (request bytes) and consumers
// (response bytes). Each client is held to the most specific quota set for
// it, in Kafka's order:
//   1 user and client id      5 default user, default client id
//   2 user, default client id 6 default user
//   3 user                    7 client id
//   4 default user, client id 8 default client id
// A quota of levels 1, 2, 4 and 5 is each (user, client id)'s own; of levels
// 3 and 6 shared by the user's clients; of levels 7 and 8 shared by every
// user of the client id (Kafka's quota metric tags).
//
// The rate is Kafka's: the bytes of the last `samples` windows of
// `window_ms` over the time they cover, at least samples - 1 windows. A
// request that takes the rate above the quota is answered at once with the
// time the client must wait so that the rate falls back to the quota,
// (rate - quota) / quota × the time covered, and the connection reads
// nothing from the client for that long.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "storage/storage.hpp"

namespace kwire_broker::quota {

inline constexpr std::string_view user_type = "user";
inline constexpr std::string_view client_id_type = "client-id";
inline constexpr std::string_view ip_type = "ip";

inline constexpr std::string_view producer_byte_rate = "producer_byte_rate";
inline constexpr std::string_view consumer_byte_rate = "consumer_byte_rate";
inline constexpr std::string_view request_percentage = "request_percentage";
inline constexpr std::string_view controller_mutation_rate = "controller_mutation_rate";
inline constexpr std::string_view connection_creation_rate = "connection_creation_rate";

/// The quotas enforced here.
enum class Kind : std::uint8_t { produce, fetch };
std::string_view key_of(Kind k) noexcept;

/// A rate over sampled windows (Kafka's Rate on a SampledStat): the sum of
/// what the live samples hold, over the time they cover.
class SampledRate {
 public:
  SampledRate(int samples, std::int64_t window_ms);
  void record(double amount, std::int64_t now_ms);
  /// Per second.
  double rate(std::int64_t now_ms);
  /// The time the rate is taken over: from the oldest live sample's start
  /// to now, and at least samples - 1 windows.
  std::int64_t span_ms(std::int64_t now_ms);
  /// When the last amount was recorded.
  std::int64_t last_ms() const noexcept { return last_ms_; }

 private:
  struct Sample {
    std::int64_t start = 0;
    double total = 0;
    bool live = false;
  };
  /// Samples older than all of them together are dropped.
  void drop_expired(std::int64_t now_ms);

  std::vector<Sample> samples_;
  std::int64_t window_ms_;
  std::size_t current_ = 0;
  std::int64_t last_ms_ = 0;
};

/// The wait, in ms, that brings `rate` back to `quota` over `span_ms`
/// (nothing to wait within the quota), at most `cap_ms`.
std::int64_t throttle_ms(double rate, double quota, std::int64_t span_ms, std::int64_t cap_ms);

/// The quota that applies to a client, and whose it is: the user and client
/// id of the rate it is measured by ("" where it is shared).
struct Applied {
  double limit = 0;
  std::string user;
  std::string client_id;
};

/// The quota values set, indexed for the lookups of every request.
class QuotaIndex {
 public:
  explicit QuotaIndex(const std::vector<storage::ClientQuota>& values);
  /// The quota of `key` applying to the user and client id, by Kafka's order.
  std::optional<Applied> resolve(std::string_view key, std::string_view user, std::string_view client_id) const;
  bool has(std::string_view key) const;

 private:
  enum class Part : std::uint8_t { absent, any, named };  // any: the default entity
  using Id = std::tuple<Part, std::string, Part, std::string>;
  std::optional<double> find(const Id& id, std::string_view key) const;
  std::map<Id, std::map<std::string, double, std::less<>>> values_;
};

/// The user name of a principal ("User:alice" -> "alice").
std::string_view user_of(std::string_view principal) noexcept;

/// How rates are measured.
struct RateWindows {
  int samples = 11;               // quota.window.num
  std::int64_t window_ms = 1000;  // quota.window.size.seconds
};

class ClientQuotas {
 public:
  /// `clock`: ms of a steady clock (tests pass their own).
  explicit ClientQuotas(RateWindows o = {}, std::function<std::int64_t()> clock = {});

  /// Enforces these values (a store's snapshot) unless they are in force
  /// already.
  void update(std::shared_ptr<const std::vector<storage::ClientQuota>> values);
  /// Whether a quota of this kind is set anywhere: without one, nothing is
  /// measured. Cheap enough for every request.
  bool any(Kind k) const noexcept { return any_[static_cast<int>(k)].load(std::memory_order_relaxed); }

  /// Counts `amount` for the client and returns the time it must wait
  /// (0 within its quota, or without one).
  std::int64_t record(Kind k, std::string_view principal, std::string_view client_id, double amount);
  /// Takes back an amount counted (a fetch answered without its records).
  void unrecord(Kind k, std::string_view principal, std::string_view client_id, double amount);
  /// The most one request may count without being throttled for sure,
  /// quota × (samples - 1) windows; nullopt without a quota.
  std::optional<double> max_in_window(Kind k, std::string_view principal, std::string_view client_id) const;
  /// Forgets the rates of clients idle for an hour (Kafka's sensors expire
  /// likewise).
  void expire();

  /// The longest wait a client is given: the whole time the rate spans
  /// (within what throttle_time_ms can carry).
  std::int64_t max_throttle_ms() const noexcept {
    constexpr std::int64_t most = std::numeric_limits<std::int32_t>::max();
    return opts_.window_ms > most / std::max(opts_.samples, 1) ? most : opts_.window_ms * opts_.samples;
  }

 private:
  using RateId = std::tuple<Kind, std::string, std::string>;
  std::int64_t now() const { return clock_(); }

  RateWindows opts_;
  std::function<std::int64_t()> clock_;
  std::atomic<bool> any_[2] = {false, false};
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<storage::ClientQuota>> source_;
  std::unique_ptr<QuotaIndex> index_;
  std::map<RateId, SampledRate> rates_;
};

}  // namespace kwire_broker::quota
