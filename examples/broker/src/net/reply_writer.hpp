// Writing a reply to a client's connection: memory with vectored writes,
// file regions with sendfile from the page cache, so the record sets of a
// fetch go from the store's files to the socket without passing through the
// broker's memory.
//
// TLS changes this: an encrypting connection cannot hand a file to the
// kernel, so a reply is staged through a pooled buffer of fixed size: memory
// pieces are copied into it and file regions read into it (pread), and each
// full buffer is written through the TLS stream. A TLS connection being
// written to thus holds one staging buffer however large its reply.
#pragma once

#include <utility>  // before Asio: Boost 1.74 Asio needs it under C++20

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "protocol/reply.hpp"

namespace kwire_broker {

/// Writes the whole reply, pieces in order; throws boost::system::system_error
/// (the connection is then closed), also when a file ends before one of its
/// regions does: the peer must never get a frame with bytes missing.
boost::asio::awaitable<void> write_reply(boost::asio::ip::tcp::socket& socket, const Reply& reply);

/// The same through TLS: the reply's bytes go through a pooled staging
/// buffer of staging_buffer_bytes.
boost::asio::awaitable<void> write_reply(boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& tls,
                                         const Reply& reply);
inline constexpr std::size_t staging_buffer_bytes = 64 * 1024;

/// Sends `size` bytes of `file` from `offset` with sendfile, waiting for the
/// socket to drain as needed (plaintext connections only).
boost::asio::awaitable<void> send_file_region(boost::asio::ip::tcp::socket& socket, const storage::OpenFile& file,
                                              std::uint64_t offset, std::size_t size);

}  // namespace kwire_broker
