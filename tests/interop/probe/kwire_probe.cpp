// kwire-probe: a Kafka client made of kwire's codec and a blocking socket,
// for checks that need exact requests rather than a client library's choices.
//
//   kwire-probe walk HOST:PORT
//       Asks ApiVersions, then sends every advertised API at every advertised
//       version (a minimal request of that version) and checks that each gets
//       a response with its correlation id that decodes, whole, at that
//       version, on a connection that stays open. Exit 1 on the first miss.
//   kwire-probe internal HOST:PORT
//       How the broker shows and guards its group-offsets topic; prints one
//       JSON object (compared between Kafka and kwire-broker by parity.sh).
//   kwire-probe api-versions-v5 HOST:PORT
//       ApiVersions v5 with the right and wrong cluster and node ids; prints
//       one JSON object of the error codes.
//   kwire-probe versions HOST:PORT
//       The advertised API versions as one JSON object {"name": [min, max]}.
//   kwire-probe fetch HOST:PORT TOPIC PARTITION
//       Fetches the partition from offset 0 (up to 8 MiB) and prints one JSON
//       line per record batch as it came over the wire: offsets, record
//       count, codec and size (what a client's memory and network pay).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/endian/conversion.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory_resource>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kwire/framing/request.hpp"
#include "kwire/messages/all.hpp"
#include "kwire/messages/dispatch.hpp"
#include "kwire/records/batch.hpp"
#include "kwire/records/builder.hpp"

namespace {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// An error code as its number, with its name when Kafka's table has one.
std::string number(kwire::ErrorCode e) {
  return std::to_string(static_cast<std::int16_t>(e)) + " (" + std::string(kwire::to_string(e)) + ")";
}

class Connection {
 public:
  explicit Connection(const std::string& host_port) {
    const auto colon = host_port.rfind(':');
    if (colon == std::string::npos) throw Failure("expected HOST:PORT, got " + host_port);
    const std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) throw Failure("cannot resolve " + host);
    fd_ = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    const int rc = fd_ < 0 ? -1 : ::connect(fd_, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0) throw Failure("cannot connect to " + host_port);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{.tv_sec = 30, .tv_usec = 0};  // a broker that never answers fails the probe
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends `req` at `version` and returns the response body, checked to carry
  /// the request's correlation id.
  template <class Req>
  std::vector<std::uint8_t> exchange(const Req& req, std::int16_t version) {
    kwire::RequestHeader h;
    h.request_api_key = static_cast<std::int16_t>(Req::api_key);
    h.request_api_version = version;
    h.correlation_id = ++correlation_;
    h.client_id = std::string_view("kwire-probe");
    std::vector<std::uint8_t> out;
    if (auto e = kwire::encode_request_frame(req, h, out))
      throw Failure(std::string(Req::message_name) + " v" + std::to_string(version) + " does not encode: " + e->message());
    write_all(out);
    std::uint8_t size[4];
    read_all(size, 4);
    const auto n = boost::endian::load_big_s32(size);
    if (n < 4 || n > (64 << 20)) throw Failure("bad response size " + std::to_string(n));
    frame_.resize(static_cast<std::size_t>(n));
    read_all(frame_.data(), frame_.size());
    kwire::ResponseFrame rf;
    if (auto r = kwire::read_response_header(frame_, Req::api_key, version, rf); !r)
      throw Failure("bad response header: " + r.error().message());
    if (rf.header.correlation_id != h.correlation_id)
      throw Failure("correlation id " + std::to_string(rf.header.correlation_id) + " answers " +
                    std::to_string(h.correlation_id));
    return {rf.body.begin(), rf.body.end()};
  }

  /// exchange() and decode the whole body as Resp at `version`.
  template <class Resp, class Req>
  Resp call(const Req& req, std::int16_t version, std::pmr::memory_resource* mem) {
    auto body = exchange(req, version);
    bodies_.push_back(std::move(body));
    Resp resp;
    if (auto r = kwire::decode(resp, bodies_.back(), version, kwire::DecodeOptions{.memory = mem}); !r)
      throw Failure(std::string(Resp::message_name) + " v" + std::to_string(version) +
                    " does not decode: " + r.error().message());
    return resp;
  }

 private:
  void write_all(const std::vector<std::uint8_t>& b) {
    std::size_t at = 0;
    while (at < b.size()) {
      const auto n = ::send(fd_, b.data() + at, b.size() - at, MSG_NOSIGNAL);
      if (n <= 0) throw Failure("the broker closed the connection (send)");
      at += static_cast<std::size_t>(n);
    }
  }
  void read_all(std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      const auto r = ::recv(fd_, p, n, 0);
      if (r <= 0) throw Failure(r == 0 ? "the broker closed the connection" : "no response within 30 s");
      p += r;
      n -= static_cast<std::size_t>(r);
    }
  }

  int fd_ = -1;
  std::int32_t correlation_ = 0;
  std::vector<std::uint8_t> frame_;
  std::deque<std::vector<std::uint8_t>> bodies_;  // decoded responses view into these
};

// ---------------------------------------------------------------------------
// walk

/// The smallest request of each API that a broker must answer (not ignore):
/// defaults everywhere, except where a default means "no response" or a wait.
template <class Req>
void make_answerable(Req& req) {
  if constexpr (std::is_same_v<Req, kwire::ProduceRequest>) {
    req.acks = -1;  // acks=0 gets no response
    req.timeout_ms = 1000;
  } else if constexpr (std::is_same_v<Req, kwire::FetchRequest>) {
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
  } else if constexpr (std::is_same_v<Req, kwire::JoinGroupRequest>) {
    req.session_timeout_ms = 10000;
    req.rebalance_timeout_ms = 10000;
  }
}

kwire::ApiVersionsRequest api_versions_request() {
  kwire::ApiVersionsRequest av;
  av.client_software_name = "kwire-probe";
  av.client_software_version = "1";
  return av;
}

/// What the broker advertises (ApiVersions v3, which every Kafka 2.4+ serves).
kwire::ApiVersionsResponse advertised(Connection& c, std::pmr::memory_resource* mem) {
  auto r = c.call<kwire::ApiVersionsResponse>(api_versions_request(), 3, mem);
  if (r.error_code != kwire::ErrorCode::None) throw Failure("ApiVersions v3 answered " + number(r.error_code));
  return r;
}

int walk(const std::string& target) {
  Connection c(target);
  std::pmr::monotonic_buffer_resource mem;
  auto versions = advertised(c, &mem);
  int sent = 0;
  for (const auto& api : versions.api_keys) {
    const auto* info = kwire::find_api(api.api_key);
    if (!info) throw Failure("advertised API key " + std::to_string(api.api_key) + " is not a Kafka API");
    if (api.min_version < info->min_version || api.max_version > info->max_version || api.min_version > api.max_version)
      throw Failure(std::string(info->name) + " advertised " + std::to_string(api.min_version) + "-" +
                    std::to_string(api.max_version) + ", Kafka defines " + std::to_string(info->min_version) + "-" +
                    std::to_string(info->max_version));
    for (std::int16_t v = api.min_version; v <= api.max_version; ++v) {
      if (api.api_key == static_cast<std::int16_t>(kwire::ProduceRequest::api_key) && v < 3) {
        // Kafka 4 advertises Produce v0-2 (older librdkafka releases turn
        // compression off otherwise) but closes connections that use them.
        Connection once(target);
        kwire::ProduceRequest req;
        make_answerable(req);
        try {
          (void)once.exchange(req, v);
        } catch (const Failure&) {
          ++sent;
          continue;  // closed, as Kafka does
        }
        throw Failure("Produce v" + std::to_string(v) + " was answered; Kafka 4 closes the connection");
      }
      // Two dispatches, not one inside the other: N request types and N
      // response types instantiated, instead of N x N.
      std::vector<std::uint8_t> body;
      std::string where = std::string(info->name) + " v" + std::to_string(v) + ": ";
      bool ok = kwire::with_request_type(api.api_key, [&]<class Req>(std::type_identity<Req>) {
        Req req;
        make_answerable(req);
        try {
          body = c.exchange(req, v);
        } catch (const Failure& f) {
          throw Failure(where + f.what());
        }
      });
      ok = ok && kwire::with_response_type(api.api_key, [&]<class Resp>(std::type_identity<Resp>) {
        Resp resp;
        if (auto r = kwire::decode(resp, body, v, kwire::DecodeOptions{.memory = &mem}); !r)
          throw Failure(where + "the response does not decode: " + r.error().message());
      });
      if (!ok) throw Failure("no request type for API key " + std::to_string(api.api_key));
      ++sent;
    }
    std::printf("%-28s %d-%d answered\n", std::string(info->name).c_str(), api.min_version, api.max_version);
  }
  std::printf("%d requests answered on one connection\n", sent);
  return 0;
}

int versions(const std::string& target) {
  Connection c(target);
  std::pmr::monotonic_buffer_resource mem;
  auto r = advertised(c, &mem);
  std::string out = "{";
  for (const auto& api : r.api_keys) {
    const auto* info = kwire::find_api(api.api_key);
    const std::string name = info ? std::string(info->name) : "api-" + std::to_string(api.api_key);
    if (out.size() > 1) out += ", ";
    out += "\"" + name + "\": [" + std::to_string(api.min_version) + ", " + std::to_string(api.max_version) + "]";
  }
  std::printf("%s}\n", out.c_str());
  return 0;
}

// ---------------------------------------------------------------------------
// internal

constexpr std::string_view offsets_topic = "__consumer_offsets";

struct OffsetsTopicView {
  bool listed = false;  // in Metadata for all topics
  bool internal = false;
  std::int16_t by_name_error = -2;
  int partitions = 0;
};

OffsetsTopicView look(Connection& c, std::pmr::memory_resource* mem) {
  OffsetsTopicView v;
  kwire::MetadataRequest all;
  all.topics.reset();  // null: every topic
  all.allow_auto_topic_creation = false;
  auto a = c.call<kwire::MetadataResponse>(all, 12, mem);
  for (const auto& t : a.topics)
    if (t.name && *t.name == offsets_topic) {
      v.listed = true;
      v.internal = t.is_internal;
      v.partitions = static_cast<int>(t.partitions.size());
    }
  kwire::MetadataRequest one;
  kwire::MetadataRequest::MetadataRequestTopic t;
  t.name = offsets_topic;
  one.topics->push_back(t);
  one.allow_auto_topic_creation = false;
  auto b = c.call<kwire::MetadataResponse>(one, 12, mem);
  if (b.topics.size() == 1) {
    v.by_name_error = static_cast<std::int16_t>(b.topics[0].error_code);
    if (b.topics[0].error_code == kwire::ErrorCode::None && !b.topics[0].is_internal) v.internal = false;
  }
  return v;
}

int internal(const std::string& target) {
  Connection c(target);
  std::pmr::monotonic_buffer_resource mem;
  const auto before = look(c, &mem);

  // A group's coordinator brings the offsets topic into being (Kafka creates
  // it then; a moment may pass before the coordinator is ready).
  std::int16_t coordinator_error = -2;
  for (int i = 0; i < 300; ++i) {
    kwire::FindCoordinatorRequest fc;
    fc.key_type = 0;
    fc.coordinator_keys.push_back("kwire-probe-group");
    auto r = c.call<kwire::FindCoordinatorResponse>(fc, 4, &mem);
    coordinator_error = r.coordinators.empty() ? -2 : static_cast<std::int16_t>(r.coordinators[0].error_code);
    if (coordinator_error == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto after = look(c, &mem);

  // A client's write to it.
  kwire::RecordBatchBuilder bb;
  bb.append(0, std::nullopt, kwire::bytes_view(reinterpret_cast<const std::uint8_t*>("x"), 1));
  std::vector<std::uint8_t> batch;
  bb.build(batch);
  kwire::ProduceRequest pr;
  pr.acks = -1;
  pr.timeout_ms = 5000;
  kwire::ProduceRequest::TopicProduceData td;
  td.name = offsets_topic;
  kwire::ProduceRequest::PartitionProduceData pd;
  pd.index = 0;
  pd.records = kwire::bytes_view(batch);
  td.partition_data.push_back(pd);
  pr.topic_data.push_back(td);
  auto prr = c.call<kwire::ProduceResponse>(pr, 9, &mem);
  const std::int16_t produce_error =
      prr.responses.empty() || prr.responses[0].partition_responses.empty()
          ? -2
          : static_cast<std::int16_t>(prr.responses[0].partition_responses[0].error_code);

  kwire::DeleteRecordsRequest dr;
  kwire::DeleteRecordsRequest::DeleteRecordsTopic drt;
  drt.name = offsets_topic;
  kwire::DeleteRecordsRequest::DeleteRecordsPartition drp;
  drp.partition_index = 0;
  drp.offset = -1;
  drt.partitions.push_back(drp);
  dr.topics.push_back(drt);
  dr.timeout_ms = 5000;
  auto drr = c.call<kwire::DeleteRecordsResponse>(dr, 2, &mem);
  const std::int16_t delete_records_error =
      drr.topics.empty() || drr.topics[0].partitions.empty()
          ? -2
          : static_cast<std::int16_t>(drr.topics[0].partitions[0].error_code);

  kwire::CreateTopicsRequest ct;
  kwire::CreateTopicsRequest::CreatableTopic cti;
  cti.name = offsets_topic;
  cti.num_partitions = 1;
  cti.replication_factor = 1;
  ct.topics.push_back(cti);
  ct.timeout_ms = 5000;
  auto ctr = c.call<kwire::CreateTopicsResponse>(ct, 7, &mem);
  const std::int16_t create_error = ctr.topics.empty() ? -2 : static_cast<std::int16_t>(ctr.topics[0].error_code);

  kwire::DeleteTopicsRequest dt;
  dt.topic_names.push_back(offsets_topic);
  dt.timeout_ms = 5000;
  auto dtr = c.call<kwire::DeleteTopicsResponse>(dt, 5, &mem);
  const std::int16_t delete_error =
      dtr.responses.empty() ? -2 : static_cast<std::int16_t>(dtr.responses[0].error_code);

  const auto still = look(c, &mem);
  std::printf(
      "{\"listed_before\": %s, \"coordinator_error\": %d, \"listed\": %s, \"internal\": %s, \"by_name_error\": %d, "
      "\"partitions\": %d, \"produce_error\": %d, \"delete_records_error\": %d, \"create_error\": %d, "
      "\"delete_error\": %d, \"listed_after_delete\": %s}\n",
      before.listed ? "true" : "false", coordinator_error, after.listed ? "true" : "false",
      after.internal ? "true" : "false", after.by_name_error, after.partitions, produce_error, delete_records_error,
      create_error, delete_error, still.listed ? "true" : "false");
  return 0;
}

// ---------------------------------------------------------------------------
// api-versions-v5

int api_versions_v5(const std::string& target) {
  std::pmr::monotonic_buffer_resource mem;
  std::string cluster_id;
  std::int32_t node_id = -1;
  {
    Connection c(target);
    kwire::MetadataRequest m;
    m.topics->clear();
    auto r = c.call<kwire::MetadataResponse>(m, 12, &mem);
    if (r.cluster_id) cluster_id = std::string(*r.cluster_id);
    node_id = r.controller_id;
    if (!r.brokers.empty()) node_id = r.brokers[0].node_id;
  }
  auto ask = [&](std::optional<std::string> cluster, std::int32_t node, std::size_t* apis = nullptr) {
    Connection c(target);  // a fresh connection each: a refusal may close it
    auto av = api_versions_request();
    if (cluster) av.cluster_id = std::string_view(*cluster);
    av.node_id = node;
    try {
      auto r = c.call<kwire::ApiVersionsResponse>(av, 5, &mem);
      if (apis) *apis = r.api_keys.size();
      return static_cast<int>(r.error_code);
    } catch (const Failure& f) {
      std::fprintf(stderr, "ApiVersions v5: %s\n", f.what());
      return -100;  // no answer
    }
  };
  std::size_t apis = 0;
  const int plain = ask(std::nullopt, -1, &apis);
  const int right = ask(cluster_id, node_id);
  const int wrong_cluster = ask(std::string("not-this-cluster-000000"), -1);
  const int wrong_node = ask(std::nullopt, node_id + 1000);
  std::printf("{\"plain\": %d, \"plain_has_apis\": %s, \"right_ids\": %d, \"wrong_cluster\": %d, \"wrong_node\": %d}\n",
              plain, apis > 0 ? "true" : "false", right, wrong_cluster, wrong_node);
  return 0;
}

// ---------------------------------------------------------------------------
// fetch

int fetch(const std::string& target, const std::string& topic, std::int32_t partition) {
  Connection c(target);
  std::pmr::monotonic_buffer_resource mem;
  kwire::FetchRequest f;
  f.max_wait_ms = 500;
  f.min_bytes = 1;
  f.max_bytes = 8 << 20;
  kwire::FetchRequest::FetchTopic ft;
  ft.topic = topic;
  kwire::FetchRequest::FetchPartition fp;
  fp.partition = partition;
  fp.fetch_offset = 0;
  fp.partition_max_bytes = 8 << 20;
  ft.partitions.push_back(fp);
  f.topics.push_back(ft);
  auto r = c.call<kwire::FetchResponse>(f, 12, &mem);
  if (r.error_code != kwire::ErrorCode::None) throw Failure("Fetch answered " + number(r.error_code));
  for (const auto& t : r.responses)
    for (const auto& p : t.partitions) {
      if (p.error_code != kwire::ErrorCode::None)
        throw Failure("Fetch answered " + number(p.error_code) + " for the partition");
      kwire::bytes_view rest = p.records ? *p.records : kwire::bytes_view{};
      while (!rest.empty()) {
        kwire::DecodeError err;
        auto v = kwire::RecordBatchView::parse(rest, &err);
        if (!v) {
          if (err.code == kwire::DecodeErrc::truncated) break;  // a partial batch at the end of a fetch
          throw Failure("bad record batch: " + err.message());
        }
        static constexpr const char* names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
        const auto codec = static_cast<unsigned>(v->compression());
        std::printf("{\"base_offset\": %lld, \"last_offset\": %lld, \"records\": %d, \"compression\": \"%s\", "
                    "\"bytes\": %zu}\n",
                    static_cast<long long>(v->base_offset()), static_cast<long long>(v->last_offset()),
                    v->record_count(), codec < 5 ? names[codec] : "?", v->bytes().size());
        rest = rest.subspan(v->bytes().size());
      }
    }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: kwire-probe walk|versions|internal|api-versions-v5 HOST:PORT\n"
                         "       kwire-probe fetch HOST:PORT TOPIC PARTITION\n");
    return 2;
  }
  const std::string cmd = argv[1], target = argv[2];
  try {
    if (cmd == "fetch" && argc == 5) return fetch(target, argv[3], std::stoi(argv[4]));
    if (cmd == "walk") return walk(target);
    if (cmd == "versions") return versions(target);
    if (cmd == "internal") return internal(target);
    if (cmd == "api-versions-v5") return api_versions_v5(target);
    std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kwire-probe %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
