// The generated API and error tables agree with the schemas they come from.
#include <doctest/doctest.h>

#include <kwire/messages/all.hpp>
#include <kwire/messages/api.hpp>
#include <kwire/messages/dispatch.hpp>

TEST_CASE("every API in the table has a request and a response type with its versions") {
  for (const auto& api : kwire::apis) {
    INFO(api.name);
    bool req = kwire::with_request_type(api.key, [&]<class M>(std::type_identity<M>) {
      CHECK(M::api_key == api.key);
      CHECK(M::min_version == api.min_version);
      CHECK(M::max_version == api.max_version);
      CHECK(M::flexible_from == api.flexible_from);
    });
    bool resp = kwire::with_response_type(api.key, [&]<class M>(std::type_identity<M>) {
      CHECK(M::api_key == api.key);
      CHECK(M::max_version == api.max_version);
    });
    CHECK(req);
    CHECK(resp);
  }
  CHECK_FALSE(kwire::with_request_type(-5, [](auto) {}));
  CHECK(kwire::find_api(18)->name == "ApiVersions");
  CHECK(kwire::find_api(0)->min_version == 0);  // versions Kafka 4 removed are still decodable
  CHECK(kwire::find_api(1)->min_version == 0);
}

TEST_CASE("error codes: names and retriability") {
  CHECK(kwire::to_string(kwire::ErrorCode::NotLeaderOrFollower) == "NOT_LEADER_OR_FOLLOWER");
  CHECK(kwire::is_retriable(kwire::ErrorCode::NotLeaderOrFollower));
  CHECK_FALSE(kwire::is_retriable(kwire::ErrorCode::TopicAuthorizationFailed));
  CHECK(kwire::find_error(0)->code == kwire::ErrorCode::None);
  CHECK(kwire::find_error(-1)->name == "UNKNOWN_SERVER_ERROR");
  CHECK(kwire::find_error(9999) == nullptr);
  // Codes are unique and ordered.
  for (std::size_t i = 1; i < kwire::errors.size(); ++i)
    CHECK(static_cast<int>(kwire::errors[i - 1].code) < static_cast<int>(kwire::errors[i].code));
}

#include <kwire/protocol/decode_any.hpp>

TEST_CASE("decode by api key and version at run time") {
  kwire::FindCoordinatorRequest fc;
  fc.key = "group-1";
  auto wire = kwire::encode(fc, 3);
  REQUIRE(wire);
  std::string seen;
  auto r = kwire::decode_request(10, 3, wire.bytes, [&](const auto& msg) {
    if constexpr (std::is_same_v<std::decay_t<decltype(msg)>, kwire::FindCoordinatorRequest>) seen = msg.key;
  });
  CHECK(r);
  CHECK(seen == "group-1");
  auto unknown = kwire::decode_request(-7, 0, wire.bytes, [](const auto&) { FAIL("called"); });
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == kwire::DecodeErrc::unknown_api_key);
}
