// A consumer group's durable record, the GroupStore blob: the line
// "consumer" then a JSON document with the epochs, the assignor, the topics
// the target was computed on, and every member with its subscription,
// epochs, assignment, revocations and target (and, for a classic member, its
// session timeout and protocols). Classic groups' records start
// with "classic" (group_coordinator.cpp), so one look tells them apart.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "coordinator/consumer_group.hpp"
#include "coordinator/stored_json.hpp"

namespace kwire_broker::consumer {

namespace {

using json = nlohmann::json;
constexpr std::string_view header = "consumer\n";

/// Bytes (a topic id, a protocol's metadata) as lowercase hex, and back.
template <class ByteRange>
std::string hex_of(const ByteRange& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

Bytes bytes_of_hex(const std::string& hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  Bytes out;
  for (std::size_t i = 0; 2 * i + 1 < hex.size(); ++i)
    out.push_back(static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1])));
  return out;
}

TopicId id_of(const std::string& hex) {
  TopicId id{};
  auto bytes = bytes_of_hex(hex);
  std::copy_n(bytes.begin(), std::min(bytes.size(), id.size()), id.begin());
  return id;
}

json to_json(const Assignment& a) {
  json out = json::object();
  for (auto& [t, ps] : a) out[hex_of(t)] = std::vector<std::int32_t>(ps.begin(), ps.end());
  return out;
}

Assignment assignment_of(const json& j) {
  Assignment a;
  for (auto& [t, ps] : j.items()) {
    auto& set = a[id_of(t)];
    for (auto& p : ps) set.insert(stored::integer<std::int32_t>(p));
  }
  return a;
}

/// A classic member's session timeout and protocols (null for a member of
/// the consumer protocol).
json classic_json(const std::optional<ClassicProtocol>& c) {
  if (!c) return nullptr;
  json protocols = json::array();
  for (auto& [name, metadata] : c->protocols) protocols.push_back({{"name", name}, {"metadata", hex_of(metadata)}});
  return {{"session_timeout_ms", c->session_timeout_ms}, {"protocols", std::move(protocols)}};
}

std::optional<ClassicProtocol> classic_of(const json& j) {
  if (j.is_null()) return std::nullopt;
  ClassicProtocol c;
  c.session_timeout_ms = stored::integer<std::int32_t>(j.at("session_timeout_ms"));
  for (auto& p : j.at("protocols"))
    c.protocols.emplace_back(p.at("name").get<std::string>(), bytes_of_hex(p.at("metadata").get<std::string>()));
  if (c.protocols.empty()) throw json::other_error::create(501, "a classic member without protocols", &j);
  return c;
}

json opt(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }
std::optional<std::string> opt_of(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

}  // namespace

std::vector<std::uint8_t> ConsumerGroups::record_of(const Group& g) {
  json j;
  j["group_epoch"] = g.group_epoch;
  j["assignment_epoch"] = g.assignment_epoch;
  j["assignor"] = g.assignor;
  json topics = json::array();
  for (auto& [name, t] : g.subscribed) topics.push_back({{"name", name}, {"id", hex_of(t.id)}, {"partitions", t.partitions}});
  j["topics"] = std::move(topics);
  j["regex_matches"] = g.regex_matches;
  json members = json::array();
  for (auto& [id, m] : g.members) {
    auto t = g.target.find(id);
    members.push_back({{"id", id},
                       {"instance_id", opt(m.instance_id)},
                       {"rack_id", opt(m.rack_id)},
                       {"server_assignor", opt(m.server_assignor)},
                       {"regex", opt(m.regex)},
                       {"client_id", m.client_id},
                       {"client_host", m.client_host},
                       {"topic_names", m.topic_names},
                       {"rebalance_timeout_ms", m.rebalance_timeout_ms},
                       {"epoch", m.epoch},
                       {"previous_epoch", m.previous_epoch},
                       {"state", static_cast<int>(m.state)},
                       {"left_static", m.left_static},
                       {"classic", classic_json(m.classic)},
                       {"assigned", to_json(m.assigned)},
                       {"revoking", to_json(m.revoking)},
                       {"target", t == g.target.end() ? json::object() : to_json(t->second)}});
  }
  j["members"] = std::move(members);
  auto text = std::string(header) + j.dump();
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

bool ConsumerGroups::is_record(const std::vector<std::uint8_t>& blob) {
  return blob.size() >= header.size() && std::equal(header.begin(), header.end(), blob.begin());
}

bool ConsumerGroups::load(const std::string& id, const std::vector<std::uint8_t>& blob, Clock::time_point now) {
  if (!is_record(blob)) return false;
  auto j = json::parse(blob.begin() + static_cast<std::ptrdiff_t>(header.size()), blob.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    Group g;
    g.id = id;
    g.group_epoch = stored::integer<std::int32_t>(j.at("group_epoch"));
    g.assignment_epoch = stored::integer<std::int32_t>(j.at("assignment_epoch"));
    g.assignor = j.at("assignor").get<std::string>();
    for (auto& t : j.at("topics"))
      g.subscribed[t.at("name").get<std::string>()] =
          TopicMeta{t.at("name").get<std::string>(), id_of(t.at("id").get<std::string>()), stored::integer<std::int32_t>(t.at("partitions"))};
    g.regex_matches = j.at("regex_matches").get<std::map<std::string, std::vector<std::string>>>();
    for (auto& jm : j.at("members")) {
      Member m;
      m.id = jm.at("id").get<std::string>();
      m.instance_id = opt_of(jm.at("instance_id"));
      m.rack_id = opt_of(jm.at("rack_id"));
      m.server_assignor = opt_of(jm.at("server_assignor"));
      m.regex = opt_of(jm.at("regex"));
      m.client_id = jm.at("client_id").get<std::string>();
      m.client_host = jm.at("client_host").get<std::string>();
      m.topic_names = jm.at("topic_names").get<std::vector<std::string>>();
      m.rebalance_timeout_ms = stored::integer<std::int32_t>(jm.at("rebalance_timeout_ms"));
      m.epoch = stored::integer<std::int32_t>(jm.at("epoch"));
      m.previous_epoch = stored::integer<std::int32_t>(jm.at("previous_epoch"));
      const int state = stored::integer<int>(jm.at("state"));
      m.state = state == 1 ? MemberState::unrevoked_partitions
                : state == 2 ? MemberState::unreleased_partitions
                             : MemberState::stable;
      m.left_static = jm.at("left_static").get<bool>();
      if (jm.contains("classic")) m.classic = classic_of(jm.at("classic"));  // records before the upgrade have none
      m.assigned = assignment_of(jm.at("assigned"));
      m.revoking = assignment_of(jm.at("revoking"));
      // A member gets a whole session (and rebalance timeout) from the load
      // on to show up again.
      m.last_seen = now;
      m.revoke_deadline = now + std::chrono::milliseconds(m.rebalance_timeout_ms);
      g.target[m.id] = assignment_of(jm.at("target"));
      if (m.instance_id) g.static_ids[*m.instance_id] = m.id;
      g.members.emplace(m.id, std::move(m));
    }
    get_or_create(id) = std::move(g);
  } catch (const std::exception&) {  // json::exception, or stored::integer's refusal
    return false;
  }
  return true;
}

}  // namespace kwire_broker::consumer
