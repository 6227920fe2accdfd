// The handler registry: one entry per API with the versions it serves, and
// the plumbing every handler shares (decode the request within the broker's
// memory bound, run the handler, encode the response frame).
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <memory_resource>
#include <vector>

#include "core/broker.hpp"
#include "core/cluster.hpp"
#include "kwire/codec.hpp"
#include "kwire/messages/response_header.hpp"
#include "protocol/context.hpp"
#include "protocol/errors.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

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
  boost::endian::store_big_u32(r.frame.data(), n);
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
std::vector<HandlerEntry> sasl_handlers();
std::vector<HandlerEntry> data_handlers();
std::vector<HandlerEntry> admin_handlers();
std::vector<HandlerEntry> group_handlers();

}  // namespace kwire_broker
