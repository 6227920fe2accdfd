// Share partitions' records in the offsets topic's shards (see
// share_state_store.hpp).
#include "share_state_store.hpp"

#include <charconv>

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

namespace {

constexpr std::string_view prefix = "share/";

std::string key_of(const SharePartitionKey& k) {
  return std::string(prefix) + hex_of(k.topic_id) + "/" + std::to_string(k.partition) + "/" + k.group_id;
}

/// The share partition a key names; nullopt for keys this store did not write.
std::optional<SharePartitionKey> share_partition_of(std::string_view key) {
  key.remove_prefix(prefix.size());
  const auto a = key.find('/');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = key.find('/', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  auto id = topic_id_of(key.substr(0, a));
  if (!id) return std::nullopt;
  SharePartitionKey k;
  k.topic_id = *id;
  const auto digits = key.substr(a + 1, b - a - 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), k.partition);
  if (ec != std::errc() || end != digits.data() + digits.size() || k.partition < 0) return std::nullopt;
  k.group_id = std::string(key.substr(b + 1));
  return k;
}

}  // namespace

ShareStates::ShareStates(PulsarStorage& s, Groups& groups) : s_(s), groups_(groups) {
  groups_.keep_records({std::string(prefix), [this](const kp::Message& m) { apply(m); },
                        [this](int shard) { forget(shard); }});
}

void ShareStates::apply(const kp::Message& m) {
  auto key = share_partition_of(*m.key);
  if (!key) return;
  if (m.null_value) {
    records_.erase(*key);
  } else {
    records_[std::move(*key)] = std::vector<std::uint8_t>(m.value.begin(), m.value.end());
  }
}

void ShareStates::forget(int shard) {
  for (auto it = records_.begin(); it != records_.end();)
    it = groups_.partition_of(it->first.group_id) == shard ? records_.erase(it) : std::next(it);
}

Task<Done> ShareStates::store_share_state(SharePartitionKey key, std::vector<std::uint8_t> blob) {
  auto work = write_here(std::move(key), std::move(blob));
  co_return co_await s_.on_io(std::move(work));
}

Task<Done> ShareStates::delete_share_state(SharePartitionKey key) {
  auto work = write_here(std::move(key), std::nullopt);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> ShareStates::write_here(SharePartitionKey key, std::optional<std::vector<std::uint8_t>> blob) {
  std::string record_key = key_of(key);  // named: g++ 12 mishandles temporaries in co_await
  co_await groups_.write_record(key.group_id, std::move(record_key), blob);
  if (blob) {
    records_[std::move(key)] = std::move(*blob);
  } else {
    records_.erase(key);
  }
  co_return Result<Done>::success({});
}

Task<std::vector<ShareStateBlob>> ShareStates::load_share_states() {
  auto work = load_here();
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<ShareStateBlob>>> ShareStates::load_here() {
  co_await groups_.ensure_loaded();
  std::vector<ShareStateBlob> out;
  for (auto& [key, data] : records_) out.push_back({key, data});
  co_return Result<std::vector<ShareStateBlob>>::success(std::move(out));
}

}  // namespace kwire_broker::storage::pulsar
