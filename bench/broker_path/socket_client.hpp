// The consumer's end of a loopback TCP connection, for the fetch benchmark: a
// thread of its own reads whole Fetch response frames, decodes them and
// walks their record batches, as a consumer would, and reports each one's
// next offset. The benchmark's thread writes responses to the other end and
// waits for the report, so the CPU time of that thread is the broker's side
// alone (handling, encoding, writing to the socket).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kwire/framing/frame.hpp"
#include "kwire/framing/request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/records/records.hpp"

namespace bench {

class SocketClient {
 public:
  /// What one response held.
  struct Seen {
    std::int64_t next_offset = -1;  // after its last whole batch; -1: none
    double bytes = 0;               // of whole batches
    std::string error;
  };

  explicit SocketClient(std::int16_t fetch_version) : version_(fetch_version) {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on loopback");
    client_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client_ < 0 || ::connect(client_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("cannot connect on loopback");
    server_ = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(listener);
    if (server_ < 0) throw std::runtime_error("cannot accept on loopback");
    int one = 1;
    ::setsockopt(server_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the broker sets it
    reader_ = std::thread([this] { read_loop(); });
  }
  ~SocketClient() {
    ::shutdown(server_, SHUT_RDWR);
    ::shutdown(client_, SHUT_RDWR);
    reader_.join();
    if (server_ >= 0) ::close(server_);
    ::close(client_);
  }
  SocketClient(const SocketClient&) = delete;
  SocketClient& operator=(const SocketClient&) = delete;

  /// The broker's end of the connection.
  int server_fd() const noexcept { return server_; }
  /// Takes the broker's end (to hand it to an asio socket, which closes it).
  int release_server_fd() noexcept {
    int fd = server_;
    server_ = -1;
    return fd;
  }

  /// Waits for the next response the reader has taken apart.
  Seen next() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !seen_.empty(); });
    Seen s = std::move(seen_.front());
    seen_.pop_front();
    return s;
  }

 private:
  bool read_exact(std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      ssize_t r = ::read(client_, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }

  void read_loop() {
    std::vector<std::uint8_t> frame;
    for (;;) {
      std::uint8_t size_buf[4];
      if (!read_exact(size_buf, 4)) return;
      frame.resize(static_cast<std::size_t>(kwire::FrameSplitter::read_size(size_buf)));
      if (!read_exact(frame.data(), frame.size())) return;
      Seen s = take_apart(frame);
      std::lock_guard lk(mu_);
      seen_.push_back(std::move(s));
      cv_.notify_one();
    }
  }

  Seen take_apart(const std::vector<std::uint8_t>& frame) const {
    Seen s;
    kwire::ResponseFrame rf;
    kwire::FetchResponse resp;
    if (!kwire::read_response_header(kwire::bytes_view(frame), kwire::ApiKey::Fetch, version_, rf) ||
        !kwire::decode(resp, rf.body, version_)) {
      s.error = "the fetch response does not decode";
      return s;
    }
    if (resp.responses.empty() || resp.responses[0].partitions.empty()) {
      s.error = "an empty fetch response";
      return s;
    }
    auto& pd = resp.responses[0].partitions[0];
    if (pd.error_code != kwire::ErrorCode::None) {
      s.error = "fetch failed with error " + std::string(kwire::to_string(pd.error_code));
      return s;
    }
    kwire::RecordSetReader rs(kwire::records_bytes(pd.records), {.allow_partial_tail = true});
    kwire::RecordBatchView b;
    while (rs.next(b)) {
      s.next_offset = b.next_offset();
      s.bytes += static_cast<double>(b.size());
    }
    return s;
  }

  const std::int16_t version_;
  int client_ = -1, server_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Seen> seen_;
};

}  // namespace bench
