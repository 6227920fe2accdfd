// The embedded store's root: producer ids, opening logs, where the data is,
// housekeeping and close (see store.hpp for the layout and the rules).
#include "storage/embedded/store.hpp"

#include <atomic>
#include <mutex>
#include <stdexcept>

#include <sys/statvfs.h>

#include "storage/embedded/acl_store.hpp"
#include "storage/embedded/catalog.hpp"
#include "storage/embedded/cleaner.hpp"
#include "storage/embedded/credential_store.hpp"
#include "storage/embedded/files.hpp"
#include "storage/embedded/flusher.hpp"
#include "storage/embedded/group_store.hpp"
#include "storage/embedded/quota_store.hpp"
#include "storage/embedded/share_state_store.hpp"
#include "storage/embedded/txn_store.hpp"

namespace kwire_broker::storage::embedded {
namespace {

class Store final : public Storage {
 public:
  explicit Store(const Options& o) : opts_(with_defaults(o, flusher_.get())), root_(opts_.dir / opts_.ns.tenant / opts_.ns.ns) {
    fs::create_directories(root_ / "topics");
    groups_ = std::make_unique<Groups>(root_ / "groups", *flusher_);
    txns_ = std::make_unique<Transactions>(root_ / "transactions", *flusher_);
    shares_ = std::make_unique<ShareStates>(root_ / "share-states", *flusher_);
    credentials_ = std::make_unique<Credentials>(root_ / "credentials", *flusher_);
    acls_ = std::make_unique<Acls>(root_ / "acls", *flusher_);
    quotas_ = std::make_unique<Quotas>(root_ / "quotas", *flusher_);
    catalog_ = std::make_unique<Catalog>(opts_, root_ / "topics", *groups_);
    if (opts_.cleaner_enable) {
      cleaner_ = std::make_unique<Cleaner>([this] { return catalog_->logs(); }, opts_.cleaner_backoff_ms,
                                           static_cast<std::size_t>(opts_.dedupe_buffer_bytes), opts_.inform);
    }
    if (auto s = read_file(opts_.dir / "producer-ids")) {
      try {
        next_pid_ = std::stoll(*s);
      } catch (...) {
      }
    }
    pid_limit_ = next_pid_;
  }

  const Namespace& ns() const noexcept override { return opts_.ns; }
  TopicCatalog& topics() override { return *catalog_; }
  GroupStore& groups() override { return *groups_; }
  bool supports_transactions() const noexcept override { return true; }
  TxnStore* transactions() override { return txns_.get(); }
  bool supports_share_groups() const noexcept override { return true; }
  ShareStateStore* share_states() override { return shares_.get(); }
  CredentialStore* credentials() override { return credentials_.get(); }
  AclStore* acls() override { return acls_.get(); }
  QuotaStore* quotas() override { return quotas_.get(); }

  DataLocation data_location() const override {
    DataLocation where;
    // Named as Kafka names a log directory: absolute, without a trailing separator.
    auto dir = fs::absolute(opts_.dir).lexically_normal().string();
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    where.name = dir;
    struct statvfs vfs{};
    if (::statvfs(opts_.dir.c_str(), &vfs) == 0) {
      where.total_bytes = static_cast<std::int64_t>(vfs.f_blocks) * static_cast<std::int64_t>(vfs.f_frsize);
      where.usable_bytes = static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize);
    }
    return where;
  }

  Task<std::vector<std::int64_t>> partition_sizes(std::string topic) override {
    using R = Result<std::vector<std::int64_t>>;
    if (closed_) co_return R::failure(Errc::closed);
    auto info = catalog_->find_topic(topic);
    if (!info) co_return R::failure(Errc::unknown_topic);
    std::vector<std::int64_t> sizes;
    for (std::int32_t p = 0; p < info->partitions; ++p) {
      auto log = catalog_->log(TopicPartition{topic, p});
      sizes.push_back(log ? log->stored_bytes() : -1);
    }
    co_return R::success(std::move(sizes));
  }

  Task<std::shared_ptr<PartitionLog>> open_log(TopicPartition tp) override {
    using R = Result<std::shared_ptr<PartitionLog>>;
    if (closed_) co_return R::failure(Errc::closed);
    std::shared_ptr<PartitionLog> log = catalog_->log(tp);
    if (!log) co_return R::failure(Errc::unknown_topic);
    co_return R::success(std::move(log));
  }

  Task<std::int64_t> allocate_producer_ids(std::int32_t count) override {
    using R = Result<std::int64_t>;
    if (closed_) co_return R::failure(Errc::closed);
    std::lock_guard lk(pid_mu_);
    if (next_pid_ + count > pid_limit_) {
      pid_limit_ = next_pid_ + count + 1000;
      if (!write_file_atomic(opts_.dir / "producer-ids", std::to_string(pid_limit_))) co_return R::failure(Errc::io_error);
    }
    std::int64_t first = next_pid_;
    next_pid_ += count;
    co_return R::success(first);
  }

  void maintain(std::chrono::system_clock::time_point now) override {
    if (closed_) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    for (auto& l : catalog_->logs()) l->maintain(ms);
  }

  Task<Done> close() override {
    if (!closed_.exchange(true)) {
      catalog_->close();  // cancels a compaction pass under way
      if (cleaner_) cleaner_->stop();
      groups_->close();
      txns_->close();
      shares_->close();
      credentials_->close();
      acls_->close();
      quotas_->close();
    }
    co_return Result<Done>::success({});
  }

 private:
  static Options with_defaults(Options o, Flusher* flusher) {
    if (!o.files) o.files = std::make_shared<FileCache>(1024);
    o.flusher = flusher;
    return o;
  }

  // First: the logs use it until they close, and it syncs what they queued.
  std::unique_ptr<Flusher> flusher_ = std::make_unique<Flusher>();
  Options opts_;
  fs::path root_;
  std::unique_ptr<Credentials> credentials_;
  std::unique_ptr<Acls> acls_;
  std::unique_ptr<Quotas> quotas_;
  std::unique_ptr<Groups> groups_;  // before the catalog, which tells it of deleted topics
  std::unique_ptr<Transactions> txns_;
  std::unique_ptr<ShareStates> shares_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Cleaner> cleaner_;  // after the catalog: stopped before its logs go
  std::atomic<bool> closed_{false};
  std::mutex pid_mu_;
  std::int64_t next_pid_ = 1000;
  std::int64_t pid_limit_ = 1000;
};

}  // namespace

std::unique_ptr<Storage> open(const Options& options) {
  try {
    return std::make_unique<Store>(options);
  } catch (const fs::filesystem_error& e) {
    throw std::runtime_error(e.what());
  }
}

}  // namespace kwire_broker::storage::embedded
