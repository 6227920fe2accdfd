// A share group's durable record, the GroupStore blob: the line "share" then
// a JSON document with the epochs, the topics the assignment was computed on
// and every member with its subscription, epoch, assignment and target. Consumer
// groups' records start with "consumer", classic groups' with "classic".
#include <nlohmann/json.hpp>

#include "coordinator/share_group.hpp"
#include "coordinator/stored_json.hpp"

namespace kwire_broker::share {

namespace {

using json = nlohmann::json;
constexpr std::string_view header = "share\n";

std::string hex_of(const consumer::TopicId& id) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto b : id) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

consumer::TopicId id_of(const std::string& hex) {
  consumer::TopicId id{};
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i < id.size() && 2 * i + 1 < hex.size(); ++i)
    id[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
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

}  // namespace

std::vector<std::uint8_t> ShareGroups::record_of(const Group& g) {
  json j;
  j["group_epoch"] = g.group_epoch;
  j["assignment_epoch"] = g.assignment_epoch;
  j["auto_offset_reset"] = g.auto_offset_reset;
  if (!g.configs.empty()) j["configs"] = g.configs;
  json topics = json::array();
  for (auto& [name, t] : g.subscribed) topics.push_back({{"name", name}, {"id", hex_of(t.id)}, {"partitions", t.partitions}});
  j["topics"] = std::move(topics);
  json members = json::array();
  for (auto& [id, m] : g.members) {
    auto t = g.target.find(id);
    members.push_back({{"id", id},
                       {"rack_id", m.rack_id ? json(*m.rack_id) : json(nullptr)},
                       {"client_id", m.client_id},
                       {"client_host", m.client_host},
                       {"topic_names", m.topic_names},
                       {"epoch", m.epoch},
                       {"assigned", to_json(m.assigned)},
                       {"target", t == g.target.end() ? json::object() : to_json(t->second)}});
  }
  j["members"] = std::move(members);
  auto text = std::string(header) + j.dump();
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

bool ShareGroups::is_record(const std::vector<std::uint8_t>& blob) {
  return blob.size() >= header.size() && std::equal(header.begin(), header.end(), blob.begin());
}

bool ShareGroups::load(const std::string& id, const std::vector<std::uint8_t>& blob, Clock::time_point now) {
  if (!is_record(blob)) return false;
  auto j = json::parse(blob.begin() + static_cast<std::ptrdiff_t>(header.size()), blob.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    Group g;
    g.id = id;
    g.group_epoch = stored::integer<std::int32_t>(j.at("group_epoch"));
    g.assignment_epoch = stored::integer<std::int32_t>(j.at("assignment_epoch"));
    g.auto_offset_reset = j.value("auto_offset_reset", std::string("latest"));
    if (j.contains("configs")) {
      const auto& configs = j.at("configs");
      if (!configs.is_object()) return false;
      for (auto& [name, value] : configs.items()) g.configs.emplace(name, value.get<std::string>());
    }
    for (auto& t : j.at("topics"))
      g.subscribed[t.at("name").get<std::string>()] =
          TopicMeta{t.at("name").get<std::string>(), id_of(t.at("id").get<std::string>()), stored::integer<std::int32_t>(t.at("partitions"))};
    for (auto& jm : j.at("members")) {
      Member m;
      m.id = jm.at("id").get<std::string>();
      if (!jm.at("rack_id").is_null()) m.rack_id = jm.at("rack_id").get<std::string>();
      m.client_id = jm.at("client_id").get<std::string>();
      m.client_host = jm.at("client_host").get<std::string>();
      m.topic_names = jm.at("topic_names").get<std::vector<std::string>>();
      m.epoch = stored::integer<std::int32_t>(jm.at("epoch"));
      m.assigned = assignment_of(jm.at("assigned"));
      g.target[m.id] = assignment_of(jm.at("target"));
      // A member gets a whole session from the load on to show up again.
      m.last_seen = now;
      g.members.emplace(m.id, std::move(m));
    }
    get_or_create(id) = std::move(g);
  } catch (const std::exception&) {  // json::exception, or stored::integer's refusal
    return false;
  }
  return true;
}

}  // namespace kwire_broker::share
