// The generated API and error tables agree with the schemas they come from.
#include <doctest/doctest.h>

#include <kwire/messages/all.hpp>
#include <kwire/messages/api.hpp>
#include <kwire/messages/dispatch.hpp>

#include <type_traits>

TEST_CASE("every API in the table has a request and a response type with its versions") {
  for (const auto& api : kwire::apis) {
    INFO(api.name);
    bool req = kwire::with_request_type(api.key, [&]<class M>(std::type_identity<M>) {
      CHECK(static_cast<std::int16_t>(M::api_key) == api.key);
      CHECK(M::min_version == api.min_version);
      CHECK(M::max_version == api.max_version);
      CHECK(M::flexible_from == api.flexible_from);
    });
    bool resp = kwire::with_response_type(api.key, [&]<class M>(std::type_identity<M>) {
      CHECK(static_cast<std::int16_t>(M::api_key) == api.key);
      CHECK(M::max_version == api.max_version);
    });
    CHECK(req);
    CHECK(resp);
  }
  CHECK_FALSE(kwire::with_request_type(-5, [](auto) {}));
  CHECK(kwire::find_api(18)->name == "ApiVersions");
  CHECK(kwire::find_api(kwire::ApiKey::ApiVersions)->key == 18);
  CHECK(kwire::find_api(0)->min_version == 0);  // versions Kafka 4 removed are still decodable
  CHECK(kwire::find_api(1)->min_version == 0);
}

// Requests and responses name each other, and carry their API key typed.
static_assert(std::is_same_v<kwire::response_of_t<kwire::ProduceRequest>, kwire::ProduceResponse>);
static_assert(std::is_same_v<kwire::request_of_t<kwire::ProduceResponse>, kwire::ProduceRequest>);
static_assert(std::is_same_v<kwire::response_of_t<kwire::ApiVersionsRequest>, kwire::ApiVersionsResponse>);
static_assert(std::is_same_v<decltype(kwire::ProduceRequest::api_key), const kwire::ApiKey>);
static_assert(kwire::ProduceRequest::api_key == kwire::ApiKey::Produce);
static_assert(kwire::ListConfigResourcesResponse::api_key == kwire::ApiKey::ListConfigResources);
static_assert(kwire::RequestMessage<kwire::FetchRequest> && !kwire::ResponseMessage<kwire::FetchRequest>);
static_assert(kwire::ResponseMessage<kwire::FetchResponse> && !kwire::RequestMessage<kwire::FetchResponse>);
// Headers and data schemas are neither.
static_assert(!kwire::RequestMessage<kwire::RequestHeader> && !kwire::ResponseMessage<kwire::RequestHeader>);
static_assert(!kwire::RequestMessage<kwire::ResponseHeader> && !kwire::ResponseMessage<kwire::ResponseHeader>);
static_assert(!kwire::RequestMessage<kwire::ConsumerProtocolAssignment>);
static_assert(!kwire::ResponseMessage<int>);

TEST_CASE("every request is paired with the response of its API, and back") {
  std::size_t paired = 0;
  for (const auto& api : kwire::apis) {
    INFO(api.name);
    kwire::with_request_type(api.key, [&]<class Req>(std::type_identity<Req>) {
      using Resp = kwire::response_of_t<Req>;
      // Checked for every API: the lambda is instantiated for every request type.
      static_assert(std::is_same_v<kwire::request_of_t<Resp>, Req>);
      static_assert(Resp::api_key == Req::api_key);
      static_assert(Resp::max_version == Req::max_version);
      bool same = false;
      kwire::with_response_type(api.key, [&]<class R>(std::type_identity<R>) { same = std::is_same_v<R, Resp>; });
      CHECK(same);
      ++paired;
    });
  }
  CHECK(paired == kwire::apis.size());
  // Every generated type with an API key is a request or a response; no other is.
  kwire::for_each_message_type([]<class M>(std::type_identity<M>) {
    INFO(M::message_name);
    constexpr bool keyed = requires { M::api_key; };
    CHECK(keyed == (kwire::RequestMessage<M> || kwire::ResponseMessage<M>));
    CHECK_FALSE((kwire::RequestMessage<M> && kwire::ResponseMessage<M>));
  });
}

TEST_CASE("error codes: names and retriability") {
  CHECK(kwire::to_string(kwire::ErrorCode::NotLeaderOrFollower) == "NOT_LEADER_OR_FOLLOWER");
  CHECK(kwire::is_retriable(kwire::ErrorCode::NotLeaderOrFollower));
  CHECK_FALSE(kwire::is_retriable(kwire::ErrorCode::TopicAuthorizationFailed));
  CHECK(kwire::find_error(0)->code == kwire::ErrorCode::None);
  CHECK(kwire::find_error(-1)->name == "UNKNOWN_SERVER_ERROR");
  CHECK(kwire::find_error(9999) == nullptr);
  CHECK(kwire::find_error(kwire::ErrorCode::UnknownTopicOrPartition)->name == "UNKNOWN_TOPIC_OR_PARTITION");
  CHECK(kwire::find_error(static_cast<kwire::ErrorCode>(9999)) == nullptr);
  CHECK(kwire::to_string(static_cast<kwire::ErrorCode>(9999)) == "UNKNOWN");
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
