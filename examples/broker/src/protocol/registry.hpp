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

#include <algorithm>
#include <memory_resource>
#include <vector>

#include "core/broker.hpp"
#include "core/cluster.hpp"
#include "kwire/codec.hpp"
#include "kwire/framing/request.hpp"
#include "kwire/messages/pairing.hpp"
#include "kwire/scatter.hpp"
#include "protocol/context.hpp"
#include "protocol/errors.hpp"
#include "storage/storage.hpp"

namespace kwire_broker {

/// A reply of pieces from a scattered encoding: the encoder's bytes, and
/// for each hole the record set the context attached there.
Reply reply_of(kwire::Scattered& s, const std::vector<Attached>& attached);

/// Encodes a response frame with kwire's framing: size, header (v1 when
/// flexible, v0 otherwise and always for ApiVersions), body. A response
/// with attached record sets is encoded around them, as pieces.
template <class Resp>
Reply make_frame(const Ctx& ctx, const Resp& resp) {
  Reply r;
  std::optional<kwire::EncodeError> e;
  if (ctx.attached.empty()) {
    e = kwire::encode_response_frame(resp, ctx.api_key, ctx.version, ctx.correlation_id, r.frame);
  } else {
    std::vector<bytes_view> externals;
    externals.reserve(ctx.attached.size());
    for (const auto& a : ctx.attached) externals.push_back(a.view);
    kwire::Scattered s;
    e = kwire::encode_response_frame_scattered(resp, ctx.api_key, ctx.version, ctx.correlation_id, s,
                                               {.externals = externals});
    if (!e) r = reply_of(s, ctx.attached);
  }
  if (e) {
    r = Reply{};
    r.kind = Reply::Kind::close;
    auto why = "cannot encode the response: " + e->message();
    r.frame.assign(why.begin(), why.end());
  }
  return r;
}

using HandlerFn = asio::awaitable<Reply> (*)(Broker&, Ctx&, bytes_view);

/// Decodes Req, runs fn(broker, ctx, req, resp), encodes the response that
/// kwire pairs with Req.
template <class Req, asio::awaitable<void> (*Fn)(Broker&, Ctx&, Req&, kwire::response_of_t<Req>&)>
asio::awaitable<Reply> invoke(Broker& b, Ctx& ctx, bytes_view body) {
  using Resp = kwire::response_of_t<Req>;
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
  if (ctx.no_response) {
    Reply none;
    none.kind = Reply::Kind::none;
    co_return none;
  }
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
  /// A transaction API: offered only where the store keeps transactions.
  bool transactional = false;
  /// A share group API (KIP-932): offered only where the realm serves share
  /// groups (Realm::share_groups).
  bool share = false;
  std::int16_t advertised_from() const noexcept { return advertised_min >= 0 ? advertised_min : min_version; }
};
/// The registry entry of the handler `Fn` for requests `Req`, served from
/// `min` to `max` (and advertised from `advertised_min` when given).
template <class Req, asio::awaitable<void> (*Fn)(Broker&, Ctx&, Req&, kwire::response_of_t<Req>&)>
HandlerEntry handler(std::int16_t min, std::int16_t max, std::int16_t advertised_min = -1) {
  return {static_cast<std::int16_t>(Req::api_key), min, max, &invoke<Req, Fn>, advertised_min};
}

const std::vector<HandlerEntry>& handler_table();

std::vector<HandlerEntry> core_handlers();
std::vector<HandlerEntry> sasl_handlers();
std::vector<HandlerEntry> data_handlers();
std::vector<HandlerEntry> admin_handlers();
std::vector<HandlerEntry> txn_handlers();
std::vector<HandlerEntry> group_handlers();
std::vector<HandlerEntry> group_offset_handlers();
std::vector<HandlerEntry> consumer_group_handlers();
std::vector<HandlerEntry> acl_handlers();
std::vector<HandlerEntry> client_quota_handlers();
std::vector<HandlerEntry> share_group_handlers();
std::vector<HandlerEntry> share_fetch_handlers();
std::vector<HandlerEntry> share_offsets_handlers();
std::vector<HandlerEntry> replica_handlers();
std::vector<HandlerEntry> cluster_admin_handlers();
std::vector<HandlerEntry> topic_partition_handlers();

}  // namespace kwire_broker
