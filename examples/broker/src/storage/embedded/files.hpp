// Small file and encoding helpers shared by the embedded store's parts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "storage/types.hpp"

namespace kwire_broker::storage::embedded {

namespace fs = std::filesystem;

std::int64_t now_ms();

/// Lower-case hex of every byte: group ids and config values become file-safe.
std::string hex(std::string_view s);
std::optional<std::string> unhex(std::string_view s);

/// Writes a file atomically: a temporary beside it, fsync, rename, fsync dir.
bool write_file_atomic(const fs::path& path, std::string_view data);
std::optional<std::string> read_file(const fs::path& path);
bool pread_all(int fd, void* buf, std::size_t n, std::uint64_t at);
bool write_all(int fd, const void* buf, std::size_t n);

/// Big-endian integers of the store's own files (indexes, offsets files).
std::uint64_t get_be(const std::uint8_t* p, int n) noexcept;
void put_be(std::uint8_t* p, std::uint64_t v, int n) noexcept;

/// A topic config as an integer, or `fallback` when unset or not a number.
std::int64_t config_int(const Configs& c, const char* key, std::int64_t fallback);

}  // namespace kwire_broker::storage::embedded
