// The transaction coordinator's record of a transactional id as the
// TxnStore keeps it, and Kafka's names of the states.
//
// Encoding (big-endian), version 0:
//   int8 version, int64 producer id, int16 epoch, int64 last producer id,
//   int16 last epoch, int32 timeout ms, int8 state, int64 start ms,
//   int64 update ms,
//   int32 n, n x (string topic, int32 partition)           partitions
//   int32 n, n x string                                      groups
//   int32 n, n x (string group, int32 m, m x (string topic, int32 partition,
//     int64 offset, int32 leader epoch, string metadata, int64 timestamp))
// where a string is int32 length and bytes. Version 1 adds, at the end:
//   int8 v2 (Transactions V2 rules), int64 next producer id
// Version 0 records are still read.
#include <array>
#include <cstring>

#include "coordinator/txn_coordinator.hpp"

namespace kwire_broker {
namespace {

constexpr std::int8_t record_version = 1;

constexpr std::array<std::string_view, 8> state_names = {
    "Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence",
};

class Writer {
 public:
  template <class T>
  void num(T v) {
    auto u = static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
    for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
  }
  void str(std::string_view s) {
    num<std::int32_t>(static_cast<std::int32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  std::vector<std::uint8_t> out;
};

class Reader {
 public:
  explicit Reader(const std::vector<std::uint8_t>& in) : in_(in) {}
  template <class T>
  bool num(T& v) {
    if (at_ + sizeof(T) > in_.size()) return false;
    std::uint64_t u = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) u = (u << 8) | in_[at_++];
    v = static_cast<T>(u);
    return true;
  }
  bool str(std::string& s) {
    std::int32_t n = 0;
    if (!num(n) || n < 0 || at_ + static_cast<std::size_t>(n) > in_.size()) return false;
    s.assign(reinterpret_cast<const char*>(in_.data() + at_), static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return true;
  }
  /// A count that cannot be more than the bytes left.
  bool count(std::int32_t& n) { return num(n) && n >= 0 && static_cast<std::size_t>(n) <= in_.size() - at_; }

 private:
  const std::vector<std::uint8_t>& in_;
  std::size_t at_ = 0;
};

}  // namespace

std::string_view txn_state_name(TxnState s) {
  const auto i = static_cast<std::size_t>(s);
  return i < state_names.size() ? state_names[i] : "Unknown";
}

std::optional<TxnState> txn_state_of(std::string_view name) {
  for (std::size_t i = 0; i < state_names.size(); ++i)
    if (state_names[i] == name) return static_cast<TxnState>(i);
  return std::nullopt;
}

std::vector<std::uint8_t> encode_txn(const TxnMetadata& t) {
  Writer w;
  w.num<std::int8_t>(record_version);
  w.num(t.producer_id);
  w.num(t.producer_epoch);
  w.num(t.last_producer_id);
  w.num(t.last_producer_epoch);
  w.num(t.timeout_ms);
  w.num(static_cast<std::int8_t>(t.state));
  w.num(t.start_ms);
  w.num(t.update_ms);
  w.num(static_cast<std::int32_t>(t.partitions.size()));
  for (const auto& tp : t.partitions) {
    w.str(tp.topic);
    w.num(tp.partition);
  }
  w.num(static_cast<std::int32_t>(t.groups.size()));
  for (const auto& g : t.groups) w.str(g);
  w.num(static_cast<std::int32_t>(t.offsets.size()));
  for (const auto& [group, offsets] : t.offsets) {
    w.str(group);
    w.num(static_cast<std::int32_t>(offsets.size()));
    for (const auto& [tp, o] : offsets) {
      w.str(tp.topic);
      w.num(tp.partition);
      w.num(o.offset);
      w.num(o.leader_epoch);
      w.str(o.metadata);
      w.num(o.commit_timestamp);
    }
  }
  w.num<std::int8_t>(t.v2 ? 1 : 0);
  w.num(t.next_producer_id);
  return std::move(w.out);
}

std::optional<TxnMetadata> decode_txn(const std::string& id, const std::vector<std::uint8_t>& data) {
  Reader r(data);
  TxnMetadata t;
  t.id = id;
  std::int8_t version = -1, state = 0;
  if (!r.num(version) || version < 0 || version > record_version) return std::nullopt;
  if (!r.num(t.producer_id) || !r.num(t.producer_epoch) || !r.num(t.last_producer_id) ||
      !r.num(t.last_producer_epoch) || !r.num(t.timeout_ms) || !r.num(state) || !r.num(t.start_ms) ||
      !r.num(t.update_ms))
    return std::nullopt;
  if (state < 0 || static_cast<std::size_t>(state) >= state_names.size()) return std::nullopt;
  t.state = static_cast<TxnState>(state);
  std::int32_t n = 0;
  if (!r.count(n)) return std::nullopt;
  for (std::int32_t i = 0; i < n; ++i) {
    storage::TopicPartition tp;
    if (!r.str(tp.topic) || !r.num(tp.partition)) return std::nullopt;
    t.partitions.insert(std::move(tp));
  }
  if (!r.count(n)) return std::nullopt;
  for (std::int32_t i = 0; i < n; ++i) {
    std::string g;
    if (!r.str(g)) return std::nullopt;
    t.groups.insert(std::move(g));
  }
  if (!r.count(n)) return std::nullopt;
  for (std::int32_t i = 0; i < n; ++i) {
    std::string group;
    std::int32_t m = 0;
    if (!r.str(group) || !r.count(m)) return std::nullopt;
    auto& offsets = t.offsets[group];
    for (std::int32_t j = 0; j < m; ++j) {
      storage::TopicPartition tp;
      storage::CommittedOffset o;
      if (!r.str(tp.topic) || !r.num(tp.partition) || !r.num(o.offset) || !r.num(o.leader_epoch) ||
          !r.str(o.metadata) || !r.num(o.commit_timestamp))
        return std::nullopt;
      offsets[tp] = std::move(o);
    }
  }
  if (version >= 1) {
    std::int8_t v2 = 0;
    if (!r.num(v2) || !r.num(t.next_producer_id)) return std::nullopt;
    t.v2 = v2 != 0;
  }
  return t;
}

}  // namespace kwire_broker
