// Fuzzes the server side of a SCRAM exchange (core/scram.hpp): the input is
// split at its first NUL into a client-first and a client-final message,
// which an unauthenticated peer controls entirely. The known user "user"
// has a fixed credential, so inputs reach the final message's checks too.
#include <cstring>
#include <string_view>

#include "core/scram.hpp"

namespace {

const kwire_broker::storage::ScramCredential& credential() {
  static const auto c = [] {
    using namespace kwire_broker::scram;
    const auto salt = *unbase64("W22ZaJ0SNY7soEsUEjb6gQ==");
    return credential_from_salted(Mechanism::sha256, "user", salt, 4096,
                                  salted_password(Mechanism::sha256, "pencil", salt, 4096));
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kwire_broker::scram;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto cut = input.find('\0');
  const auto first = input.substr(0, cut);
  const auto final = cut == std::string_view::npos ? std::string_view() : input.substr(cut + 1);
  Server server(
      Mechanism::sha256,
      [](const std::string& user) -> std::optional<kwire_broker::storage::ScramCredential> {
        if (user == "user") return credential();
        return std::nullopt;
      },
      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  auto step = server.step(first);
  if (step.error.empty()) {
    step = server.step(final);
    if (step.done && server.user() != "user") __builtin_trap();
  }
  (void)unbase64(input);
  return 0;
}
