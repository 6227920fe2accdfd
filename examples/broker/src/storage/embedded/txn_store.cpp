#include "storage/embedded/txn_store.hpp"

#include "storage/embedded/files.hpp"

namespace kwire_broker::storage::embedded {

Task<Done> Transactions::store_txn(std::string transactional_id, std::vector<std::uint8_t> blob) {
  return files_.put(hex(transactional_id), std::move(blob));
}

Task<Done> Transactions::delete_txn(std::string transactional_id) { return files_.erase(hex(transactional_id)); }

Task<std::vector<TxnBlob>> Transactions::load_txns() {
  using R = Result<std::vector<TxnBlob>>;
  auto all = files_.all();
  if (!all.ok()) co_return R::failure(all.error);
  std::vector<TxnBlob> out;
  for (auto& [name, data] : all.value) {
    if (auto id = unhex(name)) out.push_back({std::move(*id), std::move(data)});
  }
  co_return R::success(std::move(out));
}

}  // namespace kwire_broker::storage::embedded
