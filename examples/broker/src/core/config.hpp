// The broker's configuration, by Kafka's property names. Sources, later ones
// winning: built-in defaults, a properties file (--config FILE or a bare file
// argument, as kafka-server-start takes), then --override key=value or
// --key=value flags.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kwire_broker {

class Properties {
 public:
  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  std::string get(const std::string& key, const std::string& fallback = {}) const;
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  const std::map<std::string, std::string>& all() const { return values_; }

  /// Reads a Java-style properties file (key=value or key: value, # comments,
  /// backslash line continuations). Throws std::runtime_error.
  void load_file(const std::string& path);

 private:
  std::map<std::string, std::string> values_;
};

struct Listener {
  std::string name;      // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, or a custom name
  std::string protocol;  // the security protocol it maps to
  std::string host;      // bind address ("" or 0.0.0.0: any)
  std::uint16_t port = 9092;
  /// TLS listeners: every ssl.* property in force for this listener (Kafka's
  /// names, listener.name.<name>.ssl.* overriding ssl.*).
  std::map<std::string, std::string> ssl;
  bool sasl() const { return protocol == "SASL_PLAINTEXT" || protocol == "SASL_SSL"; }
  bool tls() const { return protocol == "SSL" || protocol == "SASL_SSL"; }
};

/// Parses "NAME://host:port,..." with listener.security.protocol.map.
std::vector<Listener> parse_listeners(const std::string& spec, const std::string& protocol_map);

struct Settings {
  std::int32_t node_id = 1;
  std::string cluster_id;
  std::vector<Listener> listeners;
  std::vector<Listener> advertised;  // same order as listeners
  /// The listener gateways send each other requests on (net/peer_link.hpp):
  /// inter.broker.listener.name, else the one named by
  /// security.inter.broker.protocol; PLAINTEXT when neither is set.
  std::string inter_broker_listener = "PLAINTEXT";
  /// sasl.mechanism.inter.broker.protocol (Kafka's default GSSAPI is not
  /// spoken: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), and the username and
  /// password of listener.name.<listener>.<mechanism>.sasl.jaas.config, all
  /// lowercased in the key, as Kafka reads them for a SASL inter-broker listener.
  std::string inter_broker_sasl_mechanism = "GSSAPI";
  std::string inter_broker_sasl_username, inter_broker_sasl_password;
  std::string data_dir;
  std::int32_t num_partitions = 1;
  bool auto_create_topics = true;
  std::int32_t threads = 0;  // 0: one per core
  std::int64_t max_request_bytes = 104857600;   // socket.request.max.bytes
  std::int64_t idle_ms = 600000;                // connections.max.idle.ms
  std::int32_t quota_window_num = 11;           // quota.window.num
  std::int32_t quota_window_size_seconds = 1;   // quota.window.size.seconds
  std::int64_t queued_max_request_bytes = 104857600;  // queued.max.request.bytes (-1: no limit)
  std::int64_t sasl_max_receive_bytes = 524288;  // sasl.server.max.receive.size (before login)
  std::int64_t ssl_handshake_timeout_ms = 10000;  // kwire.ssl.handshake.timeout.ms
  std::int64_t ssl_reload_interval_ms = 60000;    // kwire.ssl.reload.interval.ms; 0: never
  std::int64_t max_open_log_files = 0;           // kwire.log.max.open.files (0: from the fd limit)
  std::int32_t message_max_bytes = 1048588;     // message.max.bytes
  std::int64_t fetch_session_slots = 1000;      // max.incremental.fetch.session.cache.slots
  std::int64_t fetch_session_max_partitions = 200000;  // kwire.fetch.session.cache.max.partitions
  /// What decoding one request may allocate (kwire.request.max.decode.bytes):
  /// real clients' requests need far less; a request of nothing but tiny
  /// array elements (amplification) is refused past it.
  std::int64_t max_decode_bytes = 32LL << 20;
  std::int32_t group_min_session_ms = 6000;
  std::int32_t group_max_session_ms = 1800000;
  std::int32_t group_initial_rebalance_delay_ms = 3000;
  std::int32_t group_max_size = 2147483647;  // group.max.size: members of a classic group
  // max.request.partition.size.limit: partitions in one DescribeTopicPartitions answer
  std::int32_t max_request_partition_size_limit = 2000;
  std::int32_t transaction_max_timeout_ms = 900000;  // transaction.max.timeout.ms
  // transaction.abort.timed.out.transaction.cleanup.interval.ms
  std::int32_t transaction_abort_interval_ms = 10000;
  std::int64_t transactional_id_expiration_ms = 604800000;  // transactional.id.expiration.ms (7 days)
  // transactions.remove.expired.transaction.cleanup.interval.ms
  std::int64_t transaction_id_removal_interval_ms = 3600000;
  // Consumer groups of the KIP-848 protocol.
  std::int32_t consumer_session_ms = 45000;            // group.consumer.session.timeout.ms
  std::int32_t consumer_heartbeat_interval_ms = 5000;  // group.consumer.heartbeat.interval.ms
  std::int32_t consumer_max_size = 2147483647;         // group.consumer.max.size
  std::vector<std::string> consumer_assignors{"uniform", "range"};  // group.consumer.assignors
  std::string consumer_migration_policy = "bidirectional";         // group.consumer.migration.policy
  // Share groups (KIP-932), where the store keeps them.
  bool share_groups_enabled = true;                 // kwire.share.groups.enable
  std::int32_t share_session_ms = 45000;            // group.share.session.timeout.ms
  std::int32_t share_heartbeat_interval_ms = 5000;  // group.share.heartbeat.interval.ms
  std::int32_t share_max_size = 200;                // group.share.max.size
  std::int32_t share_lock_duration_ms = 30000;      // group.share.record.lock.duration.ms
  std::int32_t share_delivery_count_limit = 5;      // group.share.delivery.count.limit
  std::int32_t share_max_record_locks = 2000;       // group.share.partition.max.record.locks
  std::int32_t share_max_sessions = 2000;           // group.share.max.share.sessions
  std::int32_t offsets_topic_partitions = 1;
  std::map<std::string, std::string> sasl_users;  // PLAIN users from the JAAS config
  std::vector<std::string> sasl_mechanisms{"PLAIN"};  // sasl.enabled.mechanisms
  /// SCRAM users created at startup when they have no credential yet
  /// (kwire.sasl.scram.users, as kafka-storage format --add-scram takes them).
  struct ScramUser {
    std::string mechanism, name, password;
    std::int32_t iterations = 4096;
  };
  std::vector<ScramUser> scram_users;
  /// SASL/OAUTHBEARER: the JSON Web Key Set's file (from
  /// sasl.oauthbearer.jwks.endpoint.url, a file: URL) and what a token must
  /// say (sasl.oauthbearer.expected.audience, .expected.issuer,
  /// .sub.claim.name, .clock.skew.seconds).
  std::string oauth_jwks_file;
  /// Or an http(s) endpoint, refreshed (sasl.oauthbearer.jwks.endpoint.*).
  std::string oauth_jwks_url, oauth_jwks_ca_file;
  std::int64_t oauth_jwks_refresh_ms = 3600000, oauth_jwks_backoff_ms = 100, oauth_jwks_backoff_max_ms = 10000;
  std::vector<std::string> oauth_audience;
  std::string oauth_issuer;
  std::string oauth_sub_claim = "sub";
  std::int64_t oauth_clock_skew_s = 30;
  /// kwire.sasl.oauthbearer.pulsar.passthrough: tokens are checked by Pulsar
  /// (the storage's token authentication) rather than against keys.
  bool oauth_pulsar_passthrough = false;
  /// connections.max.reauth.ms (KIP-368): a SASL session's longest life
  /// before the client must log in again on its connection; 0: for ever.
  std::int64_t reauth_ms = 0;
  /// ACLs (core/authorizer.hpp): authorizer.class.name, any non-empty value
  /// turns kwire's built-in authorizer on; super.users (semicolon-separated
  /// principals); allow.everyone.if.no.acl.found.
  std::string authorizer;
  std::vector<std::string> super_users;
  bool allow_everyone_if_no_acl = false;
  /// connection.failed.authentication.delay.ms: a failed login is answered
  /// this much later, so that guessing passwords is slow.
  std::int64_t failed_auth_delay_ms = 100;
  std::string metrics_listener;                   // host:port for /metrics, empty: off
  std::string storage = "embedded";
  std::string tenant = "public";
  std::string ns = "default";
  std::int64_t shutdown_timeout_ms = 10000;
  std::string log_level = "info";
  // Log defaults (topic configs override them per topic).
  std::int64_t segment_bytes = 1LL << 30;               // log.segment.bytes
  std::int64_t segment_ms = 7LL * 24 * 3600 * 1000;     // log.roll.ms / log.roll.hours
  std::int64_t retention_ms = 7LL * 24 * 3600 * 1000;   // log.retention.ms / .minutes / .hours
  std::int64_t retention_bytes = -1;                    // log.retention.bytes
  std::int64_t index_interval_bytes = 4096;             // log.index.interval.bytes
  std::int64_t flush_messages = -1;                     // log.flush.interval.messages (1: every append)
  std::int64_t flush_ms = 1000;                         // log.flush.interval.ms (-1: never)
  std::int64_t retention_check_ms = 300000;             // log.retention.check.interval.ms
  // Log compaction (cleanup.policy=compact), Kafka's defaults.
  bool cleaner_enable = true;                           // log.cleaner.enable
  std::int64_t cleaner_backoff_ms = 15000;              // log.cleaner.backoff.ms
  std::int64_t dedupe_buffer_bytes = 128LL << 20;       // log.cleaner.dedupe.buffer.size
  double min_cleanable_ratio = 0.5;                     // log.cleaner.min.cleanable.ratio
  std::int64_t delete_retention_ms = 86400000;          // log.cleaner.delete.retention.ms
  std::int64_t min_compaction_lag_ms = 0;               // log.cleaner.min.compaction.lag.ms
  std::int64_t max_compaction_lag_ms = INT64_MAX;       // log.cleaner.max.compaction.lag.ms
};

/// Builds Settings from properties; throws std::runtime_error on a bad value.
Settings make_settings(const Properties& p);

/// Parses the command line into properties (see the top of this file).
/// Returns nullopt after printing usage for --help.
std::optional<Properties> parse_command_line(int argc, char** argv);

}  // namespace kwire_broker
