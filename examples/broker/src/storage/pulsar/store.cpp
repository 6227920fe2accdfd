// The root of the Pulsar storage: its settings, opening it (the namespace's
// Pulsar side, the cluster's limits, the topics), the I/O thread and client
// every call hops to, opening partition logs, producer id blocks, and
// closing.
#include "store.hpp"

#include <boost/asio/detached.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <future>
#include <stdexcept>

namespace kwire_broker::storage::pulsar {

using namespace std::chrono_literals;

namespace {

/// An authentication plugin's parameters as Pulsar writes them: a JSON
/// object, or "key:value,key:value" (values may hold colons, not commas).
std::map<std::string, std::string> auth_params(const std::string& text) {
  std::map<std::string, std::string> out;
  if (text.starts_with("{")) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) throw std::invalid_argument("brokerClientAuthenticationParameters: not a JSON object");
    for (const auto& [k, val] : j.items())
      if (val.is_string()) out[k] = val.get<std::string>();
    return out;
  }
  std::size_t at = 0;
  while (at <= text.size()) {
    auto end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const auto pair = text.substr(at, end - at);
    if (auto colon = pair.find(':'); colon != std::string::npos) out[pair.substr(0, colon)] = pair.substr(colon + 1);
    at = end + 1;
  }
  return out;
}

/// AuthenticationToken's parameter: "token:JWT", "file:PATH" (or a file://
/// URL) holding the JWT, or the JWT itself.
std::string token_of(const std::string& param) {
  if (param.starts_with("token:")) return param.substr(6);
  if (!param.starts_with("file:")) return param;
  auto path = param.substr(5);
  if (path.starts_with("//")) path = path.substr(2);
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) throw std::invalid_argument("cannot read the token file " + path);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
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
    const auto* plugin = get("brokerClientAuthenticationPlugin");
    const bool tls_auth = plugin ? plugin->ends_with("AuthenticationTls") : v->find("tlsCertFile") != std::string::npos;
    if (tls_auth) {
      auto params = auth_params(*v);
      c.tls.cert_file = params["tlsCertFile"];
      c.tls.key_file = params["tlsKeyFile"];
    } else {
      c.token = token_of(*v);
    }
  }
  // Pulsar's names for the same certificate (broker.conf, client.conf).
  if (auto v = get("brokerClientCertificateFilePath")) c.tls.cert_file = *v;
  if (auto v = get("brokerClientKeyFilePath")) c.tls.key_file = *v;
  if (auto v = get("tlsCertificateFilePath")) c.tls.cert_file = *v;
  if (auto v = get("tlsKeyFilePath")) c.tls.key_file = *v;
  if (auto v = get("brokerClientTrustCertsFilePath")) c.tls.trust_certs_file = *v;
  if (auto v = get("tlsTrustCertsFilePath")) c.tls.trust_certs_file = *v;
  if (auto v = get("tlsHostnameVerificationEnable")) c.tls.hostname_verification = *v == "true";
  if (auto v = get("tlsEnableHostnameVerification")) c.tls.hostname_verification = *v == "true";
  if (auto v = get("tlsAllowInsecureConnection")) c.tls.allow_insecure = *v == "true";
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

// ---------------------------------------------------------------------------

PulsarStorage::PulsarStorage(PulsarConfig config, Namespace ns)
    : config_(std::move(config)), ns_(std::move(ns)), work_(asio::make_work_guard(io_)), catalog_(*this),
      groups_(*this), shares_(*this, groups_), txns_(*this, groups_), security_(*this), tokens_(*this) {
  kp::ClientOptions o;
  o.service_url = config_.service_url;
  o.auth_token = config_.token;
  o.tls = config_.tls;
  o.operation_timeout = config_.operation_timeout;
  // Come back quickly after a Pulsar restart: Kafka clients time out a
  // produce after 30 s.
  o.max_backoff = std::chrono::seconds(3);
  client_ = kp::Client::create(io_.get_executor(), o);
  admin_ = std::make_unique<kp::Admin>(io_.get_executor(), config_.web_service_url, config_.token,
                                       config_.operation_timeout, config_.tls);
  thread_ = std::thread([this] { io_.run(); });
}

PulsarStorage::~PulsarStorage() {
  if (!closed_.exchange(true)) {
    // Not closed by the broker (a failed open, a test): wind down here.
    std::promise<void> p;
    asio::co_spawn(io_, wind_down(), [&p](std::exception_ptr) { p.set_value(); });
    p.get_future().wait();
  }
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void PulsarStorage::open_at_startup() {
  std::promise<void> p;
  auto done = p.get_future();
  asio::co_spawn(io_, setup(), [&p](std::exception_ptr e) {
    if (e) p.set_exception(e);
    else p.set_value();
  });
  done.get();
}

awaitable<void> PulsarStorage::setup() {
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
  co_await security_.load();
  std::string gateways = "non-persistent://" + ns_.tenant + "/__kafka/__kwire_gateways";
  if (ns_.ns != "default") gateways += "_" + ns_.ns;
  members_ = std::make_unique<PulsarMembership>(client_, gateways);
}

std::optional<std::string> PulsarStorage::entry_too_large(const EncodedEntry& e) const {
  const auto n = encoded_size(e);
  if (n <= limits_.entry_bytes) return std::nullopt;
  return "the batch takes " + std::to_string(n) + " bytes as a Pulsar entry; this cluster stores at most " +
         std::to_string(limits_.entry_bytes);
}

void PulsarStorage::watch(std::function<void(const TopicPartition&)> on_data) {
  std::lock_guard g(watch_mu_);
  on_data_ = std::move(on_data);
}

void PulsarStorage::data_arrived(const TopicPartition& tp) {
  std::function<void(const TopicPartition&)> f;
  {
    std::lock_guard g(watch_mu_);
    f = on_data_;
  }
  if (f) f(tp);
}

std::string PulsarStorage::pulsar_topic(const TopicPartition& tp) const {
  return "persistent://" + ns_.tenant + "/" + ns_.ns + "/" + tp.topic + "-partition-" + std::to_string(tp.partition);
}

std::string PulsarStorage::short_topic(const std::string& name) const {
  return ns_.tenant + "/" + ns_.ns + "/" + name;
}

// ---------------------------------------------------------------------------
// Where the data is

DataLocation PulsarStorage::data_location() const {
  // The namespace that holds the topics, in Pulsar's notation. Its space is
  // the bookies', which Pulsar does not tell its clients: unknown.
  DataLocation where;
  where.name = "persistent://" + ns_.tenant + "/" + ns_.ns;
  return where;
}

Task<std::vector<std::int64_t>> PulsarStorage::partition_sizes(std::string topic) {
  auto work = [](PulsarStorage* s, std::string name) -> awaitable<Result<std::vector<std::int64_t>>> {
    using R = Result<std::vector<std::int64_t>>;
    auto info = s->catalog_.find_topic(name);
    if (!info) co_return R::failure(Errc::unknown_topic);
    std::vector<std::int64_t> sizes(static_cast<std::size_t>(std::max(info->partitions, 0)), -1);
    // One request for the whole topic: each partition's storageSize, the
    // bytes of its managed ledger (its entries in BookKeeper, counted once
    // whatever the replication). A partition the stats do not name (no
    // ledger yet, or the request failed) stays unknown.
    auto r = co_await s->admin_->request("GET", "/admin/v2/persistent/" + s->short_topic(name) +
                                                    "/partitioned-stats?perPartition=true");
    if (!r.ok()) co_return R::success(std::move(sizes));
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("partitions") || !j["partitions"].is_object())
      co_return R::success(std::move(sizes));
    for (std::int32_t p = 0; p < info->partitions; ++p) {
      auto it = j["partitions"].find(s->pulsar_topic(TopicPartition{name, p}));
      if (it != j["partitions"].end() && it->contains("storageSize") && (*it)["storageSize"].is_number_integer())
        sizes[static_cast<std::size_t>(p)] = (*it)["storageSize"].get<std::int64_t>();
    }
    co_return R::success(std::move(sizes));
  }(this, std::move(topic));
  co_return co_await on_io(std::move(work));
}

// ---------------------------------------------------------------------------
// Logs and producer ids

Task<std::shared_ptr<PartitionLog>> PulsarStorage::open_log(TopicPartition tp) {
  auto work = [](PulsarStorage* s, TopicPartition wanted) -> awaitable<Result<std::shared_ptr<PartitionLog>>> {
    co_return Result<std::shared_ptr<PartitionLog>>::success(co_await s->open_log_here(wanted));
  }(this, std::move(tp));
  co_return co_await on_io(std::move(work));
}

awaitable<std::shared_ptr<Log>> PulsarStorage::open_log_here(const TopicPartition& tp) {
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

void PulsarStorage::forget_logs(const std::string& topic) {
  for (auto it = logs_.begin(); it != logs_.end();) {
    if (it->first.topic == topic) {
      it->second->forget();
      it = logs_.erase(it);
    } else {
      ++it;
    }
  }
}

Task<std::int64_t> PulsarStorage::allocate_producer_ids(std::int32_t count) {
  auto work = allocate_here(count);
  co_return co_await on_io(std::move(work));
}

awaitable<Result<std::int64_t>> PulsarStorage::allocate_here(std::int32_t count) {
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
}

// ---------------------------------------------------------------------------
// Closing

Task<Done> PulsarStorage::close() {
  if (closed_.exchange(true)) co_return Result<Done>::success({});
  auto hop = asio::co_spawn(io_, wind_down(), asio::use_awaitable);
  co_await std::move(hop);
  co_return Result<Done>::success({});
}

awaitable<void> PulsarStorage::wind_down() {
  if (wound_down_) co_return;
  wound_down_ = true;
  co_await groups_.flush_mirrors(3s);
  if (members_) {
    // Say goodbye, but do not wait on a Pulsar that is away.
    asio::co_spawn(io_, members_->leave(), asio::detached);
    co_await kp::sleep_for(200ms);
  }
  for (auto& [tp, log] : logs_) log->close_now();
  client_->close();
}

std::uint64_t entries_probed(const PartitionLog& log) noexcept {
  auto* l = dynamic_cast<const Log*>(&log);
  return l ? l->probes.load() : 0;
}

std::unique_ptr<Storage> open_pulsar_storage(const PulsarConfig& config, const Namespace& ns) {
  auto s = std::make_unique<PulsarStorage>(config, ns);
  try {
    s->open_at_startup();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("pulsar storage: ") + e.what());
  }
  return s;
}

}  // namespace kwire_broker::storage::pulsar
