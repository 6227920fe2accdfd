#include "core/broker.hpp"

#include "coordinator/group_coordinator.hpp"
#include "coordinator/txn_coordinator.hpp"
#include "core/jwks_endpoint.hpp"
#include "core/log.hpp"
#include "core/startup.hpp"
#include "net/peer_link.hpp"

namespace kwire_broker {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Broker::Broker(Settings settings, StorageOpener open, std::vector<asio::io_context*> ios)
    : settings_(std::move(settings)),
      open_(std::move(open)),
      ios_(std::move(ios)),
      fetch_sessions_({.slots = static_cast<std::size_t>(settings_.fetch_session_slots),
                       .max_partitions = static_cast<std::size_t>(settings_.fetch_session_max_partitions)}),
      authorizer_(AuthorizerConfig{.enabled = !settings_.authorizer.empty(),
                                   .super_users = {settings_.super_users.begin(), settings_.super_users.end()},
                                   .allow_if_no_acl = settings_.allow_everyone_if_no_acl},
                  [this] {
                    storage::AclStore* store = default_realm_ ? default_realm_->store().acls() : nullptr;
                    return store ? store->acls() : std::make_shared<const std::vector<storage::AclBinding>>();
                  }),
      quotas_(quota::RateWindows{.samples = settings_.quota_window_num,
                                           .window_ms = settings_.quota_window_size_seconds * 1000LL}) {
  peers_ = std::make_unique<PeerLink>(settings_, ios_.front()->get_executor());
  metrics_.partitions = [this] { return partitions_.load(std::memory_order_relaxed); };
  metrics_.fetch_sessions = [this] { return static_cast<std::int64_t>(fetch_sessions_.sessions()); };
  metrics_.fetch_session_partitions = [this] { return static_cast<std::int64_t>(fetch_sessions_.partitions()); };
  metrics_.fetch_session_evictions = [this] { return static_cast<std::int64_t>(fetch_sessions_.evictions()); };
  metrics_.groups = [this] { return default_realm_->groups().count(); };
  if (!settings_.oauth_jwks_file.empty()) {
    oauth_keys_ = std::make_unique<oauth::KeySetFile>(settings_.oauth_jwks_file);
  } else if (!settings_.oauth_jwks_url.empty()) {
    oauth::EndpointOptions o;
    o.url = settings_.oauth_jwks_url;
    o.ca_file = settings_.oauth_jwks_ca_file;
    o.refresh = std::chrono::milliseconds(settings_.oauth_jwks_refresh_ms);
    o.retry_backoff = std::chrono::milliseconds(settings_.oauth_jwks_backoff_ms);
    o.retry_backoff_max = std::chrono::milliseconds(settings_.oauth_jwks_backoff_max_ms);
    oauth_keys_ = std::make_unique<oauth::KeySetEndpoint>(std::move(o));
  }
}

Broker::~Broker() = default;

void Broker::start() {
  storage::Namespace ns{settings_.tenant, settings_.ns};
  default_realm_ = std::make_unique<Realm>(*this, ns, open_(ns));
  default_realm_->start();
  refresh_quotas();
  if (authorizer_.enabled()) {
    if (auto* acls = default_realm_->store().acls())
      KB_INFO("ACLs enforced: {} binding(s), {} super user(s)", acls->acls()->size(), settings_.super_users.size());
    else
      KB_WARN("authorizer.class.name is set but this storage keeps no ACLs: only super users are let through{}",
              settings_.allow_everyone_if_no_acl ? " (and everyone, by allow.everyone.if.no.acl.found)" : "");
  }
  wait_at_startup(count_partitions());
}

asio::awaitable<void> Broker::count_partitions() {
  auto topics = co_await default_realm_->store().topics().list_topics();
  if (!topics.ok()) co_return;  // the gauge keeps its last count
  std::int64_t n = 0;
  for (auto& t : topics.value) n += t.partitions;
  partitions_.store(n, std::memory_order_relaxed);
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

void Broker::refresh_quotas() {
  if (auto* store = default_realm_->store().quotas()) quotas_.update(store->quotas());
  quotas_.expire();
}

asio::awaitable<void> Broker::maintain() {
  std::vector<Realm*> all{default_realm_.get()};
  {
    std::lock_guard lk(realms_mu_);
    for (auto& [_, r] : realms_) all.push_back(r.get());
  }
  for (auto* r : all) {
    r->store().maintain(std::chrono::system_clock::now());
    r->hand_over();
  }
  refresh_quotas();
  co_await count_partitions();
}

void Broker::begin_shutdown() {
  stopping_ = true;
  notifier_.wake_all();
  default_realm_->groups().shutdown();
  if (auto* t = default_realm_->transactions()) t->shutdown();
  std::lock_guard lk(realms_mu_);
  for (auto& [_, r] : realms_) {
    r->groups().shutdown();
    if (auto* t = r->transactions()) t->shutdown();
  }
  peers_->close();  // markers not yet sent are sent by the coordinator after its restart
}

asio::awaitable<void> Broker::close_storage() {
  std::vector<Realm*> all{default_realm_.get()};
  {
    std::lock_guard lk(realms_mu_);
    for (auto& [_, r] : realms_) all.push_back(r.get());
  }
  for (auto* r : all) {
    auto c = co_await r->store().close();
    if (!c.ok()) KB_ERROR("closing storage of {}/{}: {}", r->ns().tenant, r->ns().ns, c.message);
  }
}

}  // namespace kwire_broker
