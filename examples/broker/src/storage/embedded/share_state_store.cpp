#include "storage/embedded/share_state_store.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {

namespace {

std::string_view bytes_of(const TopicId& id) { return {reinterpret_cast<const char*>(id.data()), id.size()}; }

/// The key a file name stands for; nullopt for names this store did not write.
std::optional<SharePartitionKey> key_of(const std::string& stem) {
  auto a = stem.find('.'), b = stem.rfind('.');
  if (a == std::string::npos || b == a) return std::nullopt;
  auto group = unhex(stem.substr(0, a));
  auto topic = unhex(stem.substr(a + 1, b - a - 1));
  if (!group || !topic || topic->size() != TopicId{}.size()) return std::nullopt;
  SharePartitionKey key;
  key.group_id = *group;
  std::copy(topic->begin(), topic->end(), key.topic_id.begin());
  try {
    std::size_t used = 0;
    key.partition = std::stoi(stem.substr(b + 1), &used);
    if (used != stem.size() - b - 1 || key.partition < 0) return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  return key;
}

std::string name_of(const SharePartitionKey& key) {
  return hex(key.group_id) + "." + hex(bytes_of(key.topic_id)) + "." + std::to_string(key.partition);
}

}  // namespace

Task<Done> ShareStates::store_share_state(SharePartitionKey key, std::vector<std::uint8_t> blob) {
  return files_.put(name_of(key), std::move(blob));
}

Task<Done> ShareStates::delete_share_state(SharePartitionKey key) { return files_.erase(name_of(key)); }

Task<std::vector<ShareStateBlob>> ShareStates::load_share_states() {
  using R = Result<std::vector<ShareStateBlob>>;
  auto all = files_.all();
  if (!all.ok()) co_return R::failure(all.error);
  std::vector<ShareStateBlob> out;
  for (auto& [name, data] : all.value) {
    if (auto key = key_of(name)) out.push_back({std::move(*key), std::move(data)});
  }
  co_return R::success(std::move(out));
}

}  // namespace kwire_broker::storage::embedded
