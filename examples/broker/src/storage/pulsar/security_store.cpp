// Credentials and ACL bindings on the compacted security topic: encoding
// them as keyed messages, applying messages (the newest per key wins),
// loading and following the topic, and writing changes.
#include "security_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <limits>

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view scram_prefix = "scram/";
constexpr std::string_view acl_prefix = "acl/";

/// A JSON array of byte values; nullopt if anything else.
std::optional<std::vector<std::uint8_t>> bytes_of(const json& j) {
  if (!j.is_array()) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(j.size());
  for (const auto& v : j) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 255) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(v.get<std::uint64_t>()));
  }
  return out;
}

std::optional<std::int8_t> int8_of(const json& j) {
  if (!j.is_number_integer() || (j.is_number_unsigned() && j.get<std::uint64_t>() > 127)) return std::nullopt;
  const auto v = j.get<std::int64_t>();
  if (v < std::numeric_limits<std::int8_t>::min() || v > std::numeric_limits<std::int8_t>::max()) return std::nullopt;
  return static_cast<std::int8_t>(v);
}

std::optional<AclBinding> binding_of(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.size() != 7) return std::nullopt;
  auto type = int8_of(j[0]), pattern = int8_of(j[2]), operation = int8_of(j[5]), permission = int8_of(j[6]);
  if (!type || !pattern || !operation || !permission || !j[1].is_string() || !j[3].is_string() || !j[4].is_string())
    return std::nullopt;
  return AclBinding{*type, j[1].get<std::string>(), *pattern, j[3].get<std::string>(), j[4].get<std::string>(),
                    *operation, *permission};
}

/// The user and mechanism of a credential's key (after "scram/").
std::optional<std::pair<std::string, std::int8_t>> scram_id_of(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  int mechanism = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + slash, mechanism);
  if (ec != std::errc() || end != key.data() + slash || mechanism < 1 || mechanism > 2) return std::nullopt;
  return std::make_pair(std::string(key.substr(slash + 1)), static_cast<std::int8_t>(mechanism));
}

std::optional<ScramCredential> credential_of(std::pair<std::string, std::int8_t> id, std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("iterations") || !j["iterations"].is_number_integer())
    return std::nullopt;
  const auto iterations = j["iterations"].get<std::int64_t>();
  if (iterations <= 0 || iterations > std::numeric_limits<std::int32_t>::max()) return std::nullopt;
  auto salt = bytes_of(j.value("salt", json())), stored = bytes_of(j.value("stored_key", json())),
       server = bytes_of(j.value("server_key", json()));
  if (!salt || !stored || !server) return std::nullopt;
  ScramCredential c;
  c.user = std::move(id.first);
  c.mechanism = id.second;
  c.iterations = static_cast<std::int32_t>(iterations);
  c.salt = std::move(*salt);
  c.stored_key = std::move(*stored);
  c.server_key = std::move(*server);
  return c;
}

}  // namespace

Security::Security(PulsarStorage& s) : s_(s) {}

// Per Kafka namespace, like the offsets topic (group_store.cpp).
std::string Security::topic() const {
  std::string t = "persistent://" + s_.ns_.tenant + "/__kafka/__kwire_security";
  if (s_.ns_.ns != "default") t += "_" + s_.ns_.ns;
  return t;
}

std::string Security::scram_key(const std::string& user, std::int8_t mechanism) {
  return std::string(scram_prefix) + std::to_string(mechanism) + "/" + user;
}

// Throws json::type_error when a string is not valid UTF-8.
std::string Security::acl_key(const AclBinding& b) {
  return std::string(acl_prefix) + json::array({b.resource_type, b.resource_name, b.pattern_type, b.principal, b.host,
                                                b.operation, b.permission})
                                       .dump();
}

void Security::apply(const std::string& key, std::optional<std::string_view> value, const kp::MessageId& at) {
  if (auto it = applied_.find(key); it != applied_.end() && !(it->second < at)) return;
  const std::string_view k = key;
  if (k.substr(0, scram_prefix.size()) == scram_prefix) {
    auto id = scram_id_of(k.substr(scram_prefix.size()));
    if (!id) return;
    if (!value) {
      scram_.erase(*id);
    } else {
      auto c = credential_of(*id, *value);
      if (!c) return;
      scram_[*id] = std::move(*c);
    }
  } else if (k.substr(0, acl_prefix.size()) == acl_prefix) {
    auto b = binding_of(k.substr(acl_prefix.size()));
    if (!b) return;
    if (value) bindings_.insert(std::move(*b));
    else bindings_.erase(*b);
    acls_changed_ = true;
  } else {
    return;
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
  }
  co_return Result<Done>::success({});
}

// ---------------------------------------------------------------------------
// The seam's calls

Task<Done> Security::put_scram(ScramCredential c) {
  std::vector<kp::OutgoingMessage> ms(1);
  ms[0].key = scram_key(c.user, c.mechanism);
  ms[0].value = json{{"iterations", c.iterations},
                     {"salt", json(c.salt)},
                     {"stored_key", json(c.stored_key)},
                     {"server_key", json(c.server_key)}}
                    .dump();
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
      } catch (const json::exception&) {
        co_return Result<Done>::failure(Errc::invalid_config, "an ACL binding's text is not valid UTF-8");
      }
      if (add) m.value = "{}";
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
