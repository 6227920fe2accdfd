// Opening a namespace's storage from the broker's settings.
#include "storage/open.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <stdexcept>

#include "core/log.hpp"
#include "storage/embedded/store.hpp"

#if defined(KWIRE_BROKER_WITH_PULSAR) && __has_include("storage/pulsar/open.hpp")
#include "storage/pulsar/open.hpp"
#define KWIRE_BROKER_PULSAR 1
#endif

namespace kwire_broker::storage {

/// Opens the storage of namespace `ns`: the configured one, or one a SASL
/// user names. The embedded store keeps other namespaces in subdirectories.
std::unique_ptr<Storage> open_storage(const Settings& st, [[maybe_unused]] const Properties& props,
                                                   const Namespace& ns,
                                                   const std::shared_ptr<embedded::FileCache>& files) {
  const bool configured = ns.tenant == st.tenant && ns.ns == st.ns;
  if (st.storage == "embedded") {
    embedded::Options o;
    o.dir = configured ? st.data_dir : st.data_dir + "/namespaces/" + ns.tenant + "/" + ns.ns;
    o.ns = ns;
    o.files = files;
    o.segment_bytes = st.segment_bytes;
    o.segment_ms = st.segment_ms;
    o.retention_ms = st.retention_ms;
    o.retention_bytes = st.retention_bytes;
    o.index_interval_bytes = st.index_interval_bytes;
    o.cleaner_enable = st.cleaner_enable;
    o.cleaner_backoff_ms = st.cleaner_backoff_ms;
    o.dedupe_buffer_bytes = st.dedupe_buffer_bytes;
    o.min_cleanable_ratio = st.min_cleanable_ratio;
    o.delete_retention_ms = st.delete_retention_ms;
    o.min_compaction_lag_ms = st.min_compaction_lag_ms;
    o.max_compaction_lag_ms = st.max_compaction_lag_ms;
    if (st.flush_messages == 1) {
      o.flush = embedded::FlushPolicy::every_append;
    } else if (st.flush_ms >= 0) {
      o.flush = embedded::FlushPolicy::interval;
      o.flush_interval = std::chrono::milliseconds(st.flush_ms);
    } else {
      o.flush = embedded::FlushPolicy::never;
    }
    o.max_batch_bytes = static_cast<std::int32_t>(std::min<std::int64_t>(st.max_request_bytes, INT32_MAX));
    o.report = [](const std::string& what) { KB_WARN("{}", what); };
    o.inform = [](const std::string& what) { KB_INFO("{}", what); };
    KB_INFO("embedded store in {} ({}/{}), flush {}", o.dir.string(), ns.tenant, ns.ns,
            o.flush == embedded::FlushPolicy::every_append ? "on every append"
            : o.flush == embedded::FlushPolicy::interval
                ? fmt::format("every {} ms", st.flush_ms)
                : std::string("left to the OS"));
    return embedded::open(o);
  }
#ifdef KWIRE_BROKER_PULSAR
  if (st.storage == "pulsar") {
    auto settings = props.all();
    settings["kafkaTenant"] = ns.tenant;
    settings["kafkaNamespace"] = ns.ns;
    return storage::pulsar::open(settings);
  }
#endif
  throw std::runtime_error("unknown kwire.storage '" + st.storage + "'");
}

/// kwire.log.max.open.files, or by default a quarter of the descriptors the
/// process may open (at least 16): the rest stay for sockets.
std::size_t max_open_log_files(const Settings& st) {
  if (st.max_open_log_files > 0) return static_cast<std::size_t>(st.max_open_log_files);
  rlimit lim{};
  rlim_t soft = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : 1024;
  if (soft == RLIM_INFINITY) soft = 1 << 20;
  return std::max<std::size_t>(16, static_cast<std::size_t>(soft) / 4);
}

}  // namespace kwire_broker::storage
