#include "plugin/host/service.h"

#include <malloc.h>

#include <algorithm>
#include <map>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "plugin/api/buffer_pool.h"
#include "plugin/api/clock.h"
#include "plugin/api/thread_name.h"
#include "plugin/host/ledger_config.h"
#include "plugin/host/grpc/ingest_server.h"
#include "plugin/host/http/agent_probe.h"
#include "plugin/host/registration.h"
#include "plugin/host/route_table.h"
#include "plugin/host/http/server.h"
#include "plugin/host/http/telemetry_server.h"
#include "plugin/host/http/upstream.h"
#include "plugin/api/metrics.h"
#include "dedup/rocks_ledger.h"
#include "plugin/host/intake/agent_evp_transport.h"
#include "plugin/host/intake/curl_transport.h"
#include "plugin/host/intake/sender.h"
#include "spdlog/spdlog.h"

namespace llmobs_edge::plugin {
namespace asio = boost::asio;

struct Service::Impl {
  config::v1::Config config;
  SystemClock clock;
  telemetry::Registry metrics;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<http::AgentPool> pool;
  std::unique_ptr<http::AgentProbe> probe;
  std::unique_ptr<dedup::Ledger> ledger;
  std::unique_ptr<intake::IntakeTransport> intake_transport;
  std::unique_ptr<intake::IntakeSender> sender;
  std::unique_ptr<StageChain> chain;
  std::vector<std::unique_ptr<Plugin>> plugins;
  RouteTable routes;
  // Opens the ledger and its intake sender (once).
  absl::Status OpenLlmobsStream();
  // Request bodies of every ingest connection (docs/operations.md, "Memory").
  BufferPool body_pool;
  std::optional<asio::steady_timer> pool_timer;  // on its own strand
  struct PoolMetrics {
    telemetry::Gauge* idle_bytes = nullptr;
    telemetry::Gauge* leased_bytes = nullptr;
    telemetry::Counter* allocated = nullptr;
    telemetry::Counter* reused = nullptr;
    telemetry::Counter* freed = nullptr;
    BufferPoolStats last;
    int idle_ticks = 0;        // seconds without a new request body
    bool trimmed = true;       // malloc_trim ran since the last busy second
  } pool_metrics;
  std::unique_ptr<http::HttpServer> http;
  std::unique_ptr<http::TelemetryServer> telemetry;
  std::unique_ptr<grpc_ingest::IngestServer> grpc;
  // Runs the stages on payloads with _llmobs (ingest.pipeline_threads).
  asio::io_context pipeline_ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> pipeline_work;
  unsigned pipeline_thread_count = 0;
  std::vector<std::thread> pipeline_threads;
  std::vector<std::thread> threads;
  std::atomic<bool> started{false};
  std::atomic<bool> shut_down{false};
  std::mutex mu;
  telemetry::Counter* shutdowns = nullptr;

  // The default concurrency hint: several threads run this io_context (a hint of 1 would make
  // Asio keep posted work on one thread).
  Impl() : ioc() {}
};

absl::Status Service::Impl::OpenLlmobsStream() {
  if (ledger) return absl::OkStatus();
  auto opened = dedup::OpenRocksLedger(LedgerOptionsFromConfig(config.ledger()), &clock, &metrics);
  if (!opened.ok()) return opened.status();
  ledger = *std::move(opened);
  // The intake sender delivers the outbox: through the Agent's EVP proxy, or agentless.
  const auto& in_cfg = config.intake();
  const std::chrono::milliseconds intake_timeout(in_cfg.timeout_ms());
  if (in_cfg.mode() == "agentless") {
    const std::string url =
        in_cfg.url().empty() ? intake::AgentlessUrl(in_cfg.site()) : in_cfg.url();
    intake_transport = intake::NewCurlTransport(url, in_cfg.api_key(), intake_timeout);
  } else {
    intake_transport = intake::NewAgentEvpTransport(ioc, *pool, intake_timeout);
  }
  intake::IntakeSender::Options so;
  so.max_batch_bytes = in_cfg.max_batch_bytes();
  so.flush_interval = std::chrono::milliseconds(in_cfg.flush_interval_ms());
  so.max_backoff = std::chrono::milliseconds(in_cfg.max_backoff_ms());
  sender = std::make_unique<intake::IntakeSender>(so, *ledger, *intake_transport, clock, metrics);
  return absl::OkStatus();
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Service::~Service() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Service>> Service::Create(const config::v1::Config& config,
                                                         const PluginRegistry& registry) {
  auto impl = std::make_unique<Impl>();
  Impl& s = *impl;
  s.config = config;
  const auto& in = config.ingest();

  absl::StatusOr<http::UpstreamAddress> agent = http::ParseAgentUrl(config.agent().url());
  if (!agent.ok()) return agent.status();
  s.pool = std::make_unique<http::AgentPool>(*agent);
  const std::chrono::milliseconds agent_timeout(config.agent().timeout_ms());
  s.probe = std::make_unique<http::AgentProbe>(s.ioc, *s.pool, std::chrono::seconds(10),
                                               std::min(agent_timeout, std::chrono::milliseconds(
                                                                           2000)),
                                               s.metrics);

  // The "llmobs" stream (the ledger) and its delivery open when a plugin first asks for them.
  HostServices host;
  host.clock = &s.clock;
  host.metrics = &s.metrics;
  Impl* self = impl.get();
  host.llmobs_stream = [self]() -> absl::StatusOr<dedup::Ledger*> {
    if (absl::Status st = self->OpenLlmobsStream(); !st.ok()) return st;
    return self->ledger.get();
  };
  host.llmobs_enqueued = [self] {
    if (self->sender) self->sender->Notify();
  };
  host.subscribe_agent_info = [self](std::function<void(std::string_view)> observer) {
    self->probe->OnInfo(
        [observer = std::move(observer)](const http::AgentProbe::Info& info) { observer(info.body); });
  };
  auto plugins = registry.Create(config, host);
  if (!plugins.ok()) return plugins.status();
  s.plugins = *std::move(plugins);

  // The route table, and the stages every plugin offers by name (pipeline.stages picks them).
  std::vector<Plugin*> all;
  for (const auto& p : s.plugins) all.push_back(p.get());
  auto routes = RouteTable::Build(all);
  if (!routes.ok()) return routes.status();
  s.routes = *std::move(routes);
  StageRegistry stages;
  std::map<std::string, std::string, std::less<>> stage_owner;
  for (Plugin* p : all) {
    for (const std::string& name : p->StageNames()) {
      auto [it, fresh] = stage_owner.emplace(name, std::string(p->name()));
      if (!fresh) {
        return absl::AlreadyExistsError(absl::StrCat("stage conflict: plugins ", it->second,
                                                     " and ", std::string(p->name()), " both offer stage ",
                                                     name));
      }
      stages.Register(name, [p, name](const config::v1::Config&, const StageDeps&) {
        return p->CreateStage(name);
      });
    }
  }
  StageDeps deps;
  deps.clock = &s.clock;
  deps.metrics = &s.metrics;
  auto built = stages.Create(config, deps);
  if (!built.ok()) return built.status();
  decoder::ReaderLimits limits;
  limits.max_payload_bytes = in.max_payload_bytes();
  s.chain = std::make_unique<StageChain>(*std::move(built), limits, &s.metrics);

  http::ServerOptions http_options;
  http_options.host = in.host();
  if (in.port() > 0) http_options.port = static_cast<uint16_t>(in.port());
  http_options.socket_path = in.socket();
  http_options.max_payload_bytes = in.max_payload_bytes();
  http_options.max_connections = in.max_connections();
  http_options.request_timeout = std::chrono::milliseconds(in.request_timeout_ms());
  http_options.agent_timeout = agent_timeout;
  s.http = std::make_unique<http::HttpServer>(s.ioc, http_options, *s.chain, *s.pool, s.metrics);
  s.http->SetBodyPool(&s.body_pool);
  s.http->SetRouteTable(&s.routes);
  s.pool_metrics.idle_bytes = &s.metrics.AddGauge(
      "llmobs_edge_body_pool_idle_bytes", "Request body buffers held for reuse (capacity)");
  s.pool_metrics.leased_bytes = &s.metrics.AddGauge(
      "llmobs_edge_body_pool_leased_bytes", "Request body buffers in use by requests (capacity)");
  s.pool_metrics.allocated = &s.metrics.AddCounter(
      "llmobs_edge_body_pool_allocations", "Request body buffers allocated (none was idle)");
  s.pool_metrics.reused = &s.metrics.AddCounter(
      "llmobs_edge_body_pool_reuses", "Requests whose body went into a reused buffer");
  s.pool_metrics.freed = &s.metrics.AddCounter(
      "llmobs_edge_body_pool_frees", "Request body buffers given back to the OS");
  if (s.chain->size() > 0 && in.pipeline_threads() > 0) {
    s.pipeline_thread_count = in.pipeline_threads();
    s.pipeline_work.emplace(s.pipeline_ioc.get_executor());
    s.http->SetPipelineExecutor(s.pipeline_ioc.get_executor());
  }
  {
    http::AgentProbe* probe = s.probe.get();
    s.http->SetAgentStateObserver([probe](std::string_view state) { probe->NoteAgentState(state); });
  }

  if (!in.grpc_address().empty()) {
    grpc_ingest::IngestServer::Options g;
    g.address = in.grpc_address();
    g.max_payload_bytes = in.max_payload_bytes();
    g.agent_timeout = agent_timeout;
    s.grpc = std::make_unique<grpc_ingest::IngestServer>(g, s.ioc, *s.chain, *s.pool, s.metrics);
  }

  if (config.telemetry().port() > 0) {
    Impl* self = impl.get();
    s.telemetry = std::make_unique<http::TelemetryServer>(
        s.ioc, config.telemetry().host(), static_cast<uint16_t>(config.telemetry().port()),
        s.metrics, [self](std::string* reason) {
          if (self->shut_down.load() || self->http->draining()) {
            *reason = "shutting down";
            return false;
          }
          if (!self->started.load()) {
            *reason = "starting";
            return false;
          }
          if (self->ledger && !self->ledger->healthy()) {
            *reason = absl::StrCat("the ledger at ", self->config.ledger().path(),
                                   " is failing (rescue would fail open)");
            return false;
          }
          for (const auto& p : self->plugins) {
            std::string why;
            if (!p->Ready(&why)) {
              *reason = absl::StrCat("plugin ", std::string(p->name()), ": ", why);
              return false;
            }
          }
          if (!self->probe->reachable()) {
            *reason = absl::StrCat("the Agent at ", self->pool->address().url,
                                   self->probe->probed() ? " does not answer" : " not probed yet");
            return false;
          }
          return true;
        });
  }
  s.shutdowns = &s.metrics.AddCounter("llmobs_edge_shutdown_forced_connections",
                                      "Connections still open when the shutdown grace ran out");
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

absl::Status Service::Start() {
  Impl& s = *impl_;
  if (absl::Status st = s.http->Listen(); !st.ok()) return st;
  if (s.telemetry) {
    if (absl::Status st = s.telemetry->Listen(); !st.ok()) return st;
  }
  if (s.grpc) {
    if (absl::Status st = s.grpc->Start(); !st.ok()) return st;
  }
  for (const auto& p : s.plugins) {
    if (absl::Status st = p->Start(); !st.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat("plugin ", std::string(p->name()), ": ", st.message()));
    }
  }
  s.work.emplace(s.ioc.get_executor());
  s.pool_timer.emplace(asio::make_strand(s.ioc));
  asio::post(s.pool_timer->get_executor(), [this] { TickBodyPool(); });
  s.http->Start();
  if (s.telemetry) s.telemetry->Start();
  s.probe->Start();
  if (s.sender) s.sender->Start();
  unsigned n = s.config.ingest().threads();
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    s.threads.emplace_back([&s, i] {
      SetCurrentThreadName(absl::StrCat("ingest-io-", i + 1));
      s.ioc.run();
    });
  }
  for (unsigned i = 0; i < s.pipeline_thread_count; ++i) {
    s.pipeline_threads.emplace_back([&s, i] {
      SetCurrentThreadName(absl::StrCat("pipeline-", i + 1));
      s.pipeline_ioc.run();
    });
  }
  s.started.store(true);

  const auto& in = s.config.ingest();
  std::vector<std::string> listeners;
  if (in.port() > 0) listeners.push_back(absl::StrCat("http://", in.host(), ":", http_port()));
  if (!in.socket().empty()) listeners.push_back(absl::StrCat("unix://", in.socket()));
  if (s.grpc) listeners.push_back(absl::StrCat("grpc://", grpc_address()));
  std::vector<std::string> stage_names(s.config.pipeline().stages().begin(),
                                       s.config.pipeline().stages().end());
  spdlog::info(
      "llmobs-edge listening on {}; Agent {}; stages [{}]; telemetry {}; {} threads; max payload "
      "{} bytes",
      absl::StrJoin(listeners, ", "), s.config.agent().url(), absl::StrJoin(stage_names, ", "),
      s.telemetry ? absl::StrCat("http://", s.config.telemetry().host(), ":", telemetry_port())
                  : std::string("off"),
      n, in.max_payload_bytes());
  if (s.ledger) {
    const dedup::Ledger::Stats st = s.ledger->GetStats();
    spdlog::info("ledger {} (sync {}): {} events waiting for the intake; intake via {}",
                 s.config.ledger().path(), s.config.ledger().sync(), st.outbox_records,
                 std::string(s.intake_transport->name()));
  }
  return absl::OkStatus();
}

void Service::Shutdown() {
  Impl& s = *impl_;
  if (!s.started.load() || s.shut_down.exchange(true)) return;
  const auto grace = std::chrono::milliseconds(s.config.ingest().shutdown_grace_ms());
  spdlog::info("shutting down: no new connections; waiting up to {} ms for {} in-flight requests",
               grace.count(), s.http->in_flight());
  s.http->BeginShutdown();
  if (s.grpc) s.grpc->Shutdown(grace);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (s.http->connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (s.http->connections() > 0) {
    s.shutdowns->Inc(s.http->connections());
    spdlog::warn("shutdown grace period over: closing {} connections",
                 s.http->connections());
  }
  for (const auto& p : s.plugins) p->Drain(deadline);
  // Deliver what the outbox holds within what is left of the grace period (the EVP transport
  // needs the io_context running); the rest stays in the ledger for the next start.
  if (s.sender) {
    const auto left = std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    s.sender->Drain(left);
  }
  s.probe->Stop();
  asio::post(s.pool_timer->get_executor(), [&s] { s.pool_timer->cancel(); });
  if (s.telemetry) s.telemetry->Stop();
  s.pool->CloseIdle();
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.pipeline_work.reset();  // the pipeline threads finish what they hold, then return
  for (auto& t : s.pipeline_threads) t.join();
  s.pipeline_threads.clear();
  s.sender.reset();
  spdlog::info("stopped");
}

// Once a second: idle body buffers go back to the OS (BufferPool::Trim), and the pool's figures
// reach /metrics.
void Service::TickBodyPool() {
  Impl& s = *impl_;
  s.body_pool.Trim();
  const BufferPoolStats now = s.body_pool.stats();
  Impl::PoolMetrics& m = s.pool_metrics;
  m.idle_bytes->Set(static_cast<int64_t>(now.idle_bytes));
  m.leased_bytes->Set(static_cast<int64_t>(now.leased_bytes));
  m.allocated->Inc(now.allocated - m.last.allocated);
  m.reused->Inc(now.reused - m.last.reused);
  m.freed->Inc(now.freed - m.last.freed);
  // After a burst, once no request body was taken for 3 s, the heap's free pages go back to the
  // OS (the allocator does not trim on free: main.cc).
  if (now.acquired != m.last.acquired) {
    m.idle_ticks = 0;
    m.trimmed = false;
  } else if (++m.idle_ticks >= 3 && !m.trimmed) {
    malloc_trim(0);
    m.trimmed = true;
  }
  m.last = now;
  if (s.shut_down.load()) return;
  s.pool_timer->expires_after(std::chrono::seconds(1));
  s.pool_timer->async_wait([this](boost::system::error_code ec) {
    if (!ec) TickBodyPool();
  });
}

int Service::Run() {
  // Block the signals in every thread; a dedicated wait picks them up.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (absl::Status st = Start(); !st.ok()) {
    spdlog::critical("{}", std::string(st.message()));
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  Shutdown();
  return 0;
}

uint16_t Service::http_port() const { return impl_->http->tcp_port(); }
uint16_t Service::telemetry_port() const {
  return impl_->telemetry ? impl_->telemetry->port() : 0;
}
std::string Service::grpc_address() const {
  return impl_->grpc ? impl_->grpc->address() : std::string();
}

}  // namespace llmobs_edge::plugin
