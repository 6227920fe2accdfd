// The embedded store: the broker's default storage, on local disk.
//
// Layout under the data directory:
//
//   <dir>/<tenant>/<ns>/topics/<topic>/topic.meta        id, partitions, configs
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/<base>.log    a ledger (segment): entries
//                                                        = record batches, as produced
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/<base>.index  sparse: (relative offset, position)
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/<base>.timeindex  (max timestamp, relative offset)
//                                                        both written once, when the ledger
//                                                        is sealed; the active one's live
//                                                        in memory
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/log-start     log start offset after DeleteRecords
//   <dir>/<tenant>/<ns>/groups/<hex id>.group            group metadata blob
//   <dir>/<tenant>/<ns>/groups/<hex id>.offsets          committed offsets
//   <dir>/<tenant>/<ns>/transactions/<hex id>.txn        transaction coordinator's record
//   <dir>/<tenant>/<ns>/share-states/<hex group>.<hex topic id>.<p>.state  a share partition's state
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/aborted.txnindex  aborted transactions
//   <dir>/<tenant>/<ns>/topics/<topic>/<p>/txn-scan-from where producer state is rebuilt from
//   <dir>/<tenant>/<ns>/credentials/scram                SCRAM credentials (credential_store.hpp)
//   <dir>/<tenant>/<ns>/acls/bindings                    ACL bindings (acl_store.hpp)
//   <dir>/<tenant>/<ns>/quotas/client                    client quotas (quota_store.hpp)
//   <dir>/producer-ids                                   next producer id block
//
// The parts, one per seam interface: log.hpp (PartitionLog), catalog.hpp
// (TopicCatalog), group_store.hpp (GroupStore), txn_store.hpp (TxnStore;
// log_txn.cpp keeps a partition's transactions), share_state_store.hpp
// (ShareStateStore), credential_store.hpp (CredentialStore), acl_store.hpp
// (AclStore), quota_store.hpp (QuotaStore); this file is the root.
//
// Calls do their work within their coroutine's first run, under mutexes, so
// any thread may call. Each partition log has its own mutex; appends write to
// the page cache and are made durable according to the flush policy. What
// waits for the disk (fdatasync, group files written whole) runs on the
// store's flusher thread (flusher.hpp); a call that needs its outcome
// suspends until then (an append under flush.messages=1, a group change). Opening the store recovers
// every partition: the last ledger is read entry by entry, checking each
// batch's CRC, and a torn tail is cut off.
#pragma once

#include <memory>

#include "storage/embedded/options.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage::embedded {

/// Opens (creating if needed) the store and recovers every partition.
/// Throws std::runtime_error when the directory cannot be used.
std::unique_ptr<Storage> open(const Options& options);

}  // namespace kwire_broker::storage::embedded
