#include "tests/integration/test_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/poll.h>

#include <optional>
#include <utility>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/match.h"

namespace llmobs_edge::testing {
namespace asio = boost::asio;
namespace h = boost::beast::http;
using Generic = asio::generic::stream_protocol;
// Beast 1.74 compares the length against an empty optional as "over the limit", so "no limit"
// is the largest value, not boost::none.
constexpr uint64_t kNoBodyLimit = ~uint64_t{0};

namespace {
std::string Find(const Headers& headers, const std::string& name, bool* found) {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) {
      *found = true;
      return v;
    }
  }
  *found = false;
  return "";
}
}  // namespace

std::string TestResponse::Header(const std::string& name) const {
  bool found;
  return Find(headers, name, &found);
}
bool TestResponse::HasHeader(const std::string& name) const {
  bool found;
  Find(headers, name, &found);
  return found;
}

struct TestClient::Impl {
  asio::io_context ioc;
  Generic::socket socket{ioc};
  boost::beast::flat_buffer buffer;

  TestResponse ReadAnswer(bool keep_body) {
    TestResponse out;
    boost::system::error_code ec;
    std::optional<h::response_parser<h::buffer_body>> p;
    for (;;) {
      p.emplace();
      p->body_limit(kNoBodyLimit);
      h::read_header(socket, buffer, *p, ec);
      if (ec) {
        out.error = "reading the answer header: " + ec.message();
        return out;
      }
      if (p->get().result_int() != 100) break;
    }
    auto& parser = *p;
    auto& m = parser.get();
    out.status = m.result_int();
    for (const auto& f : m) out.headers.emplace_back(f.name_string(), f.value());
    std::vector<char> chunk(64 * 1024);
    while (!parser.is_done()) {
      m.body().data = chunk.data();
      m.body().size = chunk.size();
      h::read(socket, buffer, parser, ec);
      if (ec == h::error::need_buffer) ec = {};
      if (ec) {
        out.error = "reading the answer body: " + ec.message();
        return out;
      }
      const size_t n = chunk.size() - m.body().size;
      out.body_size += n;
      if (keep_body) out.body.append(chunk.data(), n);
    }
    out.keep_alive = m.keep_alive();
    return out;
  }
};

TestClient::TestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->buffer.reserve(256 * 1024);  // Beast reads at most the free capacity per call
}
TestClient::~TestClient() = default;

std::unique_ptr<TestClient> TestClient::Tcp(uint16_t port) {
  auto impl = std::make_unique<Impl>();
  asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  boost::system::error_code ec;
  impl->socket.connect(Generic::endpoint(ep), ec);
  // Header and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms.
  const int one = 1;
  if (!ec) ::setsockopt(impl->socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return std::unique_ptr<TestClient>(new TestClient(std::move(impl)));
}

std::unique_ptr<TestClient> TestClient::Unix(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  boost::system::error_code ec;
  impl->socket.connect(Generic::endpoint(asio::local::stream_protocol::endpoint(path)), ec);
  return std::unique_ptr<TestClient>(new TestClient(std::move(impl)));
}

bool TestClient::connected() const { return impl_->socket.is_open(); }

TestResponse TestClient::Send(const TestRequest& r) {
  boost::system::error_code ec;
  h::request<h::buffer_body> req;
  req.method_string(r.method);
  req.target(r.target);
  req.version(11);
  bool has_host = false;
  for (const auto& [n, v] : r.headers) {
    req.insert(n, v);
    has_host |= absl::EqualsIgnoreCase(n, "host");
  }
  if (!has_host) req.set(h::field::host, "localhost");
  const bool chunked = r.chunked || r.generated_body_bytes > 0;
  if (chunked) {
    req.chunked(true);
  } else if (!r.body.empty() || r.method == "PUT" || r.method == "POST") {
    req.content_length(r.body.size());
  }
  if (r.expect_continue) req.set(h::field::expect, "100-continue");
  h::request_serializer<h::buffer_body> sr{req};
  h::write_header(impl_->socket, sr, ec);
  if (ec) return TestResponse{.error = ec.message()};
  if (r.expect_continue) {
    h::response_parser<h::empty_body> cont;
    h::read_header(impl_->socket, impl_->buffer, cont, ec);
    if (ec) return TestResponse{.error = ec.message()};
    if (cont.get().result_int() != 100) {
      TestResponse early;
      early.status = cont.get().result_int();
      for (const auto& f : cont.get()) early.headers.emplace_back(f.name_string(), f.value());
      return early;
    }
  }
  if (r.generated_body_bytes > 0) {
    std::vector<char> chunk(256 * 1024, 'p');
    uint64_t left = r.generated_body_bytes;
    while (left > 0) {
      const size_t n = std::min<uint64_t>(left, chunk.size());
      req.body().data = chunk.data();
      req.body().size = n;
      req.body().more = true;
      left -= n;
      h::write(impl_->socket, sr, ec);
      if (ec == h::error::need_buffer) ec = {};
      if (ec) return TestResponse{.error = ec.message()};
    }
  } else if (!r.body.empty()) {
    req.body().data = const_cast<char*>(r.body.data());
    req.body().size = r.body.size();
    req.body().more = chunked;
    h::write(impl_->socket, sr, ec);
    if (ec == h::error::need_buffer) ec = {};
    if (ec) return TestResponse{.error = ec.message()};
  }
  req.body().data = nullptr;
  req.body().size = 0;
  req.body().more = false;
  if (!sr.is_done()) {
    h::write(impl_->socket, sr, ec);
    if (ec == h::error::need_buffer) ec = {};
    if (ec) return TestResponse{.error = ec.message()};
  }
  return impl_->ReadAnswer(r.keep_body);
}

TestResponse TestClient::SendRaw(const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes), ec);
  if (ec) return TestResponse{.error = ec.message()};
  return impl_->ReadAnswer(true);
}

bool TestClient::ServerClosed() {
  pollfd p{impl_->socket.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, 2000) <= 0) return false;
  char c;
  boost::system::error_code ec;
  impl_->socket.read_some(asio::buffer(&c, 1), ec);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

}  // namespace llmobs_edge::testing
