// Which failures are worth a retry: the one piece of Error that needs the
// broker's ServerError codes, so error.hpp stays free of the protocol.
#include "kwire_pulsar/error.hpp"

#include "kwire_pulsar/frame.hpp"

namespace kwire_pulsar {

bool Error::retriable() const noexcept {
  switch (code_) {
    case client_timeout:
    case client_disconnected:
    case client_lookup:
    case wire::ServiceNotReady:
    case wire::TooManyRequests:
    case wire::MetadataError:
    case wire::PersistenceError:
    case wire::UnknownError:
      return true;
    default:
      return false;
  }
}

}  // namespace kwire_pulsar
