# kwire-broker's request path (dispatch, handlers, group coordinator, the
# embedded store), compiled from its sources with the fuzz flags so that UB
# anywhere a request reaches stops a run as it does in the target itself.
set(broker_dir ${PROJECT_SOURCE_DIR}/examples/broker)
if(NOT TARGET fuzz_kwire_broker)
  find_package(fmt REQUIRED)
  find_package(Threads REQUIRED)
  find_package(OpenSSL REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
  set(s ${broker_dir}/src)
  add_library(fuzz_kwire_broker STATIC
    ${s}/coordinator/consumer_assignors.cpp
    ${s}/coordinator/consumer_group.cpp
    ${s}/coordinator/consumer_group_classic.cpp
    ${s}/coordinator/consumer_group_heartbeat.cpp
    ${s}/coordinator/consumer_group_reconcile.cpp
    ${s}/coordinator/consumer_group_record.cpp
    ${s}/coordinator/consumer_protocol.cpp
    ${s}/coordinator/group_coordinator.cpp
    ${s}/coordinator/group_migration.cpp
    ${s}/coordinator/group_configs.cpp
    ${s}/coordinator/share_group.cpp
    ${s}/coordinator/share_group_record.cpp
    ${s}/coordinator/share_partition.cpp
    ${s}/coordinator/share_queue_partition.cpp
    ${s}/coordinator/share_queues.cpp
    ${s}/coordinator/share_state.cpp
    ${s}/coordinator/txn_coordinator.cpp
    ${s}/coordinator/txn_markers.cpp
    ${s}/coordinator/txn_peers.cpp
    ${s}/coordinator/txn_shards.cpp
    ${s}/coordinator/txn_record.cpp
    ${s}/core/acl.cpp
    ${s}/core/authorizer.cpp
    ${s}/core/client_quotas.cpp
    ${s}/core/broker.cpp
    ${s}/core/cluster.cpp
    ${s}/core/config.cpp
    ${s}/core/metrics.cpp
    ${s}/core/notifier.cpp
    ${s}/core/realm.cpp
    ${s}/core/jwks_endpoint.cpp
    ${s}/core/jwt.cpp
    ${s}/core/scram.cpp
    ${s}/core/topic_configs.cpp
    ${s}/handlers/acls.cpp
    ${s}/handlers/admin.cpp
    ${s}/handlers/consumer_groups.cpp
    ${s}/handlers/core.cpp
    ${s}/handlers/data.cpp
    ${s}/handlers/fetch.cpp
    ${s}/handlers/groups.cpp
    ${s}/handlers/group_offsets.cpp
    ${s}/handlers/sasl.cpp
    ${s}/handlers/share_fetch.cpp
    ${s}/handlers/share_groups.cpp
    ${s}/handlers/share_offsets.cpp
    ${s}/handlers/txn.cpp
    ${s}/handlers/scram_credentials.cpp
    ${s}/handlers/client_quotas.cpp
    ${s}/handlers/replicas.cpp
    ${s}/handlers/cluster_admin.cpp
    ${s}/handlers/topic_partitions.cpp
    ${s}/net/peer_link.cpp
    ${s}/net/principal_rules.cpp
    ${s}/net/tls_context.cpp
    ${s}/protocol/authorize.cpp
    ${s}/protocol/batch_validator.cpp
    ${s}/protocol/context.cpp
    ${s}/protocol/dispatch.cpp
    ${s}/protocol/fetch_sessions.cpp
    ${s}/protocol/internal_topics.cpp
    ${s}/protocol/reply.cpp
    ${s}/storage/open.cpp
    ${s}/storage/embedded/acl_store.cpp
    ${s}/storage/embedded/catalog.cpp
    ${s}/storage/embedded/credential_store.cpp
    ${s}/storage/embedded/file_cache.cpp
    ${s}/storage/embedded/files.cpp
    ${s}/storage/embedded/flusher.cpp
    ${s}/storage/embedded/group_store.cpp
    ${s}/storage/embedded/log.cpp
    ${s}/storage/embedded/log_read.cpp
    ${s}/storage/embedded/quota_store.cpp
    ${s}/storage/embedded/log_txn.cpp
    ${s}/storage/embedded/log_compaction.cpp
    ${s}/storage/embedded/batch_compactor.cpp
    ${s}/storage/embedded/cleaner.cpp
    ${s}/storage/embedded/record_files.cpp
    ${s}/storage/embedded/share_state_store.cpp
    ${s}/storage/embedded/txn_store.cpp
    ${s}/storage/embedded/segment.cpp
    ${s}/storage/embedded/store.cpp)
  target_include_directories(fuzz_kwire_broker PUBLIC ${s} ${broker_dir}/tests)
  target_compile_options(fuzz_kwire_broker PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  # UBSan's function check stays off here and in the target (which links
  # this): clang 14 cannot emit its prologue data for the resume and destroy
  # parts of a coroutine ("Cannot represent a difference across sections"),
  # and every broker handler is one.
  target_compile_options(fuzz_kwire_broker PUBLIC -fno-sanitize=function)
  # Boost 1.74's Asio enables co_await on clang only through the Coroutines TS
  # (__cpp_coroutines, <experimental/coroutine>); clang's C++20 coroutines
  # are what the standard <coroutine> it does detect needs.
  target_compile_definitions(fuzz_kwire_broker PUBLIC BOOST_ASIO_HAS_CO_AWAIT=1)
  target_link_libraries(fuzz_kwire_broker PUBLIC kwire::kwire kwire::compression fmt::fmt Threads::Threads OpenSSL::SSL
                        PkgConfig::RE2 PRIVATE kwire_warnings nlohmann_json::nlohmann_json)
endif()
set(extra_libs fuzz_kwire_broker)
