// The embedded store's file cache: the bound on open files holds, a file in
// use is never closed under its user, data goes through closes and reopens
// unchanged, and reopening never brings back a file that was removed.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "storage/embedded/file_cache.hpp"

namespace fs = std::filesystem;
using kwire_broker::storage::embedded::CachedFile;
using kwire_broker::storage::embedded::FileCache;

namespace {

using TempDir = kwire_broker::testing::TempDir;

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

constexpr int create_flags = O_RDWR | O_CREAT | O_CLOEXEC | O_APPEND;

}  // namespace

TEST_CASE("no more files are open than the bound, and data survives closes and reopens") {
  TempDir dir{"kwire-file-cache"};
  auto cache = std::make_shared<FileCache>(2);
  const auto before = open_descriptors();
  std::vector<CachedFile> files;
  for (int i = 0; i < 8; ++i) {
    files.emplace_back(cache, dir.path / (std::to_string(i) + ".log"), create_flags);
    CHECK(cache->open_files() <= 2);
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 8; ++i) {
      auto f = files[static_cast<std::size_t>(i)].use();
      REQUIRE(f);
      char c = static_cast<char>('a' + i);
      REQUIRE(::write(f.fd(), &c, 1) == 1);
    }
  }
  CHECK(cache->open_files() <= 2);
  CHECK(open_descriptors() <= before + 2);
  for (int i = 0; i < 8; ++i) {
    auto f = files[static_cast<std::size_t>(i)].use();
    REQUIRE(f);
    char buf[4] = {};
    REQUIRE(::pread(f.fd(), buf, 3, 0) == 3);
    const char c = static_cast<char>('a' + i);
    CHECK(std::string(buf, 3) == std::string(3, c));
  }
}

TEST_CASE("a file in use stays open past the bound, and the bound returns when it is let go") {
  TempDir dir{"kwire-file-cache"};
  auto cache = std::make_shared<FileCache>(1);
  CachedFile first(cache, dir.path / "first.log", create_flags);
  CachedFile second(cache, dir.path / "second.log", create_flags);
  {
    auto a = first.use();
    auto b = second.use();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(cache->open_files() == 2);
    struct stat held {}, named {};
    REQUIRE(::fstat(a.fd(), &held) == 0);
    REQUIRE(::stat((dir.path / "first.log").c_str(), &named) == 0);
    CHECK(held.st_ino == named.st_ino);  // still the first file, not a reused descriptor
  }
  CHECK(cache->open_files() == 1);
}

TEST_CASE("reopening does not create a file that was removed") {
  TempDir dir{"kwire-file-cache"};
  auto cache = std::make_shared<FileCache>(1);
  CachedFile gone(cache, dir.path / "gone.log", create_flags);
  CachedFile other(cache, dir.path / "other.log", create_flags);  // closes gone.log
  fs::remove(dir.path / "gone.log");
  auto f = gone.use();
  CHECK_FALSE(f);
  CHECK(errno == ENOENT);
  CHECK_FALSE(fs::exists(dir.path / "gone.log"));
}

TEST_CASE("closing a file gives its descriptor back") {
  TempDir dir{"kwire-file-cache"};
  auto cache = std::make_shared<FileCache>(4);
  CachedFile f(cache, dir.path / "f.log", create_flags);
  CHECK(cache->open_files() == 1);
  f.close();
  CHECK(cache->open_files() == 0);
  CHECK_FALSE(f.use());
}

TEST_CASE("a shared file stays open after the cache closes it, and counts until let go") {
  TempDir dir{"kwire-file-cache"};
  auto cache = std::make_shared<FileCache>(1);
  CachedFile first(cache, dir.path / "first.log", create_flags);
  {
    auto f = first.use();
    REQUIRE(::write(f.fd(), "abc", 3) == 3);
  }
  auto held = first.share();
  REQUIRE(held);
  // Opening another closes first.log as far as the cache goes; the held
  // descriptor counts toward the bound, so the new file is not kept open
  // once idle either.
  CachedFile second(cache, dir.path / "second.log", create_flags);
  fs::remove(dir.path / "first.log");
  CHECK(cache->open_files() == 1);
  char buf[3] = {};
  REQUIRE(::pread(held->fd(), buf, 3, 0) == 3);
  CHECK(std::string(buf, 3) == "abc");
  held.reset();
  CHECK(cache->open_files() == 0);
  CHECK(second.use());
  CHECK(cache->open_files() == 1);
  first.close();
  CHECK_FALSE(first.share());
}
