// AlterUserScramCredentials and DescribeUserScramCredentials (KIP-554): SCRAM
// users as kafka-configs --entity-type users manages them. The client sends
// the salted password, never the password; the broker keeps StoredKey and
// ServerKey (core/scram.hpp). With an authorizer, describing needs DESCRIBE
// on the cluster and altering ALTER, as in Kafka.
#include <map>
#include <set>

#include "core/log.hpp"
#include "core/scram.hpp"
#include "handlers/sasl.hpp"
#include "kwire/messages/alter_user_scram_credentials_request.hpp"
#include "kwire/messages/alter_user_scram_credentials_response.hpp"
#include "kwire/messages/describe_user_scram_credentials_request.hpp"
#include "kwire/messages/describe_user_scram_credentials_response.hpp"
#include "protocol/authorize.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {
namespace {

using namespace kwire;

constexpr std::string_view not_stored = "SCRAM credentials are not stored by this broker's storage";

asio::awaitable<void> describe_scram(Broker& b, Ctx& ctx, DescribeUserScramCredentialsRequest& req,
                                     DescribeUserScramCredentialsResponse& resp) {
  storage::CredentialStore* store = credential_store(b);
  if (!allowed_on_cluster(b, ctx, acl::Operation::describe)) {
    resp.error_code = ctx.note(ErrorCode::ClusterAuthorizationFailed);
    resp.error_message = "Cluster authorization failed.";
    co_return;
  }
  if (!store) {
    resp.error_code = ctx.note(ErrorCode::UnsupportedSaslMechanism);
    resp.error_message = not_stored;
    co_return;
  }
  std::map<std::string, std::vector<storage::ScramCredential>> by_user;
  for (auto& c : store->scram_credentials()) by_user[c.user].push_back(c);
  auto describe = [&](const std::string& user, ErrorCode error, std::string message) {
    DescribeUserScramCredentialsResponse::DescribeUserScramCredentialsResult r;
    r.user = ctx.keep(user);
    r.error_code = ctx.note(error);
    if (error != ErrorCode::None) r.error_message = ctx.keep(std::move(message));
    if (auto it = by_user.find(user); it != by_user.end() && error == ErrorCode::None) {
      for (const auto& c : it->second) {
        DescribeUserScramCredentialsResponse::CredentialInfo info;
        info.mechanism = c.mechanism;
        info.iterations = c.iterations;
        r.credential_infos.push_back(info);
      }
    }
    resp.results.push_back(r);
  };
  if (!req.users || req.users->empty()) {  // every user
    for (const auto& [user, _] : by_user) describe(user, ErrorCode::None, {});
    co_return;
  }
  std::map<std::string, int> asked;
  for (const auto& u : *req.users) asked[std::string(u.name)]++;
  for (const auto& [user, times] : asked) {
    if (times > 1)
      describe(user, ErrorCode::DuplicateResource, "Cannot describe SCRAM credentials for the same user twice in a single request: " + user);
    else if (!by_user.count(user))
      describe(user, ErrorCode::ResourceNotFound, "Attempt to describe a user credential that does not exist: " + user);
    else
      describe(user, ErrorCode::None, {});
  }
}

/// Why an upsertion cannot be stored (UNACCEPTABLE_CREDENTIAL), or nothing.
std::optional<std::string> unacceptable(const AlterUserScramCredentialsRequest::ScramCredentialUpsertion& u) {
  const auto mechanism = static_cast<scram::Mechanism>(u.mechanism);
  if (u.name.empty()) return "Username must not be empty";
  if (u.iterations < scram::min_iterations)
    return "Requested iterations " + std::to_string(u.iterations) + " is less than the minimum " +
           std::to_string(scram::min_iterations) + " for " + scram::name_of(mechanism);
  if (u.iterations > scram::max_iterations)
    return "Requested iterations " + std::to_string(u.iterations) + " is more than the maximum " +
           std::to_string(scram::max_iterations) + " for " + scram::name_of(mechanism);
  // Any length will do, as in Kafka: the keys stored are HMACs keyed by it.
  if (u.salted_password.empty()) return "The salted password must not be empty";
  if (u.salt.empty()) return "The salt must not be empty";
  return std::nullopt;
}

bool known_mechanism(std::int8_t m) {
  return m == static_cast<std::int8_t>(scram::Mechanism::sha256) || m == static_cast<std::int8_t>(scram::Mechanism::sha512);
}

asio::awaitable<void> alter_scram(Broker& b, Ctx& ctx, AlterUserScramCredentialsRequest& req,
                                  AlterUserScramCredentialsResponse& resp) {
  storage::CredentialStore* store = credential_store(b);
  // One result per user; the first problem found for a user is its result.
  std::map<std::string, std::pair<ErrorCode, std::string>> outcome;
  std::map<std::string, int> mentions;
  for (const auto& d : req.deletions) mentions[std::string(d.name)]++;
  for (const auto& u : req.upsertions) mentions[std::string(u.name)]++;
  auto fail = [&](const std::string& user, ErrorCode e, std::string why) {
    if (!outcome.count(user) || outcome[user].first == ErrorCode::None) outcome[user] = {e, std::move(why)};
  };
  const bool denied = !allowed_on_cluster(b, ctx, acl::Operation::alter);
  for (const auto& [user, times] : mentions) {
    outcome[user] = {ErrorCode::None, {}};
    if (denied) fail(user, ErrorCode::ClusterAuthorizationFailed, "Cluster authorization failed.");
    if (!store) fail(user, ErrorCode::UnsupportedSaslMechanism, std::string(not_stored));
    if (times > 1)
      fail(user, ErrorCode::DuplicateResource, "A user credential cannot be altered twice in the same request");
  }
  for (const auto& d : req.deletions) {
    const std::string user(d.name);
    if (d.name.empty()) fail(user, ErrorCode::UnacceptableCredential, "Username must not be empty");
    else if (!known_mechanism(d.mechanism)) fail(user, ErrorCode::UnsupportedSaslMechanism, "Unknown SCRAM mechanism");
    else if (store && !store->find_scram(user, d.mechanism))
      fail(user, ErrorCode::ResourceNotFound, "Attempt to delete a user credential that does not exist");
  }
  for (const auto& u : req.upsertions) {
    const std::string user(u.name);
    if (!known_mechanism(u.mechanism)) fail(user, ErrorCode::UnsupportedSaslMechanism, "Unknown SCRAM mechanism");
    else if (auto why = unacceptable(u)) fail(user, ErrorCode::UnacceptableCredential, *why);
  }
  // Then the changes of every user without a problem.
  for (const auto& d : req.deletions) {
    const std::string user(d.name);
    if (outcome[user].first != ErrorCode::None) continue;
    auto r = co_await store->delete_scram(user, d.mechanism);
    if (!r.ok()) fail(user, ErrorCode::KafkaStorageError, "cannot store the change");
  }
  for (const auto& u : req.upsertions) {
    const std::string user(u.name);
    if (outcome[user].first != ErrorCode::None) continue;
    std::vector<std::uint8_t> salt(u.salt.begin(), u.salt.end());
    std::vector<std::uint8_t> salted(u.salted_password.begin(), u.salted_password.end());
    auto credential = scram::credential_from_salted(static_cast<scram::Mechanism>(u.mechanism), user, std::move(salt),
                                                    u.iterations, salted);
    auto r = co_await store->put_scram(std::move(credential));
    if (!r.ok()) fail(user, ErrorCode::KafkaStorageError, "cannot store the change");
  }
  for (const auto& [user, result] : outcome) {
    AlterUserScramCredentialsResponse::AlterUserScramCredentialsResult r;
    r.user = ctx.keep(user);
    r.error_code = ctx.note(result.first);
    if (result.first != ErrorCode::None) r.error_message = ctx.keep(result.second);
    else KB_INFO("{} changed the SCRAM credentials of {}", ctx.session.principal, user);
    resp.results.push_back(r);
  }
}

}  // namespace

std::vector<HandlerEntry> scram_credential_handlers() {
  return {
      handler<DescribeUserScramCredentialsRequest, describe_scram>(0, 0),
      handler<AlterUserScramCredentialsRequest, alter_scram>(0, 0),
  };
}

}  // namespace kwire_broker
