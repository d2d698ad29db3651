#include "tests/bench/proxy_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include "tests/bench/loopback_server.h"
#include "tests/integration/fake_agent.h"

namespace llmobs_edge::bench::proxy {
namespace {

constexpr size_t kMaxHeader = 64 * 1024;


class FastSink : public Upstream {
 public:
  FastSink(uint64_t keep_whole_up_to, size_t edge_bytes, size_t read_size)
      : keep_whole_up_to_(keep_whole_up_to), edge_bytes_(edge_bytes), read_size_(read_size) {
    server_ = std::make_unique<LoopbackServer>("FastSink", [this](int fd) { Serve(fd); });
  }

  ~FastSink() override { server_.reset(); }  // joins the connection threads first

  std::string url() const override { return server_->url(); }
  uint16_t port() const override { return server_->port(); }
  std::vector<Received> Take() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Received> out;
    out.swap(received_);
    return out;
  }
  std::string Describe() const override {
    return "FastSink (tests/bench/proxy_sink.cc: one blocking thread per connection, bodies read "
           "with recv() of up to " +
           std::to_string(read_size_) + " bytes)";
  }

 private:
  void Serve(int fd) {
    std::vector<char> buf(std::max<size_t>(read_size_, kMaxHeader));
    size_t begin = 0, end = 0;  // unread bytes in buf
    for (;;) {
      // Header.
      size_t header_end = std::string::npos;
      for (;;) {
        const std::string_view have(buf.data() + begin, end - begin);
        header_end = have.find("\r\n\r\n");
        if (header_end != std::string::npos) break;
        if (begin > 0) {
          std::memmove(buf.data(), buf.data() + begin, end - begin);
          end -= begin;
          begin = 0;
        }
        if (end >= kMaxHeader) return;
        const size_t room = std::min(buf.size() - end, std::max<size_t>(read_size_, 4096));
        const ssize_t n = ::recv(fd, buf.data() + end, room, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        end += static_cast<size_t>(n);
      }
      const std::string header(buf.data() + begin, header_end + 2);
      begin += header_end + 4;
      Received rec;
      uint64_t length = 0;
      bool keep_alive = true, chunked = false, expect_continue = false;
      size_t line_start = 0;
      bool first = true;
      while (line_start < header.size()) {
        size_t line_end = header.find("\r\n", line_start);
        if (line_end == std::string::npos) line_end = header.size();
        const std::string_view line(header.data() + line_start, line_end - line_start);
        line_start = line_end + 2;
        if (first) {
          first = false;
          const size_t sp1 = line.find(' ');
          const size_t sp2 = line.rfind(' ');
          if (sp1 == std::string_view::npos || sp2 == sp1) return;
          rec.method = std::string(line.substr(0, sp1));
          rec.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
          if (line.substr(sp2 + 1) == "HTTP/1.0") keep_alive = false;
          continue;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view name = TrimHeaderValue(line.substr(0, colon));
        const std::string_view value = TrimHeaderValue(line.substr(colon + 1));
        if (IEquals(name, "Content-Length")) {
          length = std::strtoull(std::string(value).c_str(), nullptr, 10);
        } else if (IEquals(name, "Transfer-Encoding")) {
          chunked = true;
        } else if (IEquals(name, "Connection")) {
          if (IEquals(value, "close")) keep_alive = false;
          if (IEquals(value, "keep-alive")) keep_alive = true;
        } else if (IEquals(name, "Expect")) {
          expect_continue = IEquals(value, "100-continue");
        }
      }
      if (chunked) {
        // Neither the edge nor the benchmark's clients send chunked trace payloads.
        SendAll(fd, HttpAnswer(501, "Not Implemented", "text/plain", "chunked: not supported\n",
                               false));
        return;
      }
      if (expect_continue && !SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return;

      // Body: first what is already buffered, then recv() straight into the buffer (or into
      // the kept body), never past the body's end.
      rec.body_size = length;
      rec.whole = length <= keep_whole_up_to_;
      std::string whole;
      if (rec.whole) whole.reserve(length);
      std::string tail;
      uint64_t left = length;
      auto take = [&](const char* p, size_t n) {
        if (rec.whole) {
          whole.append(p, n);
          return;
        }
        if (rec.head.size() < edge_bytes_) {
          rec.head.append(p, std::min(n, edge_bytes_ - rec.head.size()));
        }
        if (n >= edge_bytes_) {
          tail.assign(p + n - edge_bytes_, edge_bytes_);
        } else {
          tail.append(p, n);
          if (tail.size() > edge_bytes_) tail.erase(0, tail.size() - edge_bytes_);
        }
      };
      const size_t buffered = static_cast<size_t>(std::min<uint64_t>(left, end - begin));
      take(buf.data() + begin, buffered);
      begin += buffered;
      left -= buffered;
      if (begin == end) begin = end = 0;
      while (left > 0) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(left, read_size_));
        const ssize_t n = ::recv(fd, buf.data(), want, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        take(buf.data(), static_cast<size_t>(n));
        left -= static_cast<uint64_t>(n);
      }
      if (rec.whole) {
        rec.head = std::move(whole);
      } else {
        rec.tail = std::move(tail);
      }
      const std::string path = rec.target.substr(0, rec.target.find('?'));
      {
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back(std::move(rec));
      }
      std::string answer;
      if (path == "/v0.4/traces" || path == "/v0.5/traces") {
        answer = HttpAnswer(200, "OK", "application/json",
                            "{\"rate_by_service\":{\"service:,env:\":1}}\n", keep_alive);
      } else if (path == "/info") {
        answer =
            HttpAnswer(200, "OK", "application/json", testing::FakeAgent::InfoBody(), keep_alive);
      } else {
        answer = HttpAnswer(200, "OK", "text/plain; charset=utf-8", "OK\n", keep_alive);
      }
      if (!SendAll(fd, answer) || !keep_alive) return;
    }
  }

  const uint64_t keep_whole_up_to_;
  const size_t edge_bytes_;
  const size_t read_size_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::unique_ptr<LoopbackServer> server_;  // last: its threads use the members above
};

class HarnessFakeAgent : public Upstream {
 public:
  HarnessFakeAgent(uint64_t keep_whole_up_to, size_t edge_bytes)
      : keep_whole_up_to_(keep_whole_up_to),
        agent_(testing::FakeAgent::Options{
            .unix_path = "", .max_stored_body = std::max<uint64_t>(keep_whole_up_to, edge_bytes)}) {
  }
  std::string url() const override { return agent_.url(); }
  uint16_t port() const override { return agent_.port(); }
  std::vector<Received> Take() override {
    std::vector<testing::RecordedRequest> got = agent_.requests();
    agent_.Clear();  // (requests arriving between the two calls are not expected: phases end first)
    std::vector<Received> out;
    out.reserve(got.size());
    for (auto& r : got) {
      Received x;
      x.method = std::move(r.method);
      x.target = std::move(r.target);
      x.body_size = r.body_size;
      x.whole = r.body_size <= keep_whole_up_to_ && r.body.size() == r.body_size;
      x.head = std::move(r.body);
      out.push_back(std::move(x));
    }
    return out;
  }
  std::string Describe() const override {
    return "FakeAgent (//tests/integration:harness: Beast on one asio thread, bodies read through "
           "a 512-byte flat_buffer)";
  }

 private:
  const uint64_t keep_whole_up_to_;
  testing::FakeAgent agent_;
};

}  // namespace

std::unique_ptr<Upstream> StartFastSink(uint64_t keep_whole_up_to, size_t edge_bytes,
                                        size_t read_size) {
  return std::make_unique<FastSink>(keep_whole_up_to, edge_bytes, read_size);
}

std::unique_ptr<Upstream> StartHarnessFakeAgent(uint64_t keep_whole_up_to, size_t edge_bytes) {
  return std::make_unique<HarnessFakeAgent>(keep_whole_up_to, edge_bytes);
}

}  // namespace llmobs_edge::bench::proxy
