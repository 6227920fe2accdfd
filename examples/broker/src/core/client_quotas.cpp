#include "core/client_quotas.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace kwire_broker::quota {

std::string_view key_of(Kind k) noexcept { return k == Kind::produce ? producer_byte_rate : consumer_byte_rate; }

// ---------------------------------------------------------------------------
// The rate

SampledRate::SampledRate(int samples, std::int64_t window_ms)
    : samples_(static_cast<std::size_t>(std::max(samples, 1))), window_ms_(std::max<std::int64_t>(window_ms, 1)) {}

void SampledRate::drop_expired(std::int64_t now_ms) {
  const auto age = window_ms_ * static_cast<std::int64_t>(samples_.size());
  for (auto& s : samples_)
    if (s.live && now_ms - s.start >= age) s = Sample{};
}

void SampledRate::record(double amount, std::int64_t now_ms) {
  drop_expired(now_ms);
  Sample* cur = &samples_[current_];
  if (cur->live && now_ms - cur->start >= window_ms_) {  // its window is over: the next sample starts
    current_ = (current_ + 1) % samples_.size();
    cur = &samples_[current_];
    *cur = Sample{};
  }
  if (!cur->live) *cur = Sample{now_ms, 0, true};
  cur->total += amount;
  last_ms_ = now_ms;
}

std::int64_t SampledRate::span_ms(std::int64_t now_ms) {
  drop_expired(now_ms);
  std::int64_t oldest = now_ms;
  for (const auto& s : samples_)
    if (s.live) oldest = std::min(oldest, s.start);
  std::int64_t span = now_ms - oldest;
  // A rate taken over less than the full windows would jump at a client's
  // first bytes: it is taken over samples - 1 windows at least.
  const auto full = span / window_ms_;
  const auto least = static_cast<std::int64_t>(samples_.size()) - 1;
  if (full < least) span += (least - full) * window_ms_;
  return std::max<std::int64_t>(span, 1);
}

double SampledRate::rate(std::int64_t now_ms) {
  const auto span = span_ms(now_ms);
  double total = 0;
  for (const auto& s : samples_)
    if (s.live) total += s.total;
  return total / (static_cast<double>(span) / 1000.0);
}

std::int64_t throttle_ms(double rate, double quota, std::int64_t span_ms, std::int64_t cap_ms) {
  if (rate <= quota) return 0;
  if (quota <= 0) return cap_ms;
  // Waiting X more lets the bytes of the span spread over span + X:
  // rate × span / (span + X) = quota.
  const double wait = (rate - quota) / quota * static_cast<double>(span_ms);
  if (!(wait < static_cast<double>(cap_ms))) return cap_ms;  // capped before it is made an integer
  return std::min<std::int64_t>(std::llround(wait), cap_ms);
}

// ---------------------------------------------------------------------------
// Which quota applies

QuotaIndex::QuotaIndex(const std::vector<storage::ClientQuota>& values) {
  for (const auto& v : values) {
    Id id{Part::absent, {}, Part::absent, {}};
    bool usable = !v.entity.empty();
    for (const auto& p : v.entity) {
      if (p.type != user_type && p.type != client_id_type) {  // IP quotas limit connections, not bytes
        usable = false;
        break;
      }
      const bool is_user = p.type == user_type;
      Part& part = is_user ? std::get<0>(id) : std::get<2>(id);
      std::string& name = is_user ? std::get<1>(id) : std::get<3>(id);
      part = p.name ? Part::named : Part::any;
      name = p.name.value_or(std::string());
    }
    if (usable) values_[id].emplace(v.key, v.value);
  }
}

std::optional<double> QuotaIndex::find(const Id& id, std::string_view key) const {
  auto it = values_.find(id);
  if (it == values_.end()) return std::nullopt;
  auto v = it->second.find(key);
  if (v == it->second.end()) return std::nullopt;
  return v->second;
}

bool QuotaIndex::has(std::string_view key) const {
  return std::any_of(values_.begin(), values_.end(), [&](const auto& e) { return e.second.count(key) > 0; });
}

std::optional<Applied> QuotaIndex::resolve(std::string_view key, std::string_view user,
                                           std::string_view client_id) const {
  const std::string u(user), c(client_id);
  struct Level {
    Part user_part, client_part;
    bool own_user, own_client;  // whether the rate is the user's, the client id's own
  };
  static constexpr Level levels[] = {
      {Part::named, Part::named, true, true},   {Part::named, Part::any, true, true},
      {Part::named, Part::absent, true, false}, {Part::any, Part::named, true, true},
      {Part::any, Part::any, true, true},       {Part::any, Part::absent, true, false},
      {Part::absent, Part::named, false, true}, {Part::absent, Part::any, false, true},
  };
  for (const auto& l : levels) {
    const Id id{l.user_part, l.user_part == Part::named ? u : std::string(), l.client_part,
                l.client_part == Part::named ? c : std::string()};
    if (auto v = find(id, key)) return Applied{*v, l.own_user ? u : std::string(), l.own_client ? c : std::string()};
  }
  return std::nullopt;
}

std::string_view user_of(std::string_view principal) noexcept {
  constexpr std::string_view prefix = "User:";
  if (principal.substr(0, prefix.size()) == prefix) principal.remove_prefix(prefix.size());
  return principal;
}

// ---------------------------------------------------------------------------
// The broker's quotas

namespace {
std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

ClientQuotas::ClientQuotas(RateWindows o, std::function<std::int64_t()> clock)
    : opts_(o), clock_(clock ? std::move(clock) : std::function<std::int64_t()>(steady_now_ms)) {}

void ClientQuotas::update(std::shared_ptr<const std::vector<storage::ClientQuota>> values) {
  std::lock_guard lk(mu_);
  if (!values || values == source_) return;
  source_ = std::move(values);
  index_ = std::make_unique<QuotaIndex>(*source_);
  for (auto k : {Kind::produce, Kind::fetch})
    any_[static_cast<int>(k)].store(index_->has(key_of(k)), std::memory_order_relaxed);
}

std::int64_t ClientQuotas::record(Kind k, std::string_view principal, std::string_view client_id, double amount) {
  if (!any(k)) return 0;
  std::lock_guard lk(mu_);
  if (!index_) return 0;
  auto applied = index_->resolve(key_of(k), user_of(principal), client_id);
  if (!applied) return 0;
  auto& rate = rates_.try_emplace(RateId{k, applied->user, applied->client_id}, opts_.samples, opts_.window_ms)
                   .first->second;
  const auto t = now();
  rate.record(amount, t);
  return throttle_ms(rate.rate(t), applied->limit, rate.span_ms(t), max_throttle_ms());
}

void ClientQuotas::unrecord(Kind k, std::string_view principal, std::string_view client_id, double amount) {
  if (!any(k)) return;
  std::lock_guard lk(mu_);
  if (!index_) return;
  auto applied = index_->resolve(key_of(k), user_of(principal), client_id);
  if (!applied) return;
  auto it = rates_.find(RateId{k, applied->user, applied->client_id});
  if (it != rates_.end()) it->second.record(-amount, now());
}

std::optional<double> ClientQuotas::max_in_window(Kind k, std::string_view principal,
                                                  std::string_view client_id) const {
  if (!any(k)) return std::nullopt;
  std::lock_guard lk(mu_);
  if (!index_) return std::nullopt;
  auto applied = index_->resolve(key_of(k), user_of(principal), client_id);
  if (!applied) return std::nullopt;
  return applied->limit * static_cast<double>(opts_.samples - 1) * static_cast<double>(opts_.window_ms) / 1000.0;
}

void ClientQuotas::expire() {
  constexpr std::int64_t idle_ms = 3600 * 1000;
  std::lock_guard lk(mu_);
  const auto t = now();
  std::erase_if(rates_, [&](const auto& e) { return t - e.second.last_ms() > idle_ms; });
}

}  // namespace kwire_broker::quota
