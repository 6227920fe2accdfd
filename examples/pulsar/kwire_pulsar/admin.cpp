#include "kwire_pulsar/admin.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace kwire_pulsar {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;
using nlohmann::json;

namespace {

std::pair<std::string, std::string> split_http_url(std::string url) {
  const bool https = is_tls_url(url);
  if (auto p = url.find("://"); p != std::string::npos) url = url.substr(p + 3);
  if (auto p = url.find('/'); p != std::string::npos) url = url.substr(0, p);
  auto colon = url.rfind(':');
  if (colon == std::string::npos) return {url, https ? "443" : "80"};
  return {url.substr(0, colon), url.substr(colon + 1)};
}

template <class Stream>
awaitable<http::response<http::string_body>> round_trip(Stream& stream, const http::request<http::string_body>& req) {
  co_await http::async_write(stream, req, use_awaitable);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  co_await http::async_read(stream, buffer, res, use_awaitable);
  co_return res;
}

std::string position_json(const MessageId& at) {
  json j;
  if (at.is_earliest()) {
    j = {{"ledgerId", -1}, {"entryId", -1}};
  } else {
    j = {{"ledgerId", static_cast<std::int64_t>(at.ledger)}, {"entryId", static_cast<std::int64_t>(at.entry)}};
    if (at.batch_index >= 0) j["batchIndex"] = at.batch_index;
    j["partitionIndex"] = at.partition;
  }
  return j.dump();
}

[[noreturn]] void fail(const std::string& what, const HttpResponse& r) {
  throw AdminError(r.status, what + ": HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 300));
}

}  // namespace

Admin::Admin(Executor ex, std::string url, std::string token, std::chrono::milliseconds timeout)
    : Admin(std::move(ex), std::move(url), std::move(token), timeout, TlsOptions{}) {}

Admin::Admin(Executor ex, std::string url, std::string token, std::chrono::milliseconds timeout, TlsOptions tls)
    : ex_(ex), https_(is_tls_url(url)), tls_(std::move(tls)), token_(std::move(token)), timeout_(timeout) {
  std::tie(host_, port_) = split_http_url(std::move(url));
}

awaitable<HttpResponse> Admin::request(const std::string& method, const std::string& path,
                                       const std::string& body, const std::string& content_type) {
  std::string host = host_, port = port_, target = path;
  bool https = https_;
  for (int hop = 0; hop < 5; ++hop) {
    asio::ip::tcp::resolver resolver(ex_);
    auto endpoints = co_await resolver.async_resolve(host, port, use_awaitable);
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host + ":" + port);
    req.set(http::field::user_agent, "kwire-pulsar-admin");
    req.set(http::field::accept, "application/json");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty() || method == "PUT" || method == "POST") {
      req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
    }
    http::response<http::string_body> res;
    if (https) {
      if (!tls_context_) tls_context_ = make_tls_context(tls_);
      beast::ssl_stream<beast::tcp_stream> stream(ex_, *tls_context_);
      prepare_tls(stream.native_handle(), host, tls_);
      auto& tcp = beast::get_lowest_layer(stream);
      tcp.expires_after(timeout_);
      co_await tcp.async_connect(endpoints, use_awaitable);
      boost::system::error_code ec;
      co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
      if (ec)
        throw Error(Error::client_tls, "TLS handshake with https://" + host + ":" + port + ": " +
                                           tls_failure(stream.native_handle(), ec));
      tcp.expires_after(timeout_);
      try {
        res = co_await round_trip(stream, req);
      } catch (const boost::system::system_error& e) {
        if (!is_tls_error(e.code())) throw;
        throw Error(Error::client_tls, "TLS with https://" + host + ":" + port + ": " + tls_failure(nullptr, e.code()));
      }
      tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    } else {
      beast::tcp_stream stream(ex_);
      stream.expires_after(timeout_);
      co_await stream.async_connect(endpoints, use_awaitable);
      stream.expires_after(timeout_);
      res = co_await round_trip(stream, req);
      beast::error_code ec;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    }
    const int status = static_cast<int>(res.result_int());
    if (status == 307 || status == 308) {
      std::string loc(res[http::field::location]);
      https = is_tls_url(loc);
      auto scheme = loc.find("://");
      auto path_at = loc.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      std::tie(host, port) = split_http_url(loc.substr(0, path_at));
      target = path_at == std::string::npos ? "/" : loc.substr(path_at);
      continue;
    }
    co_return HttpResponse{status, std::move(res.body())};
  }
  co_return HttpResponse{508, "too many redirects"};
}

awaitable<std::vector<std::string>> Admin::tenants() {
  auto r = co_await request("GET", "/admin/v2/tenants");
  if (!r.ok()) fail("list tenants", r);
  co_return json::parse(r.body).get<std::vector<std::string>>();
}

awaitable<bool> Admin::create_tenant(const std::string& tenant, std::vector<std::string> clusters) {
  // Asking first keeps the broker's log free of a refused creation.
  if (auto have = co_await request("GET", "/admin/v2/tenants/" + tenant); have.ok()) co_return false;
  if (clusters.empty()) {
    // Allowed everywhere the cluster knows of (a standalone calls itself "standalone").
    auto r = co_await request("GET", "/admin/v2/clusters");
    if (r.ok()) {
      auto all = json::parse(r.body, nullptr, false);
      if (all.is_array())
        for (auto& c : all)
          if (c.is_string()) clusters.push_back(c.get<std::string>());
    }
    if (clusters.empty()) clusters.push_back("standalone");
  }
  json j = {{"allowedClusters", clusters}, {"adminRoles", json::array()}};
  auto r = co_await request("PUT", "/admin/v2/tenants/" + tenant, j.dump());
  if (r.status == 409) co_return false;
  if (!r.ok()) fail("create tenant " + tenant, r);
  co_return true;
}

awaitable<std::vector<std::string>> Admin::namespaces(const std::string& tenant) {
  auto r = co_await request("GET", "/admin/v2/namespaces/" + tenant);
  if (!r.ok()) fail("list namespaces of " + tenant, r);
  co_return json::parse(r.body).get<std::vector<std::string>>();
}

awaitable<bool> Admin::create_namespace(const std::string& tenant_ns) {
  auto r = co_await request("PUT", "/admin/v2/namespaces/" + tenant_ns, "{}");
  if (r.status == 409) co_return false;
  if (!r.ok()) fail("create namespace " + tenant_ns, r);
  co_return true;
}

awaitable<void> Admin::set_namespace_policy(const std::string& tenant_ns, const std::string& policy,
                                            const std::string& json_body) {
  auto r = co_await request("POST", "/admin/v2/namespaces/" + tenant_ns + "/" + policy, json_body);
  if (!r.ok()) fail("set " + policy + " on " + tenant_ns, r);
}

awaitable<json> Admin::namespace_policies(const std::string& tenant_ns) {
  auto r = co_await request("GET", "/admin/v2/namespaces/" + tenant_ns);
  if (!r.ok()) fail("namespace " + tenant_ns, r);
  co_return json::parse(r.body);
}

awaitable<void> Admin::set_namespace_properties(const std::string& tenant_ns,
                                                const std::vector<std::pair<std::string, std::string>>& props) {
  json j = json::object();
  for (auto& [k, v] : props) j[k] = v;
  auto r = co_await request("PUT", "/admin/v2/namespaces/" + tenant_ns + "/properties", j.dump());
  if (!r.ok()) fail("set properties on " + tenant_ns, r);
}

awaitable<std::optional<std::string>> Admin::namespace_property(const std::string& tenant_ns,
                                                                const std::string& key) {
  auto r = co_await request("GET", "/admin/v2/namespaces/" + tenant_ns + "/properties");
  if (!r.ok()) fail("properties of " + tenant_ns, r);
  auto j = json::parse(r.body.empty() ? std::string("{}") : r.body);
  if (j.is_object() && j.contains(key) && j[key].is_string()) co_return j[key].get<std::string>();
  co_return std::nullopt;
}

awaitable<bool> Admin::create_partitioned_topic(const std::string& topic, int partitions) {
  auto r = co_await request("PUT", "/admin/v2/persistent/" + topic + "/partitions", std::to_string(partitions));
  if (r.status == 409) co_return false;
  if (!r.ok()) fail("create partitioned topic " + topic, r);
  co_return true;
}

awaitable<void> Admin::update_partitioned_topic(const std::string& topic, int partitions) {
  auto r = co_await request("POST", "/admin/v2/persistent/" + topic + "/partitions", std::to_string(partitions));
  if (!r.ok()) fail("update partitioned topic " + topic, r);
}

awaitable<int> Admin::partitions(const std::string& topic) {
  auto r = co_await request("GET", "/admin/v2/persistent/" + topic + "/partitions");
  if (r.status == 404) co_return -1;
  if (!r.ok()) fail("partitions of " + topic, r);
  auto j = json::parse(r.body);
  const int n = j.value("partitions", 0);
  co_return n > 0 ? n : -1;
}

awaitable<std::vector<std::string>> Admin::partitioned_topics(const std::string& tenant_ns) {
  auto r = co_await request("GET", "/admin/v2/persistent/" + tenant_ns + "/partitioned");
  if (!r.ok()) fail("partitioned topics of " + tenant_ns, r);
  co_return json::parse(r.body).get<std::vector<std::string>>();
}

awaitable<void> Admin::delete_partitioned_topic(const std::string& topic, bool force) {
  auto r = co_await request("DELETE", "/admin/v2/persistent/" + topic + "/partitions?force=" +
                                          (force ? "true" : "false"));
  if (!r.ok() && r.status != 404) fail("delete partitioned topic " + topic, r);
}

awaitable<bool> Admin::create_topic(const std::string& topic) {
  auto r = co_await request("PUT", "/admin/v2/persistent/" + topic, "");
  if (r.status == 409) co_return false;
  if (!r.ok()) fail("create topic " + topic, r);
  co_return true;
}

awaitable<void> Admin::delete_topic(const std::string& topic, bool force) {
  auto r = co_await request("DELETE", "/admin/v2/persistent/" + topic + "?force=" + (force ? "true" : "false"));
  if (!r.ok() && r.status != 404) fail("delete topic " + topic, r);
}

awaitable<std::vector<std::string>> Admin::subscriptions(const std::string& topic) {
  auto r = co_await request("GET", "/admin/v2/persistent/" + topic + "/subscriptions");
  if (!r.ok()) fail("subscriptions of " + topic, r);
  co_return json::parse(r.body).get<std::vector<std::string>>();
}

awaitable<bool> Admin::create_subscription(const std::string& topic, const std::string& sub, MessageId at) {
  auto r = co_await request("PUT", "/admin/v2/persistent/" + topic + "/subscription/" + sub, position_json(at));
  if (r.status == 409) co_return false;
  if (!r.ok()) fail("create subscription " + sub + " on " + topic, r);
  co_return true;
}

awaitable<void> Admin::reset_cursor(const std::string& topic, const std::string& sub, MessageId at) {
  auto r = co_await request("POST", "/admin/v2/persistent/" + topic + "/subscription/" + sub + "/resetcursor",
                            position_json(at));
  if (!r.ok()) fail("reset cursor " + sub + " on " + topic, r);
}

awaitable<void> Admin::delete_subscription(const std::string& topic, const std::string& sub, bool force) {
  auto r = co_await request("DELETE", "/admin/v2/persistent/" + topic + "/subscription/" + sub +
                                          "?force=" + (force ? "true" : "false"));
  if (!r.ok() && r.status != 404) fail("delete subscription " + sub + " on " + topic, r);
}

awaitable<json> Admin::topic_stats(const std::string& topic) {
  auto r = co_await request("GET", "/admin/v2/persistent/" + topic + "/stats");
  if (!r.ok()) fail("stats of " + topic, r);
  co_return json::parse(r.body);
}

awaitable<std::optional<MessageId>> Admin::message_id_by_index(const std::string& topic, std::uint64_t index) {
  auto r = co_await request("GET", "/admin/v2/persistent/" + topic + "/getMessageIdByIndex?index=" +
                                       std::to_string(index));
  if (!r.ok()) co_return std::nullopt;
  const auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("ledgerId") || !j.contains("entryId")) co_return std::nullopt;
  const auto ledger = j["ledgerId"].get<std::int64_t>(), entry = j["entryId"].get<std::int64_t>();
  if (ledger < 0 || entry < 0) co_return MessageId::earliest();
  co_return MessageId{static_cast<std::uint64_t>(ledger), static_cast<std::uint64_t>(entry), -1, -1};
}

awaitable<json> Admin::internal_stats(const std::string& topic) {
  auto r = co_await request("GET", "/admin/v2/persistent/" + topic + "/internalStats");
  if (!r.ok()) fail("internal stats of " + topic, r);
  co_return json::parse(r.body);
}

}  // namespace kwire_pulsar
