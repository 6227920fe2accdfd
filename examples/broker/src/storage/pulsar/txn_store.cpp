// Transaction records on the offsets topic: one message each, keyed
// "txn/<transactional id>"; see txn_store.hpp.
#include "txn_store.hpp"

#include "store.hpp"

namespace kwire_broker::storage::pulsar {

Task<Done> Txns::store_txn(std::string transactional_id, std::vector<std::uint8_t> blob) {
  auto work = write_here(std::move(transactional_id), std::move(blob));
  co_return co_await s_.on_io(std::move(work));
}

Task<Done> Txns::delete_txn(std::string transactional_id) {
  auto work = write_here(std::move(transactional_id), std::nullopt);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<Done>> Txns::write_here(std::string transactional_id, std::optional<std::vector<std::uint8_t>> blob) {
  std::string record_key = "txn/" + transactional_id;  // named: g++ 12 mishandles temporaries in co_await
  co_await groups_.write_record(transactional_id, std::move(record_key), blob);
  if (blob) {
    groups_.txns_[transactional_id] = std::move(*blob);
  } else {
    groups_.txns_.erase(transactional_id);
  }
  co_return Result<Done>::success({});
}

Task<std::vector<TxnBlob>> Txns::load_txns() {
  auto work = load_here();
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<TxnBlob>>> Txns::load_here() {
  co_await groups_.ensure_loaded();
  std::vector<TxnBlob> out;
  for (const auto& [id, blob] : groups_.txns_) out.push_back({id, blob});
  co_return Result<std::vector<TxnBlob>>::success(std::move(out));
}

Task<std::vector<TxnBlob>> Txns::load_shard_txns(std::int32_t shard) {
  auto work = load_shard_here(shard);
  co_return co_await s_.on_io(std::move(work));
}

awaitable<Result<std::vector<TxnBlob>>> Txns::load_shard_here(std::int32_t shard) {
  // Taking the shard's producer reads the partition again, so what another
  // gateway wrote while it coordinated these ids is here.
  co_await groups_.take(shard);
  std::vector<TxnBlob> out;
  for (const auto& [id, blob] : groups_.txns_)
    if (groups_.partition_of(id) == shard) out.push_back({id, blob});
  co_return Result<std::vector<TxnBlob>>::success(std::move(out));
}

}  // namespace kwire_broker::storage::pulsar
