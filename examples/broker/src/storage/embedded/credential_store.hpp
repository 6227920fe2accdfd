// SCRAM credentials of the embedded store: all held in memory and kept in
// one file, <dir>/<tenant>/<ns>/credentials/scram, replaced whole (write,
// sync, rename) on the store's flusher thread after each change, in the
// order of the changes. One line per credential:
//   <hex user> <mechanism> <iterations> <hex salt> <hex stored key> <hex server key>
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <utility>

#include "storage/embedded/flusher.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

class Credentials final : public CredentialStore {
 public:
  /// Loads the file in `dir` if there is one (the directory is made on the
  /// first change). Throws when the file is unreadable or malformed.
  Credentials(std::filesystem::path dir, Flusher& disk);

  Task<Done> put_scram(ScramCredential credential) override;
  Task<Done> delete_scram(std::string user, std::int8_t mechanism) override;
  std::optional<ScramCredential> find_scram(const std::string& user, std::int8_t mechanism) const override;
  std::vector<ScramCredential> scram_credentials() const override;

  void close() noexcept { closed_ = true; }

 private:
  /// Queues the file's rewrite with what memory holds now; under mu_.
  std::shared_ptr<Completion> write_later();

  std::filesystem::path dir_;
  Flusher& disk_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::int8_t>, ScramCredential> by_user_;
};

}  // namespace kwire_broker::storage::embedded
