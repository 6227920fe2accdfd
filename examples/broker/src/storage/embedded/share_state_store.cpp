#include "storage/embedded/share_state_store.hpp"

#include <system_error>

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

}  // namespace

ShareStates::ShareStates(fs::path dir, Flusher& disk) : dir_(std::move(dir)), disk_(disk) {
  fs::create_directories(dir_);
  for (auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() != ".state") continue;
    auto key = key_of(e.path().stem().string());
    if (!key) continue;
    if (auto data = read_file(e.path())) records_[*key] = std::vector<std::uint8_t>(data->begin(), data->end());
  }
}

fs::path ShareStates::path(const SharePartitionKey& key) const {
  return dir_ / (hex(key.group_id) + "." + hex(bytes_of(key.topic_id)) + "." + std::to_string(key.partition) + ".state");
}

std::shared_ptr<Completion> ShareStates::write_later(fs::path file, std::optional<std::string> data) {
  auto done = std::make_shared<Completion>();
  disk_.post([done, file = std::move(file), data = std::move(data)] {
    if (data) {
      done->set(write_file_atomic(file, *data));
    } else {
      std::error_code ec;
      fs::remove(file, ec);
      done->set(!ec);
    }
  });
  return done;
}

// Each call changes memory and queues its file's change under the mutex,
// so files change in the order memory did; only then does it wait.

Task<Done> ShareStates::store_share_state(SharePartitionKey key, std::vector<std::uint8_t> blob) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    done = write_later(path(key), std::string(blob.begin(), blob.end()));
    records_[std::move(key)] = std::move(blob);
  }
  const bool ok = co_await done->wait();  // not in the if: see Log::acknowledge
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

Task<Done> ShareStates::delete_share_state(SharePartitionKey key) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    done = write_later(path(key), std::nullopt);
    records_.erase(key);
  }
  const bool ok = co_await done->wait();
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

Task<std::vector<ShareStateBlob>> ShareStates::load_share_states() {
  using R = Result<std::vector<ShareStateBlob>>;
  if (closed_) co_return R::failure(Errc::closed);
  std::lock_guard lk(mu_);
  std::vector<ShareStateBlob> out;
  for (auto& [key, data] : records_) out.push_back({key, data});
  co_return R::success(std::move(out));
}

}  // namespace kwire_broker::storage::embedded
