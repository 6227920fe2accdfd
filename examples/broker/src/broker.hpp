// The broker: shared state and the request dispatch. Protocol handlers (the
// handlers_*.cpp files) reach storage only through the seam in storage/.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "kwire/codec.hpp"
#include "kwire/messages/response_header.hpp"
#include "metrics.hpp"
#include "storage/await.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

namespace asio = boost::asio;
using kwire::bytes_view;

class Broker;
class GroupCoordinator;
class Realm;

/// What a connection does with a handled request.
struct Reply {
  enum class Kind : std::uint8_t { respond, none, close } kind = Kind::respond;
  std::vector<std::uint8_t> frame;  // size prefix, response header, body
};

/// Per-connection state that handlers may read or change.
struct SessionState {
  const Listener* listener = nullptr;
  const Listener* advertised = nullptr;
  std::string peer;
  bool authenticated = false;     // always true on PLAINTEXT listeners
  bool sasl_mechanism_chosen = false;
  bool raw_sasl_next = false;     // after SaslHandshake v0 the next frame is a bare token
  std::string principal = "ANONYMOUS";
  /// The namespace this client works in: the broker's own, or for a SASL
  /// user named tenant/namespace, that one.
  Realm* realm = nullptr;
};

/// The context of one request.
struct Ctx {
  explicit Ctx(SessionState& s) : session(s) {}
  SessionState& session;
  std::int16_t api_key = 0;
  std::int16_t version = 0;
  std::int32_t correlation_id = 0;
  std::string_view client_id;
  bool no_response = false;  // acks=0
  std::vector<kwire::ErrorCode> errors;  // for metrics: one entry per non-zero error

  /// Keeps strings and buffers alive until the response is encoded.
  std::deque<std::string> strings;
  std::deque<std::vector<std::uint8_t>> buffers;
  std::string_view keep(std::string s) { return strings.emplace_back(std::move(s)); }
  bytes_view keep(std::vector<std::uint8_t> b) {
    auto& v = buffers.emplace_back(std::move(b));
    return {v.data(), v.size()};
  }
  kwire::ErrorCode note(kwire::ErrorCode code) {
    if (code != kwire::ErrorCode::None) errors.push_back(code);
    return code;
  }
  Realm& realm() const noexcept { return *session.realm; }

  /// Lets the connection start its next request before this one completes:
  /// a produce request calls it once its appends are queued in storage.
  std::function<void()> on_release;
  void release() {
    if (auto f = std::move(on_release)) {
      on_release = nullptr;
      f();
    }
  }
};

/// Wakes long-polling fetches when a partition gets data.
class DataNotifier {
 public:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::set<storage::TopicPartition> partitions;
    bool fired = false;
  };
  void add(const std::shared_ptr<Waiter>& w);
  void remove(const std::shared_ptr<Waiter>& w);
  void notify(const storage::TopicPartition& tp);
  void wake_all();

 private:
  std::mutex mu_;
  std::list<std::shared_ptr<Waiter>> waiters_;
};

/// One namespace as its clients see it: its storage, its consumer groups, the
/// gateways sharing it and the partition logs open in it. Realms never see
/// each other's topics or groups.
class Realm {
 public:
  Realm(Broker& broker, storage::Namespace ns, std::unique_ptr<storage::Storage> store);
  ~Realm();

  const storage::Namespace& ns() const noexcept { return ns_; }
  storage::Storage& store() noexcept { return *store_; }
  GroupCoordinator& groups() noexcept { return *groups_; }
  Cluster& cluster() noexcept { return *cluster_; }

  /// Loads groups and joins the other gateways; before serving the realm.
  void start();
  /// Hands partitions and groups this gateway no longer owns to the gateway
  /// that does (periodic).
  void hand_over();

  /// The open log of a partition (cached), or the storage error.
  asio::awaitable<storage::Result<std::shared_ptr<storage::PartitionLog>>> log(const storage::TopicPartition& tp);
  void forget_logs(const std::string& topic);

  /// Creates a topic as auto-creation does (num.partitions, no configs).
  asio::awaitable<storage::Result<storage::TopicInfo>> auto_create(const std::string& topic);

  /// Whether the group-offsets topic is shown (internal_topics.hpp): from the
  /// first use of groups in this namespace on.
  bool group_offsets_topic_shown() const noexcept { return offsets_topic_shown_.load(std::memory_order_relaxed); }
  void show_group_offsets_topic() noexcept { offsets_topic_shown_.store(true, std::memory_order_relaxed); }

 private:
  Broker& broker_;
  storage::Namespace ns_;
  std::unique_ptr<storage::Storage> store_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<Cluster> cluster_;
  std::mutex logs_mu_;
  std::map<storage::TopicPartition, std::shared_ptr<storage::PartitionLog>> logs_;
  std::uint64_t forgets_ = 0;  // forget_logs() calls so far
  std::atomic<bool> offsets_topic_shown_{false};
};

class Broker {
 public:
  /// Opens the storage of a namespace (blocking; throws when it cannot).
  using StorageOpener = std::function<std::unique_ptr<storage::Storage>(const storage::Namespace&)>;

  Broker(Settings settings, StorageOpener open, std::vector<asio::io_context*> ios);
  ~Broker();

  /// Handles one request frame (after the size prefix). `release` is called
  /// when the connection may start its next request, if before the reply.
  asio::awaitable<Reply> handle(SessionState& session, bytes_view frame, std::function<void()> release = {});

  /// Opens the configured namespace and loads its groups; before serving.
  void start();
  /// Begins shutting down: long polls return, new requests close connections.
  void begin_shutdown();
  bool stopping() const noexcept { return stopping_.load(); }
  /// Closes every realm's storage (after the connections are gone).
  asio::awaitable<void> close_storage();

  // ---- shared services used by handlers ----
  const Settings& settings() const noexcept { return settings_; }
  Metrics& metrics() noexcept { return metrics_; }
  DataNotifier& notifier() noexcept { return notifier_; }
  asio::io_context& io() noexcept { return *ios_.front(); }

  /// The broker's configured namespace.
  Realm& default_realm() noexcept { return *default_realm_; }
  /// The realm of `ns`, opened on first use (blocking the caller while the
  /// storage opens). Throws when the storage cannot be opened.
  Realm& realm(const storage::Namespace& ns);
  /// Storage housekeeping and hand-over, for every open realm (periodic).
  void maintain();

  /// Versions advertised for an API; nullopt when not implemented.
  struct Range {
    std::int16_t min, max;
  };
  static std::optional<Range> advertised(std::int16_t api_key);

 private:
  Settings settings_;
  StorageOpener open_;
  std::vector<asio::io_context*> ios_;
  Metrics metrics_;
  DataNotifier notifier_;
  std::atomic<bool> stopping_{false};
  std::mutex realms_mu_;
  std::unique_ptr<Realm> default_realm_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Realm>> realms_;  // others, by tenant and namespace
};

// ---------------------------------------------------------------------------
// Handler plumbing

/// Encodes a response frame: size, header (v1 when flexible, v0 otherwise or
/// for ApiVersions), body.
template <class Resp>
Reply make_frame(const Ctx& ctx, const Resp& resp) {
  Reply r;
  bool flex_header = kwire::is_flexible<Resp>(ctx.version) && ctx.api_key != 18;
  kwire::ResponseHeader h;
  h.correlation_id = ctx.correlation_id;
  r.frame.resize(4);
  if (auto e = kwire::encode_into(h, flex_header ? 1 : 0, r.frame)) {
    r.kind = Reply::Kind::close;
    return r;
  }
  if (auto e = kwire::encode_into(resp, ctx.version, r.frame)) {
    r.kind = Reply::Kind::close;
    auto why = "cannot encode the response: " + e->message();
    r.frame.assign(why.begin(), why.end());
    return r;
  }
  auto n = static_cast<std::uint32_t>(r.frame.size() - 4);
  storage::batch::put_be(r.frame.data(), n, 4);
  return r;
}

using HandlerFn = asio::awaitable<Reply> (*)(Broker&, Ctx&, bytes_view);

/// Decodes Req, runs fn(broker, ctx, req, resp), encodes Resp.
template <class Req, class Resp, asio::awaitable<void> (*Fn)(Broker&, Ctx&, Req&, Resp&)>
asio::awaitable<Reply> invoke(Broker& b, Ctx& ctx, bytes_view body) {
  std::pmr::unsynchronized_pool_resource mem;
  Req req;
  // Bytes after the body are ignored, as Kafka's broker ignores them: librdkafka
  // sends some with its Metadata request for all topics.
  // The codec's own bound (a multiple of the body) admits any valid request;
  // the broker's is tighter, for requests ordinary clients send.
  const auto budget = std::min<std::size_t>(kwire::default_memory_limit(body.size()),
                                            static_cast<std::size_t>(b.settings().max_decode_bytes));
  if (auto d = kwire::decode(req, body, ctx.version,
                             kwire::DecodeOptions{.memory = &mem, .allow_trailing_bytes = true, .max_memory = budget});
      !d) {
    Reply r;
    r.kind = Reply::Kind::close;
    auto m = d.error().message();
    r.frame.assign(m.begin(), m.end());
    co_return r;
  }
  Resp resp;
  co_await Fn(b, ctx, req, resp);
  if (ctx.no_response) co_return Reply{Reply::Kind::none, {}};
  co_return make_frame(ctx, resp);
}

// Handlers, one per API (defined in handlers_*.cpp).
struct HandlerEntry {
  std::int16_t api_key;
  std::int16_t min_version, max_version;  // served
  HandlerFn fn;
  /// Advertised from here when below min_version: such versions are refused
  /// like unsupported ones. Kafka 4 does this for Produce v0-2 only, because
  /// older librdkafka releases turn compression off unless Produce v0 is
  /// advertised (KAFKA-18659).
  std::int16_t advertised_min = -1;
  std::int16_t advertised_from() const noexcept { return advertised_min >= 0 ? advertised_min : min_version; }
};
const std::vector<HandlerEntry>& handler_table();

std::vector<HandlerEntry> core_handlers();
std::vector<HandlerEntry> data_handlers();
std::vector<HandlerEntry> admin_handlers();
std::vector<HandlerEntry> group_handlers();

std::int64_t now_ms();

/// Checks a SASL/PLAIN token against the configured users.
bool check_plain(const Settings& settings, bytes_view token, std::string& user);

/// After authentication: a user named tenant/namespace (Kafka-on-Pulsar's
/// convention) works in that namespace from now on, and sees nothing of any
/// other; every other user works in the broker's own. Returns why the
/// namespace cannot be used, or nothing.
std::optional<std::string> enter_namespace(Broker& b, SessionState& s, const std::string& user);

}  // namespace kwire_broker
