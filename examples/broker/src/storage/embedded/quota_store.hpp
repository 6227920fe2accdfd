// Client quotas of the embedded store: all held in memory and kept in one
// file, <dir>/<tenant>/<ns>/quotas/client, replaced whole (write, sync,
// rename) on the store's flusher thread after each change, in the order of
// the changes. One line per value:
//   <hex key> <value> <parts> (<hex type> <hex name>)...
// where <value> is the shortest decimal that reads back as the same double
// and a default entity's name is written as '-' (which no hex text is; a
// name is never empty).
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "storage/embedded/flusher.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

class Quotas final : public QuotaStore {
 public:
  /// Loads the file in `dir` if there is one (the directory is made on the
  /// first change). Throws when the file is unreadable or malformed.
  Quotas(std::filesystem::path dir, Flusher& disk);

  Task<Done> alter_quotas(std::vector<QuotaChange> changes) override;
  std::shared_ptr<const std::vector<ClientQuota>> quotas() const override;

  void close() noexcept { closed_ = true; }

 private:
  using Values = std::map<std::pair<QuotaEntity, std::string>, double>;
  /// Publishes a new snapshot and queues the file's rewrite; under mu_.
  std::shared_ptr<Completion> changed();

  std::filesystem::path dir_;
  Flusher& disk_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  Values values_;
  std::shared_ptr<const std::vector<ClientQuota>> snapshot_ = std::make_shared<const std::vector<ClientQuota>>();
};

}  // namespace kwire_broker::storage::embedded
