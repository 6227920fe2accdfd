// The authorizer below the wire: Kafka's StandardAuthorizer rules over a set
// of bindings (literal, prefixed and wildcard resources, User:* and host
// matching, DENY over ALLOW, implied operations, super users, the no-ACL
// default, the "any topic" check), the filters of DescribeAcls and
// DeleteAcls, what CreateAcls refuses, and the embedded store's bindings
// across a reopen.
#include <doctest/doctest.h>

#include <random>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "core/acl.hpp"
#include "core/authorizer.hpp"
#include "storage/embedded/acl_store.hpp"
#include "support/temp_dir.hpp"

namespace asio = boost::asio;
using namespace kwire_broker;
using acl::Operation;
using acl::ResourceType;
using kwire_broker::testing::TempDir;

namespace {

constexpr auto topic = static_cast<std::int8_t>(ResourceType::topic);
constexpr auto group = static_cast<std::int8_t>(ResourceType::group);
constexpr auto cluster = static_cast<std::int8_t>(ResourceType::cluster);
constexpr auto literal = static_cast<std::int8_t>(acl::PatternType::literal);
constexpr auto prefixed = static_cast<std::int8_t>(acl::PatternType::prefixed);
constexpr auto allow = static_cast<std::int8_t>(acl::Permission::allow);
constexpr auto deny = static_cast<std::int8_t>(acl::Permission::deny);

std::int8_t op(Operation o) { return static_cast<std::int8_t>(o); }

storage::AclBinding binding(std::int8_t type, std::string name, std::int8_t pattern, std::string principal,
                            Operation o, std::int8_t permission, std::string host = "*") {
  return {type, std::move(name), pattern, std::move(principal), std::move(host), op(o), permission};
}

/// An authorizer over a fixed set of bindings.
struct Fixture {
  std::vector<storage::AclBinding> bindings;
  AuthorizerConfig config = enabled();
  static AuthorizerConfig enabled() {
    AuthorizerConfig c;
    c.enabled = true;
    return c;
  }
  Authorizer make() const {
    auto all = std::make_shared<const std::vector<storage::AclBinding>>(bindings);
    return Authorizer(config, [all] { return all; });
  }
  bool may(std::string_view principal, Operation o, ResourceType type, std::string_view name,
           std::string_view host = "10.0.0.1") const {
    return make().authorize(principal, host, o, AclResource{type, name});
  }
};

template <class T>
T run(asio::awaitable<T> task) {
  asio::io_context io;
  auto f = asio::co_spawn(io, std::move(task), asio::use_future);
  io.run();
  return f.get();
}

}  // namespace

TEST_CASE("authorizer: off, it allows everything; on, with no binding, allow.everyone.if.no.acl.found decides") {
  Fixture f;
  f.config.enabled = false;
  CHECK(f.may("User:alice", Operation::write, ResourceType::topic, "orders"));
  f.config.enabled = true;
  CHECK_FALSE(f.may("User:alice", Operation::write, ResourceType::topic, "orders"));
  f.config.allow_if_no_acl = true;
  CHECK(f.may("User:alice", Operation::write, ResourceType::topic, "orders"));
  // A binding on the resource for someone else: the default no longer applies.
  f.bindings.push_back(binding(topic, "orders", literal, "User:bob", Operation::read, allow));
  CHECK_FALSE(f.may("User:alice", Operation::write, ResourceType::topic, "orders"));
  CHECK(f.may("User:alice", Operation::write, ResourceType::topic, "payments"));  // none on this one
}

TEST_CASE("authorizer: literal, prefixed and wildcard resources") {
  Fixture f;
  f.bindings = {binding(topic, "orders", literal, "User:alice", Operation::read, allow),
                binding(topic, "logs-", prefixed, "User:alice", Operation::write, allow),
                binding(group, "*", literal, "User:alice", Operation::read, allow)};
  CHECK(f.may("User:alice", Operation::read, ResourceType::topic, "orders"));
  CHECK_FALSE(f.may("User:alice", Operation::read, ResourceType::topic, "orders2"));  // literal: exact
  CHECK(f.may("User:alice", Operation::write, ResourceType::topic, "logs-app"));
  CHECK(f.may("User:alice", Operation::write, ResourceType::topic, "logs-"));
  CHECK_FALSE(f.may("User:alice", Operation::write, ResourceType::topic, "log"));
  CHECK_FALSE(f.may("User:alice", Operation::write, ResourceType::topic, "xlogs-app"));
  CHECK(f.may("User:alice", Operation::read, ResourceType::group, "any-group"));
  CHECK_FALSE(f.may("User:alice", Operation::read, ResourceType::transactional_id, "any-group"));  // other type
  CHECK_FALSE(f.may("User:bob", Operation::read, ResourceType::topic, "orders"));
}

TEST_CASE("authorizer: User:* and host matching") {
  Fixture f;
  f.bindings = {binding(topic, "orders", literal, "User:*", Operation::read, allow, "10.0.0.1"),
                binding(topic, "orders", literal, "User:carol", Operation::write, allow)};
  CHECK(f.may("User:anyone", Operation::read, ResourceType::topic, "orders", "10.0.0.1"));
  CHECK_FALSE(f.may("User:anyone", Operation::read, ResourceType::topic, "orders", "10.0.0.2"));
  CHECK(f.may("User:carol", Operation::write, ResourceType::topic, "orders", "192.168.1.9"));  // host *
}

TEST_CASE("authorizer: DENY wins over ALLOW, whichever binding grants") {
  Fixture f;
  f.bindings = {binding(topic, "*", literal, "User:alice", Operation::all, allow),
                binding(topic, "secret-", prefixed, "User:alice", Operation::read, deny)};
  CHECK(f.may("User:alice", Operation::read, ResourceType::topic, "public"));
  CHECK_FALSE(f.may("User:alice", Operation::read, ResourceType::topic, "secret-plans"));
  // A DENY READ denies only READ: DESCRIBE is still granted by ALL.
  CHECK(f.may("User:alice", Operation::describe, ResourceType::topic, "secret-plans"));
  CHECK(f.may("User:alice", Operation::write, ResourceType::topic, "secret-plans"));
  // DENY from any host for everyone: nobody reads it, whatever else says.
  f.bindings.push_back(binding(topic, "public", literal, "User:*", Operation::all, deny));
  CHECK_FALSE(f.may("User:alice", Operation::describe, ResourceType::topic, "public"));
}

TEST_CASE("authorizer: implied operations") {
  Fixture f;
  for (auto o : {Operation::read, Operation::write, Operation::del, Operation::alter}) {
    f.bindings = {binding(topic, "t", literal, "User:alice", o, allow)};
    CHECK(f.may("User:alice", Operation::describe, ResourceType::topic, "t"));
    CHECK_FALSE(f.may("User:alice", Operation::describe_configs, ResourceType::topic, "t"));
  }
  f.bindings = {binding(topic, "t", literal, "User:alice", Operation::alter_configs, allow)};
  CHECK(f.may("User:alice", Operation::describe_configs, ResourceType::topic, "t"));
  CHECK_FALSE(f.may("User:alice", Operation::describe, ResourceType::topic, "t"));
  f.bindings = {binding(topic, "t", literal, "User:alice", Operation::describe, allow)};
  CHECK_FALSE(f.may("User:alice", Operation::read, ResourceType::topic, "t"));  // not the other way round
  f.bindings = {binding(cluster, "kafka-cluster", literal, "User:alice", Operation::all, allow)};
  for (auto o : {Operation::create, Operation::alter, Operation::describe, Operation::cluster_action,
                 Operation::idempotent_write})
    CHECK(f.may("User:alice", o, ResourceType::cluster, "kafka-cluster"));
}

TEST_CASE("authorizer: super users may do anything, even against a DENY") {
  Fixture f;
  f.config.super_users = {"User:admin", "User:CN=ops,O=acme"};
  f.bindings = {binding(topic, "*", literal, "User:*", Operation::all, deny)};
  CHECK(f.may("User:admin", Operation::write, ResourceType::topic, "orders"));
  CHECK(f.may("User:CN=ops,O=acme", Operation::alter, ResourceType::cluster, "kafka-cluster"));
  CHECK_FALSE(f.may("User:alice", Operation::write, ResourceType::topic, "orders"));
  CHECK_FALSE(f.may("User:ADMIN", Operation::write, ResourceType::topic, "orders"));  // names are exact
}

TEST_CASE("authorizer: WRITE on any topic (an idempotent producer without IDEMPOTENT_WRITE)") {
  Fixture f;
  f.bindings = {binding(topic, "logs-", prefixed, "User:alice", Operation::write, allow)};
  const auto a = f.make();
  CHECK(a.authorize_any("User:alice", "h", Operation::write, ResourceType::topic));
  CHECK_FALSE(a.authorize_any("User:bob", "h", Operation::write, ResourceType::topic));
  f.bindings.push_back(binding(topic, "*", literal, "User:alice", Operation::write, deny));
  CHECK_FALSE(f.make().authorize_any("User:alice", "h", Operation::write, ResourceType::topic));
}

TEST_CASE("authorizer: a new snapshot of the store's bindings takes effect at the next check") {
  auto current = std::make_shared<const std::vector<storage::AclBinding>>();
  AuthorizerConfig config;
  config.enabled = true;
  Authorizer a(config, [&current] { return current; });
  const AclResource orders{ResourceType::topic, "orders"};
  CHECK_FALSE(a.authorize("User:alice", "h", Operation::read, orders));
  current = std::make_shared<const std::vector<storage::AclBinding>>(
      std::vector{binding(topic, "ord", prefixed, "User:alice", Operation::read, allow)});
  CHECK(a.authorize("User:alice", "h", Operation::read, orders));
  current = std::make_shared<const std::vector<storage::AclBinding>>(
      std::vector{binding(topic, "ord", prefixed, "User:alice", Operation::read, allow),
                  binding(topic, "orders", literal, "User:alice", Operation::read, deny)});
  CHECK_FALSE(a.authorize("User:alice", "h", Operation::read, orders));
}

namespace {

/// The rules of authorizer.hpp applied by scanning every binding: what the
/// indexed authorizer must agree with.
bool decide_by_scan(const std::vector<storage::AclBinding>& all, bool allow_if_no_acl, std::string_view principal,
                    std::string_view host, Operation o, ResourceType type, std::string_view name) {
  bool any = false, allowed = false;
  for (const auto& b : all) {
    if (b.resource_type != static_cast<std::int8_t>(type)) continue;
    const bool applies = b.pattern_type == literal ? (b.resource_name == name || b.resource_name == "*")
                                                   : name.starts_with(b.resource_name);
    if (!applies) continue;
    any = true;
    if ((b.principal != principal && b.principal != "User:*") || (b.host != host && b.host != "*")) continue;
    const auto g = static_cast<Operation>(b.operation);
    const bool implied = (o == Operation::describe && (g == Operation::read || g == Operation::write ||
                                                       g == Operation::del || g == Operation::alter)) ||
                         (o == Operation::describe_configs && g == Operation::alter_configs);
    if (b.permission == deny && (g == Operation::all || g == o)) return false;
    if (b.permission == allow && (g == Operation::all || g == o || implied)) allowed = true;
  }
  return any ? allowed : allow_if_no_acl;
}

}  // namespace

TEST_CASE("authorizer: the index decides as a scan of every binding would, over random bindings") {
  std::mt19937 rng(20261202);
  auto pick = [&](const auto& options) { return options[rng() % options.size()]; };
  const std::vector<std::string> names = {"orders", "ord", "o", "orders-eu", "payments", "pay", "*", "logs-1", "l"};
  const std::vector<std::string> principals = {"User:alice", "User:bob", "User:*"};
  const std::vector<std::string> hosts = {"*", "10.0.0.1", "10.0.0.2"};
  const std::vector<Operation> ops = {Operation::all, Operation::read, Operation::write, Operation::describe,
                                      Operation::alter, Operation::alter_configs, Operation::describe_configs};
  const std::vector<ResourceType> types = {ResourceType::topic, ResourceType::group};
  for (int round = 0; round < 200; ++round) {
    Fixture f;
    f.config.allow_if_no_acl = round % 2 == 0;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      std::string name = pick(names);
      const bool is_prefix = name != "*" && rng() % 2 == 0;
      f.bindings.push_back(binding(static_cast<std::int8_t>(pick(types)), std::move(name),
                                   is_prefix ? prefixed : literal, pick(principals), pick(ops),
                                   rng() % 3 == 0 ? deny : allow, pick(hosts)));
    }
    const auto a = f.make();
    for (const auto& name : names) {
      for (const auto& who : {"User:alice", "User:bob"}) {
        for (auto o : ops) {
          for (auto type : types) {
            if (o == Operation::all) continue;  // not a checked operation
            INFO("round " << round << " " << who << " " << name);
            CHECK(a.authorize(who, "10.0.0.1", o, AclResource{type, name}) ==
                  decide_by_scan(f.bindings, f.config.allow_if_no_acl, who, "10.0.0.1", o, type, name));
          }
        }
      }
    }
  }
}

TEST_CASE("filters: ANY, exact names, and MATCH as Kafka defines them") {
  const auto lit = binding(topic, "orders", literal, "User:alice", Operation::read, allow);
  const auto wild = binding(topic, "*", literal, "User:bob", Operation::write, deny, "10.0.0.1");
  const auto pre = binding(topic, "ord", prefixed, "User:alice", Operation::read, allow);
  const auto grp = binding(group, "orders", literal, "User:alice", Operation::read, allow);
  acl::Filter any;
  for (const auto& b : {lit, wild, pre, grp}) CHECK(acl::matches(any, b));

  acl::Filter by_name;
  by_name.resource_type = topic;
  by_name.resource_name = "orders";
  CHECK(acl::matches(by_name, lit));
  CHECK_FALSE(acl::matches(by_name, wild));
  CHECK_FALSE(acl::matches(by_name, pre));
  CHECK_FALSE(acl::matches(by_name, grp));

  acl::Filter match = by_name;
  match.pattern_type = static_cast<std::int8_t>(acl::PatternType::match);
  CHECK(acl::matches(match, lit));
  CHECK(acl::matches(match, wild));
  CHECK(acl::matches(match, pre));
  CHECK_FALSE(acl::matches(match, grp));

  acl::Filter prefixed_only;
  prefixed_only.pattern_type = prefixed;
  CHECK(acl::matches(prefixed_only, pre));
  CHECK_FALSE(acl::matches(prefixed_only, lit));

  acl::Filter who;
  who.principal = "User:bob";
  who.host = "10.0.0.1";
  who.permission = deny;
  who.operation = op(Operation::write);
  CHECK(acl::matches(who, wild));
  CHECK_FALSE(acl::matches(who, lit));
  who.host = "10.0.0.2";
  CHECK_FALSE(acl::matches(who, wild));
}

TEST_CASE("bindings CreateAcls refuses, filters DescribeAcls refuses") {
  CHECK_FALSE(acl::invalid_binding(binding(topic, "orders", literal, "User:alice", Operation::read, allow)));
  CHECK(acl::invalid_binding(binding(topic, "orders", literal, "alice", Operation::read, allow)));  // no type
  CHECK(acl::invalid_binding(binding(topic, "orders", static_cast<std::int8_t>(acl::PatternType::match), "User:a",
                                     Operation::read, allow)));
  CHECK(acl::invalid_binding(binding(topic, "orders", literal, "User:a", Operation::any, allow)));
  CHECK(acl::invalid_binding(binding(topic, "orders", literal, "User:a", Operation::read,
                                     static_cast<std::int8_t>(acl::Permission::any))));
  CHECK(acl::invalid_binding(binding(static_cast<std::int8_t>(ResourceType::any), "x", literal, "User:a",
                                     Operation::read, allow)));
  CHECK(acl::invalid_binding(binding(cluster, "other", literal, "User:a", Operation::alter, allow)));
  CHECK(acl::invalid_binding(binding(topic, "orders", literal, "User:a", Operation::read, allow, "")));
  acl::Filter f;
  CHECK_FALSE(acl::invalid_filter(f));
  f.operation = 0;  // UNKNOWN
  CHECK(acl::invalid_filter(f));
  f.operation = 99;
  CHECK(acl::invalid_filter(f));
}

TEST_CASE("embedded store: ACL bindings are kept across a reopen, added once, removed") {
  TempDir dir("kwire-acls");
  const auto a = binding(topic, "orders", literal, "User:alice", Operation::read, allow, "10.0.0.1");
  const auto b = binding(group, "", literal, "User:bob", Operation::read, deny);  // an empty name survives too
  {
    storage::embedded::Flusher disk;
    storage::embedded::Acls store(dir.path / "acls", disk);
    CHECK(store.acls()->empty());
    REQUIRE(run(store.add_acls({a, b, a})).ok());
    CHECK(store.acls()->size() == 2);
    auto before = store.acls();
    REQUIRE(run(store.remove_acls({b})).ok());
    CHECK(before->size() == 2);  // a snapshot stays as it was taken
    REQUIRE(run(store.add_acls({b})).ok());
  }
  storage::embedded::Flusher disk;
  storage::embedded::Acls reopened(dir.path / "acls", disk);
  auto all = reopened.acls();
  REQUIRE(all->size() == 2);
  CHECK(std::count(all->begin(), all->end(), a) == 1);
  CHECK(std::count(all->begin(), all->end(), b) == 1);
  REQUIRE(run(reopened.remove_acls({a, a})).ok());
  CHECK(reopened.acls()->size() == 1);
}
