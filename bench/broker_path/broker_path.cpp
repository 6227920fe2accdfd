// The broker's request path in one process, without sockets: request frames
// go through Broker::handle (the dispatch a connection uses) to the embedded
// store in a scratch directory, and the response frame comes back.
//
//   Produce: decode a Produce v11 request (one partition, one batch) → check
//            the batch → append it to the store → encode the response.
//   Fetch:   decode a Fetch v12 request → read the store → encode the
//            response → write it to a loopback TCP socket, over the data
//            the produce run wrote; a consumer thread reads the other end.
//   Validator: protocol/batch_validator alone on the same batches (checks,
//            one CRC-32C, every record read, stamps on a copy), for the
//            share of the produce path that validation takes.
//
// Request frames are encoded before the clock starts (they are the client's
// work); the fetch loop also reads the response's batch headers to learn the
// next offset, as a consumer would (a few header reads per response).
// Reported: MB/s of record-batch bytes (1 MB = 10^6 bytes) by the wall clock,
// and CPU seconds per MB from getrusage (user + system; the system share
// alone beside it): of every thread for produce and the validator, of the
// broker's thread alone for fetch (not the consumer's).
//
//   bench_broker_path [--mb N] [--small N] [--dir PATH] [--quick]
#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/allocator.hpp"
#include "core/broker.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "kwire/framing/request.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/messages/produce_response.hpp"
#include "kwire/records/records.hpp"
#include "net/reply_writer.hpp"
#include "protocol/batch_validator.hpp"
#include "storage/embedded/file_cache.hpp"
#include "storage/open.hpp"
#include "socket_client.hpp"
#include "support/in_process_broker.hpp"

namespace kb = kwire_broker;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

struct Usage {
  double wall = 0, cpu = 0, sys = 0;
  /// The whole process's CPU time, or with `who` RUSAGE_THREAD the calling
  /// thread's.
  static Usage now(int who = RUSAGE_SELF) {
    rusage ru{};
    getrusage(who, &ru);
    auto sec = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    Usage u;
    u.wall = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    u.cpu = sec(ru.ru_utime) + sec(ru.ru_stime);
    u.sys = sec(ru.ru_stime);
    return u;
  }
};

/// One broker in this process (examples/broker/tests/support), driven a
/// request at a time.
class Harness {
 public:
  explicit Harness(const fs::path& dir) : broker_(dir) {}
  /// Handles one frame (with its size prefix) and returns the reply frame.
  std::vector<std::uint8_t> handle(const std::vector<std::uint8_t>& frame) {
    auto reply = broker_.handle_frame(frame);
    if (reply.kind == kb::Reply::Kind::close)
      throw std::runtime_error("the broker closed the connection: " + std::string(reply.frame.begin(), reply.frame.end()));
    return kb::flatten(reply);
  }
  /// Handles one frame and returns the reply as the broker made it.
  kb::Reply reply(const std::vector<std::uint8_t>& frame) {
    auto reply = broker_.handle_frame(frame);
    if (reply.kind != kb::Reply::Kind::respond) throw std::runtime_error("the broker did not respond");
    return reply;
  }

 private:
  kb::testing::InProcessBroker broker_;
};

template <class M>
std::vector<std::uint8_t> request_frame(const M& body, std::int16_t version, std::int32_t correlation_id) {
  return kb::testing::InProcessBroker::request_frame(body, version, correlation_id);
}

template <class M>
void decode_response(M& msg, const std::vector<std::uint8_t>& frame, std::int16_t version) {
  kb::testing::InProcessBroker::decode_response(msg, frame, version);
}

void create_topic(Harness& h, std::string_view name) {
  kwire::CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.num_partitions = 1;
  t.replication_factor = 1;
  auto reply = h.handle(request_frame(req, 7, 1));
  kwire::CreateTopicsResponse resp;
  decode_response(resp, reply, 7);
  if (resp.topics.size() != 1 || resp.topics[0].error_code != kwire::ErrorCode::None) throw std::runtime_error("CreateTopics failed");
}

/// One producer batch of `records` records of `value_bytes` each.
std::vector<std::uint8_t> make_batch(int records, std::size_t value_bytes) {
  kwire::RecordBatchBuilder b;
  std::vector<std::uint8_t> value(value_bytes);
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<std::uint8_t>(i * 131 + 7);
  std::int64_t ts = kb::now_ms();
  for (int i = 0; i < records; ++i) {
    std::string key = "key-" + std::to_string(i);
    b.append(ts, kwire::as_bytes(key), kwire::bytes_view(value));
  }
  return b.build();
}

struct Figures {
  std::string name;
  std::size_t requests = 0;
  double bytes = 0, wall = 0, cpu = 0, sys = 0;
};

void print(const Figures& f) {
  double mb = f.bytes / 1e6;
  std::printf("| %s | %zu | %.1f | %.3f | %.1f | %.5f | %.5f | %.1f |\n", f.name.c_str(), f.requests, mb, f.wall,
              mb / f.wall, f.cpu / mb, f.sys / mb, 1e6 * f.wall / static_cast<double>(f.requests));
  std::fflush(stdout);
}

Figures produce(Harness& h, std::string_view topic, const std::vector<std::uint8_t>& batch, std::size_t count,
                const std::string& name) {
  kwire::ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 30000;
  auto& td = req.topic_data.emplace_back();
  td.name = topic;
  auto& pd = td.partition_data.emplace_back();
  pd.index = 0;
  pd.records = kwire::bytes_view(batch);
  auto frame = request_frame(req, 11, 2);
  // The first reply is checked outside the timed loop.
  {
    auto reply = h.handle(frame);
    kwire::ProduceResponse resp;
    decode_response(resp, reply, 11);
    auto& pr = resp.responses.at(0).partition_responses.at(0);
    if (pr.error_code != kwire::ErrorCode::None)
      throw std::runtime_error("produce failed with error " + std::string(kwire::to_string(pr.error_code)));
  }
  Figures f{name, count - 1, 0, 0, 0, 0};
  auto t0 = Usage::now();
  for (std::size_t i = 1; i < count; ++i) {
    auto reply = h.handle(frame);
    if (reply.size() < 8) throw std::runtime_error("short produce reply");
  }
  auto t1 = Usage::now();
  f.bytes = static_cast<double>(batch.size()) * static_cast<double>(count - 1);
  f.wall = t1.wall - t0.wall;
  f.cpu = t1.cpu - t0.cpu;
  f.sys = t1.sys - t0.sys;
  return f;
}

/// Writes replies to the broker's end of a connection as a connection does
/// (net/reply_writer: vectored writes, sendfile for file regions).
class ReplySender {
 public:
  explicit ReplySender(int fd) : socket_(io_, asio::ip::tcp::v4(), fd) {}
  void send(const kb::Reply& reply) {
    std::exception_ptr failed;
    asio::co_spawn(io_, kb::write_reply(socket_, reply), [&](std::exception_ptr e) { failed = e; });
    io_.restart();
    io_.run();
    if (failed) std::rethrow_exception(failed);
  }

 private:
  asio::io_context io_{1};
  asio::ip::tcp::socket socket_;
};

/// Fetches from offset 0 to `end_offset`, each response written to a
/// loopback socket whose other end a consumer thread reads. The CPU figures
/// are this thread's: the broker's side of the path.
Figures fetch(Harness& h, std::string_view topic, std::int64_t end_offset, std::int32_t partition_max_bytes,
              const std::string& name) {
  constexpr std::int16_t version = 12;
  bench::SocketClient client(version);
  ReplySender sender(client.release_server_fd());
  Figures f{name, 0, 0, 0, 0, 0};
  std::int64_t offset = 0;
  std::int32_t correlation = 100;
  auto t0 = Usage::now(RUSAGE_THREAD);
  while (offset < end_offset) {
    kwire::FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 52428800;
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = partition_max_bytes;
    sender.send(h.reply(request_frame(req, version, correlation++)));
    auto seen = client.next();
    if (!seen.error.empty()) throw std::runtime_error(seen.error);
    if (seen.next_offset <= offset) throw std::runtime_error("fetch returned no complete batch");
    f.bytes += seen.bytes;
    offset = seen.next_offset;
    ++f.requests;
  }
  auto t1 = Usage::now(RUSAGE_THREAD);
  f.wall = t1.wall - t0.wall;
  f.cpu = t1.cpu - t0.cpu;
  f.sys = t1.sys - t0.sys;
  return f;
}

Figures validate(const std::vector<std::uint8_t>& batch, std::size_t count, const std::string& name) {
  kb::TopicRules rules;
  kb::ProduceContext rq;
  rq.now_ms = kb::now_ms();
  Figures f{name, count, 0, 0, 0, 0};
  auto t0 = Usage::now();
  for (std::size_t i = 0; i < count; ++i) {
    auto v = kb::validate_produce(kwire::bytes_view(batch), rules, rq);
    if (!v.ok()) throw std::runtime_error("validation failed: " + v.message);
  }
  auto t1 = Usage::now();
  f.bytes = static_cast<double>(batch.size()) * static_cast<double>(count);
  f.wall = t1.wall - t0.wall;
  f.cpu = t1.cpu - t0.cpu;
  f.sys = t1.sys - t0.sys;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  kwire_broker::tune_allocator();  // as kwire-broker's main does
  double big_mb = 256;
  std::size_t small_count = 20000;
  std::optional<fs::path> base;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mb") big_mb = std::stod(next());
    else if (a == "--small") small_count = std::stoul(next());
    else if (a == "--dir") base = next();
    else if (a == "--quick") {
      big_mb = 4;
      small_count = 200;
    } else {
      std::fprintf(stderr, "usage: %s [--mb N] [--small N] [--dir PATH] [--quick]\n", argv[0]);
      return 2;
    }
  }
  fs::path dir = (base ? *base : fs::temp_directory_path()) / ("kwire-broker-path-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  int rc = 0;
  try {
    kb::log_threshold() = static_cast<int>(kb::Level::warn);
    Harness h(dir);
    create_topic(h, "big");
    create_topic(h, "small");
    auto big = make_batch(128, 1024);     // 128 records of 1 KiB: a ~128 KiB batch
    auto small = make_batch(1, 1024);     // one 1 KiB record per request
    auto big_count = static_cast<std::size_t>(big_mb * 1e6 / static_cast<double>(big.size())) + 1;
    std::printf("| path | requests | MB | seconds | MB/s | CPU s per MB | of which system | µs per request |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    print(produce(h, "big", big, big_count, "produce, " + std::to_string(big.size()) + " B batches of 128 x 1 KiB"));
    print(produce(h, "small", small, small_count + 1,
                  "produce, " + std::to_string(small.size()) + " B batches of 1 x 1 KiB"));
    print(fetch(h, "big", static_cast<std::int64_t>(big_count) * 128, 1048576,
                "fetch, 1 MiB per partition, of the 128 x 1 KiB batches"));
    print(fetch(h, "small", static_cast<std::int64_t>(small_count) + 1, 1048576,
                "fetch, 1 MiB per partition, of the 1 x 1 KiB batches"));
    print(validate(big, big_count, "validator alone, the 128 x 1 KiB batch"));
    print(validate(small, small_count, "validator alone, the 1 x 1 KiB batch"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "broker_path: %s\n", e.what());
    rc = 1;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return rc;
}
