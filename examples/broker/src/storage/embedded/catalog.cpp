#include "storage/embedded/catalog.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>
#include <system_error>

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {
namespace {

std::string encode_topic_meta(const TopicInfo& t) {
  std::string out = "id " + hex(std::string_view(reinterpret_cast<const char*>(t.id.data()), t.id.size())) + "\n";
  out += "partitions " + std::to_string(t.partitions) + "\n";
  for (auto& [k, v] : t.configs) out += "config " + hex(k) + " " + hex(v) + "\n";
  return out;
}

std::optional<TopicInfo> decode_topic_meta(const std::string& name, const std::string& text) {
  TopicInfo t;
  t.name = name;
  std::istringstream in(text);
  std::string word;
  bool have_id = false;
  while (in >> word) {
    if (word == "id") {
      std::string h;
      in >> h;
      auto raw = unhex(h);
      if (!raw || raw->size() != 16) return std::nullopt;
      std::memcpy(t.id.data(), raw->data(), 16);
      have_id = true;
    } else if (word == "partitions") {
      in >> t.partitions;
    } else if (word == "config") {
      std::string k, v;
      in >> k >> v;
      auto kk = unhex(k), vv = unhex(v);
      if (kk && vv) t.configs[*kk] = *vv;
    }
  }
  if (!have_id || t.partitions <= 0) return std::nullopt;
  return t;
}

/// Removes what creating a topic may have written. Each path is named, none
/// listed: out of descriptors (a common reason to get here), a directory
/// cannot be opened to list it.
void remove_new_topic(const fs::path& dir, std::int32_t partitions) {
  std::error_code ignored;
  for (std::int32_t p = 0; p < partitions; ++p) {
    auto partition = dir / std::to_string(p);
    for (const char* ext : {".log", ".index", ".timeindex"}) fs::remove(partition / (segment_name(0) + ext), ignored);
    fs::remove(partition, ignored);
  }
  fs::remove(dir / "topic.meta", ignored);
  fs::remove(dir / "topic.meta.tmp", ignored);
  fs::remove(dir, ignored);
  if (fs::exists(dir, ignored)) fs::remove_all(dir, ignored);  // anything else found there
}

TopicId random_topic_id() {
  TopicId id;
  std::random_device rd;
  for (auto& b : id) b = static_cast<std::uint8_t>(rd());
  id[6] = static_cast<std::uint8_t>((id[6] & 0x0f) | 0x40);  // a version 4 UUID
  id[8] = static_cast<std::uint8_t>((id[8] & 0x3f) | 0x80);
  return id;
}

}  // namespace

Catalog::Catalog(const Options& opts, fs::path topics_dir, Groups& groups)
    : opts_(opts), dir_(std::move(topics_dir)), groups_(groups) {
  fs::create_directories(dir_);
  for (auto& e : fs::directory_iterator(dir_)) {
    if (!e.is_directory()) continue;
    std::string name = e.path().filename().string();
    if (!valid_topic_name(name)) continue;  // e.g. a topic being deleted
    auto text = read_file(e.path() / "topic.meta");
    if (!text) continue;
    auto info = decode_topic_meta(name, *text);
    if (!info) continue;
    auto& t = topics_[name];
    t.info = *info;
    for (std::int32_t p = 0; p < info->partitions; ++p) t.logs.push_back(open_partition(t.info, p));
  }
}

Catalog::~Catalog() { close(); }

// The calls do their work under the catalog's mutex and return without
// suspending.

Task<TopicInfo> Catalog::create_topic(NewTopic topic) {
  if (closed_) co_return Result<TopicInfo>::failure(Errc::closed);
  co_return create(std::move(topic));
}

Task<Done> Catalog::delete_topic(std::string name) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  co_return remove(name);
}

Task<TopicInfo> Catalog::add_partitions(std::string name, std::int32_t total) {
  if (closed_) co_return Result<TopicInfo>::failure(Errc::closed);
  co_return grow(name, total);
}

Task<TopicInfo> Catalog::alter_configs(std::string name, std::vector<ConfigChange> changes) {
  if (closed_) co_return Result<TopicInfo>::failure(Errc::closed);
  co_return alter(name, changes);
}

Task<std::vector<TopicInfo>> Catalog::list_topics() {
  if (closed_) co_return Result<std::vector<TopicInfo>>::failure(Errc::closed);
  std::vector<TopicInfo> out;
  {
    std::lock_guard lk(mu_);
    for (auto& [_, t] : topics_) out.push_back(t.info);
  }
  co_return Result<std::vector<TopicInfo>>::success(std::move(out));
}

std::optional<TopicInfo> Catalog::find_topic(const std::string& name) const {
  std::lock_guard lk(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second.info;
}

std::optional<TopicInfo> Catalog::find_topic(const TopicId& id) const {
  std::lock_guard lk(mu_);
  for (auto& [_, t] : topics_)
    if (t.info.id == id) return t.info;
  return std::nullopt;
}

std::shared_ptr<Log> Catalog::log(const TopicPartition& tp) const {
  std::lock_guard lk(mu_);
  auto it = topics_.find(tp.topic);
  if (it == topics_.end() || tp.partition < 0 || tp.partition >= static_cast<std::int32_t>(it->second.logs.size()))
    return nullptr;
  return it->second.logs[static_cast<std::size_t>(tp.partition)];
}

std::vector<std::shared_ptr<Log>> Catalog::logs() const {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<Log>> out;
  for (auto& [_, t] : topics_) out.insert(out.end(), t.logs.begin(), t.logs.end());
  return out;
}

void Catalog::close() {
  closed_ = true;
  std::lock_guard lk(mu_);
  for (auto& [_, t] : topics_)
    for (auto& l : t.logs) l->close();
  topics_.clear();
}

Result<TopicInfo> Catalog::create(NewTopic nt) {
  using R = Result<TopicInfo>;
  if (!valid_topic_name(nt.name)) return R::failure(Errc::invalid_config, "invalid topic name");
  if (nt.partitions <= 0) return R::failure(Errc::invalid_partitions, "partitions must be positive");
  std::lock_guard lk(mu_);
  if (topics_.count(nt.name)) return R::failure(Errc::topic_exists, "topic '" + nt.name + "' already exists");
  TopicInfo info;
  info.name = nt.name;
  info.partitions = nt.partitions;
  info.configs = std::move(nt.configs);
  info.id = random_topic_id();
  auto dir = dir_ / info.name;
  // A topic that could not be made whole leaves nothing behind: no
  // directory that a restart would skip over and a retry would trip on.
  auto undo = [&](std::string why) {
    remove_new_topic(dir, info.partitions);
    return R::failure(Errc::io_error, "cannot create topic '" + info.name + "': " + why);
  };
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return undo(ec.message());
  if (!write_file_atomic(dir / "topic.meta", encode_topic_meta(info))) return undo(std::strerror(errno));
  auto& t = topics_[info.name];
  t.info = info;
  try {
    for (std::int32_t p = 0; p < info.partitions; ++p) t.logs.push_back(open_partition(info, p));
  } catch (const std::exception& e) {
    topics_.erase(info.name);  // closes the partitions opened so far
    return undo(e.what());
  }
  return R::success(info);
}

Result<Done> Catalog::remove(const std::string& name) {
  {
    std::lock_guard lk(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return Result<Done>::failure(Errc::unknown_topic);
    auto logs = std::move(it->second.logs);
    topics_.erase(it);
    // The logs first: an append already past its check may still roll to
    // a new ledger, which it creates in the directory (if that were gone,
    // the append would fail on a live log). Then rename, so that a crash
    // mid-delete does not bring the topic back, and remove.
    for (auto& l : logs) l->retire();
    auto dir = dir_ / name;
    auto gone = dir_ / (name + ".deleted~" + std::to_string(now_ms()));
    std::error_code ec;
    fs::rename(dir, gone, ec);
    fs::remove_all(ec ? dir : gone, ec);
  }
  groups_.forget_topic(name);
  return Result<Done>::success({});
}

Result<TopicInfo> Catalog::grow(const std::string& name, std::int32_t total) {
  using R = Result<TopicInfo>;
  std::lock_guard lk(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return R::failure(Errc::unknown_topic);
  auto& t = it->second;
  if (total <= t.info.partitions) {
    return R::failure(Errc::invalid_partitions, "topic has " + std::to_string(t.info.partitions) +
                                                    " partitions; the new count must be larger");
  }
  TopicInfo info = t.info;
  info.partitions = total;
  if (!write_file_atomic(dir_ / name / "topic.meta", encode_topic_meta(info))) return R::failure(Errc::io_error);
  for (std::int32_t p = t.info.partitions; p < total; ++p) t.logs.push_back(open_partition(info, p));
  t.info = info;
  return R::success(info);
}

Result<TopicInfo> Catalog::alter(const std::string& name, const std::vector<ConfigChange>& changes) {
  using R = Result<TopicInfo>;
  std::lock_guard lk(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return R::failure(Errc::unknown_topic);
  TopicInfo info = it->second.info;
  for (auto& c : changes) {
    if (c.op == ConfigChange::Op::set)
      info.configs[c.key] = c.value;
    else
      info.configs.erase(c.key);
  }
  if (!write_file_atomic(dir_ / name / "topic.meta", encode_topic_meta(info))) return R::failure(Errc::io_error);
  it->second.info = info;
  for (auto& l : it->second.logs) l->set_configs(info.configs);
  return R::success(info);
}

std::shared_ptr<Log> Catalog::open_partition(const TopicInfo& info, std::int32_t p) {
  auto log = std::make_shared<Log>(TopicPartition{info.name, p}, dir_ / info.name / std::to_string(p), opts_,
                                   info.configs);
  log->open();
  return log;
}

}  // namespace kwire_broker::storage::embedded
