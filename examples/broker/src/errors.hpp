// Kafka error codes the broker answers with, their names, and the mapping
// from storage outcomes.
#pragma once

#include <cstdint>
#include <string_view>

#include "kwire/messages/api.hpp"
#include "kwire/messages/error_code.hpp"
#include "storage/types.hpp"

namespace kwire_broker {

namespace err {
inline constexpr kwire::ErrorCode unknown_server_error = kwire::ErrorCode::UnknownServerError;
inline constexpr kwire::ErrorCode none = kwire::ErrorCode::None;
inline constexpr kwire::ErrorCode offset_out_of_range = kwire::ErrorCode::OffsetOutOfRange;
inline constexpr kwire::ErrorCode corrupt_message = kwire::ErrorCode::CorruptMessage;
inline constexpr kwire::ErrorCode unknown_topic_or_partition = kwire::ErrorCode::UnknownTopicOrPartition;
inline constexpr kwire::ErrorCode invalid_fetch_size = kwire::ErrorCode::InvalidFetchSize;
inline constexpr kwire::ErrorCode leader_not_available = kwire::ErrorCode::LeaderNotAvailable;
inline constexpr kwire::ErrorCode not_leader_or_follower = kwire::ErrorCode::NotLeaderOrFollower;
inline constexpr kwire::ErrorCode request_timed_out = kwire::ErrorCode::RequestTimedOut;
inline constexpr kwire::ErrorCode message_too_large = kwire::ErrorCode::MessageTooLarge;
inline constexpr kwire::ErrorCode coordinator_load_in_progress = kwire::ErrorCode::CoordinatorLoadInProgress;
inline constexpr kwire::ErrorCode coordinator_not_available = kwire::ErrorCode::CoordinatorNotAvailable;
inline constexpr kwire::ErrorCode not_coordinator = kwire::ErrorCode::NotCoordinator;
inline constexpr kwire::ErrorCode invalid_topic_exception = kwire::ErrorCode::InvalidTopicException;
inline constexpr kwire::ErrorCode record_list_too_large = kwire::ErrorCode::RecordListTooLarge;
inline constexpr kwire::ErrorCode illegal_generation = kwire::ErrorCode::IllegalGeneration;
inline constexpr kwire::ErrorCode inconsistent_group_protocol = kwire::ErrorCode::InconsistentGroupProtocol;
inline constexpr kwire::ErrorCode invalid_group_id = kwire::ErrorCode::InvalidGroupId;
inline constexpr kwire::ErrorCode unknown_member_id = kwire::ErrorCode::UnknownMemberId;
inline constexpr kwire::ErrorCode invalid_session_timeout = kwire::ErrorCode::InvalidSessionTimeout;
inline constexpr kwire::ErrorCode rebalance_in_progress = kwire::ErrorCode::RebalanceInProgress;
inline constexpr kwire::ErrorCode invalid_commit_offset_size = kwire::ErrorCode::InvalidCommitOffsetSize;
inline constexpr kwire::ErrorCode topic_authorization_failed = kwire::ErrorCode::TopicAuthorizationFailed;
inline constexpr kwire::ErrorCode group_authorization_failed = kwire::ErrorCode::GroupAuthorizationFailed;
inline constexpr kwire::ErrorCode cluster_authorization_failed = kwire::ErrorCode::ClusterAuthorizationFailed;
inline constexpr kwire::ErrorCode invalid_timestamp = kwire::ErrorCode::InvalidTimestamp;
inline constexpr kwire::ErrorCode unsupported_sasl_mechanism = kwire::ErrorCode::UnsupportedSaslMechanism;
inline constexpr kwire::ErrorCode illegal_sasl_state = kwire::ErrorCode::IllegalSaslState;
inline constexpr kwire::ErrorCode unsupported_version = kwire::ErrorCode::UnsupportedVersion;
inline constexpr kwire::ErrorCode topic_already_exists = kwire::ErrorCode::TopicAlreadyExists;
inline constexpr kwire::ErrorCode invalid_partitions = kwire::ErrorCode::InvalidPartitions;
inline constexpr kwire::ErrorCode invalid_replication_factor = kwire::ErrorCode::InvalidReplicationFactor;
inline constexpr kwire::ErrorCode invalid_replica_assignment = kwire::ErrorCode::InvalidReplicaAssignment;
inline constexpr kwire::ErrorCode invalid_config = kwire::ErrorCode::InvalidConfig;
inline constexpr kwire::ErrorCode not_controller = kwire::ErrorCode::NotController;
inline constexpr kwire::ErrorCode invalid_request = kwire::ErrorCode::InvalidRequest;
inline constexpr kwire::ErrorCode unsupported_for_message_format = kwire::ErrorCode::UnsupportedForMessageFormat;
inline constexpr kwire::ErrorCode policy_violation = kwire::ErrorCode::PolicyViolation;
inline constexpr kwire::ErrorCode out_of_order_sequence_number = kwire::ErrorCode::OutOfOrderSequenceNumber;
inline constexpr kwire::ErrorCode duplicate_sequence_number = kwire::ErrorCode::DuplicateSequenceNumber;
inline constexpr kwire::ErrorCode invalid_producer_epoch = kwire::ErrorCode::InvalidProducerEpoch;
inline constexpr kwire::ErrorCode invalid_txn_state = kwire::ErrorCode::InvalidTxnState;
inline constexpr kwire::ErrorCode invalid_producer_id_mapping = kwire::ErrorCode::InvalidProducerIdMapping;
inline constexpr kwire::ErrorCode transactional_id_authorization_failed =
    kwire::ErrorCode::TransactionalIdAuthorizationFailed;
inline constexpr kwire::ErrorCode security_disabled = kwire::ErrorCode::SecurityDisabled;
inline constexpr kwire::ErrorCode sasl_authentication_failed = kwire::ErrorCode::SaslAuthenticationFailed;
inline constexpr kwire::ErrorCode unknown_producer_id = kwire::ErrorCode::UnknownProducerId;
inline constexpr kwire::ErrorCode kafka_storage_error = kwire::ErrorCode::KafkaStorageError;
inline constexpr kwire::ErrorCode non_empty_group = kwire::ErrorCode::NonEmptyGroup;
inline constexpr kwire::ErrorCode group_id_not_found = kwire::ErrorCode::GroupIdNotFound;
inline constexpr kwire::ErrorCode fetch_session_id_not_found = kwire::ErrorCode::FetchSessionIdNotFound;
inline constexpr kwire::ErrorCode invalid_fetch_session_epoch = kwire::ErrorCode::InvalidFetchSessionEpoch;
inline constexpr kwire::ErrorCode member_id_required = kwire::ErrorCode::MemberIdRequired;
inline constexpr kwire::ErrorCode group_max_size_reached = kwire::ErrorCode::GroupMaxSizeReached;
inline constexpr kwire::ErrorCode fenced_instance_id = kwire::ErrorCode::FencedInstanceId;
inline constexpr kwire::ErrorCode group_subscribed_to_topic = kwire::ErrorCode::GroupSubscribedToTopic;
inline constexpr kwire::ErrorCode unstable_offset_commit = kwire::ErrorCode::UnstableOffsetCommit;
inline constexpr kwire::ErrorCode unknown_topic_id = kwire::ErrorCode::UnknownTopicId;
inline constexpr kwire::ErrorCode inconsistent_topic_id = kwire::ErrorCode::InconsistentTopicId;
}  // namespace err

constexpr std::string_view error_name(kwire::ErrorCode code) noexcept {
  switch (static_cast<std::int16_t>(code)) {
    case -1: return "UNKNOWN_SERVER_ERROR";
    case 0: return "NONE";
    case 1: return "OFFSET_OUT_OF_RANGE";
    case 2: return "CORRUPT_MESSAGE";
    case 3: return "UNKNOWN_TOPIC_OR_PARTITION";
    case 4: return "INVALID_FETCH_SIZE";
    case 5: return "LEADER_NOT_AVAILABLE";
    case 6: return "NOT_LEADER_OR_FOLLOWER";
    case 7: return "REQUEST_TIMED_OUT";
    case 10: return "MESSAGE_TOO_LARGE";
    case 14: return "COORDINATOR_LOAD_IN_PROGRESS";
    case 15: return "COORDINATOR_NOT_AVAILABLE";
    case 16: return "NOT_COORDINATOR";
    case 17: return "INVALID_TOPIC_EXCEPTION";
    case 18: return "RECORD_LIST_TOO_LARGE";
    case 22: return "ILLEGAL_GENERATION";
    case 23: return "INCONSISTENT_GROUP_PROTOCOL";
    case 24: return "INVALID_GROUP_ID";
    case 25: return "UNKNOWN_MEMBER_ID";
    case 26: return "INVALID_SESSION_TIMEOUT";
    case 27: return "REBALANCE_IN_PROGRESS";
    case 28: return "INVALID_COMMIT_OFFSET_SIZE";
    case 32: return "INVALID_TIMESTAMP";
    case 33: return "UNSUPPORTED_SASL_MECHANISM";
    case 34: return "ILLEGAL_SASL_STATE";
    case 35: return "UNSUPPORTED_VERSION";
    case 36: return "TOPIC_ALREADY_EXISTS";
    case 37: return "INVALID_PARTITIONS";
    case 38: return "INVALID_REPLICATION_FACTOR";
    case 40: return "INVALID_CONFIG";
    case 42: return "INVALID_REQUEST";
    case 43: return "UNSUPPORTED_FOR_MESSAGE_FORMAT";
    case 45: return "OUT_OF_ORDER_SEQUENCE_NUMBER";
    case 46: return "DUPLICATE_SEQUENCE_NUMBER";
    case 47: return "INVALID_PRODUCER_EPOCH";
    case 48: return "INVALID_TXN_STATE";
    case 56: return "KAFKA_STORAGE_ERROR";
    case 58: return "SASL_AUTHENTICATION_FAILED";
    case 59: return "UNKNOWN_PRODUCER_ID";
    case 68: return "NON_EMPTY_GROUP";
    case 69: return "GROUP_ID_NOT_FOUND";
    case 70: return "FETCH_SESSION_ID_NOT_FOUND";
    case 71: return "INVALID_FETCH_SESSION_EPOCH";
    case 79: return "MEMBER_ID_REQUIRED";
    case 82: return "FENCED_INSTANCE_ID";
    case 86: return "GROUP_SUBSCRIBED_TO_TOPIC";
    case 100: return "UNKNOWN_TOPIC_ID";
  }
  return "OTHER";
}

constexpr kwire::ErrorCode to_kafka(storage::Errc e) noexcept {
  using storage::Errc;
  switch (e) {
    case Errc::ok: return err::none;
    case Errc::unknown_topic: return err::unknown_topic_or_partition;
    case Errc::topic_exists: return err::topic_already_exists;
    case Errc::invalid_partitions: return err::invalid_partitions;
    case Errc::invalid_config: return err::invalid_config;
    case Errc::offset_out_of_range: return err::offset_out_of_range;
    case Errc::corrupt_batch: return err::corrupt_message;
    case Errc::batch_too_large: return err::message_too_large;
    case Errc::duplicate_sequence: return err::none;
    case Errc::out_of_order_sequence: return err::out_of_order_sequence_number;
    case Errc::invalid_producer_epoch: return err::invalid_producer_epoch;
    case Errc::unknown_producer_id: return err::unknown_producer_id;
    case Errc::group_not_found: return err::group_id_not_found;
    case Errc::unavailable: return err::leader_not_available;
    case Errc::timeout: return err::request_timed_out;
    case Errc::io_error: return err::kafka_storage_error;
    case Errc::closed: return err::not_leader_or_follower;
  }
  return err::unknown_server_error;
}

inline std::string_view api_name(std::int16_t key) noexcept {
  for (auto& a : kwire::apis)
    if (a.key == key) return a.name;
  return {};
}

inline const kwire::ApiInfo* api_info(std::int16_t key) noexcept {
  for (auto& a : kwire::apis)
    if (a.key == key) return &a;
  return nullptr;
}

}  // namespace kwire_broker
