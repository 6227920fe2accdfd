#include "storage/embedded/group_store.hpp"

#include "storage/embedded/files.hpp"
#include "storage/embedded/record_files.hpp"

namespace kwire_broker::storage::embedded {
namespace {

using OffsetMap = std::map<TopicPartition, CommittedOffset>;

void put_str(std::string& out, std::string_view s) {
  std::uint8_t b[4];
  put_be(b, s.size(), 4);
  out.append(reinterpret_cast<char*>(b), 4);
  out.append(s);
}

void put_int(std::string& out, std::int64_t v) {
  std::uint8_t b[8];
  put_be(b, static_cast<std::uint64_t>(v), 8);
  out.append(reinterpret_cast<char*>(b), 8);
}

std::string encode_offsets(const OffsetMap& m) {
  std::string out;
  for (auto& [tp, o] : m) {
    put_str(out, tp.topic);
    put_int(out, tp.partition);
    put_int(out, o.offset);
    put_int(out, o.leader_epoch);
    put_str(out, o.metadata);
    put_int(out, o.commit_timestamp);
  }
  return out;
}

OffsetMap decode_offsets(const std::string& s) {
  OffsetMap m;
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  std::size_t at = 0, n = s.size();
  auto str = [&](std::string& out) {
    if (at + 4 > n) return false;
    std::size_t len = get_be(p + at, 4);
    at += 4;
    if (at + len > n) return false;
    out.assign(s.data() + at, len);
    at += len;
    return true;
  };
  auto num = [&](std::int64_t& out) {
    if (at + 8 > n) return false;
    out = static_cast<std::int64_t>(get_be(p + at, 8));
    at += 8;
    return true;
  };
  while (at < n) {
    TopicPartition tp;
    CommittedOffset o;
    std::int64_t part = 0, epoch = 0;
    if (!str(tp.topic) || !num(part) || !num(o.offset) || !num(epoch) || !str(o.metadata) ||
        !num(o.commit_timestamp))
      break;
    tp.partition = static_cast<std::int32_t>(part);
    o.leader_epoch = static_cast<std::int32_t>(epoch);
    m[tp] = o;
  }
  return m;
}

template <class T>
Result<T> closed() {
  return Result<T>::failure(Errc::closed);
}

}  // namespace

Groups::Groups(fs::path dir, Flusher& disk) : dir_(std::move(dir)), disk_(disk) {
  fs::create_directories(dir_);
  for (auto& e : fs::directory_iterator(dir_)) {
    auto id = unhex(e.path().stem().string());
    if (!id) continue;
    if (e.path().extension() == ".group") {
      if (auto data = read_file(e.path())) blobs_[*id] = std::vector<std::uint8_t>(data->begin(), data->end());
    } else if (e.path().extension() == ".offsets") {
      if (auto data = read_file(e.path())) offsets_[*id] = decode_offsets(*data);
    }
  }
  // HEX.PRODUCER.held: the stem above was "HEX.PRODUCER", which unhex refused.
  for (auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() != ".held") continue;
    const auto stem = e.path().stem().string();
    const auto dot = stem.find('.');
    if (dot == std::string::npos) continue;
    auto id = unhex(stem.substr(0, dot));
    std::int64_t producer = -1;
    try {
      producer = std::stoll(stem.substr(dot + 1));
    } catch (const std::exception&) {
      continue;
    }
    if (!id || producer < 0) continue;
    // The epoch (8 bytes), then the offsets.
    auto data = read_file(e.path());
    if (!data || data->size() < 8) continue;
    Held h;
    h.epoch = static_cast<std::int16_t>(get_be(reinterpret_cast<const std::uint8_t*>(data->data()), 8));
    h.offsets = decode_offsets(data->substr(8));
    held_[*id][producer] = std::move(h);
  }
}

fs::path Groups::path(const std::string& id, const char* ext) const { return dir_ / (hex(id) + ext); }

fs::path Groups::held_path(const std::string& id, std::int64_t producer_id) const {
  return dir_ / (hex(id) + "." + std::to_string(producer_id) + ".held");
}

std::shared_ptr<Completion> Groups::write_later(fs::path file, std::optional<std::string> data) {
  return replace_file_later(disk_, std::move(file), std::move(data));
}

std::shared_ptr<Completion> Groups::write_offsets_later(const std::string& group_id) {
  auto it = offsets_.find(group_id);
  if (it == offsets_.end()) return write_later(path(group_id, ".offsets"), std::nullopt);
  return write_later(path(group_id, ".offsets"), encode_offsets(it->second));
}

// By reference: g++ 12 destroys the temporaries of a co_await expression
// twice, a by-value argument among them.
Task<Done> Groups::outcome(const std::shared_ptr<Completion>& done) {
  const bool ok = co_await done->wait();  // not in the if: see Log::append
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

// Each call changes memory under the mutex and queues its file's change
// before it lets go of it; only then does it wait for the disk.

Task<Done> Groups::store_group(std::string group_id, std::vector<std::uint8_t> blob) {
  if (closed_) co_return closed<Done>();
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    done = write_later(path(group_id, ".group"), std::string(blob.begin(), blob.end()));
    blobs_[group_id] = std::move(blob);
  }
  co_return co_await outcome(done);
}

Task<Done> Groups::delete_group(std::string group_id) {
  if (closed_) co_return closed<Done>();
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    blobs_.erase(group_id);
    offsets_.erase(group_id);
    if (auto g = held_.find(group_id); g != held_.end()) {
      for (auto& [producer, h] : g->second) (void)write_later(held_path(group_id, producer), std::nullopt);
      held_.erase(g);
    }
    (void)write_later(path(group_id, ".group"), std::nullopt);
    done = write_later(path(group_id, ".offsets"), std::nullopt);
  }
  co_return co_await outcome(done);
}

Task<std::vector<GroupBlob>> Groups::load_groups() {
  if (closed_) co_return closed<std::vector<GroupBlob>>();
  std::lock_guard lk(mu_);
  std::vector<GroupBlob> out;
  for (auto& [id, data] : blobs_) out.push_back({id, data});
  co_return Result<std::vector<GroupBlob>>::success(std::move(out));
}

Task<Done> Groups::commit_offsets(std::string group_id, Offsets offsets) {
  if (closed_) co_return closed<Done>();
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    auto& m = offsets_[group_id];
    for (auto& [tp, o] : offsets) m[tp] = o;
    done = write_offsets_later(group_id);
  }
  co_return co_await outcome(done);
}

Task<GroupStore::Offsets> Groups::fetch_offsets(std::string group_id) {
  if (closed_) co_return closed<Offsets>();
  std::lock_guard lk(mu_);
  Offsets out;
  auto it = offsets_.find(group_id);
  if (it != offsets_.end()) out.assign(it->second.begin(), it->second.end());
  co_return Result<Offsets>::success(std::move(out));
}

Task<Done> Groups::delete_offsets(std::string group_id, std::vector<TopicPartition> partitions) {
  if (closed_) co_return closed<Done>();
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    auto it = offsets_.find(group_id);
    if (it == offsets_.end()) co_return Result<Done>::success({});
    for (auto& tp : partitions) it->second.erase(tp);
    done = write_offsets_later(group_id);
  }
  co_return co_await outcome(done);
}

Task<std::vector<std::string>> Groups::list_groups() {
  if (closed_) co_return closed<std::vector<std::string>>();
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (auto& [id, _] : blobs_) out.push_back(id);
  for (auto& [id, _] : offsets_)
    if (!blobs_.count(id)) out.push_back(id);
  co_return Result<std::vector<std::string>>::success(std::move(out));
}

Task<Done> Groups::hold_txn_offsets(std::string group_id, std::int64_t producer_id, std::int16_t epoch,
                                    Offsets offsets) {
  if (closed_) co_return closed<Done>();
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    auto& h = held_[group_id][producer_id];
    if (!h.offsets.empty() && epoch < h.epoch) co_return Result<Done>::failure(Errc::invalid_producer_epoch);
    if (epoch > h.epoch) h.offsets.clear();  // a fenced producer's, written after its end
    h.epoch = epoch;
    for (auto& [tp, o] : offsets) h.offsets[tp] = o;
    std::string data;
    put_int(data, h.epoch);
    data += encode_offsets(h.offsets);
    done = write_later(held_path(group_id, producer_id), std::move(data));
  }
  co_return co_await outcome(done);
}

// The committed offsets are written before the hold is removed: a crash
// between the two leaves the hold, and the coordinator, which completes the
// transaction only after this returns, ends it again with the same offsets.
Task<Done> Groups::end_txn_offsets(std::int32_t, std::int64_t producer_id, std::int16_t epoch, bool commit) {
  if (closed_) co_return closed<Done>();
  std::vector<std::shared_ptr<Completion>> writes;
  {
    std::lock_guard lk(mu_);
    for (auto g = held_.begin(); g != held_.end();) {
      auto h = g->second.find(producer_id);
      if (h == g->second.end() || h->second.epoch > epoch) {
        ++g;
        continue;
      }
      if (commit && h->second.epoch == epoch) {
        auto& m = offsets_[g->first];
        for (auto& [tp, o] : h->second.offsets) m[tp] = o;
        writes.push_back(write_offsets_later(g->first));
      }
      writes.push_back(write_later(held_path(g->first, producer_id), std::nullopt));
      g->second.erase(h);
      g = g->second.empty() ? held_.erase(g) : std::next(g);
    }
  }
  for (const auto& w : writes) {
    auto r = co_await outcome(w);
    if (!r.ok()) co_return r;
  }
  co_return Result<Done>::success({});
}

Task<std::vector<TopicPartition>> Groups::held_txn_offsets(std::string group_id) {
  if (closed_) co_return closed<std::vector<TopicPartition>>();
  std::lock_guard lk(mu_);
  std::vector<TopicPartition> out;
  if (auto g = held_.find(group_id); g != held_.end())
    for (auto& [producer, h] : g->second)
      for (auto& [tp, o] : h.offsets) out.push_back(tp);
  co_return Result<std::vector<TopicPartition>>::success(std::move(out));
}

void Groups::forget_topic(const std::string& topic) {
  std::lock_guard lk(mu_);
  for (auto& [gid, m] : offsets_) {
    bool changed = false;
    for (auto it = m.begin(); it != m.end();) {
      if (it->first.topic == topic) {
        it = m.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    if (changed) (void)write_offsets_later(gid);
  }
}

}  // namespace kwire_broker::storage::embedded
