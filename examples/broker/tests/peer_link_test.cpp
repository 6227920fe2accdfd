// The peer link (net/peer_link.hpp) against a real broker over loopback TCP:
// a Broker and its Server in this process, on an embedded store in a
// temporary directory, all on one io_context that the test runs while it
// waits. A hand-made server stands in for a gateway that dies mid-request.
#include <doctest/doctest.h>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/broker.hpp"
#include "core/config.hpp"
#include "core/scram.hpp"
#include "handlers/sasl.hpp"
#include "kwire/messages/api_versions_request.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/create_topics_request.hpp"
#include "kwire/messages/create_topics_response.hpp"
#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/metadata_request.hpp"
#include "kwire/messages/metadata_response.hpp"
#include "kwire/messages/write_txn_markers_request.hpp"
#include "kwire/messages/write_txn_markers_response.hpp"
#include "net/peer_link.hpp"
#include "net/server.hpp"
#include "storage/embedded/file_cache.hpp"
#include "storage/open.hpp"
#include "support/temp_dir.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using kwire::ErrorCode;
using kwire_broker::PeerLink;
using kwire_broker::storage::Endpoint;
using namespace std::chrono_literals;

namespace {

std::string lowercase(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

/// A port nobody listens on now (bound, read, released).
std::uint16_t free_port(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return a.local_endpoint().port();
}

/// Runs one handler, waiting for it; an io_context that ran out of work
/// (stopped) takes new work again.
void step(asio::io_context& io) {
  if (io.stopped()) io.restart();
  io.run_one();
}

/// Runs `io` until `task` ends; its result, or its exception rethrown.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  std::exception_ptr failed;
  bool done = false;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
    failed = e;
    if (!e) out = std::move(v);
    done = true;
  });
  while (!done) step(io);
  if (failed) std::rethrow_exception(failed);
  return std::move(*out);
}

/// A broker listening on 127.0.0.1 with `overrides` on top of an embedded
/// store in a temporary directory.
struct LiveBroker {
  asio::io_context io;
  kwire_broker::testing::TempDir dir{"kwire-peer-link"};
  std::uint16_t port = free_port(io);
  kwire_broker::Properties props;
  kwire_broker::Settings settings;
  std::shared_ptr<kwire_broker::storage::embedded::FileCache> files;
  std::unique_ptr<kwire_broker::Broker> broker;
  std::unique_ptr<kwire_broker::Server> server;

  std::string listener;

  explicit LiveBroker(const std::map<std::string, std::string>& overrides = {}, std::string name = "PLAINTEXT")
      : listener(std::move(name)) {
    props.set("log.dirs", dir.path.string());
    props.set("listeners", listener + "://127.0.0.1:" + std::to_string(port));
    props.set("auto.create.topics.enable", "false");
    props.set("kwire.log.level", "warn");
    for (const auto& [k, v] : overrides) props.set(k, v);
    settings = kwire_broker::make_settings(props);
    files = std::make_shared<kwire_broker::storage::embedded::FileCache>(
        kwire_broker::storage::max_open_log_files(settings));
    broker = std::make_unique<kwire_broker::Broker>(
        settings,
        [this](const kwire_broker::storage::Namespace& ns) {
          return kwire_broker::storage::open_storage(settings, props, ns, files);
        },
        std::vector<asio::io_context*>{&io});
    broker->start();
    kwire_broker::seed_scram_users(*broker);
    server = std::make_unique<kwire_broker::Server>(*broker, std::vector<asio::io_context*>{&io});
    server->start();
  }
  ~LiveBroker() {
    server->stop();
    broker->begin_shutdown();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (server->open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
      if (io.stopped()) io.restart();
      io.run_one_for(10ms);
    }
    run(io, [this]() -> asio::awaitable<bool> {
      co_await broker->close_storage();
      co_return true;
    }());
  }

  Endpoint endpoint(std::string host = "127.0.0.1") const { return Endpoint{listener, std::move(host), port}; }
};

template <class Req>
auto call(asio::io_context& io, PeerLink& link, Endpoint to, Req req, std::int16_t version,
          std::chrono::milliseconds timeout = 5s) {
  return run(io, [&]() -> asio::awaitable<kwire_broker::PeerReply<kwire::response_of_t<Req>>> {
    auto op = link.call(to, req, version, timeout);
    co_return co_await std::move(op);
  }());
}

kwire::MetadataRequest metadata_of(std::string_view topic) {
  kwire::MetadataRequest req;
  auto& t = req.topics->emplace_back();
  t.name = topic;
  return req;
}

}  // namespace

TEST_CASE("ApiVersions and Metadata are answered by a real broker") {
  LiveBroker b;
  PeerLink link(b.settings, b.io.get_executor());
  CHECK(link.listener() == "PLAINTEXT");
  auto versions = call(b.io, link, b.endpoint(), kwire::ApiVersionsRequest{}, 3);
  REQUIRE(versions.error == ErrorCode::None);
  CHECK(versions.body.error_code == ErrorCode::None);
  CHECK(versions.body.api_keys.size() > 10);
  REQUIRE(versions.frame);

  auto meta = call(b.io, link, b.endpoint(), kwire::MetadataRequest{}, 12);
  REQUIRE(meta.error == ErrorCode::None);
  REQUIRE(meta.body.brokers.size() == 1);
  CHECK(meta.body.brokers[0].port == b.port);
  CHECK(b.server->open_connections() == 1);  // both on one connection
}

TEST_CASE("CreateTopics then WriteTxnMarkers through the link write a marker") {
  LiveBroker b;
  PeerLink link(b.settings, b.io.get_executor());
  kwire::CreateTopicsRequest create;
  auto& t = create.topics.emplace_back();
  t.name = "orders";
  t.num_partitions = 1;
  t.replication_factor = 1;
  auto created = call(b.io, link, b.endpoint(), create, 7);
  REQUIRE(created.error == ErrorCode::None);
  REQUIRE(created.body.topics.at(0).error_code == ErrorCode::None);

  kwire::WriteTxnMarkersRequest markers;
  auto& m = markers.markers.emplace_back();
  m.producer_id = 42;
  m.producer_epoch = 3;
  m.transaction_result = false;
  m.coordinator_epoch = 0;
  auto& mt = m.topics.emplace_back();
  mt.name = "orders";
  mt.partition_indexes.push_back(0);
  auto written = call(b.io, link, b.endpoint(), markers, 1);
  REQUIRE(written.error == ErrorCode::None);
  REQUIRE(written.body.markers.at(0).topics.at(0).partitions.at(0).error_code == ErrorCode::None);

  kwire::FetchRequest fetch;
  fetch.max_wait_ms = 0;
  fetch.min_bytes = 1;
  fetch.max_bytes = 1 << 20;
  auto& ft = fetch.topics.emplace_back();
  ft.topic = "orders";
  auto& fp = ft.partitions.emplace_back();
  fp.partition = 0;
  fp.partition_max_bytes = 1 << 20;
  auto fetched = call(b.io, link, b.endpoint(), fetch, 12);
  REQUIRE(fetched.error == ErrorCode::None);
  const auto& part = fetched.body.responses.at(0).partitions.at(0);
  CHECK(part.error_code == ErrorCode::None);
  CHECK(part.high_watermark == 1);  // the marker is the partition's one record batch
  REQUIRE(part.records);
  CHECK(!part.records->empty());
}

TEST_CASE("a call to a port nobody listens on fails promptly with NetworkException") {
  LiveBroker b;
  PeerLink link(b.settings, b.io.get_executor());
  Endpoint nowhere{"PLAINTEXT", "127.0.0.1", free_port(b.io)};
  const auto start = std::chrono::steady_clock::now();
  auto r = call(b.io, link, nowhere, kwire::ApiVersionsRequest{}, 3, 10s);
  CHECK(r.error == ErrorCode::NetworkException);
  CHECK(!r.message.empty());
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("a call that outlives its timeout fails with RequestTimedOut; the next one reconnects") {
  LiveBroker b;
  PeerLink link(b.settings, b.io.get_executor());
  kwire::CreateTopicsRequest create;
  auto& t = create.topics.emplace_back();
  t.name = "quiet";
  t.num_partitions = 1;
  t.replication_factor = 1;
  REQUIRE(call(b.io, link, b.endpoint(), create, 7).error == ErrorCode::None);
  // A long poll on an empty partition: the broker holds it for 5 s.
  kwire::FetchRequest fetch;
  fetch.max_wait_ms = 5000;
  fetch.min_bytes = 1;
  fetch.max_bytes = 1 << 20;
  auto& ft = fetch.topics.emplace_back();
  ft.topic = "quiet";
  auto& fp = ft.partitions.emplace_back();
  fp.partition = 0;
  fp.partition_max_bytes = 1 << 20;
  const auto start = std::chrono::steady_clock::now();
  auto r = call(b.io, link, b.endpoint(), fetch, 12, 200ms);
  CHECK(r.error == ErrorCode::RequestTimedOut);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 200ms);
  CHECK(took < 2s);
  auto again = call(b.io, link, b.endpoint(), kwire::ApiVersionsRequest{}, 3);
  CHECK(again.error == ErrorCode::None);
}

TEST_CASE("concurrent calls on one connection each get their own response") {
  LiveBroker b;
  PeerLink link(b.settings, b.io.get_executor());
  constexpr int n = 24;
  std::vector<std::string> asked, answered(n);
  for (int i = 0; i < n; ++i) asked.push_back("topic-" + std::to_string(i));
  int done = 0;
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        b.io,
        [&, i]() -> asio::awaitable<void> {
          auto req = metadata_of(asked[i]);
          auto op = link.call(b.endpoint(), req, 12, 5s);
          auto r = co_await std::move(op);
          if (r.error == ErrorCode::None && r.body.topics.size() == 1 && r.body.topics[0].name)
            answered[i] = std::string(*r.body.topics[0].name);
          ++done;
        },
        asio::detached);
  }
  while (done < n) step(b.io);
  CHECK(answered == asked);
  CHECK(b.server->open_connections() == 1);
}

TEST_CASE("calls from several threads share the link") {
  LiveBroker b;
  // The broker on a thread of its own; the link's executor run by two others.
  auto broker_work = asio::make_work_guard(b.io);
  std::thread broker_thread([&] { b.io.run(); });
  asio::io_context client;
  PeerLink link(b.settings, client.get_executor());
  constexpr int n = 32;
  std::vector<std::string> asked, answered(n);
  for (int i = 0; i < n; ++i) asked.push_back("topic-" + std::to_string(i));
  std::atomic<int> done{0};
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        client,
        [&, i]() -> asio::awaitable<void> {
          auto req = metadata_of(asked[i]);
          auto op = link.call(b.endpoint(), req, 12, 5s);
          auto r = co_await std::move(op);
          if (r.error == ErrorCode::None && r.body.topics.size() == 1 && r.body.topics[0].name)
            answered[i] = std::string(*r.body.topics[0].name);
          // The open connection keeps `client` running until the link closes.
          if (++done == n) link.close();
        },
        asio::detached);
  }
  std::thread second([&] { client.run(); });
  client.run();
  second.join();
  CHECK(done == n);
  CHECK(answered == asked);
  broker_work.reset();
  b.io.stop();
  broker_thread.join();
}

namespace {
/// Reads one request frame; its correlation id and API version.
asio::awaitable<kwire::RequestPrefix> read_request(tcp::socket& s, std::vector<std::uint8_t>& body) {
  std::array<std::uint8_t, 4> size{};
  co_await asio::async_read(s, asio::buffer(size), asio::use_awaitable);
  body.resize((std::size_t{size[0]} << 24) | (std::size_t{size[1]} << 16) | (std::size_t{size[2]} << 8) | size[3]);
  co_await asio::async_read(s, asio::buffer(body), asio::use_awaitable);
  kwire::RequestPrefix prefix;
  if (!kwire::peek_request_header(kwire::bytes_view(body), prefix)) throw std::runtime_error("bad request header");
  co_return prefix;
}

/// A gateway that dies while a request waits on its first connection, then
/// answers ApiVersions on its second.
asio::awaitable<void> flaky_gateway(tcp::acceptor& acceptor) {
  std::vector<std::uint8_t> body;
  {
    auto first = co_await acceptor.async_accept(asio::use_awaitable);
    auto read = read_request(first, body);
    co_await std::move(read);
  }  // closed unanswered
  auto second = co_await acceptor.async_accept(asio::use_awaitable);
  auto read = read_request(second, body);
  const auto prefix = co_await std::move(read);
  kwire::ApiVersionsResponse resp;
  std::vector<std::uint8_t> out;
  if (kwire::encode_response_frame(resp, prefix.api_version, prefix.correlation_id, out))
    throw std::runtime_error("cannot encode");
  co_await asio::async_write(second, asio::buffer(out), asio::use_awaitable);
}
}  // namespace

TEST_CASE("a gateway going away fails the waiting call; the next call reconnects") {
  LiveBroker b;
  tcp::acceptor acceptor(b.io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  Endpoint flaky{"PLAINTEXT", "127.0.0.1", acceptor.local_endpoint().port()};
  bool served = false;
  asio::co_spawn(b.io, flaky_gateway(acceptor), [&](std::exception_ptr e) {
    CHECK(!e);
    served = true;
  });
  PeerLink link(b.settings, b.io.get_executor());
  auto lost = call(b.io, link, flaky, kwire::ApiVersionsRequest{}, 3, 5s);
  CHECK(lost.error == ErrorCode::NetworkException);
  auto again = call(b.io, link, flaky, kwire::ApiVersionsRequest{}, 3, 5s);
  CHECK(again.error == ErrorCode::None);
  while (!served) step(b.io);
}

TEST_CASE("a closed link fails calls at once") {
  LiveBroker b;
  PeerLink link(b.settings, b.io.get_executor());
  REQUIRE(call(b.io, link, b.endpoint(), kwire::ApiVersionsRequest{}, 3).error == ErrorCode::None);
  link.close();
  CHECK(call(b.io, link, b.endpoint(), kwire::ApiVersionsRequest{}, 3).error == ErrorCode::NetworkException);
}

TEST_CASE("a listener the link cannot speak fails calls with a message saying so") {
  kwire_broker::Properties p;
  p.set("listeners", "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093");
  p.set("inter.broker.listener.name", "SASL_PLAINTEXT");
  const auto settings = kwire_broker::make_settings(p);
  asio::io_context io;
  PeerLink link(settings, io.get_executor());
  CHECK(link.listener() == "SASL_PLAINTEXT");
  auto r = call(io, link, Endpoint{"SASL_PLAINTEXT", "127.0.0.1", 9093}, kwire::ApiVersionsRequest{}, 3);
  CHECK(r.error == ErrorCode::UnknownServerError);
  CHECK(r.message.find("SASL_PLAINTEXT") != std::string::npos);
}

TEST_CASE("inter.broker.listener.name and security.inter.broker.protocol") {
  auto settings = [](std::map<std::string, std::string> kv) {
    kwire_broker::Properties p;
    p.set("listeners", "PLAINTEXT://:9092,INTERNAL://:9093,SSL://:9094");
    p.set("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,SSL:SSL");
    p.set("ssl.keystore.location", "/nonexistent");
    for (auto& [k, v] : kv) p.set(k, v);
    return kwire_broker::make_settings(p);
  };
  CHECK(settings({}).inter_broker_listener == "PLAINTEXT");
  CHECK(settings({{"inter.broker.listener.name", "INTERNAL"}}).inter_broker_listener == "INTERNAL");
  CHECK(settings({{"security.inter.broker.protocol", "SSL"}}).inter_broker_listener == "SSL");
  CHECK_THROWS_WITH_AS(settings({{"inter.broker.listener.name", "EXTERNAL"}}),
                       doctest::Contains("no listener of that name"), std::runtime_error);
  CHECK_THROWS_WITH_AS(settings({{"security.inter.broker.protocol", "SASL_SSL"}}),
                       doctest::Contains("no listener of that name"), std::runtime_error);
  CHECK_THROWS_WITH_AS(
      settings({{"inter.broker.listener.name", "INTERNAL"}, {"security.inter.broker.protocol", "PLAINTEXT"}}),
      doctest::Contains("only one of"), std::runtime_error);
  CHECK(settings({}).inter_broker_sasl_mechanism == "GSSAPI");
  CHECK_THROWS_WITH_AS(settings({{"sasl.mechanism.inter.broker.protocol", "GSSAPI"}}), doctest::Contains("GSSAPI"),
                       std::runtime_error);
  const auto plain = settings({{"sasl.mechanism.inter.broker.protocol", "PLAIN"},
                               {"listener.name.plaintext.plain.sasl.jaas.config",
                                R"(org.apache.kafka.common.security.plain.PlainLoginModule required username="gw" )"
                                R"(password="s3cret" user_gw="s3cret";)"}});
  CHECK(plain.inter_broker_sasl_username == "gw");
  CHECK(plain.inter_broker_sasl_password == "s3cret");
}

namespace {
/// A CA, a server certificate from it for localhost and 127.0.0.1 (key and
/// chain in one PEM file, as ssl.keystore.location takes it), one for
/// localhost only, and a CA that signed nothing here.
void make_certs(const std::filesystem::path& d) {
  const std::string cmd =
      "cd '" + d.string() + "' && "
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=test CA' && "
      "openssl req -newkey rsa:2048 -nodes -keyout gw.key -out gw.csr -subj '/CN=localhost' && "
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > gw.ext && "
      "openssl x509 -req -in gw.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out gw.crt -days 2 -extfile gw.ext && "
      "cat gw.key gw.crt > gw.pem && "
      "printf 'subjectAltName=DNS:localhost\\n' > named.ext && "
      "openssl x509 -req -in gw.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out named.crt -days 2 -extfile named.ext && "
      "cat gw.key named.crt > named.pem && "
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj '/CN=other CA'";
  const std::string quiet = "(" + cmd + ") > /dev/null 2>&1";
  REQUIRE(std::system(quiet.c_str()) == 0);
}
}  // namespace

TEST_CASE("SSL: the link checks the gateway's certificate and shows its own when asked") {
  kwire_broker::testing::TempDir certs{"kwire-peer-link-certs"};
  make_certs(certs.path);
  LiveBroker b({{"ssl.keystore.location", (certs.path / "gw.pem").string()},
                {"ssl.truststore.location", (certs.path / "ca.pem").string()},
                {"ssl.client.auth", "required"},
                {"security.inter.broker.protocol", "SSL"}},
               "SSL");
  PeerLink link(b.settings, b.io.get_executor());
  CHECK(link.listener() == "SSL");
  for (const char* host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    auto r = call(b.io, link, b.endpoint(host), kwire::ApiVersionsRequest{}, 3);
    CHECK(r.error == ErrorCode::None);
    CHECK(r.message == "");
    CHECK(r.body.api_keys.size() > 10);
  }

  // A gateway whose truststore does not hold the server's CA refuses it.
  auto distrusting = b.settings;
  distrusting.listeners.at(0).ssl["ssl.truststore.location"] = (certs.path / "other-ca.pem").string();
  PeerLink wary(distrusting, b.io.get_executor());
  auto refused = call(b.io, wary, b.endpoint(), kwire::ApiVersionsRequest{}, 3);
  CHECK(refused.error == ErrorCode::NetworkException);
  CHECK(refused.message.find("TLS handshake") != std::string::npos);

  // Without a keystore the link has no certificate to show: ssl.client.auth=required refuses it.
  auto anonymous = b.settings;
  anonymous.listeners.at(0).ssl.erase("ssl.keystore.location");
  PeerLink nameless(anonymous, b.io.get_executor());
  auto r = call(b.io, nameless, b.endpoint(), kwire::ApiVersionsRequest{}, 3);
  CHECK(r.error == ErrorCode::NetworkException);
}

TEST_CASE("SCRAM client: RFC 7677's SCRAM-SHA-256 example") {
  kwire_broker::scram::Client client(kwire_broker::scram::Mechanism::sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  CHECK(client.first() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  std::string why;
  auto final_message = client.final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", why);
  REQUIRE(final_message);
  CHECK(*final_message ==
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(client.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  CHECK(!client.verify("v=AAAA"));
  // A server nonce that does not extend ours, and iterations out of bounds.
  kwire_broker::scram::Client other(kwire_broker::scram::Mechanism::sha256, "user", "pencil", "abc");
  other.first();
  CHECK(!other.final("r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", why));
  CHECK(!other.final("r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100", why));
  CHECK(!other.final("r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999", why));
}

TEST_CASE("SASL_PLAINTEXT: the link logs in with PLAIN or SCRAM before its requests") {
  for (const std::string mechanism : {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}) {
    CAPTURE(mechanism);
    const std::string module = mechanism == "PLAIN" ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                                                    : "org.apache.kafka.common.security.scram.ScramLoginModule";
    LiveBroker b({{"sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"},
                  {"kwire.sasl.scram.users",
                   "SCRAM-SHA-256=[name=gw,password=gw-secret] SCRAM-SHA-512=[name=gw,password=gw-secret]"},
                  {"security.inter.broker.protocol", "SASL_PLAINTEXT"},
                  {"sasl.mechanism.inter.broker.protocol", mechanism},
                  {"listener.name.sasl_plaintext." + lowercase(mechanism) + ".sasl.jaas.config",
                   module + R"( required username="gw" password="gw-secret" user_gw="gw-secret";)"}},
                 "SASL_PLAINTEXT");
    PeerLink link(b.settings, b.io.get_executor());
    auto r = call(b.io, link, b.endpoint(), kwire::ApiVersionsRequest{}, 3);
    CHECK(r.error == ErrorCode::None);
    CHECK(r.message == "");
    auto meta = call(b.io, link, b.endpoint(), kwire::MetadataRequest{}, 12);
    CHECK(meta.error == ErrorCode::None);  // answered only after a login

    auto wrong = b.settings;
    wrong.inter_broker_sasl_password = "guess";
    PeerLink guessing(wrong, b.io.get_executor());
    auto refused = call(b.io, guessing, b.endpoint(), kwire::ApiVersionsRequest{}, 3);
    CHECK(refused.error == ErrorCode::SaslAuthenticationFailed);
    CHECK(refused.message.find("gw") != std::string::npos);
  }
}

TEST_CASE("SSL: the peer's certificate must name the host called, unless identification is off") {
  kwire_broker::testing::TempDir certs{"kwire-peer-link-certs"};
  make_certs(certs.path);
  LiveBroker b({{"ssl.keystore.location", (certs.path / "named.pem").string()},
                {"ssl.truststore.location", (certs.path / "ca.pem").string()},
                {"security.inter.broker.protocol", "SSL"}},
               "SSL");
  PeerLink link(b.settings, b.io.get_executor());
  auto by_name = call(b.io, link, b.endpoint("localhost"), kwire::ApiVersionsRequest{}, 3);
  CHECK(by_name.error == ErrorCode::None);
  auto by_address = call(b.io, link, b.endpoint("127.0.0.1"), kwire::ApiVersionsRequest{}, 3);
  CHECK(by_address.error == ErrorCode::NetworkException);
  CHECK(by_address.message.find("TLS handshake") != std::string::npos);

  auto lenient = b.settings;
  lenient.listeners.at(0).ssl["ssl.endpoint.identification.algorithm"] = "";
  PeerLink trusting(lenient, b.io.get_executor());
  CHECK(call(b.io, trusting, b.endpoint("127.0.0.1"), kwire::ApiVersionsRequest{}, 3).error == ErrorCode::None);
}

TEST_CASE("SASL_SSL: TLS first, then the login") {
  kwire_broker::testing::TempDir certs{"kwire-peer-link-certs"};
  make_certs(certs.path);
  LiveBroker b({{"ssl.keystore.location", (certs.path / "gw.pem").string()},
                {"ssl.truststore.location", (certs.path / "ca.pem").string()},
                {"sasl.enabled.mechanisms", "SCRAM-SHA-512"},
                {"kwire.sasl.scram.users", "SCRAM-SHA-512=[name=gw,password=gw-secret]"},
                {"inter.broker.listener.name", "SASL_SSL"},
                {"sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"},
                {"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                 R"(org.apache.kafka.common.security.scram.ScramLoginModule required username="gw" password="gw-secret";)"}},
               "SASL_SSL");
  PeerLink link(b.settings, b.io.get_executor());
  auto r = call(b.io, link, b.endpoint("localhost"), kwire::MetadataRequest{}, 12);
  CHECK(r.error == ErrorCode::None);
  CHECK(r.message == "");
}
