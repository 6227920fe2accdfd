#include "broker.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

#include "groups.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/request_header.hpp"
#include "log.hpp"

namespace kwire_broker {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------
// DataNotifier

void DataNotifier::add(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lk(mu_);
  waiters_.push_back(w);
}

void DataNotifier::remove(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lk(mu_);
  waiters_.remove(w);
}

void DataNotifier::notify(const storage::TopicPartition& tp) {
  std::lock_guard lk(mu_);
  for (auto& w : waiters_) {
    if (w->fired || !w->partitions.count(tp)) continue;
    w->fired = true;
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

void DataNotifier::wake_all() {
  std::lock_guard lk(mu_);
  for (auto& w : waiters_) {
    if (w->fired) continue;
    w->fired = true;
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
}

// ---------------------------------------------------------------------------
// Broker

// ---------------------------------------------------------------------------
// Realm

Realm::Realm(Broker& broker, storage::Namespace ns, std::unique_ptr<storage::Storage> store)
    : broker_(broker), ns_(std::move(ns)), store_(std::move(store)) {
  groups_ = std::make_unique<GroupCoordinator>(broker_, *store_, broker_.io());
  cluster_ = std::make_unique<Cluster>(broker_.settings(), *store_);
}

Realm::~Realm() = default;

void Realm::start() {
  // Records written around this gateway wake the fetches waiting for them.
  store_->watch([&n = broker_.notifier()](const storage::TopicPartition& tp) { n.notify(tp); });
  groups_->load();
  if (groups_->count() > 0) show_group_offsets_topic();
  cluster_->join();
}

void Realm::hand_over() {
  std::vector<std::shared_ptr<storage::PartitionLog>> open;
  {
    std::lock_guard lk(logs_mu_);
    for (auto& [tp, log] : logs_) open.push_back(log);
  }
  cluster_->release_lost(open);
}

asio::awaitable<storage::Result<std::shared_ptr<storage::PartitionLog>>> Realm::log(const storage::TopicPartition& tp) {
  std::uint64_t forgets = 0;
  {
    std::lock_guard lk(logs_mu_);
    auto it = logs_.find(tp);
    if (it != logs_.end()) co_return storage::Result<std::shared_ptr<storage::PartitionLog>>::success(it->second);
    forgets = forgets_;
  }
  auto r = co_await storage::call<std::shared_ptr<storage::PartitionLog>>(
      [&](auto done) { store_->open_log(tp, std::move(done)); });
  if (r.ok()) {
    // A topic deleted meanwhile (on another thread) may have handed us its
    // old log: caching it would keep the partition unusable after the topic
    // is created again. Such a log is used this once and not kept.
    std::lock_guard lk(logs_mu_);
    if (forgets_ == forgets) logs_[tp] = r.value;
  }
  co_return r;
}

void Realm::forget_logs(const std::string& topic) {
  std::lock_guard lk(logs_mu_);
  ++forgets_;
  for (auto it = logs_.begin(); it != logs_.end();) {
    if (it->first.topic == topic)
      it = logs_.erase(it);
    else
      ++it;
  }
}

asio::awaitable<storage::Result<storage::TopicInfo>> Realm::auto_create(const std::string& topic) {
  storage::NewTopic nt;
  nt.name = topic;
  nt.partitions = broker_.settings().num_partitions;
  auto r = co_await storage::call<storage::TopicInfo>(
      [&](auto done) { store_->topics().create_topic(std::move(nt), std::move(done)); });
  if (r.ok()) KB_INFO("auto-created topic {} with {} partition(s)", topic, r.value.partitions);
  else if (r.error != storage::Errc::topic_exists) KB_WARN("auto-creating topic {} failed: {}", topic, r.message);
  if (r.error == storage::Errc::topic_exists) {
    if (auto t = store_->topics().find_topic(topic)) co_return storage::Result<storage::TopicInfo>::success(*t);
  }
  co_return r;
}

// ---------------------------------------------------------------------------
// Broker

Broker::Broker(Settings settings, StorageOpener open, std::vector<asio::io_context*> ios)
    : settings_(std::move(settings)), open_(std::move(open)), ios_(std::move(ios)) {
  metrics_.partitions = [this] {
    std::int64_t n = 0;
    auto done = std::make_shared<std::vector<storage::TopicInfo>>();
    default_realm_->store().topics().list_topics([done](storage::Result<std::vector<storage::TopicInfo>> r) {
      if (r.ok()) *done = std::move(r.value);
    });
    for (auto& t : *done) n += t.partitions;
    return n;
  };
  metrics_.groups = [this] { return default_realm_->groups().count(); };
}

Broker::~Broker() = default;

void Broker::start() {
  storage::Namespace ns{settings_.tenant, settings_.ns};
  default_realm_ = std::make_unique<Realm>(*this, ns, open_(ns));
  default_realm_->start();
}

Realm& Broker::realm(const storage::Namespace& ns) {
  if (ns.tenant == default_realm_->ns().tenant && ns.ns == default_realm_->ns().ns) return *default_realm_;
  std::lock_guard lk(realms_mu_);
  auto& r = realms_[{ns.tenant, ns.ns}];
  if (!r) {
    auto opened = std::make_unique<Realm>(*this, ns, open_(ns));
    opened->start();
    KB_INFO("opened namespace {}/{}", ns.tenant, ns.ns);
    r = std::move(opened);
  }
  return *r;
}

void Broker::maintain() {
  std::vector<Realm*> all{default_realm_.get()};
  {
    std::lock_guard lk(realms_mu_);
    for (auto& [_, r] : realms_) all.push_back(r.get());
  }
  for (auto* r : all) {
    r->store().maintain(std::chrono::system_clock::now());
    r->hand_over();
  }
}

void Broker::begin_shutdown() {
  stopping_ = true;
  notifier_.wake_all();
  default_realm_->groups().shutdown();
  std::lock_guard lk(realms_mu_);
  for (auto& [_, r] : realms_) r->groups().shutdown();
}

asio::awaitable<void> Broker::close_storage() {
  std::vector<Realm*> all{default_realm_.get()};
  {
    std::lock_guard lk(realms_mu_);
    for (auto& [_, r] : realms_) all.push_back(r.get());
  }
  for (auto* r : all) {
    auto c = co_await storage::call<storage::Done>([&](auto done) { r->store().close(std::move(done)); });
    if (!c.ok()) KB_ERROR("closing storage of {}/{}: {}", r->ns().tenant, r->ns().ns, c.message);
  }
}

std::optional<std::string> enter_namespace(Broker& b, SessionState& s, const std::string& user) {
  const auto slash = user.find('/');
  if (slash == std::string::npos) {
    s.realm = &b.default_realm();
    return std::nullopt;
  }
  storage::Namespace ns{user.substr(0, slash), user.substr(slash + 1)};
  auto valid = [](const std::string& n) {
    return !n.empty() && n.size() <= 128 && n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
  };
  if (!valid(ns.tenant) || !valid(ns.ns)) return "not a tenant/namespace: " + user;
  try {
    s.realm = &b.realm(ns);
  } catch (const std::exception& e) {
    KB_WARN("cannot open namespace {} for {}: {}", user, s.peer, e.what());
    return "namespace " + user + " is not available";
  }
  return std::nullopt;
}

const std::vector<HandlerEntry>& handler_table() {
  static const std::vector<HandlerEntry> table = [] {
    std::vector<HandlerEntry> t;
    for (auto part : {core_handlers(), data_handlers(), admin_handlers(), group_handlers()})
      t.insert(t.end(), part.begin(), part.end());
    std::sort(t.begin(), t.end(), [](auto& a, auto& b) { return a.api_key < b.api_key; });
    return t;
  }();
  return table;
}

std::optional<Broker::Range> Broker::advertised(std::int16_t api_key) {
  for (auto& e : handler_table())
    if (e.api_key == api_key) return Range{e.advertised_from(), e.max_version};
  return std::nullopt;
}

namespace {

constexpr std::size_t header_decode_bytes = 64 << 10;

Reply close_reply(std::string why) {
  Reply r;
  r.kind = Reply::Kind::close;
  r.frame.assign(why.begin(), why.end());
  return r;
}

/// The answer to an ApiVersions request of a version we do not know: v0 with
/// UNSUPPORTED_VERSION and our versions, so the client can pick one.
Reply api_versions_fallback(std::int32_t correlation_id) {
  kwire::ApiVersionsResponse resp;
  resp.error_code = err::unsupported_version;
  for (auto& e : handler_table()) {
    kwire::ApiVersionsResponse::ApiVersion v;
    v.api_key = e.api_key;
    v.min_version = e.advertised_from();
    v.max_version = e.max_version;
    resp.api_keys.push_back(v);
  }
  SessionState s;
  Ctx ctx(s);
  ctx.api_key = 18;
  ctx.version = 0;
  ctx.correlation_id = correlation_id;
  return make_frame(ctx, resp);
}

}  // namespace

asio::awaitable<Reply> Broker::handle(SessionState& s, bytes_view frame, std::function<void()> release) {
  if (s.raw_sasl_next) {
    // SaslHandshake v0: the token comes bare and the answer is a bare frame.
    s.raw_sasl_next = false;
    std::string user;
    if (!check_plain(settings_, frame, user)) co_return close_reply("SASL/PLAIN authentication failed");
    if (auto why = enter_namespace(*this, s, user)) co_return close_reply(*why);
    s.authenticated = true;
    s.principal = "User:" + user;
    Reply r;
    r.frame.assign(4, 0);
    co_return r;
  }
  if (frame.size() < 8) co_return close_reply("request shorter than a request header");
  auto key = static_cast<std::int16_t>(storage::batch::get_be(frame.data(), 2));
  auto version = static_cast<std::int16_t>(storage::batch::get_be(frame.data() + 2, 2));
  const kwire::ApiInfo* info = api_info(key);
  if (!info) {
    metrics_.request(key, err::invalid_request);
    co_return close_reply(fmt::format("unknown API key {}", key));
  }
  bool flexible = info->flexible(version) || (version > info->max_version && info->flexible_from >= 0);
  std::pmr::unsynchronized_pool_resource mem;
  kwire::Reader reader(frame, &mem);
  // A header needs a client id view and, rarely, a few tagged fields: a
  // header of thousands of unknown tags is refused before they are kept.
  reader.set_memory_limit(header_decode_bytes);
  kwire::RequestHeader header;
  kwire::decode_from(reader, header, static_cast<std::int16_t>(flexible ? 2 : 1));
  if (!reader.ok()) {
    metrics_.request(key, err::invalid_request);
    co_return close_reply("bad request header: " + reader.error()->message());
  }
  bytes_view body = frame.subspan(reader.offset());

  if (s.listener && s.listener->sasl() && !s.authenticated && key != 17 && key != 18 && key != 36) {
    metrics_.request(key, err::illegal_sasl_state);
    co_return close_reply(fmt::format("{} before SASL authentication", info->name));
  }
  auto range = advertised(key);
  if (key == 18 && (!range || version > range->max)) {
    metrics_.request(key, err::unsupported_version);
    co_return api_versions_fallback(header.correlation_id);
  }
  const HandlerEntry* entry = nullptr;
  for (auto& e : handler_table())
    if (e.api_key == key) entry = &e;
  if (!entry) {
    metrics_.request(key, err::invalid_request);
    co_return close_reply(fmt::format("{} is not implemented", info->name));
  }
  if (version < entry->min_version || version > entry->max_version) {
    metrics_.request(key, err::unsupported_version);
    co_return close_reply(fmt::format("{} v{} is not supported", info->name, version));
  }
  Ctx ctx(s);
  ctx.api_key = key;
  ctx.version = version;
  ctx.correlation_id = header.correlation_id;
  ctx.client_id = header.client_id ? *header.client_id : std::string_view{};
  ctx.on_release = std::move(release);
  Reply r = co_await entry->fn(*this, ctx, body);
  if (r.kind == Reply::Kind::close) {
    metrics_.request(key, err::invalid_request);
    std::string why(r.frame.begin(), r.frame.end());
    r.frame.assign(why.begin(), why.end());
    co_return r;
  }
  metrics_.request(key, ctx.errors.empty() ? err::none : ctx.errors.front());
  co_return r;
}

}  // namespace kwire_broker
