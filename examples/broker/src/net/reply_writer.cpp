#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include "net/reply_writer.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/sendfile.h>
#include <unistd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace kwire_broker {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Asio passes at most this many buffers to one sendmsg.
constexpr std::size_t max_buffers = 64;

/// Sends every buffer of `run`. With `more`, a file region follows at once:
/// MSG_MORE lets the kernel hold a short tail (a partition's header) to go
/// out with the region's first bytes instead of in a small packet of its own.
asio::awaitable<void> send_memory(tcp::socket& socket, std::vector<asio::const_buffer>& run, bool more) {
  std::size_t first = 0;
  while (first < run.size()) {
    const std::span<const asio::const_buffer> part(run.data() + first, std::min(max_buffers, run.size() - first));
    const bool last_call = first + part.size() == run.size();
    std::size_t sent = co_await socket.async_send(part, more || !last_call ? MSG_MORE : 0, asio::use_awaitable);
    while (sent > 0) {
      if (sent >= run[first].size()) {
        sent -= run[first].size();
        ++first;
      } else {
        run[first] += sent;
        sent = 0;
      }
    }
  }
}

/// Staging buffers for TLS replies, kept per thread for reuse: a busy
/// broker writes replies all the time and should not fault in fresh pages
/// for each. At most a few are kept idle per thread.
class StagingBuffer {
 public:
  StagingBuffer() {
    if (!pool().empty()) {
      data_ = std::move(pool().back());
      pool().pop_back();
    } else {
      data_ = std::make_unique<std::uint8_t[]>(staging_buffer_bytes);
    }
  }
  ~StagingBuffer() {
    if (pool().size() < kept_per_thread) pool().push_back(std::move(data_));
  }
  StagingBuffer(const StagingBuffer&) = delete;
  StagingBuffer& operator=(const StagingBuffer&) = delete;
  std::uint8_t* data() { return data_.get(); }

 private:
  static constexpr std::size_t kept_per_thread = 4;
  static std::vector<std::unique_ptr<std::uint8_t[]>>& pool() {
    thread_local std::vector<std::unique_ptr<std::uint8_t[]>> buffers;
    return buffers;
  }
  std::unique_ptr<std::uint8_t[]> data_;
};

/// Reads `size` bytes of `file` at `offset` into `out`; throws when the file
/// ends first (never send a frame with bytes missing).
void read_region(const storage::OpenFile& file, std::uint64_t offset, std::uint8_t* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(file.fd(), out + done, size - done, static_cast<off_t>(offset + done));
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0)
      throw boost::system::system_error(boost::system::errc::make_error_code(boost::system::errc::io_error),
                                        "a log file ended inside a region being sent");
    throw boost::system::system_error(errno, boost::system::system_category(), "pread");
  }
}

}  // namespace

asio::awaitable<void> write_reply(asio::ssl::stream<tcp::socket&>& tls, const Reply& reply) {
  if (reply.pieces.empty()) {
    co_await asio::async_write(tls, asio::buffer(reply.frame), asio::use_awaitable);
    co_return;
  }
  StagingBuffer staging;
  std::size_t used = 0;
  for (const auto& p : reply.pieces) {
    std::size_t done = 0;
    while (done < p.size) {
      const std::size_t n = std::min(p.size - done, staging_buffer_bytes - used);
      switch (p.kind) {
        case ReplyPiece::Kind::frame: std::memcpy(staging.data() + used, reply.frame.data() + p.offset + done, n); break;
        case ReplyPiece::Kind::memory: std::memcpy(staging.data() + used, p.data + done, n); break;
        case ReplyPiece::Kind::file: read_region(*p.file, p.offset + done, staging.data() + used, n); break;
      }
      used += n;
      done += n;
      if (used == staging_buffer_bytes) {
        co_await asio::async_write(tls, asio::buffer(staging.data(), used), asio::use_awaitable);
        used = 0;
      }
    }
  }
  if (used > 0) co_await asio::async_write(tls, asio::buffer(staging.data(), used), asio::use_awaitable);
}

asio::awaitable<void> send_file_region(tcp::socket& socket, const storage::OpenFile& file, std::uint64_t offset,
                                       std::size_t size) {
  // Asio's own operations set the descriptor non-blocking already; this
  // makes it so for the calls made here too.
  if (!socket.native_non_blocking()) socket.native_non_blocking(true);
  auto at = static_cast<off_t>(offset);
  while (size > 0) {
    const ssize_t n = ::sendfile(socket.native_handle(), file.fd(), &at, size);
    if (n > 0) {
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0)  // the file is shorter than the region: never send a frame with bytes missing
      throw boost::system::system_error(boost::system::errc::make_error_code(boost::system::errc::io_error),
                                        "a log file ended inside a region being sent");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      throw boost::system::system_error(errno, boost::system::system_category(), "sendfile");
    co_await socket.async_wait(tcp::socket::wait_write, asio::use_awaitable);
  }
}

asio::awaitable<void> write_reply(tcp::socket& socket, const Reply& reply) {
  if (reply.pieces.empty()) {
    co_await asio::async_write(socket, asio::buffer(reply.frame), asio::use_awaitable);
    co_return;
  }
  std::vector<asio::const_buffer> run;
  for (const auto& p : reply.pieces) {
    if (p.size == 0) continue;
    switch (p.kind) {
      case ReplyPiece::Kind::frame:
        run.emplace_back(reply.frame.data() + p.offset, p.size);
        break;
      case ReplyPiece::Kind::memory: run.emplace_back(p.data, p.size); break;
      case ReplyPiece::Kind::file:
        if (!run.empty()) {
          co_await send_memory(socket, run, true);
          run.clear();
        }
        co_await send_file_region(socket, *p.file, p.offset, p.size);
        break;
    }
  }
  if (!run.empty()) co_await send_memory(socket, run, false);
}

}  // namespace kwire_broker
