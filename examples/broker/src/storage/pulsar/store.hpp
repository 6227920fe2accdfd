// The broker's storage seam on Apache Pulsar, mapped as Kafka-on-Pulsar maps
// it:
//
//   Kafka topic T, partition p   persistent://TENANT/NS/T-partition-p (a
//                                partitioned topic T with its metadata)
//   Kafka offsets                the broker entry metadata index: an entry's
//                                index is the offset of its last record
//   a record batch               one entry, in the namespace's entry format
//                                (entry_format.hpp)
//   topic configs and id         properties of the partitioned topic
//   groups, committed offsets    a compacted, partitioned system topic
//                                TENANT/__kafka/__consumer_offsets (suffixed
//                                _NS for namespaces other than "default"),
//                                mirrored to a subscription per group on
//                                each partition (shortly after the commit
//                                is acknowledged, newest offset first)
//
// One gateway writes a partition at a time: it holds Pulsar's exclusive
// producer on it, so a second gateway is fenced. As the single writer it
// derives each append's offsets from the previous index plus the batch's
// message count; reads always take offsets from the index the broker sends.
// A fetch finds the entry of an offset with Pulsar's lookup by index (one
// admin request), or, where a release lacks it, by a binary search over the
// topic's entries; every entry read feeds a sparse index that answers first.
//
// An append is acknowledged once Pulsar's receipt for its entry is in (a
// Kafka retry of a batch still on its way waits for that receipt). A batch
// whose entry would exceed what the cluster stores (the broker's
// maxMessageSize, the bookies' frame limit) is refused before it is sent:
// Pulsar would otherwise retry the failed write without end.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "../storage.hpp"
#include "entry_format.hpp"

namespace kwire_broker::storage::pulsar {

struct PulsarConfig {
  std::string service_url = "pulsar://127.0.0.1:6650";
  std::string web_service_url = "http://127.0.0.1:8080";
  /// A JWT (brokerClientAuthenticationParameters "token:..." or the token).
  std::string token;
  /// Default entry format; a namespace property kwire.entry.format overrides.
  EntryFormat entry_format = EntryFormat::pulsar;
  /// Partitions of the group metadata topic.
  int offsets_partitions = 8;
  /// The gateway's name in producer names (distinct per gateway process).
  std::string gateway_name = "kwire";
  std::chrono::milliseconds operation_timeout = std::chrono::seconds(30);
  /// How a fetch finds the entry of an offset: Pulsar's REST lookup by
  /// index (one request; a release without it falls back to the search),
  /// or a binary search over the topic's entries (O(log n) reads).
  enum class IndexLookup { rest, search } index_lookup = IndexLookup::rest;
  /// The bookies' nettyMaxFrameSizeBytes, which Pulsar does not report:
  /// BookKeeper's default (what a standalone runs with). Together with the
  /// broker's maxMessageSize (from the broker) it bounds an entry.
  std::int64_t bookie_max_frame_bytes = 5 * 1024 * 1024;
};

/// Reads the broker's settings: pulsarServiceUrl, pulsarWebServiceUrl,
/// brokerClientAuthenticationParameters (token:JWT), entryFormat
/// (pulsar|kafka), offsetsTopicNumPartitions, gatewayName, indexLookup
/// (rest|search), bookieMaxFrameBytes. Unknown keys are ignored.
PulsarConfig config_from(const std::map<std::string, std::string>& settings);

/// The Kafka tenant and namespace from the settings kafkaTenant and
/// kafkaNamespace (public/default when unset).
Namespace namespace_from(const std::map<std::string, std::string>& settings);

/// load_groups() and list_groups() complete before they return when called
/// from a thread of the caller (they are startup calls); every other call
/// completes on the storage's I/O thread.
///
/// Opens the storage for one namespace: creates the tenant and namespace if
/// needed (retention unlimited, deduplication on), loads topics and groups.
/// Throws std::runtime_error when Pulsar cannot be reached. Each storage has
/// its own client and I/O thread; a SASL user "tenant/namespace" gets the
/// storage of that namespace and sees nothing else.
std::unique_ptr<Storage> open_pulsar_storage(const PulsarConfig& config, const Namespace& ns);

/// How many entries a Pulsar log has read one by one to find positions
/// (offset and timestamp lookups): the cost of seeking, for tests and metrics.
/// 0 for logs of other backends.
std::uint64_t entries_probed(const PartitionLog& log) noexcept;

}  // namespace kwire_broker::storage::pulsar
