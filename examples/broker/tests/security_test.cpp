// Below the wire for issue 17's first step: the SCRAM server exchange
// (RFC 7677's SCRAM-SHA-256 example, and what must fail), SCRAM credentials
// in the embedded store across a restart, and ssl.principal.mapping.rules.
#include <doctest/doctest.h>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "core/scram.hpp"
#include "net/principal_rules.hpp"
#include "storage/embedded/credential_store.hpp"
#include "support/temp_dir.hpp"

namespace asio = boost::asio;
using namespace kwire_broker;

namespace {

// RFC 7677, section 3: user "user", password "pencil".
constexpr std::string_view client_nonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view salt_b64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

storage::ScramCredential rfc_credential() {
  const auto salt = *scram::unbase64(salt_b64);
  return scram::credential_from_salted(scram::Mechanism::sha256, "user", salt, 4096,
                                       scram::salted_password(scram::Mechanism::sha256, "pencil", salt, 4096));
}

scram::Server rfc_server() {
  return scram::Server(
      scram::Mechanism::sha256,
      [](const std::string& user) -> std::optional<storage::ScramCredential> {
        if (user == "user") return rfc_credential();
        return std::nullopt;
      },
      std::string(server_nonce));
}

template <class T>
T run(asio::awaitable<T> task) {
  asio::io_context io;
  auto f = asio::co_spawn(io, std::move(task), asio::use_future);
  io.run();
  return f.get();
}

}  // namespace

TEST_CASE("SCRAM-SHA-256: RFC 7677's exchange gives its server messages") {
  auto server = rfc_server();
  auto first = server.step("n,,n=user,r=" + std::string(client_nonce));
  REQUIRE(first.error.empty());
  CHECK_FALSE(first.done);
  CHECK(first.reply == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  auto final = server.step(client_final);
  REQUIRE(final.error.empty());
  CHECK(final.done);
  CHECK(final.reply == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  CHECK(server.user() == "user");
  CHECK_FALSE(server.step("anything").error.empty());  // the exchange is over
}

TEST_CASE("SCRAM: a wrong proof, an unknown user and a changed nonce fail") {
  {
    auto server = rfc_server();
    REQUIRE(server.step("n,,n=user,r=" + std::string(client_nonce)).error.empty());
    std::string wrong(client_final);
    wrong[wrong.size() - 5] = wrong[wrong.size() - 5] == 'A' ? 'B' : 'A';
    auto final = server.step(wrong);
    CHECK_FALSE(final.done);
    CHECK(final.error == "Authentication failed: Invalid user credentials");
  }
  {
    auto server = rfc_server();
    auto first = server.step("n,,n=mallory,r=abc");
    CHECK(first.error == "Authentication failed: Invalid user credentials");
  }
  {
    auto server = rfc_server();
    REQUIRE(server.step("n,,n=user,r=" + std::string(client_nonce)).error.empty());
    std::string other(client_final);
    other.replace(other.find("%hv"), 3, "%hw");
    CHECK_FALSE(server.step(other).error.empty());
  }
  {
    auto server = rfc_server();
    CHECK_FALSE(server.step("p=tls-unique,,n=user,r=abc").error.empty());  // no channel binding
    auto other = rfc_server();
    CHECK_FALSE(other.step("n,a=admin,n=user,r=abc").error.empty());  // authzid must be the user
    auto third = rfc_server();
    CHECK_FALSE(third.step("n,,r=abc,n=user").error.empty());
  }
}

TEST_CASE("SCRAM: base64 round trip and strictness") {
  const std::vector<std::uint8_t> bytes{0, 1, 2, 250, 251};
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    const auto text = scram::base64(bytes.data(), n);
    auto back = scram::unbase64(text);
    REQUIRE(back);
    CHECK(*back == std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
  }
  CHECK_FALSE(scram::unbase64("abc"));
  CHECK_FALSE(scram::unbase64("a=bc"));
  CHECK_FALSE(scram::unbase64("ab!c"));
}

TEST_CASE("embedded credential store: changes survive a restart") {
  testing::TempDir dir("kwire-credentials");
  const auto alice = scram::make_credential(scram::Mechanism::sha512, "alice", "secret", 8192);
  {
    storage::embedded::Flusher disk;
    storage::embedded::Credentials store(dir.path, disk);
    REQUIRE(run(store.put_scram(alice)).ok());
    REQUIRE(run(store.put_scram(scram::make_credential(scram::Mechanism::sha256, "bob", "b", 4096))).ok());
    REQUIRE(run(store.put_scram(scram::make_credential(scram::Mechanism::sha256, "carol", "c", 4096))).ok());
    REQUIRE(run(store.delete_scram("carol", 1)).ok());
  }
  storage::embedded::Flusher disk;
  storage::embedded::Credentials reopened(dir.path, disk);
  auto found = reopened.find_scram("alice", 2);
  REQUIRE(found);
  CHECK(found->iterations == 8192);
  CHECK(found->salt == alice.salt);
  CHECK(found->stored_key == alice.stored_key);
  CHECK(found->server_key == alice.server_key);
  CHECK_FALSE(reopened.find_scram("alice", 1));
  CHECK(reopened.find_scram("bob", 1));
  CHECK_FALSE(reopened.find_scram("carol", 1));
  CHECK(reopened.scram_credentials().size() == 2);
}

TEST_CASE("ssl.principal.mapping.rules") {
  auto rules = PrincipalRules::parse("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),.*$/$1/U,DEFAULT");
  CHECK(rules.map("CN=svc,OU=ServiceUsers,O=acme") == "svc");
  CHECK(rules.map("CN=app-client,O=kwire") == "APP-CLIENT");
  CHECK(rules.map("O=kwire") == "O=kwire");
  auto strict = PrincipalRules::parse("RULE:^CN=(.*?),.*$/$1/L");
  CHECK(strict.map("CN=Alice,O=x") == "alice");
  CHECK_FALSE(strict.map("O=nobody"));
  CHECK(PrincipalRules::parse("").map("CN=x") == "CN=x");
  CHECK_THROWS(PrincipalRules::parse("RULE:^CN=(.*)$"));
  CHECK_THROWS(PrincipalRules::parse("NONSENSE"));
}
