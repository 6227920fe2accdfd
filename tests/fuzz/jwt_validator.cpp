// Fuzzes OAUTHBEARER's parsing (core/jwt.hpp), all of which an
// unauthenticated peer controls: the input is read as a client's SASL
// message and, whole, as a token checked against a fixed key set (an RSA
// and an EC key made for this target; the seed corpus holds tokens they
// signed, so inputs reach the claim checks too).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/jwt.hpp"

namespace {

const kwire_broker::oauth::KeySet& keys() {
  static const auto set = [] {
    std::string error;
    auto s = kwire_broker::oauth::KeySet::parse(
      R"({"keys":[{"kty":"RSA","kid":"r1","n":"uAbTaDz-pAm_y-MtnlHLIj5PSnC2hpdXj5Ezq0II37GL5eXWu_mXvLYKfu)"
      R"(0TdrkWZXzyirpOZlYL6xspMZnHqLm8PCjhTcS3H-5In3mFz4jD_VVM92-_qiTPs_fkrny7qlx0XJkOTNcJkRvkfYfUZlpLBF)"
      R"(_p2ZHREeAPHeNOgCS1sVMOLcxHMW1NgcIL0zJecgjRHbL1LTwjF4ZIG4qUb3zkSrvTo_nH_LfDZCZx9dKlCcHWXJNtiQLB8Y)"
      R"(1xplVWIQPfp-I3yzXgUxfKlIVnMDh922YLkkmmFWUytKxg586_fBtbQJxnW0RUZqbAimG8rwJQNBYujuj6EQ0YW8bntw","e)"
      R"(":"AQAB"},{"kty":"EC","kid":"e1","crv":"P-256","x":"4n-wmE7pg85iXUkXTmxu9opb0kPC-F9dJTUS49Nkujk")"
      R"(,"y":"MJpBp36QDWdDH5JntiT20AGoofsP8c5F3EJ9RwgdEjo"}]})",
        error);
    if (!s) __builtin_trap();
    return s;
  }();
  return *set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kwire_broker::oauth;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_client_response(input);
  if (parsed.response && parsed.response->token.empty()) __builtin_trap();
  const Expectations expect{{"kwire"}, "https://issuer.example", "sub", 30};
  // A fixed clock: 2026-01-01, before the seeds' tokens expire.
  constexpr std::int64_t now_ms = 1767225600000;
  auto token = parsed.response ? parsed.response->token : std::string(input);
  auto checked = keys().validate(token, expect, now_ms);
  if (checked.token && checked.token->principal.empty()) __builtin_trap();
  std::string error;
  (void)KeySet::parse(input, error);
  return 0;
}
