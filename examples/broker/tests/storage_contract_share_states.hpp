// The storage contract's cases for share partitions' state (ShareStateStore),
// on backends that keep share groups (supports_share_groups()). Included by
// storage_contract.hpp, after open_fresh_store() is declared.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "storage_contract_support.hpp"

namespace kwire_broker::storage::contract {

std::unique_ptr<Storage> open_fresh_store();

TEST_CASE("storage contract: share partitions' state is replaced, deleted and loaded whole") {
  auto store = open_fresh_store();
  if (!store->supports_share_groups()) {
    CHECK(store->share_states() == nullptr);
    return;
  }
  REQUIRE(store->share_states() != nullptr);
  auto& states = *store->share_states();
  TopicId orders{}, refunds{};
  for (std::uint8_t i = 0; i < orders.size(); ++i) {
    orders[i] = static_cast<std::uint8_t>(i * 17);
    refunds[i] = static_cast<std::uint8_t>(255 - i);
  }
  // Group ids may hold any character, the key's separators included.
  const SharePartitionKey a{"sq", orders, 0}, b{"sq", orders, 11}, c{"team/queue.1", refunds, 0};
  const std::vector<std::uint8_t> first{1, 2, 3}, second{4, 5}, third{6}, replaced{7, 8, 9, 10};
  REQUIRE(run(states.store_share_state(a, first)).ok());
  REQUIRE(run(states.store_share_state(b, second)).ok());
  REQUIRE(run(states.store_share_state(c, third)).ok());
  REQUIRE(run(states.store_share_state(a, replaced)).ok());
  REQUIRE(run(states.delete_share_state(b)).ok());
  // Deleting what is not there is not an error.
  REQUIRE(run(states.delete_share_state(SharePartitionKey{"never", orders, 2})).ok());

  auto loaded = run(states.load_share_states());
  REQUIRE(loaded.ok());
  std::map<SharePartitionKey, std::vector<std::uint8_t>> got;
  for (auto& blob : loaded.value) got[blob.key] = blob.data;
  CHECK(got.size() == 2);
  CHECK(got[a] == replaced);
  CHECK(got[c] == third);
  CHECK(got.count(b) == 0);

  REQUIRE(run(store->close()).ok());
  CHECK(run(states.store_share_state(a, first)).error == Errc::closed);
  CHECK(run(states.load_share_states()).error == Errc::closed);
}

}  // namespace kwire_broker::storage::contract
