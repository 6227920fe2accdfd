// Decoding constructs array elements with default-initialisation (`new (p) T`,
// kwire::default_init), which skips the zero fill of value-initialisation and
// relies on every member of a generated struct having an initialiser. This
// checks that it holds for every struct of every schema: built over memory
// full of garbage, each must equal a value-initialised one.
#include <doctest/doctest.h>

#include <cstring>
#include <memory_resource>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

#include "kwire/messages/all.hpp"
#include "kwire/messages/dispatch.hpp"

using namespace kwire;

namespace {

template <class T>
struct element_of {
  using type = void;
};
template <class T>
struct element_of<array<T>> {
  using type = T;
};
template <class T>
struct element_of<std::optional<T>> : element_of<T> {};
template <class T>
struct element_of<std::optional<array<T>>> {
  using type = T;
};

template <class T>
concept Struct = requires(std::int16_t v, bool f) { T::min_size(v, f); };

template <class T>
void check_struct(const std::string& path);

template <class M>
void check_member(const std::string& path) {
  using E = typename element_of<M>::type;
  if constexpr (Struct<E>) check_struct<E>(path);
  if constexpr (Struct<M>) check_struct<M>(path);
}

template <class T>
void check_struct(const std::string& path) {
  alignas(T) unsigned char storage[sizeof(T)];
  std::memset(storage, 0xA5, sizeof storage);
  T* garbage = ::new (static_cast<void*>(storage)) T;
  CHECK_MESSAGE(*garbage == T{}, path);
  garbage->~T();
  T t;
  T::visit_fields(t, [&](const FieldInfo& fi, auto& member) {
    check_member<std::remove_cvref_t<decltype(member)>>(path + "." + std::string(fi.name));
  });
}

}  // namespace

TEST_CASE("every generated struct is fully initialised by default-initialisation") {
  std::size_t messages = 0;
  for_each_message_type([&]<class M>(std::type_identity<M>) {
    check_struct<M>(std::string(M::message_name));
    ++messages;
  });
  CHECK(messages > 100);
}

TEST_CASE("an array built with default_init holds default elements") {
  std::pmr::monotonic_buffer_resource arena;
  array<MetadataResponse::MetadataResponsePartition> parts{allocator<MetadataResponse::MetadataResponsePartition>(&arena)};
  parts.reserve(4);
  for (int i = 0; i < 4; ++i) parts.emplace_back(default_init);
  for (const auto& p : parts) CHECK(p == MetadataResponse::MetadataResponsePartition{});
}
