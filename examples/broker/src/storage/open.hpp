// Which backend stores a namespace, chosen by kwire.storage: the embedded
// store (default) or Apache Pulsar, when the broker is built with it.
#pragma once

#include <cstddef>
#include <memory>

#include "core/config.hpp"
#include "storage/embedded/file_cache.hpp"
#include "storage/storage.hpp"

namespace kwire_broker::storage {

/// Opens the storage of namespace `ns`: the configured one, or one a SASL
/// user names. The embedded store keeps other namespaces in subdirectories.
/// Throws when the storage cannot be opened.
std::unique_ptr<Storage> open_storage(const Settings& st, const Properties& props, const Namespace& ns,
                                      const std::shared_ptr<embedded::FileCache>& files);

/// kwire.log.max.open.files, or by default a quarter of the descriptors the
/// process may open (at least 16): the rest stay for sockets.
std::size_t max_open_log_files(const Settings& st);

}  // namespace kwire_broker::storage
