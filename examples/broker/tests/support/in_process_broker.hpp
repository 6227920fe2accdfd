// A whole broker in the test's process, without sockets: requests are encoded
// with kwire, handed to Broker::handle (the dispatch a connection uses) and
// the response frames decoded with kwire. The embedded store keeps its data
// in a directory of the caller's choosing. Used by the handler tests, the
// broker-path benchmark and the broker_request fuzz target.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/broker.hpp"
#include "core/config.hpp"
#include "kwire/framing/request.hpp"
#include "storage/embedded/file_cache.hpp"
#include "storage/open.hpp"

namespace kwire_broker::testing {

namespace asio = boost::asio;

class InProcessBroker {
 public:
  /// `overrides` are server properties (Kafka's names) on top of the defaults
  /// here: data in `dir`, no auto-creation, warnings only.
  explicit InProcessBroker(const std::filesystem::path& dir, const std::map<std::string, std::string>& overrides = {}) {
    props_.set("log.dirs", dir.string());
    props_.set("listeners", "PLAINTEXT://127.0.0.1:9092");
    props_.set("auto.create.topics.enable", "false");
    props_.set("kwire.log.level", "warn");
    for (const auto& [k, v] : overrides) props_.set(k, v);
    settings_ = make_settings(props_);
    files_ = std::make_shared<storage::embedded::FileCache>(storage::max_open_log_files(settings_));
    broker_ = std::make_unique<Broker>(
        settings_, [this](const storage::Namespace& ns) { return storage::open_storage(settings_, props_, ns, files_); },
        std::vector<asio::io_context*>{&io_});
    broker_->start();
    reset_session();
  }
  ~InProcessBroker() {
    broker_->begin_shutdown();
    run([this]() -> asio::awaitable<void> { co_await broker_->close_storage(); });
  }
  InProcessBroker(const InProcessBroker&) = delete;
  InProcessBroker& operator=(const InProcessBroker&) = delete;

  Broker& broker() noexcept { return *broker_; }

  /// Handles one frame (with its size prefix) as a connection would. A
  /// reply of pieces (a fetch's record sets as file regions) becomes one
  /// frame with flatten() (protocol/reply.hpp).
  Reply handle_frame(const std::vector<std::uint8_t>& frame) {
    Reply reply;
    run([&]() -> asio::awaitable<void> {
      reply = co_await broker_->handle(session_, kwire::bytes_view(frame).subspan(4));
    });
    return reply;
  }

  /// Handles one frame body (after the size prefix) within `budget`. A
  /// request still waiting then (a long poll, a member waiting for its group)
  /// is ended by beginning the broker's shutdown, which wakes every waiter;
  /// nullopt says so, and that this broker now only closes connections.
  std::optional<Reply> handle_within(bytes_view body, std::chrono::milliseconds budget) {
    Reply reply;
    bool done = false;
    std::exception_ptr failed;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { reply = co_await broker_->handle(session_, body); },
        [&](std::exception_ptr e) {
          failed = e;
          done = true;
        });
    const auto deadline = std::chrono::steady_clock::now() + budget;
    while (!done && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
    const bool in_time = done;
    if (!done) broker_->begin_shutdown();
    while (!done) io_.run_one();
    if (failed) std::rethrow_exception(failed);
    if (!in_time) return std::nullopt;
    return reply;
  }

  /// The connection's state, as handle_frame and handle_within use it.
  SessionState& session() noexcept { return session_; }
  /// Starts over as a new connection would (after a close).
  void reset_session() {
    session_ = SessionState{};
    session_.listener = &broker_->settings().listeners.front();
    session_.advertised = &broker_->settings().advertised.front();
    session_.authenticated = true;
    session_.realm = &broker_->default_realm();
  }

  /// Encodes `req` at `version`, handles it and decodes the response; throws
  /// if the broker closes the connection or the response does not decode.
  /// The response views a frame this object keeps until it is destroyed.
  template <class Resp, class Req>
  Resp call(const Req& req, std::int16_t version) {
    auto reply = handle_frame(request_frame(req, version, ++correlation_id_));
    if (reply.kind == Reply::Kind::close)
      throw std::runtime_error("the broker closed the connection: " + std::string(reply.frame.begin(), reply.frame.end()));
    Resp resp;
    decode_response(resp, frames_.emplace_back(flatten(reply)), version);
    return resp;
  }

  template <class M>
  static std::vector<std::uint8_t> request_frame(const M& body, std::int16_t version, std::int32_t correlation_id) {
    kwire::RequestHeader h;
    h.request_api_key = static_cast<std::int16_t>(M::api_key);
    h.request_api_version = version;
    h.correlation_id = correlation_id;
    h.client_id = std::string_view("in-process");
    std::vector<std::uint8_t> out;
    if (auto e = kwire::encode_request_frame(body, h, out)) throw std::runtime_error("cannot encode the request");
    return out;
  }

  /// Decodes a response frame (with its size prefix). The decoded message
  /// views `frame`, which must outlive it.
  template <class M>
  static void decode_response(M& msg, const std::vector<std::uint8_t>& frame, std::int16_t version) {
    kwire::ResponseFrame rf;
    if (frame.size() < 4 || !kwire::read_response_header(kwire::bytes_view(frame).subspan(4), M::api_key, version, rf))
      throw std::runtime_error("bad response header");
    if (!kwire::decode(msg, rf.body, version)) throw std::runtime_error("bad response body");
  }

 private:
  template <class F>
  void run(F f) {
    bool done = false;
    std::exception_ptr failed;
    asio::co_spawn(io_, f(), [&](std::exception_ptr e) {
      failed = e;
      done = true;
    });
    while (!done) io_.run_one();
    if (failed) std::rethrow_exception(failed);
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  Properties props_;
  Settings settings_;
  std::shared_ptr<storage::embedded::FileCache> files_;
  std::unique_ptr<Broker> broker_;
  SessionState session_;
  std::int32_t correlation_id_ = 0;
  std::deque<std::vector<std::uint8_t>> frames_;
};

}  // namespace kwire_broker::testing
