#include "plugin/host/inspect_command.h"

#include <sstream>
#include <string>

#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "plugin/host/inspect_report.h"

namespace llmobs_edge::plugin {
namespace {

using nlohmann::json;

constexpr char kSample[] = "tests/golden/samples/llmobs-sample.msgpack";

json Report(const std::string& bytes, InspectOptions options = {}) {
  const absl::StatusOr<std::string> text = BuildInspectReport(bytes, options);
  EXPECT_TRUE(text.ok()) << text.status();
  return json::parse(text.value_or("{}"));
}

TEST(InspectReport, ClassifiesEveryLlmobsSpanOfTheSample) {
  const json r = Report(decoder::testing::ReadFileOrDie(kSample));
  EXPECT_EQ(r["payload"]["chunks"], 4);
  EXPECT_EQ(r["payload"]["llmobs_spans"], 4);
  EXPECT_EQ(r["payload"]["prefilter_match"], true);
  ASSERT_EQ(r["chunks"].size(), 4u);
  EXPECT_EQ(r["chunks"][0]["reason"], "priority_drop");
  EXPECT_EQ(r["chunks"][0]["priority"], 0);
  EXPECT_EQ(r["chunks"][0]["root"]["name"], "flask.request");
  EXPECT_EQ(r["chunks"][1]["predicted_drop"], false);
  EXPECT_EQ(r["chunks"][3]["priority"], nullptr);
  EXPECT_EQ(r["chunks"][3]["reason"], "no_priority");
  const json& spans = r["llmobs_spans"];
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0]["verdict"], "rescue");
  EXPECT_EQ(spans[0]["span_id"], "2264075030106042450");
  EXPECT_EQ(spans[1]["verdict"], "rides_trace");
  EXPECT_EQ(spans[2]["verdict"], "already_submitted");
  EXPECT_EQ(spans[3]["verdict"], "rescue");
  // The struct is embedded as JSON, with ints as ints and floats as floats.
  EXPECT_EQ(spans[0]["llmobs"]["trace_id"], "6aa99a60000000007e41c2b9d35a0f52");
  EXPECT_EQ(spans[0]["llmobs"]["metrics"]["input_tokens"], 31);
  EXPECT_TRUE(spans[0]["llmobs"]["meta"]["metadata"]["temperature"].is_number_float());
  EXPECT_EQ(r["summary"]["rescue"], 2);
  EXPECT_EQ(r["summary"]["rides_trace"], 1);
  EXPECT_EQ(r["summary"]["already_submitted"], 1);
}

TEST(InspectReport, PolicyCanLeaveChunksWithoutPriorityToTheAgent) {
  InspectOptions options;
  options.policy.rescue_without_priority = false;
  options.include_structs = false;
  const json r = Report(decoder::testing::ReadFileOrDie(kSample), options);
  EXPECT_EQ(r["chunks"][3]["reason"], "no_priority_left_to_agent");
  EXPECT_EQ(r["llmobs_spans"][3]["verdict"], "rides_trace");
  EXPECT_FALSE(r["llmobs_spans"][3].contains("llmobs"));
}

TEST(InspectReport, ReportsRealPayloadsWithoutLlmobs) {
  for (const auto& req : decoder::testing::RealTracerTracePayloads()) {
    const json r = Report(req.body);
    EXPECT_EQ(r["payload"]["llmobs_spans"], 0) << req.name;
    EXPECT_TRUE(r["llmobs_spans"].empty());
    if (req.name == "sampling/request-004") {
      EXPECT_EQ(r["chunks"][1]["priority"], -1);
      EXPECT_EQ(r["chunks"][1]["predicted_drop"], true);
    }
  }
}

TEST(InspectReport, AppliesTheAgentsFiltersFromItsInfo) {
  auto filters = rescue::AgentFilters::FromInfo(R"({"ignore_resources":["^GET$"]})");
  ASSERT_TRUE(filters.ok());
  InspectOptions options;
  options.policy.filters = filters->get();
  const std::string body = decoder::testing::RealTracerTracePayloads()[4].body;  // web/request-004
  const absl::StatusOr<std::string> text = BuildInspectReport(body, options);
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json r = nlohmann::json::parse(*text);
  std::vector<std::string> reasons;
  for (const auto& c : r["chunks"]) reasons.push_back(c["reason"]);
  EXPECT_EQ(reasons, (std::vector<std::string>{"kept", "agent_ignored_resource",
                                               "agent_ignored_resource", "agent_ignored_resource",
                                               "kept", "kept", "kept", "agent_ignored_resource"}));
}

TEST(InspectCommand, BadPayloadExitsOneWithTheDecodersReason) {
  std::ostringstream out, err;
  // A JSON body (telemetry) is not a v0.4 payload.
  const std::string path = "tests/golden/real-tracer/web/request-001.body";
  EXPECT_EQ(RunInspect(path, "", {}, out, err), 1);
  EXPECT_TRUE(out.str().empty());
  EXPECT_NE(err.str().find("is not a valid v0.4 trace payload: offset 0"), std::string::npos)
      << err.str();
}

TEST(InspectCommand, MissingFileExitsTwo) {
  std::ostringstream out, err;
  EXPECT_EQ(RunInspect("no/such/file", "", {}, out, err), 2);
  EXPECT_NE(err.str().find("cannot read"), std::string::npos);
}

TEST(InspectCommand, ResolvesRelativePathsAgainstTheWorkingDirectory) {
  std::ostringstream out, err;
  EXPECT_EQ(RunInspect("samples/llmobs-sample.msgpack", "tests/golden", {}, out, err), 0)
      << err.str();
  EXPECT_EQ(json::parse(out.str())["payload"]["chunks"], 4);
}

}  // namespace
}  // namespace llmobs_edge::plugin
