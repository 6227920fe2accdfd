#include "store.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <kwire/records/batch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "../producer_state.hpp"
#include "gateways.hpp"
#include "kwire_pulsar/admin.hpp"

namespace kwire_broker::storage::pulsar {

namespace asio = boost::asio;
namespace kp = kwire_pulsar;
using asio::awaitable;
using asio::use_awaitable;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* topic_id_property = "kafka.topic.id";
constexpr const char* config_prefix = "kafka.config.";
constexpr std::chrono::milliseconds forever{std::chrono::hours(24 * 365)};

/// Maps an exception from the Pulsar client or admin API to the seam's Errc.
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

/// A FIFO lock for coroutines on one strand.
class AsyncLock {
 public:
  explicit AsyncLock(asio::any_io_executor ex) : ex_(ex) {}
  awaitable<void> lock() {
    if (!locked_) {
      locked_ = true;
      co_return;
    }
    auto t = std::make_shared<asio::steady_timer>(ex_, forever);
    waiters_.push_back(t);
    boost::system::error_code ec;
    co_await t->async_wait(asio::redirect_error(use_awaitable, ec));
  }
  void unlock() {
    if (waiters_.empty()) {
      locked_ = false;
      return;
    }
    auto t = waiters_.front();
    waiters_.pop_front();
    t->cancel();  // ownership passes to that waiter
  }

 private:
  asio::any_io_executor ex_;
  bool locked_ = false;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

struct Unlock {
  AsyncLock& l;
  ~Unlock() { l.unlock(); }
};

std::string hex(const TopicId& id) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto b : id) {
    s += d[b >> 4];
    s += d[b & 15];
  }
  return s;
}

std::optional<TopicId> unhex(const std::string& s) {
  if (s.size() != 32) return std::nullopt;
  TopicId id{};
  for (std::size_t i = 0; i < 16; ++i) id[i] = static_cast<std::uint8_t>(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return id;
}

TopicId random_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  TopicId id{};
  for (std::size_t i = 0; i < 16; i += 8) {
    auto v = rng();
    std::memcpy(id.data() + i, &v, 8);
  }
  return id;
}

/// Offsets and timestamp of an entry, from its broker index.
struct EntryInfo {
  std::int64_t base = -1, last = -1, max_timestamp = -1;
};

std::optional<EntryInfo> info_of(const kp::Entry& e) {
  if (!e.index) return std::nullopt;
  EntryInfo i;
  i.last = static_cast<std::int64_t>(*e.index);
  i.base = i.last - (e.message_count() - 1);
  i.max_timestamp = static_cast<std::int64_t>(e.metadata->event_time() ? e.metadata->event_time()
                                                                        : e.metadata->publish_time());
  if (!e.metadata->event_time() && e.batched()) {
    // A native producer's batch: its messages' event times, if any.
    try {
      std::int64_t latest = -1;
      for (const auto& m : kp::entry_messages(e))
        latest = std::max(latest, static_cast<std::int64_t>(m.event_time ? m.event_time : m.publish_time));
      if (latest >= 0) i.max_timestamp = latest;
    } catch (const std::exception&) {
    }
  }
  for (const auto& kv : e.metadata->properties()) {
    if (kv.key() == format_property && kv.value() == "kafka" && e.payload.size() >= batch::header_size) {
      auto h = BatchHeader::parse(std::span<const std::uint8_t>(
          reinterpret_cast<const std::uint8_t*>(e.payload.data()), e.payload.size()));
      if (h) i.max_timestamp = h->max_timestamp;
    }
  }
  return i;
}

}  // namespace

PulsarConfig config_from(const std::map<std::string, std::string>& s) {
  PulsarConfig c;
  auto get = [&](const char* k) -> const std::string* {
    auto it = s.find(k);
    return it == s.end() ? nullptr : &it->second;
  };
  if (auto v = get("pulsarServiceUrl")) c.service_url = *v;
  if (auto v = get("pulsarWebServiceUrl")) c.web_service_url = *v;
  if (auto v = get("brokerClientAuthenticationParameters")) {
    c.token = v->rfind("token:", 0) == 0 ? v->substr(6) : *v;
  }
  if (auto v = get("entryFormat")) c.entry_format = *v == "kafka" ? EntryFormat::kafka : EntryFormat::pulsar;
  if (auto v = get("offsetsTopicNumPartitions")) c.offsets_partitions = std::max(1, std::stoi(*v));
  if (auto v = get("gatewayName")) c.gateway_name = *v;
  if (auto v = get("bookieMaxFrameBytes")) c.bookie_max_frame_bytes = std::stoll(*v);
  if (auto v = get("indexLookup")) c.index_lookup = *v == "search" ? PulsarConfig::IndexLookup::search
                                                                    : PulsarConfig::IndexLookup::rest;
  return c;
}

Namespace namespace_from(const std::map<std::string, std::string>& s) {
  Namespace n;
  if (auto it = s.find("kafkaTenant"); it != s.end() && !it->second.empty()) n.tenant = it->second;
  if (auto it = s.find("kafkaNamespace"); it != s.end() && !it->second.empty()) n.ns = it->second;
  return n;
}

// ---------------------------------------------------------------------------

class PulsarStorage;

class Log final : public PartitionLog, public std::enable_shared_from_this<Log> {
 public:
  Log(PulsarStorage& s, TopicPartition tp, std::string topic);

  const TopicPartition& id() const noexcept override { return tp_; }
  void append(std::vector<std::uint8_t> batch, AppendOptions options, Handler<AppendResult> done) override;
  void read(ReadOptions options, Handler<ReadResult> done) override;
  LogOffsets offsets() const override {
    std::lock_guard g(mu_);
    return offsets_;
  }
  void offset_for_timestamp(std::int64_t timestamp, Handler<TimestampLookup> done) override;
  void max_timestamp(Handler<TimestampLookup> done) override;
  void delete_records(std::int64_t offset, Handler<std::int64_t> done) override;
  void release() override;

  awaitable<void> open();
  /// The entry holding `offset` (offset < high watermark).
  awaitable<kp::MessageId> locate(std::int64_t offset);
  /// The high watermark as Pulsar has it now, also when another gateway
  /// writes the partition.
  awaitable<std::int64_t> current_end();
  const std::string& topic() const noexcept { return topic_; }
  void close_now();
  std::atomic<std::uint64_t> probes{0};

 private:
  /// Gives the batch the next offsets (base offset written in place).
  AppendResult assign(std::vector<std::uint8_t>& batch, const AppendOptions& options);
  /// Pulsar stored the entry of `r`: the high watermark moves past it. The
  /// first entry in a ledger is read back to check the derived offsets. A
  /// receipt without a position is checked against the log (throws when the
  /// log does not hold the entry).
  awaitable<void> confirmed(AppendResult& r, const kp::SendReceipt& receipt, const std::string& writer);
  /// An append between being queued and Pulsar's answer. The producer table
  /// records a batch when it is queued, so a Kafka retry of it (the client's
  /// request timed out first) is a duplicate in the table before Pulsar has
  /// stored anything: the retry waits here for the first send's outcome.
  struct Landing {
    explicit Landing(asio::any_io_executor ex) : wake(ex, forever) {}
    asio::steady_timer wake;
    bool settled = false;
    std::optional<AppendResult> stored;  // set when Pulsar stored it
  };
  void settle(std::int64_t base_offset, const std::shared_ptr<Landing>& l, std::optional<AppendResult> stored);
  awaitable<ReadResult> do_read(ReadOptions options);
  awaitable<void> sync_end();
  awaitable<void> resync();
  /// Feeds the batches from `from` to the end into the producer state table.
  awaitable<void> replay_producers(std::int64_t from);
  awaitable<std::optional<std::pair<kp::Entry, EntryInfo>>> probe(kp::MessageId at);
  awaitable<std::vector<kp::MessageId>> all_positions();
  /// A writer for the partition; a new one first reads the end from Pulsar
  /// (and with `rebuild`, the producer table from the log's tail).
  awaitable<void> ensure_producer(bool rebuild = false);
  void remember(const EntryInfo& i, kp::MessageId id);
  void publish_offsets();

  PulsarStorage& s_;
  TopicPartition tp_;
  std::string topic_;
  mutable std::mutex mu_;
  LogOffsets offsets_;
  // Only on the storage's I/O thread:
  AsyncLock append_lock_, read_lock_;
  // next_offset_: after the last entry Pulsar confirmed (the high
  // watermark); assigned_end_: after the last entry this gateway queued.
  std::int64_t next_offset_ = 0, log_start_ = 0, assigned_end_ = 0;
  // The producer table accounts for every batch below this offset.
  std::int64_t table_end_ = 0;
  // The ledger in which derived offsets were last checked against the
  // broker's index. Within a ledger the index has no holes, so one check per
  // ledger (and per writer) proves the derivation; across a Pulsar restart
  // the index can skip numbers (the broker counts a write it then lost).
  std::uint64_t verified_ledger_ = ~std::uint64_t{0};
  // The producer name and highest sequence id of the last entry (sync_end).
  std::string last_writer_;
  std::int64_t last_sequence_ = -1;
  bool resync_ = false;
  std::shared_ptr<kp::Producer> producer_;
  std::map<std::int64_t, std::pair<std::int64_t, kp::MessageId>> index_;  // last offset → (base, id)
  std::map<std::int64_t, std::shared_ptr<Landing>> landings_;              // assigned base offset → append
  ProducerStateTable producers_;
  std::shared_ptr<kp::Consumer> reader_;
  std::int64_t reader_next_ = -1;
  std::optional<kp::Entry> lookahead_;
};

class Catalog final : public TopicCatalog {
 public:
  explicit Catalog(PulsarStorage& s) : s_(s) {}
  void create_topic(NewTopic topic, Handler<TopicInfo> done) override;
  void delete_topic(std::string name, Handler<Done> done) override;
  void add_partitions(std::string name, std::int32_t total, Handler<TopicInfo> done) override;
  void alter_configs(std::string name, std::vector<ConfigChange> changes, Handler<TopicInfo> done) override;
  void list_topics(Handler<std::vector<TopicInfo>> done) override;
  std::optional<TopicInfo> find_topic(const std::string& name) const override {
    std::lock_guard g(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<TopicInfo> find_topic(const TopicId& id) const override {
    std::lock_guard g(mu_);
    for (auto& [n, t] : topics_)
      if (t.id == id) return t;
    return std::nullopt;
  }

  awaitable<std::vector<TopicInfo>> load();
  awaitable<std::optional<TopicInfo>> fetch(const std::string& name);
  void put(TopicInfo t) {
    std::lock_guard g(mu_);
    topics_[t.name] = std::move(t);
  }
  void erase(const std::string& name) {
    std::lock_guard g(mu_);
    topics_.erase(name);
  }

 private:
  PulsarStorage& s_;
  mutable std::mutex mu_;
  std::map<std::string, TopicInfo> topics_;
};

class Groups final : public GroupStore {
 public:
  explicit Groups(PulsarStorage& s);
  void store_group(std::string group_id, std::vector<std::uint8_t> blob, Handler<Done> done) override;
  void delete_group(std::string group_id, Handler<Done> done) override;
  void load_groups(Handler<std::vector<GroupBlob>> done) override;
  void commit_offsets(std::string group_id, std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
                      Handler<Done> done) override;
  void fetch_offsets(std::string group_id,
                     Handler<std::vector<std::pair<TopicPartition, CommittedOffset>>> done) override;
  void delete_offsets(std::string group_id, std::vector<TopicPartition> partitions, Handler<Done> done) override;
  void list_groups(Handler<std::vector<std::string>> done) override;

  std::string offsets_topic() const;
  int partition_of(const std::string& group) const;
  std::int32_t shard_of(const std::string& group) const override { return partition_of(group); }
  std::int32_t shard_count() const override;
  void release_shard(std::int32_t shard) override;
  /// Waits (at most `limit`) for queued mirrors to be applied: on shutdown.
  awaitable<void> flush_mirrors(std::chrono::milliseconds limit);

 private:
  struct Group {
    std::optional<std::vector<std::uint8_t>> blob;
    std::map<TopicPartition, CommittedOffset> offsets;
  };
  awaitable<void> ensure_loaded();
  awaitable<void> load_partition(int p);
  /// Coordinates partition p's groups from now on (see write()).
  awaitable<void> take(int p);
  awaitable<void> write(const std::string& group, std::vector<kp::OutgoingMessage> messages);
  /// Queues committed offsets for the group's Pulsar subscriptions and
  /// returns at once: the mirror is informational, and a commit must not
  /// wait on admin calls per partition. One worker applies the newest
  /// offset per group and partition, skipping ones already in place.
  void mirror(const std::string& group, const std::vector<std::pair<TopicPartition, CommittedOffset>>& o);
  /// Queues the removal of the group's subscriptions on these partitions
  /// (offsets deleted, or the group).
  void unmirror(const std::string& group, const std::vector<TopicPartition>& partitions);
  void start_mirroring();
  awaitable<void> drain_mirrors();
  awaitable<void> mirror_one(const std::string& group, const TopicPartition& tp, std::int64_t offset);
  void apply(const kp::Message& m);

  PulsarStorage& s_;
  bool loaded_ = false;
  std::unique_ptr<AsyncLock> load_lock_, take_lock_;
  std::map<std::string, Group> groups_;
  std::map<int, std::shared_ptr<kp::Producer>> producers_;
  using MirrorKey = std::pair<std::string, TopicPartition>;
  std::map<MirrorKey, std::optional<std::int64_t>> mirror_queue_;  // nullopt: remove
  std::map<MirrorKey, std::int64_t> mirrored_;
  bool mirroring_ = false;
};

// ---------------------------------------------------------------------------

class PulsarStorage final : public Storage {
 public:
  PulsarStorage(PulsarConfig config, Namespace ns)
      : config_(std::move(config)), ns_(std::move(ns)), work_(asio::make_work_guard(io_)), catalog_(*this),
        groups_(*this) {
    kp::ClientOptions o;
    o.service_url = config_.service_url;
    o.auth_token = config_.token;
    o.operation_timeout = config_.operation_timeout;
    // Come back quickly after a Pulsar restart: Kafka clients time out a
    // produce after 30 s.
    o.max_backoff = std::chrono::seconds(3);
    client_ = kp::Client::create(io_.get_executor(), o);
    admin_ = std::make_unique<kp::Admin>(io_.get_executor(), config_.web_service_url, config_.token,
                                         config_.operation_timeout);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~PulsarStorage() override { shutdown(); }

  /// Runs `f()` on the I/O thread and hands its result (or failure) to `done`.
  template <class T, class F>
  void spawn(Handler<T> done, F f) {
    if (closed_) {
      done(Result<T>::failure(Errc::closed, "storage closed"));
      return;
    }
    asio::co_spawn(io_, std::move(f), [done = std::move(done)](std::exception_ptr e, Result<T> r) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          done(failure_of<T>(ex));
        }
        return;
      }
      done(std::move(r));
    });
  }

  bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  /// Like spawn(), but when called from another thread the call completes
  /// before returning (for startup calls whose callers read the result
  /// right after the call).
  template <class T, class F>
  void spawn_and_wait(Handler<T> done, F f) {
    if (on_io_thread()) {
      spawn<T>(std::move(done), std::move(f));
      return;
    }
    std::promise<Result<T>> p;
    auto fut = p.get_future();
    spawn<T>([&p](Result<T> r) { p.set_value(std::move(r)); }, std::move(f));
    done(fut.get());
  }

  /// Blocking: runs `f()` on the I/O thread and waits (setup only).
  template <class F>
  void run_blocking(F f) {
    std::promise<void> p;
    auto fut = p.get_future();
    asio::co_spawn(io_, std::move(f), [&p](std::exception_ptr e) {
      if (e) p.set_exception(e);
      else p.set_value();
    });
    fut.get();
  }

  awaitable<void> setup() {
    const std::string tn = ns_.tenant + "/" + ns_.ns;
    co_await admin_->create_tenant(ns_.tenant);
    co_await admin_->create_namespace(tn);
    co_await admin_->create_namespace(ns_.tenant + "/__kafka");
    for (const auto& n : {tn, ns_.tenant + "/__kafka"}) {
      co_await admin_->set_namespace_policy(n, "retention", R"({"retentionTimeInMinutes":-1,"retentionSizeInMB":-1})");
      co_await admin_->set_namespace_policy(n, "deduplication", "true");
    }
    // Keep the group topic small: compact once 1 MiB accumulates.
    auto r = co_await admin_->request("PUT", "/admin/v2/namespaces/" + ns_.tenant + "/__kafka/compactionThreshold",
                                      "1048576");
    if (!r.ok()) throw kp::AdminError(r.status, "set compactionThreshold: " + r.body);
    co_await admin_->create_partitioned_topic(groups_.offsets_topic().substr(13), config_.offsets_partitions);
    // Every gateway must hash groups alike: the topic's count wins.
    if (const int n = co_await admin_->partitions(groups_.offsets_topic().substr(13)); n > 0)
      config_.offsets_partitions = n;
    format_ = config_.entry_format;
    if (auto f = co_await admin_->namespace_property(tn, format_property))
      format_ = *f == "kafka" ? EntryFormat::kafka : EntryFormat::pulsar;
    // The broker announces its maxMessageSize when a connection opens.
    auto cnx = co_await client_->connection(config_.service_url);
    limits_ = entry_limits(cnx->max_message_size(), config_.bookie_max_frame_bytes);
    co_await catalog_.load();
    std::string gateways = "non-persistent://" + ns_.tenant + "/__kafka/__kwire_gateways";
    if (ns_.ns != "default") gateways += "_" + ns_.ns;
    members_ = std::make_unique<PulsarMembership>(client_, gateways);
  }

  const Namespace& ns() const noexcept override { return ns_; }
  std::int64_t max_batch_bytes() const noexcept override { return limits_.batch_bytes; }
  /// Why the entry cannot be stored on this cluster, if it cannot.
  std::optional<std::string> entry_too_large(const EncodedEntry& e) const {
    const auto n = encoded_size(e);
    if (n <= limits_.entry_bytes) return std::nullopt;
    return "the batch takes " + std::to_string(n) + " bytes as a Pulsar entry; this cluster stores at most " +
           std::to_string(limits_.entry_bytes);
  }
  TopicCatalog& topics() override { return catalog_; }
  GroupStore& groups() override { return groups_; }
  Membership* membership() override { return members_.get(); }
  void watch(std::function<void(const TopicPartition&)> on_data) override {
    std::lock_guard g(watch_mu_);
    on_data_ = std::move(on_data);
  }
  void data_arrived(const TopicPartition& tp) {
    std::function<void(const TopicPartition&)> f;
    {
      std::lock_guard g(watch_mu_);
      f = on_data_;
    }
    if (f) f(tp);
  }

  void open_log(TopicPartition tp, Handler<std::shared_ptr<PartitionLog>> done) override {
    spawn<std::shared_ptr<PartitionLog>>(std::move(done), [this, tp]() -> awaitable<Result<std::shared_ptr<PartitionLog>>> {
      co_return Result<std::shared_ptr<PartitionLog>>::success(co_await open_log_here(tp));
    });
  }

  awaitable<std::shared_ptr<Log>> open_log_here(const TopicPartition& tp) {
    if (auto it = logs_.find(tp); it != logs_.end()) co_return it->second;
    auto info = catalog_.find_topic(tp.topic);
    if (!info) info = co_await catalog_.fetch(tp.topic);
    if (!info || tp.partition < 0 || tp.partition >= info->partitions)
      throw kp::AdminError(404, "unknown topic or partition " + tp.topic + "-" + std::to_string(tp.partition));
    auto lock = opening_.try_emplace(tp, std::make_unique<AsyncLock>(io_.get_executor())).first->second.get();
    co_await lock->lock();
    Unlock u{*lock};
    if (auto it = logs_.find(tp); it != logs_.end()) co_return it->second;
    auto log = std::make_shared<Log>(*this, tp, pulsar_topic(tp));
    co_await log->open();
    logs_[tp] = log;
    co_return log;
  }

  void allocate_producer_ids(std::int32_t count, Handler<std::int64_t> done) override {
    spawn<std::int64_t>(std::move(done), [this, count]() -> awaitable<Result<std::int64_t>> {
      if (count <= 0 || count > 1024) co_return Result<std::int64_t>::failure(Errc::invalid_config, "count");
      // Each block is a message on a shared topic: its message id is unique
      // across gateways and restarts; 1024 ids per id.
      if (!id_producer_) {
        kp::ProducerOptions o;
        o.topic = "persistent://" + ns_.tenant + "/__kafka/__producer_id_blocks";
        id_producer_ = co_await client_->create_producer(o);
      }
      kp::OutgoingMessage m;
      m.value = std::to_string(count);
      auto r = co_await id_producer_->send(m);
      const std::int64_t block = static_cast<std::int64_t>((r.id.ledger << 24) + r.id.entry);
      co_return Result<std::int64_t>::success(block << 10);
    });
  }

  void maintain(std::chrono::system_clock::time_point) override {}

  void close(Handler<Done> done) override {
    shutdown();
    done(Result<Done>::success({}));
  }

  void shutdown() {
    if (closed_.exchange(true)) return;
    std::promise<void> p;
    asio::co_spawn(io_, [this]() -> awaitable<void> {
      co_await groups_.flush_mirrors(3s);
      if (members_) {
        // Say goodbye, but do not wait on a Pulsar that is away.
        asio::co_spawn(io_, members_->leave(), asio::detached);
        co_await kp::sleep_for(200ms);
      }
      for (auto& [tp, log] : logs_) log->close_now();
      client_->close();
    }, [&p](std::exception_ptr) { p.set_value(); });
    p.get_future().wait();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string pulsar_topic(const TopicPartition& tp) const {
    return "persistent://" + ns_.tenant + "/" + ns_.ns + "/" + tp.topic + "-partition-" + std::to_string(tp.partition);
  }
  std::string short_topic(const std::string& name) const { return ns_.tenant + "/" + ns_.ns + "/" + name; }

  PulsarConfig config_;
  Namespace ns_;
  EntryFormat format_ = EntryFormat::pulsar;
  EntryLimits limits_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<kp::Client> client_;
  std::unique_ptr<kp::Admin> admin_;
  Catalog catalog_;
  Groups groups_;
  std::map<TopicPartition, std::shared_ptr<Log>> logs_;
  std::map<TopicPartition, std::unique_ptr<AsyncLock>> opening_;
  std::shared_ptr<kp::Producer> id_producer_;
  std::unique_ptr<PulsarMembership> members_;
  std::mutex watch_mu_;
  std::function<void(const TopicPartition&)> on_data_;
  std::atomic<bool> closed_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// Log

Log::Log(PulsarStorage& s, TopicPartition tp, std::string topic)
    : s_(s), tp_(std::move(tp)), topic_(std::move(topic)), append_lock_(s.io_.get_executor()),
      read_lock_(s.io_.get_executor()) {}

void Log::close_now() {
  if (reader_) reader_.reset();
  producer_.reset();
}

void Log::publish_offsets() {
  std::lock_guard g(mu_);
  offsets_.log_start = log_start_;
  offsets_.high_watermark = next_offset_;
  offsets_.last_stable = next_offset_;
}

void Log::remember(const EntryInfo& i, kp::MessageId id) {
  id.batch_index = -1;
  index_[i.last] = {i.base, id};
  if (index_.size() > 4096) index_.erase(index_.begin());
}

awaitable<std::optional<std::pair<kp::Entry, EntryInfo>>> Log::probe(kp::MessageId at) {
  ++probes;
  auto r = co_await s_.client_->create_reader(topic_, at, 1);
  auto e = co_await r->receive_entry(s_.config_.operation_timeout);
  co_await r->close();
  if (!e) co_return std::nullopt;
  auto i = info_of(*e);
  if (!i) throw kp::Error(kp::Error::client_protocol, "entries carry no broker index: enable "
                                                       "AppendIndexMetadataInterceptor on the Pulsar broker");
  remember(*i, e->id);
  co_return std::make_pair(std::move(*e), *i);
}

awaitable<void> Log::sync_end() {
  // The last entry's index + 1 is the high watermark; the first entry's base
  // is the log start.
  auto r = co_await s_.client_->create_reader(topic_, kp::MessageId::latest(), 1);
  auto last = co_await r->last_message_id();
  co_await r->close();
  if (last.entry == ~std::uint64_t{0} || last.entry > (std::uint64_t{1} << 62)) {
    // Nothing stored yet (offsets stay where they are: never backwards).
    last_writer_.clear();
    last_sequence_ = -1;
  } else {
    auto p = co_await probe({last.ledger, last.entry, -1, -1});
    if (!p) throw kp::Error(kp::Error::client_timeout, "cannot read the last entry of " + topic_);
    // Never backwards: a read's sync may overlap a confirmed append.
    next_offset_ = std::max(next_offset_, p->second.last + 1);
    const auto& m = *p->first.metadata;
    last_writer_ = m.producer_name();
    last_sequence_ = static_cast<std::int64_t>(m.has_highest_sequence_id() ? m.highest_sequence_id() : m.sequence_id());
    auto first = co_await probe(kp::MessageId::earliest());
    log_start_ = std::max(log_start_, first ? first->second.base : next_offset_);
  }
  publish_offsets();
}

awaitable<void> Log::open() {
  co_await sync_end();
  // Rebuild idempotent-producer state from the tail of the log.
  co_await replay_producers(std::max(log_start_, next_offset_ - 2000));
}

awaitable<void> Log::replay_producers(std::int64_t from) {
  if (from >= next_offset_) {
    table_end_ = std::max(table_end_, next_offset_);
    co_return;
  }
  auto at = co_await locate(from);
  auto r = co_await s_.client_->create_reader(topic_, at, 200);
  for (;;) {
    auto e = co_await r->receive_entry(s_.config_.operation_timeout);
    if (!e) break;
    auto i = info_of(*e);
    if (!i) break;
    if (i->last >= from) {
      std::vector<std::uint8_t> bytes;
      entry_to_kafka(*e, i->last, bytes);
      if (auto h = BatchHeader::parse(bytes)) producers_.record(*h);
    }
    if (i->last + 1 >= next_offset_) break;
  }
  co_await r->close();
  table_end_ = next_offset_;
}

awaitable<void> Log::resync() {
  // After a failed append nobody knows whether Pulsar stored it. Close the
  // producer first: Pulsar completes a close only once the producer's pending
  // writes are persisted, so nothing of ours lands after the end is read.
  if (producer_) {
    auto p = std::move(producer_);
    try {
      co_await p->close();
    } catch (const std::exception&) {
    }
  }
  // Batches recorded when queued but never stored must not count as
  // duplicates: rebuild the producer table from what the log holds.
  co_await ensure_producer(true);
  resync_ = false;
}

awaitable<void> Log::ensure_producer(bool rebuild) {
  if (producer_ && !producer_->fenced()) co_return;
  kp::ProducerOptions o;
  o.topic = topic_;
  // A fixed name per partition: with deduplication, resends after a
  // reconnect are stored once. Exclusive access fences another gateway.
  o.name = "kwire-" + s_.ns_.tenant + "-" + s_.ns_.ns + "-" + tp_.topic + "-" + std::to_string(tp_.partition);
  o.access_mode = kp::AccessMode::exclusive;
  producer_ = co_await s_.client_->create_producer(o);
  // Another writer (a gateway before us, or our own failed append) may have
  // appended since the producer table was last brought up to date: take the
  // end from Pulsar, and let what landed count for idempotence, so that a
  // Kafka retry of it is a duplicate and not a new batch.
  co_await sync_end();
  // A writer before us (a killed gateway) may have entries still being
  // stored: Pulsar reports the last sequence id it took for this producer
  // name, stored or not. Wait until the log shows it, so that the producer
  // table and the offsets account for every entry that will land.
  for (int i = 0; i < 100 && producer_->last_sequence_id() >= 0 && last_writer_ == o.name &&
                  last_sequence_ < producer_->last_sequence_id();
       ++i) {
    co_await kp::sleep_for(100ms);
    co_await sync_end();
  }
  assigned_end_ = next_offset_;
  verified_ledger_ = ~std::uint64_t{0};
  if (rebuild) {
    producers_ = ProducerStateTable{};
    co_await replay_producers(std::max(log_start_, next_offset_ - 2000));
  } else {
    // Far behind, the tail is enough: it holds each live producer's last
    // batches.
    co_await replay_producers(std::max(table_end_, std::max(log_start_, next_offset_ - 2000)));
  }
}

awaitable<std::vector<kp::MessageId>> Log::all_positions() {
  // Ledgers and their entry counts from the broker's internal stats.
  auto st = co_await s_.admin_->internal_stats(topic_.substr(13));
  std::vector<kp::MessageId> out;
  std::uint64_t lac_ledger = 0, lac_entry = 0;
  bool has_lac = false;
  if (st.contains("lastConfirmedEntry")) {
    auto s = st["lastConfirmedEntry"].get<std::string>();
    auto c = s.find(':');
    if (c != std::string::npos) {
      auto l = std::stoll(s.substr(0, c));
      auto e = std::stoll(s.substr(c + 1));
      if (l >= 0 && e >= 0) {
        lac_ledger = static_cast<std::uint64_t>(l);
        lac_entry = static_cast<std::uint64_t>(e);
        has_lac = true;
      }
    }
  }
  for (auto& l : st["ledgers"]) {
    const auto id = l.value("ledgerId", std::uint64_t{0});
    std::uint64_t n = l.value("entries", std::uint64_t{0});
    if (has_lac && id == lac_ledger) n = lac_entry + 1;
    for (std::uint64_t e = 0; e < n; ++e) out.push_back({id, e, -1, -1});
  }
  co_return out;
}

awaitable<kp::MessageId> Log::locate(std::int64_t offset) {
  if (auto it = index_.lower_bound(offset); it != index_.end() && it->second.first <= offset)
    co_return it->second.second;
  // One request where Pulsar has the lookup; unanswered (an older release,
  // an index it does not find), the search below.
  if (s_.config_.index_lookup == PulsarConfig::IndexLookup::rest) {
    if (auto id = co_await s_.admin_->message_id_by_index(topic_.substr(13), static_cast<std::uint64_t>(offset)))
      co_return *id;
  }
  // Binary search over entry positions: O(log n) probes, each a few round
  // trips; every probe feeds the sparse index.
  auto pos = co_await all_positions();
  if (pos.empty()) co_return kp::MessageId::earliest();
  std::size_t lo = 0, hi = pos.size() - 1;
  std::optional<kp::MessageId> found;
  while (lo <= hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    auto p = co_await probe(pos[mid]);
    // Without this entry the search could settle on a later one, and a
    // fetch would skip offsets: fail, and let the client ask again.
    if (!p) throw kp::Error(kp::Error::client_timeout, "cannot read the entry at " + pos[mid].str() + " of " + topic_);
    if (p->second.base <= offset && offset <= p->second.last) {
      found = p->first.id;
      break;
    }
    if (p->second.last < offset) {
      lo = mid + 1;
    } else {
      found = p->first.id;  // a later entry; keep searching left
      if (mid == 0) break;
      hi = mid - 1;
    }
  }
  co_return found.value_or(pos.front());
}

awaitable<std::int64_t> Log::current_end() {
  co_await append_lock_.lock();
  Unlock u{append_lock_};
  // The writer's own count is authoritative; otherwise ask Pulsar.
  if (!producer_) co_await sync_end();
  co_return next_offset_;
}

void Log::release() {
  asio::co_spawn(s_.io_, [self = shared_from_this()]() -> awaitable<void> {
    co_await self->append_lock_.lock();
    Unlock u{self->append_lock_};
    if (auto p = std::move(self->producer_)) co_await p->close();
  }, asio::detached);
}

void Log::append(std::vector<std::uint8_t> batch, AppendOptions options, Handler<AppendResult> done) {
  auto self = shared_from_this();
  s_.spawn<AppendResult>(std::move(done), [self, batch = std::move(batch), options]() mutable
                                              -> awaitable<Result<AppendResult>> {
    // Offsets are taken and the entry queued under the lock, in call order;
    // the receipt is awaited outside it, so a partition keeps many entries in
    // flight (Pulsar confirms them in order).
    std::optional<kp::Producer::PendingSend> pending;
    AppendResult r;
    std::shared_ptr<Landing> first_send;  // set when this is a retry of one in flight
    std::shared_ptr<Landing> landing;     // this append's, for its retries
    std::string writer;
    {
      co_await self->append_lock_.lock();
      Unlock u{self->append_lock_};
      auto h = BatchHeader::parse(batch);
      if (!h || batch.size() != h->total_size() || !batch_crc_ok(batch))
        co_return Result<AppendResult>::failure(Errc::corrupt_batch, "bad record batch");
      if (static_cast<std::int64_t>(batch.size()) > self->s_.max_batch_bytes())
        co_return Result<AppendResult>::failure(Errc::batch_too_large, "the batch takes " +
                                                                           std::to_string(batch.size()) +
                                                                           " bytes; this cluster stores at most " +
                                                                           std::to_string(self->s_.max_batch_bytes()));
      if (self->resync_) co_await self->resync();
      // Before the producer table is consulted: a gateway that becomes the
      // writer catches up with what the previous one stored (a log opened
      // here earlier, say to mirror a group's offsets, has a stale table).
      co_await self->ensure_producer();
      AppendResult dup;
      switch (auto c = self->producers_.check(*h, &dup)) {
        case Errc::ok: break;
        case Errc::duplicate_sequence:
          dup.log_start_offset = self->log_start_;
          if (dup.last_offset < self->next_offset_)  // stored: Pulsar confirmed it, or the log shows it
            co_return Result<AppendResult>{Errc::duplicate_sequence, "duplicate", dup};
          if (auto it = self->landings_.find(dup.base_offset); it != self->landings_.end()) {
            first_send = it->second;
            break;
          }
          // Recorded but neither stored nor on its way: never acknowledge it.
          self->resync_ = true;
          co_return Result<AppendResult>::failure(Errc::unavailable, "an earlier send of this batch is unconfirmed");
        default: co_return Result<AppendResult>::failure(c, to_string(c));
      }
      if (!first_send) {
        r = self->assign(batch, options);
        // Offsets given to a batch that is not queued (unreadable, too large,
        // producer fenced) go to the next one.
        struct Unassign {
          Log& log;
          std::int64_t base;
          bool queued = false;
          ~Unassign() {
            if (!queued) log.assigned_end_ = base;
          }
        } unassign{*self, r.base_offset};
        auto entry = kafka_to_entry(batch, self->s_.format_);
        if (auto too_big = self->s_.entry_too_large(entry))
          co_return Result<AppendResult>::failure(Errc::batch_too_large, *too_big);
        writer = self->producer_->name();
        pending = self->producer_->post_entry(std::move(entry.metadata), std::move(entry.payload), entry.messages);
        unassign.queued = true;
        landing = std::make_shared<Landing>(self->s_.io_.get_executor());
        self->landings_[r.base_offset] = landing;
        // Recorded now so that the producer's next batch, in flight behind this
        // one, follows it; a failure rebuilds the table from the log.
        if (auto hh = BatchHeader::parse(batch)) self->producers_.record(*hh, r.log_append_time);
        self->table_end_ = self->assigned_end_;
      }
    }
    if (first_send) {
      while (!first_send->settled) {
        boost::system::error_code ec;
        co_await first_send->wake.async_wait(asio::redirect_error(use_awaitable, ec));
      }
      if (first_send->stored) {
        auto original = *first_send->stored;
        original.log_start_offset = self->log_start_;
        co_return Result<AppendResult>{Errc::duplicate_sequence, "duplicate", original};
      }
      co_return Result<AppendResult>::failure(Errc::unavailable, "the first send of this batch was not stored");
    }
    // Whatever happens below, retries waiting on this append learn the
    // outcome: stored only once confirmed() has accepted it.
    struct Settle {
      Log& log;
      std::int64_t base;
      std::shared_ptr<Landing> landing;
      std::optional<AppendResult> stored;
      ~Settle() { log.settle(base, landing, stored); }
    } settle{*self, r.base_offset, landing, std::nullopt};
    kp::SendReceipt receipt;
    try {
      receipt = co_await pending->receipt();
      co_await self->confirmed(r, receipt, writer);
    } catch (...) {
      self->resync_ = true;  // unknown whether it was stored: ask the broker
      throw;
    }
    settle.stored = r;
    co_return Result<AppendResult>::success(r);
  });
}

void Log::settle(std::int64_t base_offset, const std::shared_ptr<Landing>& l, std::optional<AppendResult> stored) {
  // After a resync the same offsets may belong to a newer append already.
  if (auto it = landings_.find(base_offset); it != landings_.end() && it->second == l) landings_.erase(it);
  l->settled = true;
  l->stored = std::move(stored);
  l->wake.cancel();
}

AppendResult Log::assign(std::vector<std::uint8_t>& batch, const AppendOptions& options) {
  AppendResult r;
  r.base_offset = assigned_end_;
  kwire::set_base_offset(batch, r.base_offset);
  if (options.log_append_time) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    batch::put_be(batch.data() + batch::max_timestamp_at, static_cast<std::uint64_t>(now), 8);
    const auto attrs = static_cast<std::uint16_t>(batch::get_be(batch.data() + batch::attributes_at, 2) | 0x8);
    batch::put_be(batch.data() + batch::attributes_at, attrs, 2);
    kwire::refresh_crc(batch);
    r.log_append_time = now;
  }
  r.last_offset = r.base_offset + index_span(batch) - 1;
  assigned_end_ = r.last_offset + 1;
  return r;
}

awaitable<void> Log::confirmed(AppendResult& r, const kp::SendReceipt& receipt, const std::string& writer) {
  r.log_start_offset = log_start_;
  if (!receipt.has_position()) {
    // Pulsar's deduplication answered a resend (after a reconnect) without
    // storing it again: it claims an entry with this sequence id is stored.
    // Believe the log, not the claim: the last entry must be this writer's,
    // at or past this sequence id (the offsets then hold, the index learns
    // them on read).
    co_await sync_end();
    if (last_writer_ != writer || last_sequence_ < static_cast<std::int64_t>(receipt.sequence_id) ||
        next_offset_ <= r.last_offset)
      throw kp::Error(kp::Error::client_timeout, "Pulsar called sequence " + std::to_string(receipt.sequence_id) +
                                                     " of " + writer + " a duplicate, and " + topic_ +
                                                     " does not hold it");
  } else {
    r.position = {receipt.id.ledger, receipt.id.entry};
    bool known = receipt.id.ledger == verified_ledger_;
    if (!known) {
      // The entry is stored whatever this read says: a failed read only
      // leaves the offsets unchecked (and out of the sparse index).
      std::optional<std::pair<kp::Entry, EntryInfo>> p;
      try {
        p = co_await probe({receipt.id.ledger, receipt.id.entry, -1, -1});
      } catch (const std::exception&) {
      }
      if (p && p->first.id.ledger == receipt.id.ledger && p->first.id.entry == receipt.id.entry) {
        if (p->second.last == r.last_offset) {
          verified_ledger_ = receipt.id.ledger;
        } else {
          // The index moved on without us: report the offsets Pulsar gave
          // this entry, and let the next append start over from the log.
          const auto shift = p->second.last - r.last_offset;
          r.base_offset += shift;
          r.last_offset += shift;
          resync_ = true;
        }
        known = true;
      }
    }
    if (known) remember({r.base_offset, r.last_offset, -1}, receipt.id);
  }
  if (r.last_offset + 1 > next_offset_) {
    next_offset_ = r.last_offset + 1;
    publish_offsets();
  }
}

void Log::read(ReadOptions options, Handler<ReadResult> done) {
  auto self = shared_from_this();
  s_.spawn<ReadResult>(std::move(done), [self, options]() -> awaitable<Result<ReadResult>> {
    co_await self->read_lock_.lock();
    Unlock u{self->read_lock_};
    try {
      co_return Result<ReadResult>::success(co_await self->do_read(options));
    } catch (const std::out_of_range& e) {
      co_return Result<ReadResult>::failure(Errc::offset_out_of_range, e.what());
    } catch (...) {
      self->reader_.reset();
      self->lookahead_.reset();
      self->reader_next_ = -1;
      throw;
    }
  });
}

awaitable<ReadResult> Log::do_read(ReadOptions o) {
  ReadResult out;
  out.next_offset = o.offset;
  if (o.offset > next_offset_ || (o.offset == next_offset_ && !(reader_ && reader_next_ == o.offset)))
    co_await sync_end();  // entries from other writers (native producers)
  if (o.offset < log_start_ || o.offset > next_offset_)
    throw std::out_of_range("offset " + std::to_string(o.offset) + " outside [" + std::to_string(log_start_) +
                            ", " + std::to_string(next_offset_) + "]");
  const std::int64_t end = o.end_offset >= 0 ? std::min(o.end_offset, next_offset_) : next_offset_;
  const bool continuing = reader_ && reader_next_ == o.offset;
  if (!continuing) {
    if (reader_) co_await reader_->close();
    reader_.reset();
    lookahead_.reset();
    // At the end the reader starts on the last entry (which it skips), so
    // that Pulsar's delivery of the next one wakes long-polling fetches.
    kp::MessageId at = kp::MessageId::earliest();
    if (o.offset < next_offset_) at = co_await locate(o.offset);
    else if (next_offset_ > 0) at = co_await locate(next_offset_ - 1);
    reader_ = co_await s_.client_->create_reader(topic_, at, 500);
    std::weak_ptr<Log> weak = shared_from_this();
    reader_->on_arrival([weak] {
      auto self = weak.lock();
      if (self && self->reader_next_ >= self->next_offset_) self->s_.data_arrived(self->tp_);
    });
    reader_next_ = o.offset;
  }
  std::int64_t next = o.offset;
  for (;;) {
    if (next >= end && !(next == next_offset_ && reader_->queued() > 0)) break;
    std::optional<kp::Entry> e;
    if (lookahead_) {
      e = std::move(lookahead_);
      lookahead_.reset();
    } else {
      e = co_await reader_->receive_entry(next < end ? s_.config_.operation_timeout : 0ms);
    }
    if (!e) {
      if (next < end) throw kp::Error(kp::Error::client_timeout, "no entry at offset " + std::to_string(next));
      break;
    }
    auto i = info_of(*e);
    if (!i) throw kp::Error(kp::Error::client_protocol, "entry without broker index");
    remember(*i, e->id);
    if (i->last < next) continue;  // before the asked offset (located entry)
    if (continuing && i->base > next) {
      // The reader went past an offset it never handed out: never serve the
      // gap; a fresh reader locates the offset again.
      throw kp::Error(kp::Error::client_timeout, "reader skipped offsets " + std::to_string(next) + " to " +
                                                     std::to_string(i->base - 1) + " of " + topic_);
    }
    if (i->last >= next_offset_) {
      next_offset_ = i->last + 1;  // written by another producer meanwhile
      publish_offsets();
    }
    if (o.end_offset >= 0 && i->base >= o.end_offset) {
      lookahead_ = std::move(e);
      break;
    }
    std::vector<std::uint8_t> bytes;
    entry_to_kafka(*e, i->last, bytes);
    const bool first = out.bytes.empty();
    if (!first && out.bytes.size() + bytes.size() > static_cast<std::size_t>(o.max_bytes)) {
      lookahead_ = std::move(e);
      break;
    }
    if (first && bytes.size() > static_cast<std::size_t>(o.max_bytes) && !o.at_least_one) {
      lookahead_ = std::move(e);
      break;
    }
    out.bytes.insert(out.bytes.end(), bytes.begin(), bytes.end());
    next = i->last + 1;
    if (out.bytes.size() >= static_cast<std::size_t>(o.max_bytes)) break;
  }
  reader_next_ = next;
  out.next_offset = next;
  out.offsets = offsets();
  co_return out;
}

void Log::offset_for_timestamp(std::int64_t timestamp, Handler<TimestampLookup> done) {
  auto self = shared_from_this();
  s_.spawn<TimestampLookup>(std::move(done), [self, timestamp]() -> awaitable<Result<TimestampLookup>> {
    // Binary search by entry max timestamp (timestamps grow with the log).
    auto pos = co_await self->all_positions();
    TimestampLookup best;
    std::size_t lo = 0, hi = pos.size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      auto p = co_await self->probe(pos[mid]);
      if (!p) break;
      if (p->second.max_timestamp >= timestamp) {
        best = {p->second.base, p->second.max_timestamp};
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    if (best.offset >= 0 && best.offset < self->log_start_) best.offset = self->log_start_;
    co_return Result<TimestampLookup>::success(best);
  });
}

void Log::max_timestamp(Handler<TimestampLookup> done) {
  auto self = shared_from_this();
  s_.spawn<TimestampLookup>(std::move(done), [self]() -> awaitable<Result<TimestampLookup>> {
    auto pos = co_await self->all_positions();
    TimestampLookup best;
    if (!pos.empty()) {
      if (auto p = co_await self->probe(pos.back())) best = {p->second.last, p->second.max_timestamp};
    }
    co_return Result<TimestampLookup>::success(best);
  });
}

void Log::delete_records(std::int64_t offset, Handler<std::int64_t> done) {
  auto self = shared_from_this();
  s_.spawn<std::int64_t>(std::move(done), [self, offset]() -> awaitable<Result<std::int64_t>> {
    const std::int64_t to = offset < 0 ? self->next_offset_ : offset;
    if (to > self->next_offset_) co_return Result<std::int64_t>::failure(Errc::offset_out_of_range, "beyond end");
    self->log_start_ = std::max(self->log_start_, to);
    self->publish_offsets();
    co_return Result<std::int64_t>::success(self->log_start_);
  });
}

// ---------------------------------------------------------------------------
// Catalog

namespace {

TopicInfo info_from(const std::string& name, const json& meta) {
  TopicInfo t;
  t.name = name;
  t.partitions = meta.value("partitions", 0);
  if (meta.contains("properties") && meta["properties"].is_object()) {
    for (auto& [k, v] : meta["properties"].items()) {
      if (!v.is_string()) continue;
      if (k == topic_id_property) {
        if (auto id = unhex(v.get<std::string>())) t.id = *id;
      } else if (k.rfind(config_prefix, 0) == 0) {
        t.configs[k.substr(std::strlen(config_prefix))] = v.get<std::string>();
      }
    }
  }
  return t;
}

}  // namespace

awaitable<std::optional<TopicInfo>> Catalog::fetch(const std::string& name) {
  auto r = co_await s_.admin_->request("GET", "/admin/v2/persistent/" + s_.short_topic(name) + "/partitions");
  if (r.status == 404) co_return std::nullopt;
  if (!r.ok()) throw kp::AdminError(r.status, "partitions of " + name + ": " + r.body);
  auto t = info_from(name, json::parse(r.body));
  if (t.partitions <= 0) co_return std::nullopt;
  put(t);
  co_return t;
}

awaitable<std::vector<TopicInfo>> Catalog::load() {
  auto names = co_await s_.admin_->partitioned_topics(s_.ns_.tenant + "/" + s_.ns_.ns);
  std::vector<TopicInfo> out;
  std::map<std::string, TopicInfo> fresh;
  const std::string prefix = "persistent://" + s_.ns_.tenant + "/" + s_.ns_.ns + "/";
  for (auto& full : names) {
    if (full.rfind(prefix, 0) != 0) continue;
    auto name = full.substr(prefix.size());
    if (auto t = co_await fetch(name)) {
      fresh[name] = *t;
      out.push_back(*t);
    }
  }
  {
    std::lock_guard g(mu_);
    topics_ = std::move(fresh);
  }
  co_return out;
}

void Catalog::create_topic(NewTopic topic, Handler<TopicInfo> done) {
  s_.spawn<TopicInfo>(std::move(done), [this, topic = std::move(topic)]() -> awaitable<Result<TopicInfo>> {
    if (topic.partitions <= 0) co_return Result<TopicInfo>::failure(Errc::invalid_partitions, "partitions");
    TopicInfo t{topic.name, random_id(), topic.partitions, topic.configs};
    json props = {{topic_id_property, hex(t.id)}};
    for (auto& [k, v] : topic.configs) props[config_prefix + k] = v;
    json body = {{"partitions", topic.partitions}, {"properties", props}};
    // With its own media type the body carries the properties too.
    auto r = co_await s_.admin_->request("PUT", "/admin/v2/persistent/" + s_.short_topic(topic.name) + "/partitions",
                                         body.dump(), "application/vnd.partitioned-topic-metadata+json");
    if (r.status == 409) {
      co_await fetch(topic.name);  // made by another gateway: know it from now on
      co_return Result<TopicInfo>::failure(Errc::topic_exists, topic.name);
    }
    if (!r.ok()) throw kp::AdminError(r.status, "create " + topic.name + ": " + r.body);
    put(t);
    co_return Result<TopicInfo>::success(t);
  });
}

void Catalog::delete_topic(std::string name, Handler<Done> done) {
  s_.spawn<Done>(std::move(done), [this, name]() -> awaitable<Result<Done>> {
    auto r = co_await s_.admin_->request("DELETE", "/admin/v2/persistent/" + s_.short_topic(name) +
                                                       "/partitions?force=true");
    if (r.status == 404) co_return Result<Done>::failure(Errc::unknown_topic, name);
    if (!r.ok()) throw kp::AdminError(r.status, "delete " + name + ": " + r.body);
    erase(name);
    for (auto it = s_.logs_.begin(); it != s_.logs_.end();) {
      if (it->first.topic == name) {
        it->second->close_now();
        it = s_.logs_.erase(it);
      } else {
        ++it;
      }
    }
    co_return Result<Done>::success({});
  });
}

void Catalog::add_partitions(std::string name, std::int32_t total, Handler<TopicInfo> done) {
  s_.spawn<TopicInfo>(std::move(done), [this, name, total]() -> awaitable<Result<TopicInfo>> {
    auto t = co_await fetch(name);
    if (!t) co_return Result<TopicInfo>::failure(Errc::unknown_topic, name);
    if (total <= t->partitions) co_return Result<TopicInfo>::failure(Errc::invalid_partitions, "not larger");
    co_await s_.admin_->update_partitioned_topic(s_.short_topic(name), total);
    t->partitions = total;
    put(*t);
    co_return Result<TopicInfo>::success(*t);
  });
}

void Catalog::alter_configs(std::string name, std::vector<ConfigChange> changes, Handler<TopicInfo> done) {
  s_.spawn<TopicInfo>(std::move(done), [this, name, changes]() -> awaitable<Result<TopicInfo>> {
    auto t = co_await fetch(name);
    if (!t) co_return Result<TopicInfo>::failure(Errc::unknown_topic, name);
    json set = json::object();
    const std::string base = "/admin/v2/persistent/" + s_.short_topic(name) + "/properties";
    for (auto& c : changes) {
      if (c.op == ConfigChange::Op::set) {
        set[config_prefix + c.key] = c.value;
        t->configs[c.key] = c.value;
      } else {
        t->configs.erase(c.key);
        auto r = co_await s_.admin_->request("DELETE", base + "?key=" + config_prefix + c.key);
        if (!r.ok() && r.status != 404) throw kp::AdminError(r.status, "remove config: " + r.body);
      }
    }
    if (!set.empty()) {
      auto r = co_await s_.admin_->request("PUT", base, set.dump());
      if (!r.ok()) throw kp::AdminError(r.status, "set configs: " + r.body);
    }
    put(*t);
    co_return Result<TopicInfo>::success(*t);
  });
}

void Catalog::list_topics(Handler<std::vector<TopicInfo>> done) {
  s_.spawn<std::vector<TopicInfo>>(std::move(done), [this]() -> awaitable<Result<std::vector<TopicInfo>>> {
    co_return Result<std::vector<TopicInfo>>::success(co_await load());
  });
}

// ---------------------------------------------------------------------------
// Groups: keys "blob/<group>" and "offset/<group>/<partition>/<topic>" on the
// group's partition of the offsets topic; a null value deletes.

Groups::Groups(PulsarStorage& s)
    : s_(s), load_lock_(std::make_unique<AsyncLock>(s.io_.get_executor())),
      take_lock_(std::make_unique<AsyncLock>(s.io_.get_executor())) {}

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
  if (k.rfind("blob/", 0) == 0) {
    auto g = k.substr(5);
    if (m.null_value) {
      groups_.erase(g);
    } else {
      groups_[g].blob = std::vector<std::uint8_t>(m.value.begin(), m.value.end());
    }
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
  kp::ConsumerOptions o;
  o.topic = offsets_topic() + "-partition-" + std::to_string(p);
  o.subscription = "kwire-load";
  o.durable = false;
  o.start_message_id = kp::MessageId::earliest();
  o.initial_position = kp::InitialPosition::earliest;
  o.read_compacted = true;
  auto r = co_await s_.client_->subscribe(o);
  auto last = co_await r->last_message_id();
  const bool empty = last.entry == ~std::uint64_t{0} || last.entry > (std::uint64_t{1} << 62);
  while (!empty) {
    auto e = co_await r->receive_entry(s_.config_.operation_timeout);
    if (!e) break;
    for (auto& m : kp::entry_messages(*e)) apply(m);
    if (!(e->id < kp::MessageId{last.ledger, last.entry, -1, -1})) break;
  }
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
  auto& prod = producers_[p];
  if (prod && !prod->fenced()) co_return;
  kp::ProducerOptions o;
  o.topic = offsets_topic() + "-partition-" + std::to_string(p);
  // The gateway holding this exclusive producer coordinates the groups of
  // this partition; another gateway's writes are refused.
  o.name = "kwire-coordinator-" + s_.ns_.tenant + "-" + s_.ns_.ns + "-" + std::to_string(p);
  o.access_mode = kp::AccessMode::exclusive;
  prod = co_await s_.client_->create_producer(o);
  // Until now another gateway may have coordinated these groups: forget what
  // we knew of them and read the partition again.
  for (auto it = groups_.begin(); it != groups_.end();)
    it = partition_of(it->first) == p ? groups_.erase(it) : std::next(it);
  // ... and the subscriptions' positions it may have moved.
  for (auto it = mirrored_.begin(); it != mirrored_.end();)
    it = partition_of(it->first.first) == p ? mirrored_.erase(it) : std::next(it);
  co_await load_partition(p);
}

void Groups::release_shard(std::int32_t shard) {
  asio::post(s_.io_, [this, shard] {
    auto it = producers_.find(shard);
    if (it == producers_.end() || !it->second) return;
    auto prod = std::move(it->second);
    producers_.erase(it);
    asio::co_spawn(s_.io_, [prod]() -> awaitable<void> { co_await prod->close(); }, asio::detached);
  });
}

awaitable<void> Groups::write(const std::string& group, std::vector<kp::OutgoingMessage> messages) {
  const int p = partition_of(group);
  co_await take(p);
  co_await producers_[p]->send_batch(std::move(messages));  // one entry: all or none
}

void Groups::mirror(const std::string& group,
                    const std::vector<std::pair<TopicPartition, CommittedOffset>>& offsets) {
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
  asio::co_spawn(s_.io_, drain_mirrors(), asio::detached);
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

void Groups::store_group(std::string group_id, std::vector<std::uint8_t> blob, Handler<Done> done) {
  s_.spawn<Done>(std::move(done), [this, group_id, blob = std::move(blob)]() -> awaitable<Result<Done>> {
    co_await take(partition_of(group_id));
    kp::OutgoingMessage m;
    m.key = "blob/" + group_id;
    m.value.assign(blob.begin(), blob.end());
    std::vector<kp::OutgoingMessage> ms;
    ms.push_back(std::move(m));
    co_await write(group_id, std::move(ms));
    groups_[group_id].blob = blob;
    co_return Result<Done>::success({});
  });
}

void Groups::delete_group(std::string group_id, Handler<Done> done) {
  s_.spawn<Done>(std::move(done), [this, group_id]() -> awaitable<Result<Done>> {
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
    co_await write(group_id, std::move(ms));
    std::vector<TopicPartition> mirrored;
    for (auto& [tp, c] : it->second.offsets) mirrored.push_back(tp);
    groups_.erase(group_id);
    unmirror(group_id, mirrored);
    co_return Result<Done>::success({});
  });
}

void Groups::load_groups(Handler<std::vector<GroupBlob>> done) {
  s_.spawn_and_wait<std::vector<GroupBlob>>(std::move(done), [this]() -> awaitable<Result<std::vector<GroupBlob>>> {
    co_await ensure_loaded();
    std::vector<GroupBlob> out;
    for (auto& [g, v] : groups_)
      if (v.blob) out.push_back({g, *v.blob});
    co_return Result<std::vector<GroupBlob>>::success(std::move(out));
  });
}

void Groups::commit_offsets(std::string group_id, std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
                            Handler<Done> done) {
  s_.spawn<Done>(std::move(done), [this, group_id, offsets = std::move(offsets)]() -> awaitable<Result<Done>> {
    co_await take(partition_of(group_id));
    std::vector<kp::OutgoingMessage> ms;
    for (auto& [tp, c] : offsets) {
      kp::OutgoingMessage m;
      m.key = "offset/" + group_id + "/" + std::to_string(tp.partition) + "/" + tp.topic;
      m.value = json{{"offset", c.offset},
                     {"leader_epoch", c.leader_epoch},
                     {"metadata", c.metadata},
                     {"timestamp", c.commit_timestamp}}
                    .dump();
      ms.push_back(std::move(m));
    }
    if (!ms.empty()) co_await write(group_id, std::move(ms));
    for (auto& [tp, c] : offsets) groups_[group_id].offsets[tp] = c;
    mirror(group_id, offsets);
    co_return Result<Done>::success({});
  });
}

void Groups::fetch_offsets(std::string group_id,
                           Handler<std::vector<std::pair<TopicPartition, CommittedOffset>>> done) {
  using V = std::vector<std::pair<TopicPartition, CommittedOffset>>;
  s_.spawn<V>(std::move(done), [this, group_id]() -> awaitable<Result<V>> {
    co_await take(partition_of(group_id));  // fresh if another gateway coordinated it
    V out;
    if (auto it = groups_.find(group_id); it != groups_.end())
      for (auto& [tp, c] : it->second.offsets) out.emplace_back(tp, c);
    co_return Result<V>::success(std::move(out));
  });
}

void Groups::delete_offsets(std::string group_id, std::vector<TopicPartition> partitions, Handler<Done> done) {
  s_.spawn<Done>(std::move(done), [this, group_id, partitions]() -> awaitable<Result<Done>> {
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
  });
}

void Groups::list_groups(Handler<std::vector<std::string>> done) {
  s_.spawn_and_wait<std::vector<std::string>>(std::move(done), [this]() -> awaitable<Result<std::vector<std::string>>> {
    co_await ensure_loaded();
    std::vector<std::string> out;
    for (auto& [g, v] : groups_)
      if (v.blob || !v.offsets.empty()) out.push_back(g);
    co_return Result<std::vector<std::string>>::success(std::move(out));
  });
}

// ---------------------------------------------------------------------------

std::uint64_t entries_probed(const PartitionLog& log) noexcept {
  auto* l = dynamic_cast<const Log*>(&log);
  return l ? l->probes.load() : 0;
}

std::unique_ptr<Storage> open_pulsar_storage(const PulsarConfig& config, const Namespace& ns) {
  auto s = std::make_unique<PulsarStorage>(config, ns);
  try {
    s->run_blocking([p = s.get()]() -> awaitable<void> { co_await p->setup(); });
  } catch (const std::exception& e) {
    s->shutdown();
    throw std::runtime_error(std::string("pulsar storage: ") + e.what());
  }
  return s;
}

}  // namespace kwire_broker::storage::pulsar
