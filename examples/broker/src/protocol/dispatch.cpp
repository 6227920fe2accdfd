// Request dispatch: reads a frame's request header, enforces what may be
// asked before SASL authentication and which versions are served, and hands
// the body to the API's handler (protocol/registry.hpp).
#include <algorithm>


#include "core/log.hpp"
#include "core/realm.hpp"
#include "handlers/sasl.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/framing/request.hpp"
#include "kwire/messages/request_header.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

const std::vector<HandlerEntry>& handler_table() {
  static const std::vector<HandlerEntry> table = [] {
    std::vector<HandlerEntry> t;
    for (auto part : {core_handlers(), sasl_handlers(), data_handlers(), admin_handlers(), group_handlers(),
                      group_offset_handlers(), txn_handlers(), consumer_group_handlers(), acl_handlers(), client_quota_handlers(),
                      share_group_handlers(), share_fetch_handlers(), share_offsets_handlers(), replica_handlers(),
                      cluster_admin_handlers(), topic_partition_handlers()})
      t.insert(t.end(), part.begin(), part.end());
    std::sort(t.begin(), t.end(), [](auto& a, auto& b) { return a.api_key < b.api_key; });
    return t;
  }();
  return table;
}

std::optional<Broker::Range> Broker::advertised(std::int16_t api_key) {
  for (auto& e : handler_table())
    if (e.api_key == api_key) return Range{e.advertised_from(), e.max_version};
  return std::nullopt;
}

namespace {

constexpr std::size_t header_decode_bytes = 64 << 10;

Reply close_reply(std::string why) {
  Reply r;
  r.kind = Reply::Kind::close;
  r.frame.assign(why.begin(), why.end());
  return r;
}

/// The answer to an ApiVersions request of a version we do not know: v0 with
/// UNSUPPORTED_VERSION and our versions, so the client can pick one.
Reply api_versions_fallback(std::int32_t correlation_id) {
  kwire::ApiVersionsResponse resp;
  resp.error_code = kwire::ErrorCode::UnsupportedVersion;
  for (auto& e : handler_table()) {
    if (e.share) continue;  // no realm here to say whether they are served
    kwire::ApiVersionsResponse::ApiVersion v;
    v.api_key = e.api_key;
    v.min_version = e.advertised_from();
    v.max_version = e.max_version;
    resp.api_keys.push_back(v);
  }
  SessionState s;
  Ctx ctx(s);
  ctx.api_key = static_cast<std::int16_t>(kwire::ApiKey::ApiVersions);
  ctx.version = 0;
  ctx.correlation_id = correlation_id;
  return make_frame(ctx, resp);
}

}  // namespace

asio::awaitable<Reply> Broker::handle(SessionState& s, bytes_view frame, std::function<void()> release) {
  if (s.raw_sasl_next) {
    // SaslHandshake v0: the token comes bare and the answer is a bare frame.
    s.raw_sasl_next = false;
    std::string user;
    if (!check_plain(settings_, frame, user)) {
      KB_WARN("SASL/PLAIN authentication failed from {}", s.peer);
      co_await failed_login_delay(*this);
      co_return close_reply("SASL/PLAIN authentication failed");
    }
    if (auto why = enter_namespace(*this, s, user)) co_return close_reply(*why);
    s.authenticated = true;
    s.principal = "User:" + user;
    if (settings_.reauth_ms > 0) s.session_expires_ms = now_ms() + settings_.reauth_ms;  // v0 cannot re-authenticate
    Reply r;
    r.frame.assign(4, 0);
    co_return r;
  }
  kwire::RequestPrefix prefix;
  if (auto p = kwire::peek_request_header(frame, prefix); !p)
    co_return close_reply("request shorter than a request header: " + p.error().message());
  const kwire::ApiKey api = prefix.api_key;
  const auto key = static_cast<std::int16_t>(api);
  const std::int16_t version = prefix.api_version;
  const kwire::ApiInfo* info = kwire::find_api(api);
  if (!info) {
    metrics_.request(key, kwire::ErrorCode::InvalidRequest);
    co_return close_reply(fmt::format("unknown API key {}", key));
  }
  bool flexible = info->flexible(version) || (version > info->max_version && info->flexible_from >= 0);
  std::pmr::unsynchronized_pool_resource mem;
  kwire::Reader reader(frame, &mem);
  // A header needs a client id view and, rarely, a few tagged fields: a
  // header of thousands of unknown tags is refused before they are kept.
  reader.set_memory_limit(header_decode_bytes);
  kwire::RequestHeader header;
  kwire::decode_from(reader, header, static_cast<std::int16_t>(flexible ? 2 : 1));
  if (!reader.ok()) {
    metrics_.request(key, kwire::ErrorCode::InvalidRequest);
    co_return close_reply("bad request header: " + reader.error()->message());
  }
  bytes_view body = frame.subspan(reader.offset());

  if (s.listener && s.listener->sasl() && !s.authenticated && api != kwire::ApiKey::SaslHandshake && api != kwire::ApiKey::ApiVersions &&
      api != kwire::ApiKey::SaslAuthenticate) {
    metrics_.request(key, kwire::ErrorCode::IllegalSaslState);
    co_return close_reply(fmt::format("{} before SASL authentication", info->name));
  }
  if (s.session_expires_ms > 0 && api != kwire::ApiKey::SaslHandshake && api != kwire::ApiKey::SaslAuthenticate &&
      now_ms() > s.session_expires_ms) {
    // KIP-368: a session past its lifetime is closed at its next request
    // that is not a re-authentication.
    metrics_.request(key, kwire::ErrorCode::SaslAuthenticationFailed);
    co_return close_reply(fmt::format("{} after the SASL session expired (connections.max.reauth.ms)", info->name));
  }
  auto range = advertised(key);
  if (api == kwire::ApiKey::ApiVersions && (!range || version > range->max)) {
    metrics_.request(key, kwire::ErrorCode::UnsupportedVersion);
    co_return api_versions_fallback(header.correlation_id);
  }
  const HandlerEntry* entry = nullptr;
  for (auto& e : handler_table())
    if (e.api_key == key) entry = &e;
  // Share group APIs exist only where the realm serves share groups.
  if (!entry || (entry->share && !(s.realm && s.realm->share_groups()))) {
    metrics_.request(key, kwire::ErrorCode::InvalidRequest);
    co_return close_reply(fmt::format("{} is not implemented", info->name));
  }
  if (version < entry->min_version || version > entry->max_version) {
    metrics_.request(key, kwire::ErrorCode::UnsupportedVersion);
    co_return close_reply(fmt::format("{} v{} is not supported", info->name, version));
  }
  Ctx ctx(s);
  ctx.api_key = key;
  ctx.version = version;
  ctx.correlation_id = header.correlation_id;
  ctx.request_bytes = frame.size();
  ctx.client_id = header.client_id ? *header.client_id : std::string_view{};
  ctx.on_release = std::move(release);
  Reply r = co_await entry->fn(*this, ctx, body);
  if (r.kind == Reply::Kind::close) {
    metrics_.request(key, kwire::ErrorCode::InvalidRequest);
    std::string why(r.frame.begin(), r.frame.end());
    r.frame.assign(why.begin(), why.end());
    co_return r;
  }
  metrics_.request(key, ctx.errors.empty() ? kwire::ErrorCode::None : ctx.errors.front());
  co_return r;
}

}  // namespace kwire_broker
