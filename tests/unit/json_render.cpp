// JSON rendering of messages: fields under their schema names, error codes by
// their number whether or not Kafka's table names them.
#include <doctest/doctest.h>

#include <kwire/json/json.hpp>
#include <kwire/messages/all.hpp>

using namespace std::literals;

TEST_CASE("error codes render as numbers, named by Kafka or not") {
  kwire::ProduceResponse resp;
  auto& topic = resp.responses.emplace_back();
  topic.name = "t"sv;
  topic.partition_responses.emplace_back().error_code = kwire::ErrorCode::NotLeaderOrFollower;
  topic.partition_responses.emplace_back().error_code = static_cast<kwire::ErrorCode>(-2);
  nlohmann::json j = kwire::to_json(resp, 8);
  const auto& parts = j.at("Responses").at(0).at("PartitionResponses");
  CHECK(parts.at(0).at("ErrorCode") == 6);
  CHECK(parts.at(1).at("ErrorCode") == -2);
  CHECK(parts.at(0).at("ErrorCode").is_number_integer());
}
