// How Kafka record batches are stored in Pulsar entries, per namespace (KoP's
// entryFormat):
//
//   pulsar  each Kafka record becomes a Pulsar message of a batched entry:
//           key → partition key, value → payload (null → null_value), record
//           timestamp → event time, headers → properties. Native Pulsar
//           consumers read them. The Kafka producer id, epoch and base
//           sequence ride in the entry's metadata properties. A compressed
//           Kafka batch gives a compressed entry (gzip → ZLIB, snappy,
//           lz4, zstd: Pulsar's own forms of each codec).
//   kafka   the Kafka batch is the entry's payload, unchanged; the metadata
//           says num_messages_in_batch = the batch's offset span and carries
//           the format property. Only Kafka clients read it.
//
// A transaction marker (a Kafka control batch) is in neither form: it is one
// message without payload whose properties describe it, built back into the
// control batch on read.
//
// Either way one entry holds one Kafka batch, and the broker entry index of
// an entry is the Kafka offset of its last record. Entries in Pulsar's form
// (written by native Pulsar producers, batched or not, or by the gateway) are
// turned into Kafka batches on read, compressed with the entry's codec when
// Pulsar holds it compressed (ZLIB → gzip), uncompressed otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kwire_pulsar/entry.hpp"

namespace kwire_broker::storage::pulsar {

enum class EntryFormat { pulsar, kafka };

/// Metadata property naming the format of entries written by the gateway.
inline constexpr const char* format_property = "kwire.entry.format";
inline constexpr const char* producer_id_property = "kwire.producer.id";
inline constexpr const char* producer_epoch_property = "kwire.producer.epoch";
inline constexpr const char* base_sequence_property = "kwire.base.sequence";
/// Kafka transactions (see the storage README): a transactional batch in the
/// pulsar format carries `kwire.transactional` = "true". A marker is an entry
/// of one message without payload whose properties say what it is, in
/// either format: `kwire.control` ("commit" or "abort"), the producer fields
/// above, `kwire.coordinator.epoch`, and `kwire.txn.first`, the first offset
/// of the transaction it ends (the aborted-transactions index is rebuilt
/// from it).
inline constexpr const char* transactional_property = "kwire.transactional";
inline constexpr const char* control_property = "kwire.control";
inline constexpr const char* coordinator_epoch_property = "kwire.coordinator.epoch";
inline constexpr const char* txn_first_property = "kwire.txn.first";
/// On every entry the gateway writes while a Kafka transaction is open in
/// the partition: the first offset of the oldest one. Whoever opens the
/// partition next rebuilds the producer state from there.
inline constexpr const char* open_txn_property = "kwire.txn.open.from";

struct BadEntry : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EncodedEntry {
  kwire_pulsar::wire::MessageMetadata metadata;
  std::string payload;
  int messages = 1;  // what the entry adds to the broker's index
};

/// A Kafka batch (magic 2, offsets already assigned) as one Pulsar entry.
/// Throws BadEntry if the batch cannot be read.
EncodedEntry kafka_to_entry(std::span<const std::uint8_t> batch, EntryFormat format);

/// Adds a property to the entry's metadata.
void add_entry_property(EncodedEntry& e, std::string key, std::string value);

/// The number a property of the gateway's holds, if the entry has it.
/// Throws BadEntry when it is not a number.
std::optional<std::int64_t> entry_number(const kwire_pulsar::wire::MessageMetadata& m, const char* key);

/// What a marker entry says (nullopt: the entry is no marker). Throws
/// BadEntry when its properties are not the gateway's.
struct EntryMarker {
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t coordinator_epoch = 0;
  bool commit = false;
  std::int64_t txn_first = -1;  // -1 when not recorded
};
std::optional<EntryMarker> marker_of(const kwire_pulsar::wire::MessageMetadata& m);

/// Number of messages (index steps) the entry for `batch` takes.
int index_span(std::span<const std::uint8_t> batch);

/// A stored entry as one Kafka batch whose last record has offset
/// `last_offset`, appended to `out`. Throws BadEntry.
void entry_to_kafka(const kwire_pulsar::Entry& entry, std::int64_t last_offset, std::vector<std::uint8_t>& out);

/// How large an entry a Pulsar cluster stores. The broker refuses messages
/// (metadata and payload) above its maxMessageSize; a bookie drops the
/// connection on a request frame above its nettyMaxFrameSizeBytes, and that
/// frame carries the entry with the broker's entry metadata and the bookie
/// protocol's own header. A write the bookie drops fails, and Pulsar retries
/// it on new ledgers without end, failing every other write on that bookie.
struct EntryLimits {
  std::int64_t entry_bytes = 0;  // metadata + payload of one entry
  /// The largest Kafka record batch the gateway takes (what
  /// max.message.bytes reports): an entry's metadata (producer name, Kafka
  /// producer fields, per-record keys and headers in the pulsar format) is
  /// kept within the rest. A batch whose entry still comes out larger is
  /// refused on its encoded size.
  std::int64_t batch_bytes = 0;
};
/// Room kept in a bookie frame for what surrounds the entry (observed: under
/// 300 bytes), and in an entry for the metadata of a batch.
inline constexpr std::int64_t bookie_frame_reserve = 1024;
inline constexpr std::int64_t entry_metadata_reserve = 1024;
EntryLimits entry_limits(std::int64_t max_message_size, std::int64_t bookie_max_frame);
/// Metadata and payload bytes of an encoded entry (what maxMessageSize bounds).
std::int64_t encoded_size(const EncodedEntry& e);

/// The Kafka producer fields of an entry (for rebuilding idempotence state):
/// producer id -1 when none.
struct EntryProducer {
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
};

}  // namespace kwire_broker::storage::pulsar
