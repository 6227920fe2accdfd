// Compiles the seam's headers on their own.
#include "storage/await.hpp"
#include "storage/producer_state.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage {
// Instantiates the awaitable adapter once so that it is checked too.
boost::asio::awaitable<Result<std::int64_t>> check_call(Storage& s) {
  co_return co_await call<std::int64_t>([&](Handler<std::int64_t> done) { s.allocate_producer_ids(1, std::move(done)); });
}
}  // namespace kwire_broker::storage
