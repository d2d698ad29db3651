#include "tests/integration/fake_agent.h"

#include <optional>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/match.h"

namespace llmobs_edge::testing {
namespace asio = boost::asio;
namespace h = boost::beast::http;
using asio::redirect_error;
using asio::use_awaitable;
// Beast 1.74 compares the length against an empty optional as "over the limit", so "no limit"
// is the largest value, not boost::none.
constexpr uint64_t kNoBodyLimit = ~uint64_t{0};

std::string RecordedRequest::Header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}
bool RecordedRequest::HasHeader(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return true;
  }
  return false;
}

std::string FakeAgent::InfoBody() {
  // Pretty-printed with tabs, like the Agent's cached /info body.
  return "{\n\t\"version\": \"7.99.0\",\n\t\"git_commit\": \"fake\",\n\t\"endpoints\": [\n"
         "\t\t\"/v0.3/traces\",\n\t\t\"/v0.3/services\",\n\t\t\"/v0.4/traces\",\n"
         "\t\t\"/v0.4/services\",\n\t\t\"/v0.5/traces\",\n\t\t\"/v0.7/traces\",\n"
         "\t\t\"/profiling/v1/input\",\n\t\t\"/telemetry/proxy/\",\n\t\t\"/v0.6/stats\",\n"
         "\t\t\"/v0.1/pipeline_stats\",\n\t\t\"/evp_proxy/v1/\",\n\t\t\"/evp_proxy/v2/\",\n"
         "\t\t\"/evp_proxy/v3/\",\n\t\t\"/evp_proxy/v4/\",\n\t\t\"/debugger/v1/input\",\n"
         "\t\t\"/debugger/v1/diagnostics\",\n\t\t\"/symdb/v1/input\",\n\t\t\"/dogstatsd/v1/proxy\",\n"
         "\t\t\"/dogstatsd/v2/proxy\",\n\t\t\"/tracer_flare/v1\",\n\t\t\"/v1.0/traces\",\n"
         "\t\t\"/v0.7/config\"\n\t],\n\t\"client_drop_p0s\": true,\n\t\"span_meta_structs\": true,\n"
         "\t\"long_running_spans\": true,\n\t\"evp_proxy_allowed_headers\": [\n"
         "\t\t\"Content-Type\",\n\t\t\"Accept-Encoding\"\n\t],\n\t\"config\": {\n"
         "\t\t\"default_env\": \"none\",\n\t\t\"max_request_bytes\": 26214400\n\t}\n}";
}

FakeResponse FakeAgent::AgentLikeAnswer(const RecordedRequest& r) {
  FakeResponse res;
  const std::string path = r.target.substr(0, r.target.find('?'));
  res.headers = {{"Datadog-Agent-Version", "7.99.0"}, {"Datadog-Agent-State", "fakestate"}};
  if (path == "/v0.4/traces" || path == "/v0.5/traces") {
    res.headers.emplace_back("Content-Type", "application/json");
    res.body = "{\"rate_by_service\":{\"service:,env:\":1}}\n";
  } else if (path == "/info") {
    res.headers.emplace_back("Content-Type", "application/json");
    res.body = InfoBody();
  } else if (absl::StartsWith(path, "/telemetry/") || absl::StartsWith(path, "/evp_proxy/")) {
    res.status = 202;
    res.headers.emplace_back("Content-Type", "application/json");
    res.body = "{}";
  } else {
    res.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    res.body = "OK\n";
  }
  return res;
}

struct FakeAgent::Impl {
  Options options;
  asio::io_context ioc;
  std::optional<asio::ip::tcp::acceptor> tcp;
  std::optional<asio::local::stream_protocol::acceptor> unix_acceptor;
  std::thread thread;
  mutable std::mutex mu;
  Handler handler;
  std::vector<RecordedRequest> requests;
  std::atomic<size_t>* connections;

  template <typename Socket>
  asio::awaitable<void> Serve(Socket socket) {
    boost::beast::flat_buffer buffer;
    buffer.reserve(256 * 1024);  // Beast reads at most the free capacity per call
    std::vector<char> chunk(64 * 1024);
    for (;;) {
      boost::system::error_code ec;
      h::request_parser<h::buffer_body> parser;
      parser.body_limit(kNoBodyLimit);
      parser.header_limit(1 << 20);
      co_await h::async_read_header(socket, buffer, parser, redirect_error(use_awaitable, ec));
      if (ec) break;
      RecordedRequest rec;
      {
        auto& m = parser.get();
        rec.method = std::string(m.method_string());
        rec.target = std::string(m.target());
        rec.version = m.version();
        rec.chunked = m.chunked();
        for (const auto& f : m) rec.headers.emplace_back(f.name_string(), f.value());
        if (absl::EqualsIgnoreCase(std::string(m[h::field::expect]), "100-continue")) {
          h::response<h::empty_body> cont{h::status::continue_, 11};
          co_await h::async_write(socket, cont, redirect_error(use_awaitable, ec));
        }
      }
      while (!ec && !parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        co_await h::async_read(socket, buffer, parser, redirect_error(use_awaitable, ec));
        if (ec == h::error::need_buffer) ec = {};
        const size_t n = chunk.size() - parser.get().body().size;
        rec.body_size += n;
        if (rec.body.size() < options.max_stored_body) {
          rec.body.append(chunk.data(),
                          std::min<size_t>(n, options.max_stored_body - rec.body.size()));
        }
      }
      if (ec) break;
      const bool keep_alive = parser.get().keep_alive();
      Handler handle;
      {
        std::lock_guard<std::mutex> lock(mu);
        requests.push_back(rec);
        handle = handler;
      }
      FakeResponse answer = handle ? handle(rec) : AgentLikeAnswer(rec);
      if (answer.delay.count() > 0) {
        asio::steady_timer t(socket.get_executor());
        t.expires_after(answer.delay);
        co_await t.async_wait(redirect_error(use_awaitable, ec));
      }
      if (answer.close_without_answer) break;
      if (answer.generated_body_bytes > 0) {
        h::response<h::buffer_body> res{static_cast<h::status>(answer.status), 11};
        for (const auto& [n, v] : answer.headers) res.insert(n, v);
        res.chunked(true);
        res.keep_alive(keep_alive);
        h::response_serializer<h::buffer_body> sr{res};
        uint64_t left = answer.generated_body_bytes;
        std::vector<char> out(64 * 1024, 'x');
        co_await h::async_write_header(socket, sr, redirect_error(use_awaitable, ec));
        while (!ec) {
          const size_t n = std::min<uint64_t>(left, out.size());
          res.body().data = n ? out.data() : nullptr;
          res.body().size = n;
          res.body().more = left > n;
          left -= n;
          co_await h::async_write(socket, sr, redirect_error(use_awaitable, ec));
          if (ec == h::error::need_buffer) ec = {};
          if (sr.is_done()) break;
        }
      } else {
        h::response<h::string_body> res{static_cast<h::status>(answer.status), rec.version};
        for (const auto& [n, v] : answer.headers) res.insert(n, v);
        res.body() = answer.body;
        res.keep_alive(keep_alive);
        res.prepare_payload();
        co_await h::async_write(socket, res, redirect_error(use_awaitable, ec));
      }
      if (ec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  template <typename Acceptor>
  asio::awaitable<void> Accept(Acceptor& acceptor) {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor.async_accept(redirect_error(use_awaitable, ec));
      if (ec) co_return;
      connections->fetch_add(1);
      asio::co_spawn(ioc, Serve(std::move(socket)), asio::detached);
    }
  }
};

FakeAgent::FakeAgent(Options options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->connections = &connections_;
  if (impl_->options.unix_path.empty()) {
    impl_->tcp.emplace(impl_->ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    asio::co_spawn(impl_->ioc, impl_->Accept(*impl_->tcp), asio::detached);
  } else {
    ::unlink(impl_->options.unix_path.c_str());
    impl_->unix_acceptor.emplace(impl_->ioc,
                                 asio::local::stream_protocol::endpoint(impl_->options.unix_path));
    asio::co_spawn(impl_->ioc, impl_->Accept(*impl_->unix_acceptor), asio::detached);
  }
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

FakeAgent::~FakeAgent() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::string FakeAgent::url() const {
  if (!impl_->options.unix_path.empty()) return "unix://" + impl_->options.unix_path;
  return "http://127.0.0.1:" + std::to_string(port());
}
uint16_t FakeAgent::port() const { return impl_->tcp ? impl_->tcp->local_endpoint().port() : 0; }
void FakeAgent::set_handler(Handler handler) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->handler = std::move(handler);
}
std::vector<RecordedRequest> FakeAgent::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}
size_t FakeAgent::request_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests.size();
}
void FakeAgent::Clear() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->requests.clear();
}

}  // namespace llmobs_edge::testing
