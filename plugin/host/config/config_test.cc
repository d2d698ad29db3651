#include <map>
#include <string>

#include "gtest/gtest.h"
#include "plugin/host/config/config.h"

namespace llmobs_edge::config {
namespace {

// A fake environment.
EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

Config WithEnv(std::map<std::string, std::string> vars) {
  Config c = DefaultConfig();
  const absl::Status st = ApplyEnvironment(Env(std::move(vars)), &c);
  EXPECT_TRUE(st.ok()) << st;
  return c;
}

std::string Problem(const Config& c) { return std::string(Validate(c).message()); }

TEST(Config, EmbeddedDefaultsAreValidAndWorkNextToALocalAgent) {
  const Config c = DefaultConfig();
  EXPECT_TRUE(Validate(c).ok()) << Validate(c);
  EXPECT_EQ(c.agent().url(), "http://localhost:8126");
  EXPECT_EQ(c.ingest().max_payload_bytes(), 25u * 1024 * 1024);
  EXPECT_TRUE(c.rescue().rescue_without_priority());
  EXPECT_TRUE(c.rescue().has_rescue_without_priority());
}

TEST(ConfigEnvironment, EmptySocketOrGrpcAddressVariableTurnsThatListenerOff) {
  const Config c = WithEnv({{"DD_LLMOBS_EDGE_SOCKET", ""}, {"DD_LLMOBS_EDGE_GRPC_ADDRESS", ""}});
  EXPECT_EQ(c.ingest().socket(), "");
  EXPECT_EQ(c.ingest().grpc_address(), "");
  EXPECT_EQ(c.ingest().port(), 8136u);
}

TEST(ConfigEnvironment, UnsetOrEmptyVariablesChangeNothing) {
  const Config c = WithEnv({{"DD_LLMOBS_EDGE_PORT", ""}});
  EXPECT_EQ(c.SerializeAsString(), DefaultConfig().SerializeAsString());
}

TEST(ConfigEnvironment, EdgeSettingsComeFromDdLlmobsEdgeVariables) {
  const Config c = WithEnv({{"DD_LLMOBS_EDGE_HOST", "0.0.0.0"},
                            {"DD_LLMOBS_EDGE_PORT", "8126"},
                            {"DD_LLMOBS_EDGE_SOCKET", "/tmp/edge.sock"},
                            {"DD_LLMOBS_EDGE_GRPC_ADDRESS", "[::1]:9000"},
                            {"DD_LLMOBS_EDGE_MAX_PAYLOAD_BYTES", "1048576"},
                            {"DD_LLMOBS_EDGE_MAX_CONNECTIONS", "10"},
                            {"DD_LLMOBS_EDGE_REQUEST_TIMEOUT_MS", "250"},
                            {"DD_LLMOBS_EDGE_THREADS", "3"},
                            {"DD_LLMOBS_EDGE_PIPELINE_THREADS", "0"},
                            {"DD_LLMOBS_EDGE_AGENT_TIMEOUT_MS", "750"},
                            {"DD_LLMOBS_EDGE_TELEMETRY_HOST", "0.0.0.0"},
                            {"DD_LLMOBS_EDGE_TELEMETRY_PORT", "9090"},
                            {"DD_LLMOBS_EDGE_RESCUE_WITHOUT_PRIORITY", "FALSE"},
                            {"DD_LOG_LEVEL", "DEBUG"}});
  EXPECT_EQ(c.ingest().host(), "0.0.0.0");
  EXPECT_EQ(c.ingest().port(), 8126u);
  EXPECT_EQ(c.ingest().socket(), "/tmp/edge.sock");
  EXPECT_EQ(c.ingest().grpc_address(), "[::1]:9000");
  EXPECT_EQ(c.ingest().max_payload_bytes(), 1048576u);
  EXPECT_EQ(c.ingest().max_connections(), 10u);
  EXPECT_EQ(c.ingest().request_timeout_ms(), 250u);
  EXPECT_EQ(c.ingest().threads(), 3u);
  EXPECT_TRUE(c.ingest().has_pipeline_threads());  // an explicit 0 (off) overrides the default 8
  EXPECT_EQ(c.ingest().pipeline_threads(), 0u);
  EXPECT_EQ(c.agent().timeout_ms(), 750u);
  EXPECT_EQ(c.telemetry().port(), 9090u);
  // An explicit false overrides the default true.
  EXPECT_TRUE(c.rescue().has_rescue_without_priority());
  EXPECT_FALSE(c.rescue().rescue_without_priority());
  EXPECT_EQ(c.logging().level(), "debug");
  EXPECT_TRUE(Validate(c).ok()) << Validate(c);
}

TEST(ConfigEnvironment, TraceAgentUrlWinsOverHostAndPort) {
  const Config c = WithEnv({{"DD_TRACE_AGENT_URL", "unix:///var/run/datadog/apm.socket"},
                            {"DD_AGENT_HOST", "agent"},
                            {"DD_TRACE_AGENT_PORT", "9126"}});
  EXPECT_EQ(c.agent().url(), "unix:///var/run/datadog/apm.socket");
}

TEST(ConfigEnvironment, AgentHostAndPortBuildTheUrl) {
  EXPECT_EQ(WithEnv({{"DD_AGENT_HOST", "10.0.0.7"}}).agent().url(), "http://10.0.0.7:8126");
  EXPECT_EQ(WithEnv({{"DD_TRACE_AGENT_PORT", "9126"}}).agent().url(), "http://localhost:9126");
  EXPECT_EQ(WithEnv({{"DD_AGENT_HOST", "fd00::7"}}).agent().url(), "http://[fd00::7]:8126");
  EXPECT_TRUE(Validate(WithEnv({{"DD_AGENT_HOST", "fd00::7"}})).ok());
}

TEST(ConfigEnvironment, MalformedValuesNameTheVariable) {
  const std::map<std::string, std::string> bad[] = {
      {{"DD_LLMOBS_EDGE_PORT", "http"}},
      {{"DD_LLMOBS_EDGE_PORT", "70000"}},
      {{"DD_TRACE_AGENT_PORT", "-1"}},
      {{"DD_LLMOBS_EDGE_RESCUE_WITHOUT_PRIORITY", "yes please"}},
  };
  for (const auto& vars : bad) {
    Config c = DefaultConfig();
    const absl::Status st = ApplyEnvironment(Env(vars), &c);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(std::string(st.message()).find(vars.begin()->first), std::string::npos) << st;
  }
}

TEST(ConfigValidate, AgentUrlMustBeHttpOrUnix) {
  for (const char* good : {"http://localhost:8126", "http://agent", "http://10.1.2.3:1/",
                           "http://[::1]:8126", "unix:///var/run/datadog/apm.socket"}) {
    Config c = DefaultConfig();
    c.mutable_agent()->set_url(good);
    EXPECT_TRUE(Validate(c).ok()) << good << ": " << Validate(c);
  }
  for (const char* bad : {"", "localhost:8126", "https://agent:8126", "http://", "http://a:0",
                          "http://a:99999", "http://a:8126/path", "unix://relative.sock",
                          "tcp://a:1"}) {
    Config c = DefaultConfig();
    c.mutable_agent()->set_url(bad);
    EXPECT_NE(Problem(c).find("agent.url"), std::string::npos) << bad;
  }
}

TEST(ConfigValidate, AtLeastOneListenerMustBeEnabled) {
  Config c = DefaultConfig();
  c.mutable_ingest()->set_port(0);
  c.mutable_ingest()->set_socket("");
  EXPECT_TRUE(Validate(c).ok());  // gRPC alone is enough
  c.mutable_ingest()->set_grpc_address("");
  EXPECT_NE(Problem(c).find("every listener is disabled"), std::string::npos);
}

TEST(ConfigValidate, EachRuleNamesItsSetting) {
  struct Case {
    void (*mutate)(Config*);
    const char* setting;
  } cases[] = {
      {[](Config* c) { c->mutable_ingest()->set_port(70000); }, "ingest.port"},
      {[](Config* c) { c->mutable_ingest()->set_host(""); }, "ingest.host"},
      {[](Config* c) { c->mutable_ingest()->set_grpc_address("8137"); }, "ingest.grpc_address"},
      {[](Config* c) { c->mutable_ingest()->set_grpc_address("::1:8137"); },
       "ingest.grpc_address"},
      {[](Config* c) { c->mutable_ingest()->set_max_payload_bytes(0); },
       "ingest.max_payload_bytes"},
      {[](Config* c) { c->mutable_ingest()->set_max_payload_bytes(uint64_t{1} << 32); },
       "ingest.max_payload_bytes"},
      {[](Config* c) { c->mutable_ingest()->set_max_connections(0); }, "ingest.max_connections"},
      {[](Config* c) { c->mutable_ingest()->set_request_timeout_ms(0); },
       "ingest.request_timeout_ms"},
      {[](Config* c) { c->mutable_ingest()->set_threads(1025); }, "ingest.threads"},
      {[](Config* c) { c->mutable_ingest()->set_pipeline_threads(1025); },
       "ingest.pipeline_threads"},
      {[](Config* c) { c->mutable_agent()->set_timeout_ms(0); }, "agent.timeout_ms"},
      {[](Config* c) { c->mutable_telemetry()->set_port(8136); }, "telemetry.port"},
      {[](Config* c) { c->mutable_telemetry()->set_port(65536); }, "telemetry.port"},
      {[](Config* c) { c->mutable_logging()->set_level("verbose"); }, "logging.level"},
  };
  for (const Case& k : cases) {
    Config c = DefaultConfig();
    k.mutate(&c);
    EXPECT_EQ(Problem(c).rfind(k.setting, 0), 0u) << k.setting << ": " << Problem(c);
  }
}

}  // namespace
}  // namespace llmobs_edge::config
