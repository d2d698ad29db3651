#pragma once
// AnyStream: one stream type over a TCP or a Unix domain socket, so the HTTP server and the Agent
// client are written once for both transports (tracers reach the edge over either; the Agent is
// reached over either). It models Asio's AsyncReadStream / AsyncWriteStream for Boost.Beast.

#include <sys/poll.h>

#include <utility>
#include <variant>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace llmobs_edge::http {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using Unix = asio::local::stream_protocol;

class AnyStream {
 public:
  using executor_type = asio::any_io_executor;

  explicit AnyStream(Tcp::socket s) : s_(std::move(s)) {}
  explicit AnyStream(Unix::socket s) : s_(std::move(s)) {}
  AnyStream(AnyStream&&) = default;
  AnyStream& operator=(AnyStream&&) = default;

  executor_type get_executor() {
    return std::visit([](auto& s) -> executor_type { return s.get_executor(); }, s_);
  }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return std::visit(
        [&](auto& s) { return s.async_read_some(buffers, std::forward<Token>(token)); }, s_);
  }
  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return std::visit(
        [&](auto& s) { return s.async_write_some(buffers, std::forward<Token>(token)); }, s_);
  }

  bool is_open() const {
    return std::visit([](const auto& s) { return s.is_open(); }, s_);
  }
  // Closes at once; pending operations complete with operation_aborted.
  void Close() {
    boost::system::error_code ec;
    std::visit([&](auto& s) { s.close(ec); }, s_);
  }
  // Cancels pending operations (they complete with operation_aborted); the socket stays open, so
  // an error answer can still be written.
  void Cancel() {
    boost::system::error_code ec;
    std::visit([&](auto& s) { s.cancel(ec); }, s_);
  }
  // Half-close after the last response, so the peer reads it before the FIN.
  void ShutdownSend() {
    boost::system::error_code ec;
    std::visit([&](auto& s) { s.shutdown(asio::socket_base::shutdown_send, ec); }, s_);
  }
  // True when a kept-alive connection has been closed by the peer (or has unexpected bytes), so
  // it must not be reused. A zero-timeout poll, no read.
  bool PeerClosedOrDirty() {
    const int fd = std::visit([](auto& s) { return static_cast<int>(s.native_handle()); }, s_);
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }
  bool is_unix() const { return std::holds_alternative<Unix::socket>(s_); }

 private:
  std::variant<Tcp::socket, Unix::socket> s_;
};

}  // namespace llmobs_edge::http
