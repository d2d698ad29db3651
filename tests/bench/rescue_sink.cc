#include "tests/bench/rescue_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>

#include "tests/bench/loopback_server.h"
#include "tests/integration/fake_agent.h"

namespace llmobs_edge::bench::rescue {
namespace {

constexpr size_t kMaxHeader = 64 * 1024;
constexpr size_t kReadSize = 256 * 1024;
constexpr std::string_view kEvpPath = "/evp_proxy/v2/api/v2/llmobs";

const void* Find(std::string_view hay, std::string_view needle, size_t from) {
  if (from >= hay.size()) return nullptr;
  return ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
}

class Sink final : public RescueSink {
 public:
  Sink() {
    server_ = std::make_unique<LoopbackServer>("RescueSink", [this](int fd) { Serve(fd); });
  }

  ~Sink() override { server_.reset(); }  // joins the connection threads first

  std::string url() const override { return server_->url(); }
  SinkCounts counts() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }
  std::vector<uint64_t> TakeEventIds() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<uint64_t> out;
    out.swap(ids_);
    return out;
  }

 private:
  // The APM span id of every envelope: the first "span_id":"<digits>" after each "spans":[
  // (the event's keys are sorted, so that is _dd.span_id; message contents are JSON strings, in
  // which a quote is always escaped, so neither pattern can come from them).
  void CountEvents(std::string_view body, std::vector<uint64_t>* ids, uint64_t* bad) {
    static constexpr std::string_view kSpans = "\"spans\":[";
    static constexpr std::string_view kSpanId = "\"span_id\":\"";
    size_t at = 0;
    while (const void* p = Find(body, kSpans, at)) {
      at = static_cast<const char*>(p) - body.data() + kSpans.size();
      const void* q = Find(body, kSpanId, at);
      if (q == nullptr) {
        ++*bad;
        continue;
      }
      const char* digits = static_cast<const char*>(q) + kSpanId.size();
      const char* end = body.data() + body.size();
      uint64_t v = 0;
      const char* d = digits;
      while (d < end && *d >= '0' && *d <= '9') v = v * 10 + static_cast<uint64_t>(*d++ - '0');
      if (d == digits || d == end || *d != '"') {
        ++*bad;
        continue;
      }
      ids->push_back(v);
    }
  }

  void Serve(int fd) {
    std::vector<char> buf(std::max(kReadSize, kMaxHeader));
    std::string body;
    std::vector<uint64_t> ids;
    size_t begin = 0, end = 0;
    for (;;) {
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
        const ssize_t n = ::recv(fd, buf.data() + end, buf.size() - end, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        end += static_cast<size_t>(n);
      }
      const std::string header(buf.data() + begin, header_end + 2);
      begin += header_end + 4;
      std::string method, target;
      uint64_t length = 0;
      bool keep_alive = true, chunked = false, evp_subdomain = false;
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
          method = std::string(line.substr(0, sp1));
          target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
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
        } else if (IEquals(name, "X-Datadog-EVP-Subdomain")) {
          evp_subdomain = value == "llmobs-intake";
        }
      }
      if (chunked) {
        SendAll(fd, HttpAnswer(501, "Not Implemented", "application/json", "{}", false));
        return;
      }
      body.resize(length);
      const size_t buffered = static_cast<size_t>(std::min<uint64_t>(length, end - begin));
      std::memcpy(body.data(), buf.data() + begin, buffered);
      begin += buffered;
      if (begin == end) begin = end = 0;
      size_t got = buffered;
      while (got < length) {
        const ssize_t n = ::recv(fd, body.data() + got, length - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        got += static_cast<size_t>(n);
      }
      const std::string path = target.substr(0, target.find('?'));
      std::string answer;
      if (path == "/v0.4/traces" || path == "/v0.5/traces") {
        const bool unscrubbed = Find(body, "_llmobs", 0) != nullptr;
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++counts_.trace_payloads;
          counts_.trace_bytes += body.size();
          counts_.unscrubbed_payloads += unscrubbed;
        }
        answer = HttpAnswer(200, "OK", "application/json",
                            "{\"rate_by_service\":{\"service:,env:\":1}}\n", keep_alive);
      } else if (path == kEvpPath && method == "POST") {
        ids.clear();
        uint64_t bad = 0;
        CountEvents(body, &ids, &bad);
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++counts_.intake_requests;
          counts_.intake_bytes += body.size();
          counts_.events += ids.size();
          counts_.bad_envelopes += bad;
          counts_.bad_subdomain += !evp_subdomain;
          if (!ids.empty()) counts_.last_event = std::chrono::steady_clock::now();
          ids_.insert(ids_.end(), ids.begin(), ids.end());
        }
        answer = HttpAnswer(202, "Accepted", "application/json", "{}", keep_alive);
      } else if (path == "/info") {
        answer =
            HttpAnswer(200, "OK", "application/json", testing::FakeAgent::InfoBody(), keep_alive);
      } else {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++counts_.other_requests;
        }
        answer = HttpAnswer(200, "OK", "application/json", "{}", keep_alive);
      }
      if (body.capacity() > (8u << 20)) std::string().swap(body);
      if (!SendAll(fd, answer) || !keep_alive) return;
    }
  }

  mutable std::mutex mu_;
  SinkCounts counts_;
  std::vector<uint64_t> ids_;
  std::unique_ptr<LoopbackServer> server_;  // last: its threads use the members above
};

}  // namespace

std::unique_ptr<RescueSink> StartRescueSink() { return std::make_unique<Sink>(); }

}  // namespace llmobs_edge::bench::rescue
