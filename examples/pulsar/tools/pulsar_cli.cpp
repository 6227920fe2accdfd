// kwire-pulsar-cli: produce to and consume from a Pulsar topic with
// kwire_pulsar, one JSON object per line on stdout.
//
//   kwire-pulsar-cli produce --topic T [-n N] [--batch K] [--prefix P]
//                            [--name NAME] [--exclusive] [--event-time MS]
//   kwire-pulsar-cli consume --topic T [-n N] [--sub S] [--reader]
//                            [--earliest] [--timeout-ms MS]
//   kwire-pulsar-cli entries --topic T [-n N] [--timeout-ms MS]
//   kwire-pulsar-cli last-id --topic T
// Common: --url pulsar://host:port (default 127.0.0.1:6650), --token JWT.
// produce sends key P-i, value "value-i", event time MS+i, property i=<i>.
// entries reads from the earliest entry and prints each entry's stored form:
// position, broker index, message count, compression, sizes, producer,
// sequence id and metadata properties.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "kwire_pulsar/client.hpp"

using namespace kwire_pulsar;
using nlohmann::json;

namespace {

struct Args {
  std::string cmd;
  std::map<std::string, std::string> opts;
  bool has(const std::string& k) const { return opts.count(k) != 0; }
  std::string get(const std::string& k, const std::string& d = {}) const {
    auto it = opts.find(k);
    return it == opts.end() ? d : it->second;
  }
  long num(const std::string& k, long d) const { return has(k) ? std::stol(get(k)) : d; }
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc > 1) a.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    while (!k.empty() && k[0] == '-') k.erase(0, 1);
    const bool flag = k == "reader" || k == "exclusive" || k == "earliest";
    if (!flag && i + 1 < argc) a.opts[k] = argv[++i];
    else a.opts[k] = "1";
  }
  return a;
}

awaitable<int> run(Args a) {
  ClientOptions co;
  co.service_url = a.get("url", "pulsar://127.0.0.1:6650");
  co.auth_token = a.get("token");
  auto client = Client::create(co_await asio::this_coro::executor, co);
  const std::string topic = a.get("topic");
  const long n = a.num("n", 10);
  int rc = 0;
  if (a.cmd == "produce") {
    ProducerOptions po;
    po.topic = topic;
    po.name = a.get("name");
    if (a.has("exclusive")) po.access_mode = AccessMode::exclusive;
    auto p = co_await client->create_producer(po);
    const long batch = a.num("batch", 0);
    const std::string prefix = a.get("prefix", "key");
    const auto t0 = static_cast<std::uint64_t>(a.num("event-time", 1700000000000L));
    auto make = [&](long i) {
      OutgoingMessage m;
      m.key = prefix + "-" + std::to_string(i);
      m.value = "value-" + std::to_string(i);
      m.event_time = t0 + static_cast<std::uint64_t>(i);
      m.properties = {{"i", std::to_string(i)}};
      return m;
    };
    for (long i = 0; i < n;) {
      SendReceipt r;
      long count = 1;
      if (batch > 0) {
        std::vector<OutgoingMessage> ms;
        for (; count <= batch && i + count - 1 < n; ++count) ms.push_back(make(i + count - 1));
        --count;
        r = co_await p->send_batch(std::move(ms));
      } else {
        r = co_await p->send(make(i));
      }
      std::cout << json{{"sequence_id", r.sequence_id}, {"id", r.id.str()}, {"messages", count}}.dump() << "\n";
      i += count;
    }
    co_await p->close();
  } else if (a.cmd == "consume") {
    std::shared_ptr<Consumer> c;
    if (a.has("reader")) {
      c = co_await client->create_reader(topic, MessageId::earliest());
    } else {
      ConsumerOptions o;
      o.topic = topic;
      o.subscription = a.get("sub", "kwire-cli");
      o.initial_position = a.has("earliest") ? InitialPosition::earliest : InitialPosition::latest;
      c = co_await client->subscribe(o);
    }
    const auto timeout = std::chrono::milliseconds(a.num("timeout-ms", 20000));
    long got = 0;
    while (got < n) {
      auto m = co_await c->receive(timeout);
      if (!m) break;
      json props = json::object();
      for (auto& [k, v] : m->properties) props[k] = v;
      json j{{"id", m->id.str()},       {"value", m->value},
             {"event_time", m->event_time}, {"publish_time", m->publish_time}, {"properties", props},
             {"producer", m->producer_name}, {"sequence_id", m->sequence_id}};
      j["key"] = m->key ? json(*m->key) : json(nullptr);
      j["index"] = m->index ? json(*m->index) : json(nullptr);
      std::cout << j.dump() << "\n";
      if (!a.has("reader")) c->acknowledge(m->id);
      ++got;
    }
    std::cout.flush();
    co_await c->close();
    if (got < n) {
      std::cerr << "received " << got << " of " << n << "\n";
      rc = 1;
    }
  } else if (a.cmd == "entries") {
    auto c = co_await client->create_reader(topic, MessageId::earliest());
    const auto timeout = std::chrono::milliseconds(a.num("timeout-ms", 20000));
    long got = 0;
    while (got < n) {
      auto e = co_await c->receive_entry(timeout);
      if (!e) break;
      const auto& m = *e->metadata;
      json props = json::object();
      for (const auto& kv : m.properties()) props[kv.key()] = kv.value();
      json j{{"id", e->id.str()},
             {"messages", e->message_count()},
             {"compression", wire::CompressionType_Name(m.compression())},
             {"payload_bytes", e->payload.size()},
             {"uncompressed_bytes", m.compression() == wire::NONE ? e->payload.size() : m.uncompressed_size()},
             {"producer", m.producer_name()},
             {"sequence_id", m.sequence_id()},
             {"properties", props}};
      j["index"] = e->index ? json(*e->index) : json(nullptr);
      std::cout << j.dump() << "\n";
      ++got;
    }
    std::cout.flush();
    co_await c->close();
    if (got < n) {
      std::cerr << "received " << got << " of " << n << " entries\n";
      rc = 1;
    }
  } else if (a.cmd == "last-id") {
    auto c = co_await client->create_reader(topic, MessageId::latest());
    auto id = co_await c->last_message_id();
    std::cout << json{{"id", id.str()}}.dump() << "\n";
    co_await c->close();
  } else {
    std::cerr << "usage: kwire-pulsar-cli produce|consume|entries|last-id --topic T ...\n";
    rc = 2;
  }
  client->close();
  co_return rc;
}

}  // namespace

int main(int argc, char** argv) {
  asio::io_context io;
  int rc = 1;
  asio::co_spawn(io, run(parse(argc, argv)), [&](std::exception_ptr e, int r) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::cerr << "kwire-pulsar-cli: " << ex.what() << "\n";
      }
      rc = 1;
    } else {
      rc = r;
    }
  });
  io.run();
  return rc;
}
