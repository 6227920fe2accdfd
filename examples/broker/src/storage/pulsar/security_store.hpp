// SCRAM credentials, ACL bindings and client quotas on Pulsar: messages on a
// compacted system topic, TENANT/__kafka/__kwire_security (suffixed _NS for
// namespaces other than "default"), one key per credential, per binding and
// per quota value; a null value deletes (security_record.hpp says what the
// messages hold). The quota calls are in quota_store.cpp.
//
// Every gateway of the namespace writes to the topic (a shared producer) and
// follows it with a reader: loaded to its end at open, then kept at its end,
// so that a change made through one gateway reaches the others as Pulsar
// delivers it (Kafka's ACL changes reach every broker the same way). The
// newest message of a key wins: a gateway applies its own change when Pulsar
// confirms it and skips that change, or any older one of the same key, when
// its reader brings it later.
//
// The state is read from any thread (find_scram, acls, quotas) under a mutex; writes
// and the reader run on the storage's I/O thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common.hpp"

namespace kwire_broker::storage::pulsar {

class PulsarStorage;

class Security final : public CredentialStore, public AclStore, public QuotaStore {
 public:
  explicit Security(PulsarStorage& s);

  Task<Done> put_scram(ScramCredential credential) override;
  Task<Done> delete_scram(std::string user, std::int8_t mechanism) override;
  std::optional<ScramCredential> find_scram(const std::string& user, std::int8_t mechanism) const override;
  std::vector<ScramCredential> scram_credentials() const override;

  Task<Done> add_acls(std::vector<AclBinding> bindings) override;
  Task<Done> remove_acls(std::vector<AclBinding> bindings) override;
  std::shared_ptr<const std::vector<AclBinding>> acls() const override;

  Task<Done> alter_quotas(std::vector<QuotaChange> changes) override;
  std::shared_ptr<const std::vector<ClientQuota>> quotas() const override;

  std::string topic() const;
  /// Reads the topic to its end and starts following it; on the I/O thread,
  /// at open.
  awaitable<void> load();

 private:
  Task<Done> change_acls(std::vector<AclBinding> bindings, bool add);
  /// Stores the messages as one entry (all or none) and applies them here.
  awaitable<Result<Done>> write(std::vector<kp::OutgoingMessage> messages);
  awaitable<void> follow();
  /// Applies a change stored at `at` (`value` nullopt: a deletion) unless a
  /// newer one of its key was applied already; malformed ones are ignored.
  /// Under mu_.
  void apply(const std::string& key, std::optional<std::string_view> value, const kp::MessageId& at);
  void apply(const kp::Message& m);
  /// Makes the ACL and quota changes applied so far visible to acls() and
  /// quotas(); under mu_.
  void publish_acls();
  void publish_quotas();

  PulsarStorage& s_;
  std::shared_ptr<kp::Consumer> reader_;
  std::shared_ptr<kp::Producer> producer_;

  mutable std::mutex mu_;
  std::map<std::string, kp::MessageId> applied_;  // per key, deletions included
  std::map<std::pair<std::string, std::int8_t>, ScramCredential> scram_;
  std::set<AclBinding> bindings_;
  bool acls_changed_ = false;
  std::shared_ptr<const std::vector<AclBinding>> snapshot_ = std::make_shared<const std::vector<AclBinding>>();
  std::map<std::pair<QuotaEntity, std::string>, double> quota_values_;
  bool quotas_changed_ = false;
  std::shared_ptr<const std::vector<ClientQuota>> quota_snapshot_ = std::make_shared<const std::vector<ClientQuota>>();
};

}  // namespace kwire_broker::storage::pulsar
