#include "plugin/host/grpc/ingest_server.h"

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp needs it
#include <climits>
#include <exception>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/fields.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "plugin/host/http/agent_exchange.h"
#include "plugin/host/http/headers.h"
#include "plugin/host/http/watchdog.h"
#include "proto/ingest.grpc.pb.h"

namespace llmobs_edge::plugin::grpc_ingest {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace h = boost::beast::http;
namespace v1 = ::llmobs_edge::v1;
using Kind = plugin::AgentOutcome::Kind;

namespace {

constexpr char kServiceName[] = "llmobs_edge.v1.TraceIngest";
constexpr uint64_t kHeaderAllowance = 64 * 1024;

// The status codes Submit returns, for the per-code counters resolved once.
constexpr ::grpc::StatusCode kCodes[] = {
    ::grpc::StatusCode::OK,
    ::grpc::StatusCode::INVALID_ARGUMENT,
    ::grpc::StatusCode::RESOURCE_EXHAUSTED,
    ::grpc::StatusCode::UNAVAILABLE,
    ::grpc::StatusCode::DEADLINE_EXCEEDED,
    ::grpc::StatusCode::INTERNAL,
};

std::string_view CodeName(::grpc::StatusCode code) {
  switch (code) {
    case ::grpc::StatusCode::OK: return "OK";
    case ::grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case ::grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case ::grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    default: return "INTERNAL";
  }
}

beast::string_view Bsv(std::string_view s) { return beast::string_view(s.data(), s.size()); }
std::string_view Sv(beast::string_view s) { return std::string_view(s.data(), s.size()); }

// RFC 9110 token characters: what an HTTP/1.1 header name may contain.
bool IsToken(std::string_view name) {
  if (name.empty()) return false;
  for (const unsigned char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// A header value HTTP/1.1 can carry without splitting the message (Beast 1.74 does not check).
bool IsSafeValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The rate_by_service object of an Agent answer, if the body is that JSON.
void ParseRateByService(const std::string& body, v1::SubmitResponse* response) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return;
  const auto it = doc.find("rate_by_service");
  if (it == doc.end() || !it->is_object()) return;
  auto* rates = response->mutable_rate_by_service();
  for (const auto& [key, value] : it->items()) {
    if (value.is_number()) (*rates)[key] = value.get<double>();
  }
}

// One Agent exchange on the calling strand, with its own watchdog.
asio::awaitable<http::ExchangeResult> Exchange(http::AgentPool& pool, http::OutboundRequest& up,
                                               http::ExchangeOptions options) {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  const std::shared_ptr<http::Watchdog> dog = http::Watchdog::Start(ex);
  struct StopDog {
    http::Watchdog* dog;
    ~StopDog() { dog->Stop(); }
  } stop{dog.get()};
  co_return co_await http::AgentExchange(pool, ex, *dog, up, options);
}

}  // namespace

class TraceIngestService final : public v1::TraceIngest::Service {
 public:
  TraceIngestService(const IngestServer::Options& options, asio::io_context& ioc,
                     const plugin::StageChain& chain, http::AgentPool& agent,
                     telemetry::Registry& metrics)
      : options_(options), ioc_(ioc), chain_(chain), agent_(agent) {
    auto& requests = metrics.AddCounterFamily(
        "llmobs_edge_grpc_requests",
        "gRPC TraceIngest/Submit calls by the status the edge returned", {"code"});
    for (::grpc::StatusCode code : kCodes) {
      by_code_[static_cast<int>(code)] = &requests.WithLabels({CodeName(code)});
    }
    payload_bytes_ = &metrics.AddCounter("llmobs_edge_grpc_payload_bytes",
                                         "Trace payload bytes received through gRPC Submit");
  }

  ::grpc::Status Submit(::grpc::ServerContext* context, const v1::SubmitRequest* request,
                        v1::SubmitResponse* response) override {
    ::grpc::Status status;
    try {
      status = Handle(*request, response);
    } catch (const std::exception& e) {
      status = ::grpc::Status(::grpc::StatusCode::INTERNAL,
                              absl::StrCat("internal error: ", e.what()));
    }
    Count(status.error_code());
    return status;
  }

 private:
  void Count(::grpc::StatusCode code) {
    telemetry::Counter* c = by_code_[static_cast<int>(code)];
    if (c == nullptr) c = by_code_[static_cast<int>(::grpc::StatusCode::INTERNAL)];
    c->Inc();
  }

  ::grpc::Status Handle(const v1::SubmitRequest& req, v1::SubmitResponse* response);

  const IngestServer::Options& options_;
  asio::io_context& ioc_;
  const plugin::StageChain& chain_;
  http::AgentPool& agent_;
  telemetry::Counter* by_code_[17] = {};
  telemetry::Counter* payload_bytes_ = nullptr;
};

// Mirrors http::Session::HandleTraces step by step; keep the two in step.
::grpc::Status TraceIngestService::Handle(const v1::SubmitRequest& req,
                                          v1::SubmitResponse* response) {
  const std::string& payload = req.payload();
  payload_bytes_->Inc(payload.size());
  if (payload.empty()) {
    return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                          "empty payload: send the v0.4 msgpack body of PUT /v0.4/traces");
  }
  // A payload of exactly the limit is refused too, like the HTTP path (and the Agent).
  if (payload.size() >= options_.max_payload_bytes) {
    return ::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED, "payload-too-large");
  }

  // The tracer's headers as an HTTP header block, so the HTTP path's rules apply unchanged.
  h::fields in;
  plugin::TraceRequest tr;
  tr.transport = "grpc";
  tr.method = "PUT";
  tr.target = "/v0.4/traces";
  tr.headers.reserve(req.headers_size());
  for (int i = 0; i < req.headers_size(); ++i) {
    const v1::Header& hd = req.headers(i);
    if (!IsToken(hd.name())) {
      return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("headers[", i, "]: invalid header name \"", hd.name(),
                                         "\""));
    }
    if (!IsSafeValue(hd.value())) {
      return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("headers[", i, "] (", hd.name(),
                                         "): the value contains CR, LF or NUL"));
    }
    in.insert(Bsv(hd.name()), Bsv(hd.value()));
    tr.headers.emplace_back(hd.name(), hd.value());
  }

  // Per thread, so the steady state reuses the chain's buffers like an HTTP connection does.
  thread_local plugin::ChainScratch scratch;
  const plugin::ChainResult result = chain_.Run(payload, tr, &scratch);

  http::OutboundRequest up;
  up.method(h::verb::put);
  up.target("/v0.4/traces");
  up.version(11);
  if (in.find(h::field::host) == in.end()) up.set(h::field::host, "localhost");
  http::CopyEndToEndHeaders(in, &up, /*drop_content_length=*/true);
  if (up.find(h::field::content_type) == up.end()) {
    up.set(h::field::content_type, "application/msgpack");
  }
  const bool tracer_asked_real_status = in.find("Datadog-Send-Real-Http-Status") != in.end();
  const bool translate_429 = result.options.want_real_http_status && !tracer_asked_real_status;
  if (translate_429) up.set("Datadog-Send-Real-Http-Status", "true");
  up.body() = beast::span<const char>(result.body.data(), result.body.size());
  up.prepare_payload();

  http::ExchangeOptions xo;
  xo.timeout = options_.agent_timeout;
  // The handler thread waits; the exchange runs on the service's io_context.
  http::ExchangeResult r =
      asio::co_spawn(asio::make_strand(ioc_), Exchange(agent_, up, xo), asio::use_future).get();
  chain_.AfterForward(result, tr, r.outcome, &scratch);

  if (r.outcome.kind == Kind::kTimeout) {
    return ::grpc::Status(::grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("agent timeout: no answer from ", agent_.address().url,
                                       " within ", options_.agent_timeout.count(), " ms"));
  }
  if (r.outcome.kind != Kind::kAnswered) {
    return ::grpc::Status(::grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("agent unreachable: ", agent_.address().url, ": ",
                                       r.error.message()));
  }
  // We asked for real statuses on the tracer's behalf: give it what the Agent would have said
  // without the header (200 with the same rate_by_service body).
  unsigned status = r.outcome.status;
  if (translate_429 && status == 429) status = 200;
  response->set_status(status);
  h::fields out;
  http::CopyEndToEndHeaders(r.response, &out, /*drop_content_length=*/true);
  for (const auto& f : out) {
    v1::Header* hd = response->add_headers();
    hd->set_name(std::string(Sv(f.name_string())));
    hd->set_value(std::string(Sv(f.value())));
  }
  ParseRateByService(r.response.body(), response);
  response->set_body(std::move(r.response.body()));
  return ::grpc::Status::OK;
}

IngestServer::IngestServer(Options options, asio::io_context& ioc, const plugin::StageChain& chain,
                           http::AgentPool& agent, telemetry::Registry& metrics)
    : options_(std::move(options)),
      service_(std::make_unique<TraceIngestService>(options_, ioc, chain, agent, metrics)),
      bound_address_(options_.address) {}

IngestServer::~IngestServer() { Shutdown(std::chrono::milliseconds(0)); }

absl::Status IngestServer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ || shut_down_) {
    return absl::FailedPreconditionError("gRPC ingest server already started");
  }
  static std::once_flag reflection_once;
  std::call_once(reflection_once,
                 [] { ::grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });
  ::grpc::EnableDefaultHealthCheckService(true);

  ::grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.address, ::grpc::InsecureServerCredentials(), &port);
  // Refuse a port another process listens on, instead of silently sharing it (SO_REUSEPORT).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  const uint64_t limit = options_.max_payload_bytes + kHeaderAllowance;
  builder.SetMaxReceiveMessageSize(limit > INT_MAX ? INT_MAX : static_cast<int>(limit));
  builder.RegisterService(service_.get());
  std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    if (server) server->Shutdown();
    return absl::UnavailableError(absl::StrCat(
        "ingest.grpc_address = \"", options_.address,
        "\": cannot listen (address in use, or not host:port / unix:path)"));
  }
  const bool is_unix = absl::StartsWith(options_.address, "unix:");
  const size_t colon = options_.address.rfind(':');
  if (!is_unix && colon != std::string::npos) {
    bound_address_ = absl::StrCat(options_.address.substr(0, colon + 1), port);
  }
  if (::grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
    health->SetServingStatus("", true);
    health->SetServingStatus(kServiceName, true);
  }
  server_ = std::move(server);
  started_ = true;
  return absl::OkStatus();
}

void IngestServer::Shutdown(std::chrono::milliseconds grace) {
  ::grpc::Server* server = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    server = server_.get();
  }
  if (server == nullptr) return;
  if (::grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
    health->SetServingStatus("", false);
    health->SetServingStatus(kServiceName, false);
  }
  // New calls are refused at once; in-flight ones get `grace`, then are cancelled. Returns when
  // every handler has returned.
  server->Shutdown(std::chrono::system_clock::now() + grace);
  server->Wait();
}

std::string IngestServer::address() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bound_address_;
}

}  // namespace llmobs_edge::plugin::grpc_ingest
