#include "storage/embedded/quota_store.hpp"

#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {
namespace {

std::string text_of(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

std::optional<double> double_of(const std::string& s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string encode(const std::map<std::pair<QuotaEntity, std::string>, double>& all) {
  std::string out;
  for (const auto& [id, value] : all) {
    out += hex(id.second) + " " + text_of(value) + " " + std::to_string(id.first.size());
    for (const auto& part : id.first) out += " " + hex(part.type) + " " + (part.name ? hex(*part.name) : "-");
    out += "\n";
  }
  return out;
}

}  // namespace

Quotas::Quotas(fs::path dir, Flusher& disk) : dir_(std::move(dir)), disk_(disk) {
  auto data = read_file(dir_ / "client");
  if (!data) return;
  const auto malformed = [&] { return std::runtime_error("malformed client quota in " + (dir_ / "client").string()); };
  std::istringstream in(*data);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string key, value;
    std::size_t parts = 0;
    if (!(fields >> key >> value >> parts) || parts == 0 || parts > 3) throw malformed();
    auto k = unhex(key);
    auto v = double_of(value);
    if (!k || !v) throw malformed();
    QuotaEntity entity;
    for (std::size_t i = 0; i < parts; ++i) {
      std::string type, name;
      if (!(fields >> type >> name)) throw malformed();
      auto t = unhex(type);
      if (!t) throw malformed();
      QuotaEntityPart part{*t, std::nullopt};
      if (name != "-") {
        part.name = unhex(name);
        if (!part.name) throw malformed();
      }
      entity.push_back(std::move(part));
    }
    values_[{std::move(entity), *k}] = *v;
  }
  std::vector<ClientQuota> all;
  for (const auto& [id, v] : values_) all.push_back({id.first, id.second, v});
  snapshot_ = std::make_shared<const std::vector<ClientQuota>>(std::move(all));
}

std::shared_ptr<Completion> Quotas::changed() {
  std::vector<ClientQuota> all;
  all.reserve(values_.size());
  for (const auto& [id, v] : values_) all.push_back({id.first, id.second, v});
  snapshot_ = std::make_shared<const std::vector<ClientQuota>>(std::move(all));
  auto done = std::make_shared<Completion>();
  disk_.post([done, dir = dir_, data = encode(values_)] {
    std::error_code ec;
    fs::create_directories(dir, ec);
    done->set(!ec && write_file_atomic(dir / "client", data));
  });
  return done;
}

Task<Done> Quotas::alter_quotas(std::vector<QuotaChange> changes) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    bool any = false;
    for (auto& c : changes) {
      auto id = std::make_pair(std::move(c.entity), std::move(c.key));
      if (c.value) {
        auto [it, added] = values_.try_emplace(std::move(id), *c.value);
        any = any || added || it->second != *c.value;
        it->second = *c.value;
      } else {
        any = values_.erase(id) > 0 || any;
      }
    }
    if (!any) co_return Result<Done>::success({});
    done = changed();
  }
  const bool ok = co_await done->wait();
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

std::shared_ptr<const std::vector<ClientQuota>> Quotas::quotas() const {
  std::lock_guard lk(mu_);
  return snapshot_;
}

}  // namespace kwire_broker::storage::embedded
