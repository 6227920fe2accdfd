// The one mapping the broker keeps of its own: from storage outcomes to
// Kafka's error codes (kwire::ErrorCode, generated from Kafka's table).
#pragma once

#include "kwire/messages/error_code.hpp"
#include "storage/types.hpp"

namespace kwire_broker {

constexpr kwire::ErrorCode to_kafka(storage::Errc e) noexcept {
  using kwire::ErrorCode;
  using storage::Errc;
  switch (e) {
    case Errc::ok: return ErrorCode::None;
    case Errc::unknown_topic: return ErrorCode::UnknownTopicOrPartition;
    case Errc::topic_exists: return ErrorCode::TopicAlreadyExists;
    case Errc::invalid_partitions: return ErrorCode::InvalidPartitions;
    case Errc::invalid_config: return ErrorCode::InvalidConfig;
    case Errc::offset_out_of_range: return ErrorCode::OffsetOutOfRange;
    case Errc::corrupt_batch: return ErrorCode::CorruptMessage;
    case Errc::batch_too_large: return ErrorCode::MessageTooLarge;
    case Errc::duplicate_sequence: return ErrorCode::None;
    case Errc::out_of_order_sequence: return ErrorCode::OutOfOrderSequenceNumber;
    case Errc::invalid_producer_epoch: return ErrorCode::InvalidProducerEpoch;
    case Errc::unknown_producer_id: return ErrorCode::UnknownProducerId;
    case Errc::invalid_txn_state: return ErrorCode::InvalidTxnState;
    case Errc::coordinator_fenced: return ErrorCode::TransactionCoordinatorFenced;
    case Errc::unsupported: return ErrorCode::UnsupportedVersion;
    case Errc::group_not_found: return ErrorCode::GroupIdNotFound;
    case Errc::unavailable: return ErrorCode::LeaderNotAvailable;
    case Errc::timeout: return ErrorCode::RequestTimedOut;
    case Errc::io_error: return ErrorCode::KafkaStorageError;
    case Errc::closed: return ErrorCode::NotLeaderOrFollower;
    case Errc::in_use: return ErrorCode::NonEmptyGroup;
  }
  return ErrorCode::UnknownServerError;
}

/// A partition's error in a Fetch or ShareFetch answer. Kafka's consumers
/// take only some errors there (they refresh metadata and fetch again on
/// NOT_LEADER_OR_FOLLOWER or KAFKA_STORAGE_ERROR, and fail on
/// LEADER_NOT_AVAILABLE or REQUEST_TIMED_OUT, which they do not expect from a
/// fetch): a store that cannot be reached now is answered so that they retry.
constexpr kwire::ErrorCode fetch_error(storage::Errc e) noexcept {
  if (e == storage::Errc::unavailable || e == storage::Errc::timeout) return kwire::ErrorCode::NotLeaderOrFollower;
  return to_kafka(e);
}

}  // namespace kwire_broker
