// The storage contract (examples/broker/tests/storage_contract.hpp) on the
// Pulsar storage, against the test standalone. Each store gets a namespace
// of its own, so cases never see each other's topics or groups; what only
// Pulsar has is in storage_test.cpp.
#include "storage_contract.hpp"

#include <map>

#include "pulsar_env.hpp"
#include "storage/pulsar/open.hpp"

namespace kwire_broker::storage::contract {

std::unique_ptr<Storage> open_fresh_store() {
  std::map<std::string, std::string> s{{"pulsarServiceUrl", pulsar_test::service_url()},
                                       {"pulsarWebServiceUrl", pulsar_test::web_url()},
                                       {"kafkaTenant", "public"},
                                       {"kafkaNamespace", pulsar_test::unique("contract")},
                                       // Fewer group topic partitions: quicker to create per store.
                                       {"offsetsTopicNumPartitions", "2"}};
  return pulsar::open(s);
}

}  // namespace kwire_broker::storage::contract
