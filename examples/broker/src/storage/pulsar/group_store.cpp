// The group store on the compacted offsets topic: loading it, taking a
// shard's exclusive producer, writing groups and offsets as one entry each,
// and mirroring committed offsets to subscriptions.
// Keys "blob/<group>" and "offset/<group>/<partition>/<topic>" on the
// group's partition of the offsets topic; a null value deletes.
#include "group_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <exception>

#include <nlohmann/json.hpp>

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

using nlohmann::json;
using namespace std::chrono_literals;

Groups::Groups(PulsarStorage& s)
    : s_(s), load_lock_(std::make_unique<AsyncLock>(s.executor())),
      take_lock_(std::make_unique<AsyncLock>(s.executor())) {}

// One offsets topic per Kafka namespace (a tenant's namespaces are separate
// Kafka clusters to their clients): TENANT/__kafka/__consumer_offsets for the
// namespace "default", TENANT/__kafka/__consumer_offsets_NS otherwise.
std::string Groups::offsets_topic() const {
  std::string t = "persistent://" + s_.ns_.tenant + "/__kafka/__consumer_offsets";
  if (s_.ns_.ns != "default") t += "_" + s_.ns_.ns;
  return t;
}

std::int32_t Groups::shard_count() const { return s_.config_.offsets_partitions; }

int Groups::partition_of(const std::string& group) const {
  std::uint32_t h = 2166136261u;  // FNV-1a: stable across gateways
  for (unsigned char c : group) h = (h ^ c) * 16777619u;
  return static_cast<int>(h % static_cast<std::uint32_t>(s_.config_.offsets_partitions));
}

void Groups::apply(const kp::Message& m) {
  if (!m.key) return;
  const std::string& k = *m.key;
  for (auto& other : others_)
    if (k.rfind(other.prefix, 0) == 0) {
      other.apply(m);
      return;
    }
  if (k.rfind("blob/", 0) == 0) {
    auto g = k.substr(5);
    if (m.null_value) {
      groups_.erase(g);
    } else {
      groups_[g].blob = std::vector<std::uint8_t>(m.value.begin(), m.value.end());
    }
  } else if (k.rfind("txn/", 0) == 0) {
    auto id = k.substr(4);
    if (m.null_value) {
      txns_.erase(id);
    } else {
      txns_[id] = std::vector<std::uint8_t>(m.value.begin(), m.value.end());
    }
  } else if (k.rfind("txnoffset/", 0) == 0) {
    apply_held(k.substr(10), m);
  } else if (k.rfind("offset/", 0) == 0) {
    auto rest = k.substr(7);
    auto a = rest.find('/');
    auto b = rest.find('/', a + 1);
    if (a == std::string::npos || b == std::string::npos) return;
    auto g = rest.substr(0, a);
    TopicPartition tp{rest.substr(b + 1), std::stoi(rest.substr(a + 1, b - a - 1))};
    if (m.null_value) {
      if (auto it = groups_.find(g); it != groups_.end()) it->second.offsets.erase(tp);
      return;
    }
    auto j = json::parse(m.value);
    CommittedOffset c;
    c.offset = j.value("offset", std::int64_t{-1});
    c.leader_epoch = j.value("leader_epoch", -1);
    c.metadata = j.value("metadata", std::string());
    c.commit_timestamp = j.value("timestamp", std::int64_t{-1});
    groups_[g].offsets[tp] = c;
  }
}

awaitable<void> Groups::load_partition(int p) {
  auto r = co_await read_compacted_to_end(*s_.client_, offsets_topic() + "-partition-" + std::to_string(p),
                                          s_.config_.operation_timeout, [this](const kp::Message& m) { apply(m); });
  co_await r->close();
}

awaitable<void> Groups::ensure_loaded() {
  if (loaded_) co_return;
  co_await load_lock_->lock();
  Unlock u{*load_lock_};
  if (loaded_) co_return;
  for (int p = 0; p < s_.config_.offsets_partitions; ++p) co_await load_partition(p);
  loaded_ = true;
}

awaitable<void> Groups::take(int p) {
  co_await ensure_loaded();
  if (auto it = producers_.find(p); it != producers_.end() && it->second && !it->second->fenced()) co_return;
  // One taker at a time: two would both ask for the exclusive producer, and
  // Pulsar would refuse the second.
  co_await take_lock_->lock();
  Unlock u{*take_lock_};
  if (auto it = producers_.find(p); it != producers_.end() && it->second && !it->second->fenced()) co_return;
  kp::ProducerOptions o;
  o.topic = offsets_topic() + "-partition-" + std::to_string(p);
  // The gateway holding this exclusive producer coordinates the groups of
  // this partition; another gateway's writes are refused.
  o.name = "kwire-coordinator-" + s_.ns_.tenant + "-" + s_.ns_.ns + "-" + std::to_string(p);
  o.access_mode = kp::AccessMode::exclusive;
  auto prod = co_await s_.client_->create_producer(o);
  // Until now another gateway may have coordinated these groups: forget what
  // we knew of them and read the partition again.
  for (auto it = groups_.begin(); it != groups_.end();)
    it = partition_of(it->first) == p ? groups_.erase(it) : std::next(it);
  for (auto& other : others_) other.forget(p);
  for (auto it = txns_.begin(); it != txns_.end();)
    it = partition_of(it->first) == p ? txns_.erase(it) : std::next(it);
  // ... and the subscriptions' positions it may have moved.
  for (auto it = mirrored_.begin(); it != mirrored_.end();)
    it = partition_of(it->first.first) == p ? mirrored_.erase(it) : std::next(it);
  std::exception_ptr failed;
  try {
    co_await load_partition(p);
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    // Not taken: the next caller takes the partition and reads it again.
    try {
      co_await prod->close();
    } catch (const std::exception&) {
    }
    std::rethrow_exception(failed);
  }
  // The producer is published only now that the partition is read again:
  // until then every other caller waits on the lock above, rather than
  // working on the cleared state half read (a transactional id's record
  // many epochs old, an offset fetch answering none, a marker ending no
  // hold because the hold is not read yet).
  producers_[p] = std::move(prod);
}

void Groups::release_shard(std::int32_t shard) {
  asio::post(s_.executor(), [this, shard] {
    auto it = producers_.find(shard);
    if (it == producers_.end() || !it->second) return;
    auto prod = std::move(it->second);
    producers_.erase(it);
    asio::co_spawn(s_.executor(), [prod]() -> awaitable<void> { co_await prod->close(); }, asio::detached);
  });
}

awaitable<void> Groups::write(const std::string& group, std::vector<kp::OutgoingMessage> messages) {
  const int p = partition_of(group);
  co_await take(p);
  co_await producers_[p]->send_batch(std::move(messages));  // one entry: all or none
}

awaitable<void> Groups::write_record(const std::string& group, std::string key,
                                     const std::optional<std::vector<std::uint8_t>>& value) {
  kp::OutgoingMessage m;
  m.key = std::move(key);
  if (value) {
    m.value.assign(value->begin(), value->end());
  } else {
    m.null_value = true;
  }
  std::vector<kp::OutgoingMessage> ms;
  ms.push_back(std::move(m));
  co_await write(group, std::move(ms));
}

void Groups::mirror(const std::string& group, const Offsets& offsets) {
  for (const auto& [tp, c] : offsets) {
    MirrorKey key{group, tp};
    if (auto it = mirrored_.find(key); it != mirrored_.end() && it->second == c.offset && !mirror_queue_.count(key))
      continue;  // an auto-commit of an unchanged position
    mirror_queue_[std::move(key)] = c.offset;
  }
  start_mirroring();
}

void Groups::unmirror(const std::string& group, const std::vector<TopicPartition>& partitions) {
  for (const auto& tp : partitions) {
    MirrorKey key{group, tp};
    mirrored_.erase(key);
    mirror_queue_[std::move(key)] = std::nullopt;
  }
  start_mirroring();
}

void Groups::start_mirroring() {
  if (mirroring_ || mirror_queue_.empty()) return;
  mirroring_ = true;
  asio::co_spawn(s_.executor(), drain_mirrors(), asio::detached);
}

awaitable<void> Groups::drain_mirrors() {
  while (!mirror_queue_.empty()) {
    auto node = mirror_queue_.extract(mirror_queue_.begin());
    try {
      if (node.mapped()) {
        co_await mirror_one(node.key().first, node.key().second, *node.mapped());
        mirrored_[node.key()] = *node.mapped();
      } else {
        // Not forced: a native consumer attached to a subscription of that
        // name keeps it.
        co_await s_.admin_->delete_subscription(s_.pulsar_topic(node.key().second).substr(13), node.key().first,
                                                false);
      }
    } catch (const std::exception&) {
      // Left for the group's next commit to try again; the commit itself is
      // durable in the offsets topic already.
      mirrored_.erase(node.key());
    }
  }
  mirroring_ = false;
}

awaitable<void> Groups::flush_mirrors(std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (mirroring_ && std::chrono::steady_clock::now() < until) co_await kp::sleep_for(20ms);
}

awaitable<void> Groups::mirror_one(const std::string& group, const TopicPartition& tp, std::int64_t offset) {
  auto log = co_await s_.open_log_here(tp);
  const auto end = co_await log->current_end();
  kp::MessageId at = offset >= end ? kp::MessageId::latest() : co_await log->locate(offset);
  const auto topic = log->topic().substr(13);
  if (!co_await s_.admin_->create_subscription(topic, group, at)) co_await s_.admin_->reset_cursor(topic, group, at);
}

// ---------------------------------------------------------------------------
// The seam's calls: each hops to the I/O thread.

Task<Done> Groups::store_group(std::string group_id, std::vector<std::uint8_t> blob) {
  auto work = store_here(std::move(group_id), std::move(blob));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Groups::store_here(std::string group_id, std::vector<std::uint8_t> blob) {
  co_await take(partition_of(group_id));
  kp::OutgoingMessage m;
  m.key = "blob/" + group_id;
  m.value.assign(blob.begin(), blob.end());
  std::vector<kp::OutgoingMessage> ms;
  ms.push_back(std::move(m));
  co_await write(group_id, std::move(ms));
  groups_[group_id].blob = std::move(blob);
  co_return Result<Done>::success({});
}

Task<Done> Groups::delete_group(std::string group_id) {
  auto work = delete_here(std::move(group_id));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Groups::delete_here(std::string group_id) {
  co_await take(partition_of(group_id));
  auto it = groups_.find(group_id);
  if (it == groups_.end()) co_return Result<Done>::failure(Errc::group_not_found, group_id);
  std::vector<kp::OutgoingMessage> ms;
  kp::OutgoingMessage b;
  b.key = "blob/" + group_id;
  b.null_value = true;
  ms.push_back(b);
  for (auto& [tp, c] : it->second.offsets) {
    kp::OutgoingMessage m;
    m.key = "offset/" + group_id + "/" + std::to_string(tp.partition) + "/" + tp.topic;
    m.null_value = true;
    ms.push_back(std::move(m));
  }
  for (auto& m : drop_holds(group_id)) ms.push_back(std::move(m));
  co_await write(group_id, std::move(ms));
  std::vector<TopicPartition> mirrored;
  // Looked up again: the group may have changed while the write was out.
  if (auto again = groups_.find(group_id); again != groups_.end()) {
    for (auto& [tp, c] : again->second.offsets) mirrored.push_back(tp);
    groups_.erase(again);
  }
  unmirror(group_id, mirrored);
  co_return Result<Done>::success({});
}

Task<std::vector<GroupBlob>> Groups::load_groups() {
  auto work = load_here();
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<GroupBlob>>> Groups::load_here() {
  co_await ensure_loaded();
  std::vector<GroupBlob> out;
  for (auto& [g, v] : groups_)
    if (v.blob) out.push_back({g, *v.blob});
  co_return Result<std::vector<GroupBlob>>::success(std::move(out));
}

Task<Done> Groups::commit_offsets(std::string group_id, Offsets offsets) {
  auto work = commit_here(std::move(group_id), std::move(offsets));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Groups::commit_here(std::string group_id, Offsets offsets) {
  co_await take(partition_of(group_id));
  std::vector<kp::OutgoingMessage> ms;
  for (auto& [tp, c] : offsets) ms.push_back(offset_message(group_id, tp, c));
  if (!ms.empty()) co_await write(group_id, std::move(ms));
  for (auto& [tp, c] : offsets) groups_[group_id].offsets[tp] = c;
  mirror(group_id, offsets);
  co_return Result<Done>::success({});
}

kp::OutgoingMessage Groups::offset_message(const std::string& group, const TopicPartition& tp,
                                           const CommittedOffset& c) {
  kp::OutgoingMessage m;
  m.key = "offset/" + group + "/" + std::to_string(tp.partition) + "/" + tp.topic;
  m.value = json{{"offset", c.offset},
                 {"leader_epoch", c.leader_epoch},
                 {"metadata", c.metadata},
                 {"timestamp", c.commit_timestamp}}
                .dump();
  return m;
}

Task<GroupStore::Offsets> Groups::fetch_offsets(std::string group_id) {
  auto work = fetch_here(std::move(group_id));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<GroupStore::Offsets>> Groups::fetch_here(std::string group_id) {
  co_await take(partition_of(group_id));  // fresh if another gateway coordinated it
  Offsets out;
  if (auto it = groups_.find(group_id); it != groups_.end())
    for (auto& [tp, c] : it->second.offsets) out.emplace_back(tp, c);
  co_return Result<Offsets>::success(std::move(out));
}

Task<Done> Groups::delete_offsets(std::string group_id, std::vector<TopicPartition> partitions) {
  auto work = delete_offsets_here(std::move(group_id), std::move(partitions));
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Groups::delete_offsets_here(std::string group_id, std::vector<TopicPartition> partitions) {
  co_await take(partition_of(group_id));
  std::vector<kp::OutgoingMessage> ms;
  for (auto& tp : partitions) {
    kp::OutgoingMessage m;
    m.key = "offset/" + group_id + "/" + std::to_string(tp.partition) + "/" + tp.topic;
    m.null_value = true;
    ms.push_back(std::move(m));
  }
  if (!ms.empty()) co_await write(group_id, std::move(ms));
  if (auto it = groups_.find(group_id); it != groups_.end())
    for (auto& tp : partitions) it->second.offsets.erase(tp);
  unmirror(group_id, partitions);
  co_return Result<Done>::success({});
}

Task<std::vector<std::string>> Groups::list_groups() {
  auto work = list_here();
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<std::string>>> Groups::list_here() {
  co_await ensure_loaded();
  std::vector<std::string> out;
  for (auto& [g, v] : groups_)
    if (v.blob || !v.offsets.empty()) out.push_back(g);
  co_return Result<std::vector<std::string>>::success(std::move(out));
}

}  // namespace kwire_broker::storage::pulsar
