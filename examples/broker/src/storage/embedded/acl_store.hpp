// ACL bindings of the embedded store: all held in memory and kept in one
// file, <dir>/<tenant>/<ns>/acls/bindings, replaced whole (write, sync,
// rename) on the store's flusher thread after each change, in the order of
// the changes. One line per binding, the codes as Kafka numbers them:
//   <resource type> <pattern type> <operation> <permission> <hex resource name> <hex principal> <hex host>
// (an empty string is written as '-', which no hex text is).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include "storage/embedded/flusher.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

class Acls final : public AclStore {
 public:
  /// Loads the file in `dir` if there is one (the directory is made on the
  /// first change). Throws when the file is unreadable or malformed.
  Acls(std::filesystem::path dir, Flusher& disk);

  Task<Done> add_acls(std::vector<AclBinding> bindings) override;
  Task<Done> remove_acls(std::vector<AclBinding> bindings) override;
  std::shared_ptr<const std::vector<AclBinding>> acls() const override;

  void close() noexcept { closed_ = true; }

 private:
  /// Publishes a new snapshot and queues the file's rewrite; under mu_.
  std::shared_ptr<Completion> changed();

  std::filesystem::path dir_;
  Flusher& disk_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::set<AclBinding> bindings_;
  std::shared_ptr<const std::vector<AclBinding>> snapshot_ = std::make_shared<const std::vector<AclBinding>>();
};

}  // namespace kwire_broker::storage::embedded
