#pragma once
// A blocking TCP server on 127.0.0.1 (ephemeral port) with one thread per connection, plus the
// few HTTP/1.1 helpers both of the benchmarks' Agent stand-ins (proxy_sink.cc, rescue_sink.cc)
// use; they supply only what a connection does. Destruction stops accepting, shuts every open
// connection down and joins its thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace llmobs_edge::bench {

class LoopbackServer {
 public:
  // `serve` runs on the connection's own thread; the server closes the fd when it returns.
  // `name` appears in the message when listening fails (which aborts: a benchmark cannot run).
  LoopbackServer(std::string name, std::function<void(int fd)> serve);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void AcceptLoop();

  const std::function<void(int fd)> serve_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<int> open_fds_;
};

// Writes all of `data` (retrying short writes); false once the peer is gone.
bool SendAll(int fd, std::string_view data);
// ASCII case-insensitive equality (header names and tokens).
bool IEquals(std::string_view a, std::string_view b);
// A header value without surrounding blanks and the line's trailing '\r'.
std::string_view TrimHeaderValue(std::string_view s);
// A complete answer as the Agent sends it (with Datadog-Agent-Version), Content-Length framed,
// "Connection: close" when not keep-alive.
std::string HttpAnswer(unsigned status, const char* reason, std::string_view content_type,
                       std::string_view body, bool keep_alive);

}  // namespace llmobs_edge::bench
