// The reply writer (net/reply_writer.hpp) on a real loopback TCP connection:
// frame bytes, kept memory and file regions arrive in order and whole, a
// region larger than the socket's buffers waits for it to drain, and a file
// that ends inside a region fails the write instead of sending a short frame.
#include <doctest/doctest.h>

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "net/reply_writer.hpp"
#include "support/temp_dir.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using kwire_broker::Reply;
using kwire_broker::ReplyPiece;

namespace {

struct Connection {
  asio::io_context io;
  tcp::socket server{io}, client{io};
  Connection() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    server = acceptor.accept();
  }

  /// Writes `reply` while a thread reads what arrives until the server's
  /// end closes; returns what arrived, and the write's exception if any.
  std::vector<std::uint8_t> write(const Reply& reply, std::exception_ptr& failed) {
    std::vector<std::uint8_t> got;
    std::thread reader([&] {
      std::uint8_t buf[65536];
      for (;;) {
        boost::system::error_code ec;
        auto n = client.read_some(asio::buffer(buf), ec);
        if (ec) return;
        got.insert(got.end(), buf, buf + n);
      }
    });
    asio::co_spawn(io, kwire_broker::write_reply(server, reply), [&](std::exception_ptr e) { failed = e; });
    io.run();
    server.close();
    reader.join();
    return got;
  }
};

std::shared_ptr<const kwire_broker::storage::OpenFile> file_of(const std::filesystem::path& p,
                                                                const std::vector<std::uint8_t>& bytes) {
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  return std::make_shared<const kwire_broker::storage::OpenFile>(fd);
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return v;
}

}  // namespace

TEST_CASE("frame bytes, memory and file regions arrive in order, whole") {
  kwire_broker::testing::TempDir dir{"kwire-reply-writer"};
  // A region of several MiB: more than a socket takes at once.
  const auto on_disk = pattern(6 << 20, 3);
  auto file = file_of(dir.path / "ledger.log", on_disk);
  auto kept = std::make_shared<const std::vector<std::uint8_t>>(pattern(5000, 9));
  Reply r;
  r.frame = pattern(300, 1);
  r.pieces.push_back({ReplyPiece::Kind::frame, 100, 0, nullptr, nullptr});
  r.pieces.push_back({ReplyPiece::Kind::file, 4000, 17, nullptr, file});
  r.pieces.push_back({ReplyPiece::Kind::frame, 50, 100, nullptr, nullptr});
  r.pieces.push_back({ReplyPiece::Kind::memory, kept->size(), 0, kept->data(), nullptr});
  r.pieces.push_back({ReplyPiece::Kind::file, on_disk.size() - 1000, 1000, nullptr, file});
  r.pieces.push_back({ReplyPiece::Kind::frame, 150, 150, nullptr, nullptr});
  r.keep.push_back(kept);
  Connection c;
  std::exception_ptr failed;
  auto got = c.write(r, failed);
  CHECK_FALSE(failed);
  CHECK(got.size() == r.size());
  CHECK(got == kwire_broker::flatten(r));
}

TEST_CASE("a file that ends inside its region fails the write") {
  kwire_broker::testing::TempDir dir{"kwire-reply-writer"};
  auto file = file_of(dir.path / "short.log", pattern(1000, 5));
  Reply r;
  r.frame = pattern(10, 1);
  r.pieces.push_back({ReplyPiece::Kind::frame, 10, 0, nullptr, nullptr});
  r.pieces.push_back({ReplyPiece::Kind::file, 2000, 0, nullptr, file});  // 1000 bytes past the end
  Connection c;
  std::exception_ptr failed;
  auto got = c.write(r, failed);
  REQUIRE(failed);
  CHECK_THROWS_AS(std::rethrow_exception(failed), boost::system::system_error);
  CHECK(got.size() < r.size());  // the peer sees a frame cut short, then the close
}
