#include "core/config.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "coordinator/consumer_group.hpp"

namespace kwire_broker {
namespace {

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

/// 'SCRAM-SHA-256=[name=alice,password=alice-secret]' entries, separated by
/// ';' or whitespace, with an optional iterations=N inside the brackets.
/// A sasl.oauthbearer.* setting, under its own name or, as Kafka's broker
/// takes it, prefixed per listener and mechanism
/// (listener.name.NAME.oauthbearer.sasl.oauthbearer.*).
std::optional<std::string> oauth_setting(const Properties& p, const std::string& name) {
  if (p.has(name)) return p.get(name);
  for (auto& [k, v] : p.all())
    if (k.size() > name.size() && k.compare(k.size() - name.size(), name.size(), name) == 0 &&
        k[k.size() - name.size() - 1] == '.')
      return v;
  return std::nullopt;
}

void read_oauth_settings(const Properties& p, Settings& s) {
  if (auto url = oauth_setting(p, "sasl.oauthbearer.jwks.endpoint.url")) {
    if (url->rfind("file://", 0) == 0) s.oauth_jwks_file = url->substr(7);
    else if (url->rfind("file:", 0) == 0) s.oauth_jwks_file = url->substr(5);
    else if (url->rfind("https://", 0) == 0 || url->rfind("http://", 0) == 0) s.oauth_jwks_url = *url;
    else if (url->find("://") == std::string::npos) s.oauth_jwks_file = *url;
    else throw std::runtime_error("sasl.oauthbearer.jwks.endpoint.url: a file:, https: or http: URL, not " + *url);
  }
  auto ms = [&](const char* name, std::int64_t& into) {
    if (auto v = oauth_setting(p, name)) into = std::stoll(*v);
    if (into < 1) throw std::runtime_error(std::string(name) + " must be positive");
  };
  ms("sasl.oauthbearer.jwks.endpoint.refresh.ms", s.oauth_jwks_refresh_ms);
  ms("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", s.oauth_jwks_backoff_ms);
  ms("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", s.oauth_jwks_backoff_max_ms);
  if (p.has("kwire.sasl.oauthbearer.jwks.truststore.location"))
    s.oauth_jwks_ca_file = trim(p.get("kwire.sasl.oauthbearer.jwks.truststore.location"));
  if (auto aud = oauth_setting(p, "sasl.oauthbearer.expected.audience")) {
    std::stringstream list(*aud);
    for (std::string a; std::getline(list, a, ',');)
      if (!trim(a).empty()) s.oauth_audience.push_back(trim(a));
  }
  if (auto iss = oauth_setting(p, "sasl.oauthbearer.expected.issuer")) s.oauth_issuer = trim(*iss);
  if (auto sub = oauth_setting(p, "sasl.oauthbearer.sub.claim.name")) s.oauth_sub_claim = trim(*sub);
  if (auto skew = oauth_setting(p, "sasl.oauthbearer.clock.skew.seconds")) s.oauth_clock_skew_s = std::stoll(*skew);
  if (s.oauth_sub_claim.empty() || s.oauth_clock_skew_s < 0 || s.oauth_clock_skew_s > 86400)
    throw std::runtime_error("sasl.oauthbearer.sub.claim.name must be set and clock.skew.seconds from 0 to 86400");
  s.oauth_pulsar_passthrough = p.get_bool("kwire.sasl.oauthbearer.pulsar.passthrough", false);
  if (s.oauth_pulsar_passthrough && s.storage != "pulsar")
    throw std::runtime_error("kwire.sasl.oauthbearer.pulsar.passthrough needs kwire.storage=pulsar");
  const bool enabled = std::find(s.sasl_mechanisms.begin(), s.sasl_mechanisms.end(), "OAUTHBEARER") != s.sasl_mechanisms.end();
  if (enabled && !s.oauth_pulsar_passthrough && s.oauth_jwks_file.empty() && s.oauth_jwks_url.empty())
    throw std::runtime_error("OAUTHBEARER needs sasl.oauthbearer.jwks.endpoint.url (a JSON Web Key Set: file:, https: or http:)"
                             " or kwire.sasl.oauthbearer.pulsar.passthrough=true");
}

std::vector<Settings::ScramUser> parse_scram_users(const std::string& spec) {
  std::vector<Settings::ScramUser> out;
  std::size_t at = 0;
  for (;;) {
    at = spec.find_first_not_of(" \t\r\n;", at);
    if (at == std::string::npos) break;
    const auto open = spec.find("=[", at);
    const auto close = open == std::string::npos ? open : spec.find(']', open);
    if (close == std::string::npos)
      throw std::runtime_error("kwire.sasl.scram.users: expected MECHANISM=[name=...,password=...] at '" + spec.substr(at) + "'");
    Settings::ScramUser u;
    u.mechanism = upper(trim(spec.substr(at, open - at)));
    if (u.mechanism != "SCRAM-SHA-256" && u.mechanism != "SCRAM-SHA-512")
      throw std::runtime_error("kwire.sasl.scram.users: unknown mechanism " + u.mechanism);
    std::stringstream fields(spec.substr(open + 2, close - open - 2));
    for (std::string f; std::getline(fields, f, ',');) {
      const auto eq = f.find('=');
      const auto key = trim(f.substr(0, eq));
      const auto value = eq == std::string::npos ? std::string() : f.substr(eq + 1);
      if (key == "name") u.name = trim(value);
      else if (key == "password") u.password = value;
      else if (key == "iterations") u.iterations = static_cast<std::int32_t>(std::stol(value));
      else throw std::runtime_error("kwire.sasl.scram.users: unknown field " + key);
    }
    if (u.name.empty() || u.password.empty())
      throw std::runtime_error("kwire.sasl.scram.users: an entry lacks its name or password");
    if (u.iterations < 4096 || u.iterations > 16384)
      throw std::runtime_error("kwire.sasl.scram.users: iterations must be from 4096 to 16384");
    out.push_back(std::move(u));
    at = close + 1;
  }
  return out;
}

/// inter.broker.listener.name or security.inter.broker.protocol (not both, as
/// in Kafka); the listener either names must be one of ours. When neither is
/// set the default, PLAINTEXT, is not required to exist (Kafka would refuse
/// to start): a gateway without it simply has no peer link.
void read_inter_broker_listener(const Properties& p, Settings& s) {
  const bool by_name = p.has("inter.broker.listener.name"), by_protocol = p.has("security.inter.broker.protocol");
  if (by_name && by_protocol)
    throw std::runtime_error("only one of inter.broker.listener.name and security.inter.broker.protocol may be set");
  if (!by_name && !by_protocol) return;
  const std::string key = by_name ? "inter.broker.listener.name" : "security.inter.broker.protocol";
  s.inter_broker_listener = upper(trim(p.get(key)));
  auto named = [&](const Listener& l) { return l.name == s.inter_broker_listener; };
  if (std::none_of(s.listeners.begin(), s.listeners.end(), named))
    throw std::runtime_error(key + "=" + s.inter_broker_listener + ": there is no listener of that name in listeners");
}

/// sasl.mechanism.inter.broker.protocol and the credentials for it. Checked
/// when set: left at Kafka's GSSAPI, a SASL inter-broker listener only makes
/// the peer link's calls fail, saying why.
void read_inter_broker_sasl(const Properties& p, Settings& s) {
  const bool set = p.has("sasl.mechanism.inter.broker.protocol");
  if (set) s.inter_broker_sasl_mechanism = upper(trim(p.get("sasl.mechanism.inter.broker.protocol")));
  const auto& m = s.inter_broker_sasl_mechanism;
  if (set && m != "PLAIN" && m != "SCRAM-SHA-256" && m != "SCRAM-SHA-512")
    throw std::runtime_error("sasl.mechanism.inter.broker.protocol: " + m +
                             " is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)");
  const std::string key = "listener.name." + lower(s.inter_broker_listener) + "." + lower(m) + ".sasl.jaas.config";
  const auto jaas = p.get(key);
  static const std::regex username_re(R"re((^|\s)username\s*=\s*"([^"]*)")re");
  static const std::regex password_re(R"re((^|\s)password\s*=\s*"([^"]*)")re");
  std::smatch found;
  if (std::regex_search(jaas, found, username_re)) s.inter_broker_sasl_username = found[2].str();
  if (std::regex_search(jaas, found, password_re)) s.inter_broker_sasl_password = found[2].str();
  auto it = std::find_if(s.listeners.begin(), s.listeners.end(),
                         [&](const Listener& l) { return l.name == s.inter_broker_listener; });
  if (set && it != s.listeners.end() && it->sasl() && s.inter_broker_sasl_username.empty())
    throw std::runtime_error("the inter-broker listener " + s.inter_broker_listener + " needs " + key +
                             " with username=\"...\" and password=\"...\"");
}

}  // namespace

std::string Properties::get(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

std::int64_t Properties::get_int(const std::string& key, std::int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end() || trim(it->second).empty()) return fallback;
  try {
    std::size_t used = 0;
    auto v = std::stoll(trim(it->second), &used);
    if (used != trim(it->second).size()) throw std::invalid_argument("trailing");
    return v;
  } catch (...) {
    throw std::runtime_error(fmt::format("{}: '{}' is not an integer", key, it->second));
  }
}

bool Properties::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  auto v = lower(trim(it->second));
  if (v == "true") return true;
  if (v == "false") return false;
  throw std::runtime_error(fmt::format("{}: '{}' is not true or false", key, it->second));
}

void Properties::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string line, logical;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line.back() == '\\') {
      logical += line.substr(0, line.size() - 1);
      continue;
    }
    logical += line;
    auto t = trim(logical);
    logical.clear();
    if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    auto sep = t.find_first_of("=:");
    if (sep == std::string::npos) {
      values_[t] = "";
      continue;
    }
    values_[trim(t.substr(0, sep))] = trim(t.substr(sep + 1));
  }
}

std::vector<Listener> parse_listeners(const std::string& spec, const std::string& protocol_map) {
  std::map<std::string, std::string> map{{"PLAINTEXT", "PLAINTEXT"}, {"SASL_PLAINTEXT", "SASL_PLAINTEXT"},
                                         {"SSL", "SSL"}, {"SASL_SSL", "SASL_SSL"}};
  std::stringstream pm(protocol_map);
  for (std::string item; std::getline(pm, item, ',');) {
    auto c = item.find(':');
    if (c != std::string::npos) map[upper(trim(item.substr(0, c)))] = upper(trim(item.substr(c + 1)));
  }
  std::vector<Listener> out;
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    item = trim(item);
    if (item.empty()) continue;
    auto sep = item.find("://");
    if (sep == std::string::npos) throw std::runtime_error("listener '" + item + "' lacks NAME://");
    Listener l;
    l.name = upper(item.substr(0, sep));
    auto hp = item.substr(sep + 3);
    auto colon = hp.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("listener '" + item + "' lacks a port");
    l.host = hp.substr(0, colon);
    if (l.host.size() >= 2 && l.host.front() == '[') l.host = l.host.substr(1, l.host.size() - 2);
    try {
      l.port = static_cast<std::uint16_t>(std::stoi(hp.substr(colon + 1)));
    } catch (...) {
      throw std::runtime_error("listener '" + item + "' has a bad port");
    }
    auto it = map.find(l.name);
    if (it == map.end()) throw std::runtime_error("listener " + l.name + " has no security protocol");
    l.protocol = it->second;
    if (l.protocol != "PLAINTEXT" && l.protocol != "SASL_PLAINTEXT" && l.protocol != "SSL" && l.protocol != "SASL_SSL")
      throw std::runtime_error("security protocol " + l.protocol + " is not supported");
    out.push_back(l);
  }
  if (out.empty()) throw std::runtime_error("no listeners");
  return out;
}

Settings make_settings(const Properties& p) {
  Settings s;
  s.node_id = static_cast<std::int32_t>(p.get_int("node.id", p.get_int("broker.id", 1)));
  s.cluster_id = p.get("cluster.id", "kwire-cluster");
  auto pmap = p.get("listener.security.protocol.map");
  s.listeners = parse_listeners(p.get("listeners", "PLAINTEXT://:9092"), pmap);
  if (p.has("advertised.listeners")) {
    auto adv = parse_listeners(p.get("advertised.listeners"), pmap);
    for (auto& l : s.listeners) {
      auto it = std::find_if(adv.begin(), adv.end(), [&](const Listener& a) { return a.name == l.name; });
      s.advertised.push_back(it != adv.end() ? *it : l);
    }
  } else {
    s.advertised = s.listeners;
  }
  // A TLS listener's ssl.* settings: the broker-wide ones, then those
  // prefixed with its name (Kafka's listener.name.<name>.ssl.*).
  for (auto& l : s.listeners) {
    if (!l.tls()) continue;
    const std::string prefix = "listener.name." + lower(l.name) + ".";
    for (auto& [k, v] : p.all())
      if (k.rfind("ssl.", 0) == 0) l.ssl[k] = v;
    for (auto& [k, v] : p.all())
      if (k.rfind(prefix + "ssl.", 0) == 0) l.ssl[k.substr(prefix.size())] = v;
  }
  read_inter_broker_listener(p, s);
  read_inter_broker_sasl(p, s);
  for (auto& a : s.advertised)
    if (a.host.empty() || a.host == "0.0.0.0" || a.host == "::") a.host = "localhost";
  auto dirs = p.get("log.dirs", p.get("log.dir", "./data"));
  s.data_dir = trim(dirs.substr(0, dirs.find(',')));
  s.num_partitions = static_cast<std::int32_t>(p.get_int("num.partitions", 1));
  if (s.num_partitions < 1) throw std::runtime_error("num.partitions must be at least 1");
  s.auto_create_topics = p.get_bool("auto.create.topics.enable", true);
  s.threads = static_cast<std::int32_t>(p.get_int("num.network.threads", 0));
  if (s.threads <= 0) s.threads = static_cast<std::int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  s.max_request_bytes = p.get_int("socket.request.max.bytes", s.max_request_bytes);
  s.idle_ms = p.get_int("connections.max.idle.ms", s.idle_ms);
  s.quota_window_num = static_cast<std::int32_t>(p.get_int("quota.window.num", s.quota_window_num));
  if (s.quota_window_num < 1) throw std::runtime_error("quota.window.num must be at least 1");
  s.quota_window_size_seconds =
      static_cast<std::int32_t>(p.get_int("quota.window.size.seconds", s.quota_window_size_seconds));
  if (s.quota_window_size_seconds < 1) throw std::runtime_error("quota.window.size.seconds must be at least 1");
  s.queued_max_request_bytes = p.get_int("queued.max.request.bytes", s.queued_max_request_bytes);
  if (s.queued_max_request_bytes == 0 || s.queued_max_request_bytes < -1)
    throw std::runtime_error("queued.max.request.bytes must be positive or -1 (no limit)");
  s.sasl_max_receive_bytes = p.get_int("sasl.server.max.receive.size", s.sasl_max_receive_bytes);
  if (s.sasl_max_receive_bytes < 1) throw std::runtime_error("sasl.server.max.receive.size must be positive");
  s.ssl_handshake_timeout_ms = p.get_int("kwire.ssl.handshake.timeout.ms", s.ssl_handshake_timeout_ms);
  if (s.ssl_handshake_timeout_ms < 1) throw std::runtime_error("kwire.ssl.handshake.timeout.ms must be positive");
  s.ssl_reload_interval_ms = p.get_int("kwire.ssl.reload.interval.ms", s.ssl_reload_interval_ms);
  if (s.ssl_reload_interval_ms < 0) throw std::runtime_error("kwire.ssl.reload.interval.ms must not be negative");
  s.max_open_log_files = p.get_int("kwire.log.max.open.files", s.max_open_log_files);
  if (s.max_open_log_files < 0) throw std::runtime_error("kwire.log.max.open.files must not be negative");
  s.message_max_bytes = static_cast<std::int32_t>(p.get_int("message.max.bytes", s.message_max_bytes));
  s.fetch_session_slots = p.get_int("max.incremental.fetch.session.cache.slots", s.fetch_session_slots);
  if (s.fetch_session_slots < 0) throw std::runtime_error("max.incremental.fetch.session.cache.slots must not be negative");
  s.fetch_session_max_partitions = p.get_int("kwire.fetch.session.cache.max.partitions", s.fetch_session_max_partitions);
  if (s.fetch_session_max_partitions < 0)
    throw std::runtime_error("kwire.fetch.session.cache.max.partitions must not be negative");
  s.max_decode_bytes = p.get_int("kwire.request.max.decode.bytes", s.max_decode_bytes);
  if (s.max_decode_bytes < (64 << 10)) throw std::runtime_error("kwire.request.max.decode.bytes must be at least 65536");
  s.group_min_session_ms = static_cast<std::int32_t>(p.get_int("group.min.session.timeout.ms", s.group_min_session_ms));
  s.group_max_session_ms = static_cast<std::int32_t>(p.get_int("group.max.session.timeout.ms", s.group_max_session_ms));
  s.group_initial_rebalance_delay_ms =
      static_cast<std::int32_t>(p.get_int("group.initial.rebalance.delay.ms", s.group_initial_rebalance_delay_ms));
  s.transaction_max_timeout_ms =
      static_cast<std::int32_t>(p.get_int("transaction.max.timeout.ms", s.transaction_max_timeout_ms));
  s.transaction_abort_interval_ms = static_cast<std::int32_t>(p.get_int(
      "transaction.abort.timed.out.transaction.cleanup.interval.ms", s.transaction_abort_interval_ms));
  s.transactional_id_expiration_ms = p.get_int("transactional.id.expiration.ms", s.transactional_id_expiration_ms);
  s.transaction_id_removal_interval_ms = p.get_int("transactions.remove.expired.transaction.cleanup.interval.ms",
                                                   s.transaction_id_removal_interval_ms);
  s.consumer_session_ms = static_cast<std::int32_t>(p.get_int("group.consumer.session.timeout.ms", s.consumer_session_ms));
  s.consumer_heartbeat_interval_ms =
      static_cast<std::int32_t>(p.get_int("group.consumer.heartbeat.interval.ms", s.consumer_heartbeat_interval_ms));
  if (s.consumer_session_ms < 1 || s.consumer_heartbeat_interval_ms < 1 ||
      s.consumer_heartbeat_interval_ms >= s.consumer_session_ms)
    throw std::runtime_error("group.consumer.heartbeat.interval.ms must be positive and below group.consumer.session.timeout.ms");
  // Kafka's INT with atLeast(1): 1 to 2147483647.
  const auto group_max_size = p.get_int("group.max.size", s.group_max_size);
  if (group_max_size < 1 || group_max_size > std::numeric_limits<std::int32_t>::max())
    throw std::runtime_error("group.max.size must be between 1 and 2147483647");
  s.group_max_size = static_cast<std::int32_t>(group_max_size);
  const auto partition_limit = p.get_int("max.request.partition.size.limit", s.max_request_partition_size_limit);
  if (partition_limit < 1 || partition_limit > std::numeric_limits<std::int32_t>::max())
    throw std::runtime_error("max.request.partition.size.limit must be between 1 and 2147483647");
  s.max_request_partition_size_limit = static_cast<std::int32_t>(partition_limit);
  s.consumer_max_size = static_cast<std::int32_t>(p.get_int("group.consumer.max.size", s.consumer_max_size));
  if (s.consumer_max_size < 1) throw std::runtime_error("group.consumer.max.size must be positive");
  s.consumer_migration_policy = p.get("group.consumer.migration.policy", s.consumer_migration_policy);
  for (auto& c : s.consumer_migration_policy) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!consumer::migration_policy_of(s.consumer_migration_policy))
    throw std::runtime_error("group.consumer.migration.policy must be bidirectional, upgrade, downgrade or disabled");
  s.share_groups_enabled = p.get("kwire.share.groups.enable", "true") == "true";
  s.share_session_ms = static_cast<std::int32_t>(p.get_int("group.share.session.timeout.ms", s.share_session_ms));
  s.share_heartbeat_interval_ms =
      static_cast<std::int32_t>(p.get_int("group.share.heartbeat.interval.ms", s.share_heartbeat_interval_ms));
  if (s.share_session_ms < 1 || s.share_heartbeat_interval_ms < 1 || s.share_heartbeat_interval_ms >= s.share_session_ms)
    throw std::runtime_error("group.share.heartbeat.interval.ms must be positive and below group.share.session.timeout.ms");
  s.share_max_size = static_cast<std::int32_t>(p.get_int("group.share.max.size", s.share_max_size));
  if (s.share_max_size < 1) throw std::runtime_error("group.share.max.size must be positive");
  s.share_lock_duration_ms =
      static_cast<std::int32_t>(p.get_int("group.share.record.lock.duration.ms", s.share_lock_duration_ms));
  s.share_delivery_count_limit =
      static_cast<std::int32_t>(p.get_int("group.share.delivery.count.limit", s.share_delivery_count_limit));
  s.share_max_record_locks =
      static_cast<std::int32_t>(p.get_int("group.share.partition.max.record.locks", s.share_max_record_locks));
  s.share_max_sessions = static_cast<std::int32_t>(p.get_int("group.share.max.share.sessions", s.share_max_sessions));
  if (s.share_lock_duration_ms < 1 || s.share_delivery_count_limit < 1 || s.share_max_record_locks < 1 ||
      s.share_max_sessions < 1)
    throw std::runtime_error(
        "group.share.record.lock.duration.ms, group.share.delivery.count.limit, "
        "group.share.partition.max.record.locks and group.share.max.share.sessions must be positive");
  if (auto assignors = p.get("group.consumer.assignors", ""); !assignors.empty()) {
    // Kafka's names, or its class names (the last dotted part, less "Assignor").
    s.consumer_assignors.clear();
    std::size_t at = 0;
    while (at <= assignors.size()) {
      auto comma = assignors.find(',', at);
      if (comma == std::string::npos) comma = assignors.size();
      auto name = assignors.substr(at, comma - at);
      name.erase(0, name.find_first_not_of(" \t"));
      name.erase(name.find_last_not_of(" \t") + 1);
      if (name.find("UniformAssignor") != std::string::npos) name = "uniform";
      if (name.find("RangeAssignor") != std::string::npos) name = "range";
      if (name != "uniform" && name != "range")
        throw std::runtime_error("group.consumer.assignors: unknown assignor '" + name + "' (uniform, range)");
      s.consumer_assignors.push_back(name);
      at = comma + 1;
    }
  }
  s.authorizer = trim(p.get("authorizer.class.name", ""));
  {
    std::stringstream users(p.get("super.users", ""));
    for (std::string u; std::getline(users, u, ';');)
      if (!trim(u).empty()) s.super_users.push_back(trim(u));
  }
  s.allow_everyone_if_no_acl = p.get_bool("allow.everyone.if.no.acl.found", false);
  s.failed_auth_delay_ms = p.get_int("connection.failed.authentication.delay.ms", s.failed_auth_delay_ms);
  if (s.failed_auth_delay_ms < 0) throw std::runtime_error("connection.failed.authentication.delay.ms must not be negative");
  s.metrics_listener = p.get("kwire.metrics.listener", "");
  s.storage = p.get("kwire.storage", "embedded");
  s.tenant = p.get("kafkaTenant", p.get("kwire.tenant", "public"));
  s.ns = p.get("kafkaNamespace", p.get("kwire.namespace", "default"));
  s.shutdown_timeout_ms = p.get_int("kwire.shutdown.timeout.ms", s.shutdown_timeout_ms);
  s.log_level = p.get("kwire.log.level", "info");
  s.segment_bytes = p.get_int("log.segment.bytes", s.segment_bytes);
  s.segment_ms = p.get_int("log.roll.ms", p.get_int("log.roll.hours", 168) * 3600 * 1000);
  if (p.has("log.retention.ms"))
    s.retention_ms = p.get_int("log.retention.ms", s.retention_ms);
  else if (p.has("log.retention.minutes"))
    s.retention_ms = p.get_int("log.retention.minutes", 0) * 60 * 1000;
  else
    s.retention_ms = p.get_int("log.retention.hours", 168) * 3600 * 1000;
  s.retention_bytes = p.get_int("log.retention.bytes", s.retention_bytes);
  s.index_interval_bytes = p.get_int("log.index.interval.bytes", s.index_interval_bytes);
  s.flush_messages = p.get_int("log.flush.interval.messages", s.flush_messages);
  s.flush_ms = p.get_int("log.flush.interval.ms", s.flush_ms);
  s.retention_check_ms = p.get_int("log.retention.check.interval.ms", s.retention_check_ms);
  s.cleaner_enable = p.get_bool("log.cleaner.enable", s.cleaner_enable);
  s.cleaner_backoff_ms = p.get_int("log.cleaner.backoff.ms", s.cleaner_backoff_ms);
  s.dedupe_buffer_bytes = p.get_int("log.cleaner.dedupe.buffer.size", s.dedupe_buffer_bytes);
  if (p.has("log.cleaner.min.cleanable.ratio")) {
    const auto v = p.get("log.cleaner.min.cleanable.ratio");
    try {
      s.min_cleanable_ratio = std::stod(v);
    } catch (...) {
      throw std::runtime_error("log.cleaner.min.cleanable.ratio: not a number: " + v);
    }
    if (!(s.min_cleanable_ratio >= 0 && s.min_cleanable_ratio <= 1))
      throw std::runtime_error("log.cleaner.min.cleanable.ratio must be between 0 and 1");
  }
  s.delete_retention_ms = p.get_int("log.cleaner.delete.retention.ms", s.delete_retention_ms);
  s.min_compaction_lag_ms = p.get_int("log.cleaner.min.compaction.lag.ms", s.min_compaction_lag_ms);
  s.max_compaction_lag_ms = p.get_int("log.cleaner.max.compaction.lag.ms", s.max_compaction_lag_ms);
  if (s.cleaner_backoff_ms < 1 || s.dedupe_buffer_bytes < 0 || s.delete_retention_ms < 0 ||
      s.min_compaction_lag_ms < 0 || s.max_compaction_lag_ms < 1)
    throw std::runtime_error("log.cleaner.*: a negative or zero value where Kafka needs a positive one");

  // PLAIN users: user_NAME="password" entries of any *sasl.jaas.config, as
  // Kafka's PlainLoginModule takes them, plus kwire.sasl.plain.users=a:b,c:d.
  static const std::regex user_re(R"re(user_([A-Za-z0-9_.\-@/]+)\s*=\s*"([^"]*)")re");
  for (auto& [k, v] : p.all()) {
    if (k.size() >= 16 && k.compare(k.size() - 16, 16, "sasl.jaas.config") == 0) {
      for (std::sregex_iterator it(v.begin(), v.end(), user_re), end; it != end; ++it)
        s.sasl_users[(*it)[1].str()] = (*it)[2].str();
    }
  }
  if (p.has("sasl.enabled.mechanisms")) {
    s.sasl_mechanisms.clear();
    std::stringstream mechs(p.get("sasl.enabled.mechanisms"));
    for (std::string m; std::getline(mechs, m, ',');) {
      m = upper(trim(m));
      if (m.empty()) continue;
      if (m != "PLAIN" && m != "SCRAM-SHA-256" && m != "SCRAM-SHA-512" && m != "OAUTHBEARER")
        throw std::runtime_error("sasl.enabled.mechanisms: " + m +
                                 " is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)");
      s.sasl_mechanisms.push_back(m);
    }
  }
  s.scram_users = parse_scram_users(p.get("kwire.sasl.scram.users"));
  read_oauth_settings(p, s);
  s.reauth_ms = p.get_int("connections.max.reauth.ms", 0);
  if (s.reauth_ms < 0) throw std::runtime_error("connections.max.reauth.ms must not be negative");
  std::stringstream users(p.get("kwire.sasl.plain.users"));
  for (std::string item; std::getline(users, item, ',');) {
    auto c = item.find(':');
    if (c != std::string::npos) s.sasl_users[trim(item.substr(0, c))] = item.substr(c + 1);
  }
  return s;
}

std::optional<Properties> parse_command_line(int argc, char** argv) {
  Properties p;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* what) -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(std::string(what) + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      fmt::print(
          "usage: kwire-broker [server.properties] [--config FILE] [--override key=value]... [--key=value]...\n"
          "Kafka's property names: listeners, advertised.listeners, log.dirs, num.partitions,\n"
          "auto.create.topics.enable, node.id, message.max.bytes, socket.request.max.bytes,\n"
          "connections.max.idle.ms, queued.max.request.bytes, sasl.server.max.receive.size,\n"
          "quota.window.num, quota.window.size.seconds,\n"
          "log.segment.bytes, log.retention.ms|minutes|hours,\n"
          "log.retention.bytes, log.flush.interval.messages, log.flush.interval.ms,\n"
          "group.initial.rebalance.delay.ms, ...; and kwire.metrics.listener=host:port,\n"
          "kwire.storage=embedded, kwire.log.max.open.files, kwire.sasl.plain.users=user:password,...\n"
          "TLS: ssl.keystore.location, ssl.truststore.location, ssl.client.auth, ... (SSL and SASL_SSL listeners);\n"
          "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER (with\n"
          "sasl.oauthbearer.jwks.endpoint.url=file:..., expected.audience, expected.issuer), connections.max.reauth.ms,\n"
          "kwire.sasl.scram.users='SCRAM-SHA-512=[name=admin,password=...]' (created at startup if absent)\n");
      return std::nullopt;
    }
    std::string kv;
    if (a == "--config" || a == "-c") {
      p.load_file(need("--config"));
      continue;
    }
    if (a == "--override") {
      kv = need("--override");
    } else if (a.rfind("--", 0) == 0) {
      kv = a.substr(2);
      if (kv.find('=') == std::string::npos) kv += "=" + need(a.c_str());
    } else {
      p.load_file(a);
      continue;
    }
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw std::runtime_error("expected key=value, got '" + kv + "'");
    overrides.emplace_back(trim(kv.substr(0, eq)), kv.substr(eq + 1));
  }
  for (auto& [k, v] : overrides) p.set(k, v);
  return p;
}

}  // namespace kwire_broker
