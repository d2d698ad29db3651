// The EVP-proxy transport: one buffered exchange with the Agent per Post, run on the service's
// io_context while the sender thread waits for it.

#include "plugin/host/intake/agent_evp_transport.h"

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp needs it
#include <exception>
#include <future>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "absl/strings/str_cat.h"
#include "plugin/host/http/agent_exchange.h"
#include "plugin/host/http/watchdog.h"

namespace llmobs_edge::plugin::intake {
namespace {
namespace asio = boost::asio;
namespace h = boost::beast::http;
using Kind = plugin::AgentOutcome::Kind;

// How long past its own timeout the sender thread waits for an exchange before giving up on it
// (the io_context stopped, or its threads are stuck): the exchange keeps its own copy of the
// request, so abandoning it is safe.
constexpr std::chrono::seconds kAbandonMargin{5};

// The request lives here, owned by the coroutine, so an abandoned exchange never points at the
// caller's memory.
struct Exchange {
  std::string body;
  http::OutboundRequest request;
  http::ExchangeOptions options;
};

asio::awaitable<http::ExchangeResult> Run(http::AgentPool& pool, std::shared_ptr<Exchange> x) {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  const std::shared_ptr<http::Watchdog> dog = http::Watchdog::Start(ex);
  struct StopDog {
    http::Watchdog* dog;
    ~StopDog() { dog->Stop(); }
  } stop{dog.get()};
  co_return co_await http::AgentExchange(pool, ex, *dog, x->request, x->options);
}

class AgentEvpTransport final : public IntakeTransport {
 public:
  AgentEvpTransport(asio::io_context& ioc, http::AgentPool& agent, std::chrono::milliseconds timeout)
      : ioc_(ioc), agent_(agent), timeout_(timeout) {}

  IntakeResponse Post(const std::string& body) override {
    // Reuse the last exchange once nothing else holds it: its body buffer (megabytes) is then
    // already mapped and faulted in, and copying into it costs a memcpy, not page faults.
    std::shared_ptr<Exchange> x = std::move(spare_);
    if (x == nullptr || x.use_count() != 1) x = std::make_shared<Exchange>();
    x->body.assign(body);
    x->options = http::ExchangeOptions{};
    x->request = http::OutboundRequest{h::verb::post, kEvpProxyPath, 11};
    x->request.set(h::field::host, agent_.address().is_unix ? "localhost" : agent_.address().host);
    x->request.set(h::field::user_agent, "llmobs-edge");
    x->request.set(h::field::content_type, "application/json");
    x->request.set("X-Datadog-EVP-Subdomain", kEvpSubdomain);
    x->request.body() = boost::beast::span<const char>(x->body.data(), x->body.size());
    x->request.prepare_payload();
    x->options.timeout = timeout_;
    x->options.max_response_bytes = 1 << 20;  // the intake answers with a small JSON object

    IntakeResponse out;
    try {
      std::future<http::ExchangeResult> f =
          asio::co_spawn(asio::make_strand(ioc_), Run(agent_, x), asio::use_future);
      if (f.wait_for(timeout_ + kAbandonMargin) != std::future_status::ready) {
        out.error = "the exchange with the Agent did not finish (io_context not running?)";
        return out;
      }
      http::ExchangeResult r = f.get();
      spare_ = x;
      switch (r.outcome.kind) {
        case Kind::kAnswered:
          out.status = static_cast<int>(r.outcome.status);
          break;
        case Kind::kTimeout:
          out.error = absl::StrCat("timeout: no answer from the Agent at ", agent_.address().url,
                                   " within ", timeout_.count(), " ms");
          break;
        case Kind::kUnreachable:
          out.error = absl::StrCat("the Agent at ", agent_.address().url,
                                   " is unreachable: ", r.error.message());
          break;
      }
    } catch (const std::exception& e) {
      out.status = 0;
      out.error = absl::StrCat("exchange with the Agent failed: ", e.what());
    }
    return out;
  }

  std::string_view name() const override { return "agent_evp_proxy"; }

 private:
  asio::io_context& ioc_;
  http::AgentPool& agent_;
  const std::chrono::milliseconds timeout_;
  std::shared_ptr<Exchange> spare_;  // sender thread only
};

}  // namespace

std::unique_ptr<IntakeTransport> NewAgentEvpTransport(boost::asio::io_context& ioc,
                                                      http::AgentPool& agent,
                                                      std::chrono::milliseconds timeout) {
  return std::make_unique<AgentEvpTransport>(ioc, agent, timeout);
}

}  // namespace llmobs_edge::plugin::intake
