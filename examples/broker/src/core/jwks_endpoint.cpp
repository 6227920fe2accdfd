#include "core/jwks_endpoint.hpp"

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <exception>
#include <stdexcept>

#include "core/log.hpp"

namespace kwire_broker::oauth {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t max_body_bytes = 1 << 20;
// Early fetches for missing key ids (the figures Kafka's broker uses).
constexpr std::size_t max_missing_kid_length = 32;
constexpr std::size_t max_missing_kids = 16;
constexpr auto missing_kid_hold = std::chrono::minutes(1);

struct Url {
  bool tls = false;
  std::string host, port, target;
};

Url parse_url(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    throw std::runtime_error("not an http(s) URL: " + url);
  }
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  std::size_t colon = std::string::npos;
  if (!authority.empty() && authority[0] == '[') {  // [v6 address]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::runtime_error("bad host in URL: " + url);
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') colon = close + 1;
  } else {
    colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
  }
  u.port = colon == std::string::npos ? (u.tls ? "443" : "80") : authority.substr(colon + 1);
  if (u.host.empty() || u.port.empty() || authority.find('@') != std::string::npos)
    throw std::runtime_error("bad host in URL: " + url);
  return u;
}

template <class Stream>
asio::awaitable<std::string> get(Stream& stream, const Url& u) {
  http::request<http::empty_body> req{http::verb::get, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::user_agent, "kwire-broker");
  req.set(http::field::accept, "application/json");
  co_await http::async_write(stream, req, asio::use_awaitable);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  auto& res = parser.get();
  if (res.result() != http::status::ok)
    throw std::runtime_error("HTTP status " + std::to_string(res.result_int()));
  co_return std::move(res.body());
}

}  // namespace

std::string fetch_url(const std::string& url, const std::string& ca_file, std::chrono::milliseconds timeout) {
  const Url u = parse_url(url);
  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  if (u.tls) {
    if (ca_file.empty()) tls.set_default_verify_paths();
    else tls.load_verify_file(ca_file);
    tls.set_verify_mode(asio::ssl::verify_peer);
  }
  std::string body;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        tcp::resolver resolver(io);
        auto endpoints = co_await resolver.async_resolve(u.host, u.port, asio::use_awaitable);
        tcp::socket socket(io);
        co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
        if (!u.tls) {
          body = co_await get(socket, u);
          co_return;
        }
        asio::ssl::stream<tcp::socket&> stream(socket, tls);
        SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str());
        stream.set_verify_callback(asio::ssl::rfc2818_verification(u.host));
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        body = co_await get(stream, u);
      },
      [&](std::exception_ptr e) {
        failure = e;
        done = true;
      });
  io.run_for(timeout);
  if (!done) throw std::runtime_error("no answer within " + std::to_string(timeout.count()) + " ms");
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(e.code().message());
    }
  }
  return body;
}

KeySetEndpoint::KeySetEndpoint(EndpointOptions options) : options_(std::move(options)) {
  std::string error;
  keys_ = fetch(document_, error);
  if (!keys_) throw std::runtime_error("sasl.oauthbearer.jwks.endpoint.url " + options_.url + ": " + error);
  KB_INFO("OAUTHBEARER keys from {}: {} key(s)", options_.url, keys_->size());
  thread_ = std::thread([this] { refresh_loop(); });
}

KeySetEndpoint::~KeySetEndpoint() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const KeySet> KeySetEndpoint::current() {
  std::lock_guard lk(mu_);
  return keys_;
}

void KeySetEndpoint::key_missing(std::string_view kid) {
  if (kid.empty() || kid.size() > max_missing_kid_length) return;
  if (!std::all_of(kid.begin(), kid.end(), [](char c) { return c > ' ' && c < 0x7f; })) return;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    std::erase_if(missing_, [&](const auto& m) { return now - m.second >= missing_kid_hold; });
    if (missing_.contains(kid) || missing_.size() >= max_missing_kids) return;
    missing_.emplace(std::string(kid), now);
    fetch_now_ = true;
  }
  KB_INFO("OAUTHBEARER key id {} is not among the keys from {}: fetching them now", kid, options_.url);
  wake_.notify_all();
}

std::shared_ptr<const KeySet> KeySetEndpoint::fetch(std::string& document, std::string& error) const {
  try {
    document = fetch_url(options_.url, options_.ca_file, options_.timeout);
    return KeySet::parse(document, error);
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

void KeySetEndpoint::refresh_loop() {
  auto wait = options_.refresh;
  std::unique_lock lk(mu_);
  for (;;) {
    wake_.wait_for(lk, wait, [this] { return stopping_ || fetch_now_; });
    if (stopping_) return;
    fetch_now_ = false;
    lk.unlock();
    std::string document, error;
    auto keys = fetch(document, error);
    lk.lock();
    if (keys) {
      if (document != document_) KB_INFO("OAUTHBEARER keys from {}: {} key(s)", options_.url, keys->size());
      document_ = std::move(document);
      keys_ = std::move(keys);
      wait = options_.refresh;
    } else {
      KB_WARN("OAUTHBEARER keys from {} not refreshed, the previous ones stay in force: {}", options_.url, error);
      wait = wait == options_.refresh ? options_.retry_backoff : std::min(wait * 2, options_.retry_backoff_max);
    }
  }
}

}  // namespace kwire_broker::oauth
