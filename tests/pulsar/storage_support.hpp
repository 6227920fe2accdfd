// Shared by the tests of kwire-broker's Pulsar storage: a store of a
// namespace on the test standalone, topics, batches as the broker hands them
// over, and awaiting a storage call from the test's own thread.
#pragma once

#include <doctest/doctest.h>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <kwire/records/batch.hpp>

#include "pulsar_env.hpp"
#include "storage/pulsar/open.hpp"

namespace pulsar_test {

namespace st = kwire_broker::storage;

/// Awaits a storage call from a coroutine on an io_context of the test's
/// own: the storage hops to its I/O thread and must resume the caller here.
template <class T>
st::Result<T> wait(st::Task<T> task) {
  return run([&]() -> boost::asio::awaitable<st::Result<T>> {
    const auto caller = std::this_thread::get_id();
    auto r = co_await std::move(task);
    CHECK(std::this_thread::get_id() == caller);
    co_return r;
  });
}

/// A batch as the broker hands it to storage after validating it.
inline st::AppendBatch validated(std::vector<std::uint8_t> bytes) {
  auto v = kwire::RecordBatchView::parse(bytes);
  REQUIRE(v);
  REQUIRE_FALSE(v->validate());
  const auto info = st::BatchInfo::of(*v);
  return {std::move(bytes), info};
}

/// The storage of `tenant/ns` on the test standalone, as gateway `gateway`.
inline std::unique_ptr<st::Storage> open_store(const std::string& tenant, const std::string& ns,
                                               const std::string& format = "pulsar", const std::string& gateway = "gw-1") {
  std::map<std::string, std::string> s{{"pulsarServiceUrl", service_url()},
                                       {"pulsarWebServiceUrl", web_url()},
                                       {"kafkaTenant", tenant},
                                       {"kafkaNamespace", ns},
                                       {"entryFormat", format},
                                       {"offsetsTopicNumPartitions", "2"},
                                       {"gatewayName", gateway}};
  return kwire_broker::storage::pulsar::open(s);
}

inline void create(st::Storage& s, const std::string& topic, int partitions) {
  st::NewTopic t;
  t.name = topic;
  t.partitions = partitions;
  t.configs["retention.ms"] = "-1";
  auto r = wait(s.topics().create_topic(t));
  REQUIRE_MESSAGE(r.ok(), r.message);
}

}  // namespace pulsar_test
