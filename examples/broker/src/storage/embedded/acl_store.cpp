#include "storage/embedded/acl_store.hpp"

#include <sstream>
#include <stdexcept>

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {
namespace {

std::string field_of(const std::string& s) { return s.empty() ? "-" : hex(s); }

std::optional<std::string> string_of(const std::string& field) {
  if (field == "-") return std::string();
  return unhex(field);
}

std::string encode(const std::set<AclBinding>& all) {
  std::string out;
  for (const auto& b : all)
    out += std::to_string(b.resource_type) + " " + std::to_string(b.pattern_type) + " " + std::to_string(b.operation) +
           " " + std::to_string(b.permission) + " " + field_of(b.resource_name) + " " + field_of(b.principal) + " " +
           field_of(b.host) + "\n";
  return out;
}

}  // namespace

Acls::Acls(fs::path dir, Flusher& disk) : dir_(std::move(dir)), disk_(disk) {
  auto data = read_file(dir_ / "bindings");
  if (!data) return;
  std::istringstream in(*data);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    int type = 0, pattern = 0, operation = 0, permission = 0;
    std::string name, principal, host;
    if (!(fields >> type >> pattern >> operation >> permission >> name >> principal >> host))
      throw std::runtime_error("malformed ACL binding in " + (dir_ / "bindings").string());
    auto n = string_of(name), p = string_of(principal), h = string_of(host);
    if (!n || !p || !h) throw std::runtime_error("malformed ACL binding in " + (dir_ / "bindings").string());
    bindings_.insert(AclBinding{static_cast<std::int8_t>(type), *n, static_cast<std::int8_t>(pattern), *p, *h,
                                static_cast<std::int8_t>(operation), static_cast<std::int8_t>(permission)});
  }
  snapshot_ = std::make_shared<const std::vector<AclBinding>>(bindings_.begin(), bindings_.end());
}

std::shared_ptr<Completion> Acls::changed() {
  snapshot_ = std::make_shared<const std::vector<AclBinding>>(bindings_.begin(), bindings_.end());
  auto done = std::make_shared<Completion>();
  disk_.post([done, dir = dir_, data = encode(bindings_)] {
    std::error_code ec;
    fs::create_directories(dir, ec);
    done->set(!ec && write_file_atomic(dir / "bindings", data));
  });
  return done;
}

Task<Done> Acls::add_acls(std::vector<AclBinding> bindings) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    const auto before = bindings_.size();
    for (auto& b : bindings) bindings_.insert(std::move(b));
    if (bindings_.size() == before) co_return Result<Done>::success({});
    done = changed();
  }
  const bool ok = co_await done->wait();
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

Task<Done> Acls::remove_acls(std::vector<AclBinding> bindings) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    std::size_t removed = 0;
    for (const auto& b : bindings) removed += bindings_.erase(b);
    if (removed == 0) co_return Result<Done>::success({});
    done = changed();
  }
  const bool ok = co_await done->wait();
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

std::shared_ptr<const std::vector<AclBinding>> Acls::acls() const {
  std::lock_guard lk(mu_);
  return snapshot_;
}

}  // namespace kwire_broker::storage::embedded
