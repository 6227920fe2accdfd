#include "storage/embedded/record_files.hpp"

#include <system_error>

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {

std::shared_ptr<Completion> replace_file_later(Flusher& disk, fs::path file, std::optional<std::string> data) {
  auto done = std::make_shared<Completion>();
  disk.post([done, file = std::move(file), data = std::move(data)] {
    if (data) {
      done->set(write_file_atomic(file, *data));
    } else {
      std::error_code ec;
      fs::remove(file, ec);
      done->set(!ec);
    }
  });
  return done;
}

RecordFiles::RecordFiles(fs::path dir, std::string extension, Flusher& disk)
    : dir_(std::move(dir)), extension_(std::move(extension)), disk_(disk) {
  fs::create_directories(dir_);
  for (auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() != extension_) continue;
    if (auto data = read_file(e.path())) {
      records_[e.path().stem().string()] = std::vector<std::uint8_t>(data->begin(), data->end());
    }
  }
}

Task<Done> RecordFiles::put(std::string name, std::vector<std::uint8_t> record) {
  return change(std::move(name), std::move(record));
}

Task<Done> RecordFiles::erase(std::string name) { return change(std::move(name), std::nullopt); }

// The change of memory and the queueing of the file's change happen under
// the mutex, so files change in the order memory did; only then does the
// call wait.
Task<Done> RecordFiles::change(std::string name, std::optional<std::vector<std::uint8_t>> record) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    std::optional<std::string> data;
    if (record) data.emplace(record->begin(), record->end());
    done = replace_file_later(disk_, dir_ / (name + extension_), std::move(data));
    if (record) {
      records_[std::move(name)] = std::move(*record);
    } else {
      records_.erase(name);
    }
  }
  const bool ok = co_await done->wait();  // not in the if: see Log::acknowledge
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

Result<std::map<std::string, std::vector<std::uint8_t>>> RecordFiles::all() const {
  using R = Result<std::map<std::string, std::vector<std::uint8_t>>>;
  if (closed_) return R::failure(Errc::closed);
  std::lock_guard lk(mu_);
  return R::success(records_);
}

}  // namespace kwire_broker::storage::embedded
