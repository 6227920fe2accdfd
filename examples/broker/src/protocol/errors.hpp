// Kafka error codes the broker answers with, their names, and the mapping
// from storage outcomes.
#pragma once

#include <cstdint>
#include <string_view>

#include "kwire/messages/api.hpp"
#include "storage/types.hpp"

namespace kwire_broker {

namespace err {
inline constexpr std::int16_t unknown_server_error = -1;
inline constexpr std::int16_t none = 0;
inline constexpr std::int16_t offset_out_of_range = 1;
inline constexpr std::int16_t corrupt_message = 2;
inline constexpr std::int16_t unknown_topic_or_partition = 3;
inline constexpr std::int16_t invalid_fetch_size = 4;
inline constexpr std::int16_t leader_not_available = 5;
inline constexpr std::int16_t not_leader_or_follower = 6;
inline constexpr std::int16_t request_timed_out = 7;
inline constexpr std::int16_t message_too_large = 10;
inline constexpr std::int16_t coordinator_load_in_progress = 14;
inline constexpr std::int16_t coordinator_not_available = 15;
inline constexpr std::int16_t not_coordinator = 16;
inline constexpr std::int16_t invalid_topic_exception = 17;
inline constexpr std::int16_t record_list_too_large = 18;
inline constexpr std::int16_t illegal_generation = 22;
inline constexpr std::int16_t inconsistent_group_protocol = 23;
inline constexpr std::int16_t invalid_group_id = 24;
inline constexpr std::int16_t unknown_member_id = 25;
inline constexpr std::int16_t invalid_session_timeout = 26;
inline constexpr std::int16_t rebalance_in_progress = 27;
inline constexpr std::int16_t invalid_commit_offset_size = 28;
inline constexpr std::int16_t topic_authorization_failed = 29;
inline constexpr std::int16_t group_authorization_failed = 30;
inline constexpr std::int16_t cluster_authorization_failed = 31;
inline constexpr std::int16_t invalid_timestamp = 32;
inline constexpr std::int16_t unsupported_sasl_mechanism = 33;
inline constexpr std::int16_t illegal_sasl_state = 34;
inline constexpr std::int16_t unsupported_version = 35;
inline constexpr std::int16_t topic_already_exists = 36;
inline constexpr std::int16_t invalid_partitions = 37;
inline constexpr std::int16_t invalid_replication_factor = 38;
inline constexpr std::int16_t invalid_replica_assignment = 39;
inline constexpr std::int16_t invalid_config = 40;
inline constexpr std::int16_t not_controller = 41;
inline constexpr std::int16_t invalid_request = 42;
inline constexpr std::int16_t unsupported_for_message_format = 43;
inline constexpr std::int16_t policy_violation = 44;
inline constexpr std::int16_t out_of_order_sequence_number = 45;
inline constexpr std::int16_t duplicate_sequence_number = 46;
inline constexpr std::int16_t invalid_producer_epoch = 47;
inline constexpr std::int16_t invalid_txn_state = 48;
inline constexpr std::int16_t invalid_producer_id_mapping = 49;
inline constexpr std::int16_t transactional_id_authorization_failed = 53;
inline constexpr std::int16_t security_disabled = 54;
inline constexpr std::int16_t sasl_authentication_failed = 58;
inline constexpr std::int16_t unknown_producer_id = 59;
inline constexpr std::int16_t kafka_storage_error = 56;
inline constexpr std::int16_t non_empty_group = 68;
inline constexpr std::int16_t group_id_not_found = 69;
inline constexpr std::int16_t fetch_session_id_not_found = 70;
inline constexpr std::int16_t invalid_fetch_session_epoch = 71;
inline constexpr std::int16_t member_id_required = 79;
inline constexpr std::int16_t group_max_size_reached = 81;
inline constexpr std::int16_t fenced_instance_id = 82;
inline constexpr std::int16_t group_subscribed_to_topic = 86;
inline constexpr std::int16_t unstable_offset_commit = 88;
inline constexpr std::int16_t unknown_topic_id = 100;
inline constexpr std::int16_t inconsistent_topic_id = 103;
}  // namespace err

constexpr std::string_view error_name(std::int16_t code) noexcept {
  switch (code) {
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

constexpr std::int16_t to_kafka(storage::Errc e) noexcept {
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
