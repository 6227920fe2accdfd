// Reading the coordinator's own JSON records back from a store, which may
// hand back anything (a damaged record, another writer's): a number is taken
// only when it is an integer that fits, since converting any other JSON
// number (a float, 1e300) to an integer type is undefined behaviour.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <utility>

namespace kwire_broker::stored {

/// The integer `j` holds, as T; throws std::out_of_range when it holds no
/// integer or one T cannot represent (decoders refuse the record then).
template <class T>
T integer(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (!std::in_range<T>(v)) throw std::out_of_range("a stored integer out of range");
    return static_cast<T>(v);
  }
  if (!j.is_number_integer()) throw std::out_of_range("a stored number that is not an integer");
  const auto v = j.get<std::int64_t>();
  if (!std::in_range<T>(v)) throw std::out_of_range("a stored integer out of range");
  return static_cast<T>(v);
}

}  // namespace kwire_broker::stored
