#include "storage/embedded/txn_store.hpp"

#include <system_error>

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {

Transactions::Transactions(fs::path dir, Flusher& disk) : dir_(std::move(dir)), disk_(disk) {
  fs::create_directories(dir_);
  for (auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() != ".txn") continue;
    auto id = unhex(e.path().stem().string());
    if (!id) continue;
    if (auto data = read_file(e.path())) records_[*id] = std::vector<std::uint8_t>(data->begin(), data->end());
  }
}

fs::path Transactions::path(const std::string& id) const { return dir_ / (hex(id) + ".txn"); }

std::shared_ptr<Completion> Transactions::write_later(fs::path file, std::optional<std::string> data) {
  auto done = std::make_shared<Completion>();
  disk_.post([done, file = std::move(file), data = std::move(data)] {
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

// Each call changes memory and queues its file's change under the mutex,
// so files change in the order memory did; only then does it wait.

Task<Done> Transactions::store_txn(std::string transactional_id, std::vector<std::uint8_t> blob) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    done = write_later(path(transactional_id), std::string(blob.begin(), blob.end()));
    records_[transactional_id] = std::move(blob);
  }
  const bool ok = co_await done->wait();  // not in the if: see Log::acknowledge
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

Task<Done> Transactions::delete_txn(std::string transactional_id) {
  if (closed_) co_return Result<Done>::failure(Errc::closed);
  std::shared_ptr<Completion> done;
  {
    std::lock_guard lk(mu_);
    records_.erase(transactional_id);
    done = write_later(path(transactional_id), std::nullopt);
  }
  const bool ok = co_await done->wait();
  if (!ok) co_return Result<Done>::failure(Errc::io_error);
  co_return Result<Done>::success({});
}

Task<std::vector<TxnBlob>> Transactions::load_txns() {
  using R = Result<std::vector<TxnBlob>>;
  if (closed_) co_return R::failure(Errc::closed);
  std::lock_guard lk(mu_);
  std::vector<TxnBlob> out;
  for (auto& [id, data] : records_) out.push_back({id, data});
  co_return R::success(std::move(out));
}

}  // namespace kwire_broker::storage::embedded
