// Credentials, ACL bindings and quotas on the compacted security topic: encoding
// them as keyed messages, applying messages (the newest per key wins),
// loading and following the topic, and writing changes.
#include "security_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <nlohmann/json.hpp>

#include <variant>

#include "security_record.hpp"
#include "store.hpp"

namespace kwire_broker::storage::pulsar {

using namespace std::chrono_literals;

Security::Security(PulsarStorage& s) : s_(s) {}

// Per Kafka namespace, like the offsets topic (group_store.cpp).
std::string Security::topic() const {
  std::string t = "persistent://" + s_.ns_.tenant + "/__kafka/__kwire_security";
  if (s_.ns_.ns != "default") t += "_" + s_.ns_.ns;
  return t;
}

void Security::apply(const std::string& key, std::optional<std::string_view> value, const kp::MessageId& at) {
  if (auto it = applied_.find(key); it != applied_.end() && !(it->second < at)) return;
  auto change = read_security_message(key, value);
  if (!change) return;
  if (auto* scram = std::get_if<ScramChange>(&*change)) {
    const std::pair id{std::move(scram->user), scram->mechanism};
    if (scram->credential) scram_[id] = std::move(*scram->credential);
    else scram_.erase(id);
  } else if (auto* acl = std::get_if<AclChange>(&*change)) {
    if (acl->added) bindings_.insert(std::move(acl->binding));
    else bindings_.erase(acl->binding);
    acls_changed_ = true;
  } else {
    auto& quota = std::get<QuotaValueChange>(*change);
    auto id = std::make_pair(std::move(quota.entity), std::move(quota.key));
    if (quota.value) quota_values_[std::move(id)] = *quota.value;
    else quota_values_.erase(id);
    quotas_changed_ = true;
  }
  applied_[key] = at;
}

void Security::publish_acls() {
  if (!acls_changed_) return;
  snapshot_ = std::make_shared<const std::vector<AclBinding>>(bindings_.begin(), bindings_.end());
  acls_changed_ = false;
}

void Security::apply(const kp::Message& m) {
  if (!m.key) return;
  apply(*m.key, m.null_value ? std::nullopt : std::optional<std::string_view>(m.value), m.id);
}

awaitable<void> Security::load() {
  // Made here rather than left to Pulsar's auto-creation, which a cluster may
  // turn off or set to partitioned topics.
  co_await s_.admin_->create_topic(topic().substr(13));
  reader_ = co_await read_compacted_to_end(*s_.client_, topic(), s_.config_.operation_timeout,
                                           [this](const kp::Message& m) {
                                             std::lock_guard lk(mu_);
                                             apply(m);
                                           });
  {
    std::lock_guard lk(mu_);
    publish_acls();
    publish_quotas();
  }
  asio::co_spawn(s_.executor(), follow(), asio::detached);
}

awaitable<void> Security::follow() {
  // The reader reconnects by itself and resumes after what it handed out.
  while (!s_.closed() && !s_.client_->closed()) {
    std::optional<kp::Entry> e;
    bool failed = false;
    try {
      e = co_await reader_->receive_entry(1s);
    } catch (const std::exception&) {
      failed = true;
    }
    if (failed) co_await kp::sleep_for(1s);  // not in a tight loop while it lasts
    if (!e) continue;
    std::vector<kp::Message> ms;
    try {
      ms = kp::entry_messages(*e);
    } catch (const std::exception&) {
      continue;  // not an entry of ours: nothing in it applies
    }
    std::lock_guard lk(mu_);
    for (const auto& m : ms) apply(m);
    publish_acls();
    publish_quotas();
  }
}

awaitable<Result<Done>> Security::write(std::vector<kp::OutgoingMessage> messages) {
  if (!producer_ || producer_->fenced()) {
    kp::ProducerOptions o;
    o.topic = topic();
    producer_ = co_await s_.client_->create_producer(o);
  }
  auto r = co_await producer_->send_batch(messages);
  // A resend that Pulsar had stored already comes back without a position:
  // the reader applies it then.
  if (r.has_position()) {
    std::lock_guard lk(mu_);
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      apply(*m.key, m.null_value ? std::nullopt : std::optional<std::string_view>(m.value),
            kp::MessageId{r.id.ledger, r.id.entry, -1, static_cast<std::int32_t>(i)});
    }
    publish_acls();
    publish_quotas();
  }
  co_return Result<Done>::success({});
}

// ---------------------------------------------------------------------------
// The seam's calls

Task<Done> Security::put_scram(ScramCredential c) {
  std::vector<kp::OutgoingMessage> ms(1);
  ms[0].key = scram_key(c.user, c.mechanism);
  ms[0].value = scram_value(c);
  co_return co_await s_.on_io(write(std::move(ms)));
}

Task<Done> Security::delete_scram(std::string user, std::int8_t mechanism) {
  if (!find_scram(user, mechanism)) co_return Result<Done>::success({});
  std::vector<kp::OutgoingMessage> ms(1);
  ms[0].key = scram_key(user, mechanism);
  ms[0].null_value = true;
  co_return co_await s_.on_io(write(std::move(ms)));
}

std::optional<ScramCredential> Security::find_scram(const std::string& user, std::int8_t mechanism) const {
  std::lock_guard lk(mu_);
  auto it = scram_.find({user, mechanism});
  if (it == scram_.end()) return std::nullopt;
  return it->second;
}

std::vector<ScramCredential> Security::scram_credentials() const {
  std::lock_guard lk(mu_);
  std::vector<ScramCredential> out;
  for (const auto& [_, c] : scram_) out.push_back(c);
  return out;
}

Task<Done> Security::add_acls(std::vector<AclBinding> bindings) {
  co_return co_await change_acls(std::move(bindings), true);
}

Task<Done> Security::remove_acls(std::vector<AclBinding> bindings) {
  co_return co_await change_acls(std::move(bindings), false);
}

Task<Done> Security::change_acls(std::vector<AclBinding> bindings, bool add) {
  std::vector<kp::OutgoingMessage> ms;
  {
    std::lock_guard lk(mu_);
    for (const auto& b : bindings) {
      // Only what changes something here: adding what is there, or removing
      // what is not, writes nothing.
      if (bindings_.count(b) == (add ? 1u : 0u)) continue;
      kp::OutgoingMessage m;
      try {
        m.key = acl_key(b);
      } catch (const nlohmann::json::exception&) {
        co_return Result<Done>::failure(Errc::invalid_config, "an ACL binding's text is not valid UTF-8");
      }
      if (add) m.value = acl_value;
      else m.null_value = true;
      ms.push_back(std::move(m));
    }
  }
  if (ms.empty()) co_return Result<Done>::success({});
  co_return co_await s_.on_io(write(std::move(ms)));
}

std::shared_ptr<const std::vector<AclBinding>> Security::acls() const {
  std::lock_guard lk(mu_);
  return snapshot_;
}

}  // namespace kwire_broker::storage::pulsar
