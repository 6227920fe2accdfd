// Fuzzes kwire-broker's request path: Broker::handle, the dispatch a
// connection uses, with every handler behind it, the group coordinator and
// the embedded store (in a temporary directory made once per process).
//
// Input: up to max_frames request frame bodies (what follows the size
// prefix), separated by `separator`, handled in order as one connection
// sends them, so that sequences such as CreateTopics, Produce, Fetch are
// reachable; fetch session ids follow a fixed sequence per input, so that a
// full fetch's session can be continued. Per frame the broker must either
// close the connection (bad input) or answer with a frame that kwire decodes
// as the response of the request's API and version, with its correlation id
// and nothing left over; a fetch's record sets, sent from the store's files,
// are read to make that frame.
//
// Bounds, so that a long run does not grow without limit: a fresh broker and
// store every inputs_per_broker inputs or once requests have asked for
// max_partitions partitions; CreateTopics and CreatePartitions asking for more
// than max_partitions_per_request are skipped (the broker would honour them,
// as Kafka does, and a fuzzer would make a million files); a request still
// waiting after request_budget (long polls, groups waiting for members) is
// ended by shutting the broker down, and the next input gets a new one.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "core/log.hpp"
#include "kwire/framing/request.hpp"
#include "kwire/messages/create_partitions_request.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/dispatch.hpp"
#include "support/in_process_broker.hpp"

namespace {

namespace fs = std::filesystem;
using kwire_broker::Reply;
using kwire_broker::testing::InProcessBroker;

constexpr std::string_view separator = "\xf0KWf";
constexpr std::size_t max_frames = 8;
constexpr int inputs_per_broker = 500;
constexpr std::int64_t max_partitions = 1000;
constexpr std::int64_t max_partitions_per_request = 32;
constexpr std::chrono::milliseconds request_budget{300};

[[noreturn]] void fail(const char* why, std::int16_t key, std::int16_t version) {
  std::fprintf(stderr, "broker_request: %s (api key %d, version %d)\n", why, key, version);
  std::abort();
}

/// Partitions a CreateTopics or CreatePartitions request asks for; 0 for
/// other requests and for ones the broker will not decode either.
std::int64_t partitions_asked(kwire::bytes_view frame) {
  kwire::RequestFrame rf;
  if (!kwire::read_request_header(frame, rf)) return 0;
  const auto version = rf.header.request_api_version;
  // As the broker decodes requests: trailing bytes allowed.
  const kwire::DecodeOptions options{.allow_trailing_bytes = true};
  std::int64_t n = 0;
  if (rf.api_key() == kwire::ApiKey::CreateTopics) {
    kwire::CreateTopicsRequest req;
    if (!kwire::decode(req, rf.body, version, options)) return 0;
    for (auto& t : req.topics)
      n += std::max<std::int64_t>({1, t.num_partitions, static_cast<std::int64_t>(t.assignments.size())});
  } else if (rf.api_key() == kwire::ApiKey::CreatePartitions) {
    kwire::CreatePartitionsRequest req;
    if (!kwire::decode(req, rf.body, version, options)) return 0;
    for (auto& t : req.topics) n += std::max<std::int64_t>(1, t.count);
  }
  return n;
}

/// The reply to `frame` must be a close, no reply (Produce with acks=0), or
/// the response kwire pairs with the request.
void check(kwire::bytes_view frame, const Reply& reply, bool raw_sasl) {
  if (reply.kind == Reply::Kind::close) {
    // A handler whose response cannot be encoded at the request's version
    // built a response the protocol cannot carry: the broker's bug, not the
    // input's.
    std::string_view why(reinterpret_cast<const char*>(reply.frame.data()), reply.frame.size());
    if (why.starts_with("cannot encode the response")) fail("the broker cannot encode its own response", -1, -1);
    return;
  }
  if (raw_sasl) {
    // After SaslHandshake v0 a good token is answered with an empty frame.
    if (reply.kind != Reply::Kind::respond || flatten(reply) != std::vector<std::uint8_t>(4, 0))
      fail("not an empty frame after a bare SASL token", -1, -1);
    return;
  }
  kwire::RequestPrefix prefix;
  if (!kwire::peek_request_header(frame, prefix)) fail("a reply to a frame without a request header", -1, -1);
  const auto key = static_cast<std::int16_t>(prefix.api_key);
  std::int16_t version = prefix.api_version;
  if (reply.kind == Reply::Kind::none) {
    if (prefix.api_key != kwire::ApiKey::Produce) fail("no reply to a request other than Produce", key, version);
    return;
  }
  // ApiVersions of a version the broker does not serve is answered at v0.
  if (prefix.api_key == kwire::ApiKey::ApiVersions) {
    auto range = kwire_broker::Broker::advertised(key);
    if (!range || version > range->max) version = 0;
  }
  // A fetch's record sets may be regions of the store's files: read, they
  // must make one frame with the rest.
  const auto out = kwire_broker::flatten(reply);
  if (out.size() != reply.size()) fail("a reply whose pieces do not add up to its size", key, version);
  if (out.size() < 4) fail("a response frame shorter than its size prefix", key, version);
  const std::uint32_t size = std::uint32_t{out[0]} << 24 | std::uint32_t{out[1]} << 16 | std::uint32_t{out[2]} << 8 | out[3];
  if (size != out.size() - 4) fail("a response frame whose size prefix is wrong", key, version);
  kwire::ResponseFrame rf;
  if (!kwire::read_response_header(kwire::bytes_view(out).subspan(4), key, version, rf))
    fail("a response header that does not decode", key, version);
  if (rf.header.correlation_id != prefix.correlation_id) fail("a response with another correlation id", key, version);
  bool decoded = false;
  if (!kwire::with_response_type(key, [&]<class M>(std::type_identity<M>) {
        std::pmr::monotonic_buffer_resource arena;
        M msg;
        decoded = static_cast<bool>(kwire::decode(msg, rf.body, version, &arena));
      }))
    fail("a response to an API kwire does not know", key, version);
  if (!decoded) fail("a response body that does not decode", key, version);
}

class Target {
 public:
  Target() {
    std::string pattern = (fs::temp_directory_path() / "kwire-fuzz-broker.XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    root_ = pattern;
    // Logging every created topic and refused request would cost more than
    // handling it.
    kwire_broker::log_threshold() = static_cast<int>(kwire_broker::Level::error);
    renew();
  }
  ~Target() {
    broker_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void run(const std::uint8_t* data, std::size_t size) {
    if (++inputs_ >= inputs_per_broker || partitions_ >= max_partitions) renew();
    // Sessions this input opens get the ids its later frames can name
    // (tools/broker_request_seeds.cpp computes the first).
    broker_->broker().fetch_sessions().reseed(1);
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (std::size_t i = 0; i < max_frames && !rest.empty(); ++i) {
      auto at = rest.find(separator);
      // Each frame in a buffer of its own size, so that ASan sees a read
      // past its end.
      std::vector<std::uint8_t> frame(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(std::min(at, rest.size())));
      rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + separator.size());
      const auto asked = partitions_asked(frame);
      if (asked > max_partitions_per_request) continue;
      partitions_ += asked;
      const bool raw_sasl = broker_->session().raw_sasl_next;
      auto reply = broker_->handle_within(frame, request_budget);
      if (!reply) {
        // The broker is shutting down: the rest of the input would be closed.
        inputs_ = inputs_per_broker;
        return;
      }
      if (trace_) {
        kwire::RequestPrefix prefix;
        (void)kwire::peek_request_header(frame, prefix);
        std::fprintf(stderr, "api %d v%d: %s %s\n", static_cast<int>(prefix.api_key), prefix.api_version,
                     reply->kind == Reply::Kind::close ? "close" : reply->kind == Reply::Kind::none ? "none" : "respond",
                     reply->kind == Reply::Kind::close ? std::string(reply->frame.begin(), reply->frame.end()).c_str()
                                                       : std::to_string(reply->size()).c_str());
      }
      check(frame, *reply, raw_sasl);
      if (reply->kind == Reply::Kind::close) broker_->reset_session();  // the client reconnects
    }
  }

 private:
  void renew() {
    broker_.reset();
    inputs_ = 0;
    partitions_ = 0;
    std::error_code ec;
    fs::remove_all(root_ / "data", ec);
    broker_ = std::make_unique<InProcessBroker>(root_ / "data", std::map<std::string, std::string>{
        // Groups form without waiting for more members to join.
        {"group.initial.rebalance.delay.ms", "0"},
        {"group.min.session.timeout.ms", "1"},
        // Appends are not flushed to disk: the fuzzer needs no durability.
        {"log.flush.interval.ms", "-1"},
        {"kwire.log.max.open.files", "64"},
    });
  }

  fs::path root_;
  // BROKER_REQUEST_TRACE=1: each frame's API and what the broker did, to see
  // what a seed reaches.
  const bool trace_ = std::getenv("BROKER_REQUEST_TRACE") != nullptr;
  std::unique_ptr<InProcessBroker> broker_;
  int inputs_ = 0;
  std::int64_t partitions_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Target target;
  target.run(data, size);
  return 0;
}
