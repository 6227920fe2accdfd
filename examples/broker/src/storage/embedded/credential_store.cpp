#include "storage/embedded/credential_store.hpp"

#include <sstream>
#include <stdexcept>

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {
namespace {

std::string hex_of(const std::vector<std::uint8_t>& b) {
  return hex(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::vector<std::uint8_t> bytes_of(const std::string& hex_text) {
  auto s = unhex(hex_text);
  if (!s) throw std::runtime_error("not hex: " + hex_text);
  return {s->begin(), s->end()};
}

std::string encode(const std::map<std::pair<std::string, std::int8_t>, ScramCredential>& all) {
  std::string out;
  for (const auto& [_, c] : all)
    out += hex(c.user) + " " + std::to_string(c.mechanism) + " " + std::to_string(c.iterations) + " " + hex_of(c.salt) +
           " " + hex_of(c.stored_key) + " " + hex_of(c.server_key) + "\n";
  return out;
}

}  // namespace

Credentials::Credentials(fs::path dir, Flusher& disk) : dir_(std::move(dir)), disk_(disk) {
  auto data = read_file(dir_ / "scram");
  if (!data) return;
  std::istringstream in(*data);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string user, salt, stored, server;
    int mechanism = 0;
    ScramCredential c;
    if (!(fields >> user >> mechanism >> c.iterations >> salt >> stored >> server))
      throw std::runtime_error("malformed credential in " + (dir_ / "scram").string());
    auto name = unhex(user);
    if (!name) throw std::runtime_error("malformed credential in " + (dir_ / "scram").string());
    c.user = *name;
    c.mechanism = static_cast<std::int8_t>(mechanism);
    c.salt = bytes_of(salt);
    c.stored_key = bytes_of(stored);
    c.server_key = bytes_of(server);
    by_user_[{c.user, c.mechanism}] = std::move(c);
  }
}

std::shared_ptr<Completion> Credentials::write_later() {
  auto done = std::make_shared<Completion>();
  disk_.post([done, dir = dir_, data = encode(by_user_)] {
    std::error_code ec;
    fs::create_directories(dir, ec);
    done->set(!ec && write_file_atomic(dir / "scram", data));
  });
  return done;
}

Task<Done> Credentials::put_scram(ScramCredential credential) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    auto key = std::make_pair(credential.user, credential.mechanism);
    by_user_[key] = std::move(credential);
    done = write_later();
  }
  const bool ok = co_await done->wait();
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

Task<Done> Credentials::delete_scram(std::string user, std::int8_t mechanism) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    if (by_user_.erase({user, mechanism}) == 0) co_return Result<Done>::success({});
    done = write_later();
  }
  const bool ok = co_await done->wait();
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

std::optional<ScramCredential> Credentials::find_scram(const std::string& user, std::int8_t mechanism) const {
  std::lock_guard lk(mu_);
  auto it = by_user_.find({user, mechanism});
  if (it == by_user_.end()) return std::nullopt;
  return it->second;
}

std::vector<ScramCredential> Credentials::scram_credentials() const {
  std::lock_guard lk(mu_);
  std::vector<ScramCredential> out;
  for (const auto& [_, c] : by_user_) out.push_back(c);
  return out;
}

}  // namespace kwire_broker::storage::embedded
