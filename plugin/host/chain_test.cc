// Tests of the stage chain: pass-through, edits spliced, fail open on every kind of failure,
// stage order, factories from config, and the counters.

#include "plugin/host/chain.h"

#include <memory>
#include <string>
#include <vector>

#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "plugin/host/config/config.h"

namespace llmobs_edge::plugin {
namespace {

using decoder::testing::EncodePayload;
using decoder::testing::TestSpan;

// A stage that stamps every _llmobs span and scrubs its struct, recording what it saw.
class StampStage : public Stage {
 public:
  explicit StampStage(std::string name, std::vector<std::string>* log = nullptr)
      : name_(std::move(name)), log_(log) {}
  std::string_view name() const override { return name_; }
  absl::Status Process(const decoder::Payload& p, const TraceRequest& r, decoder::EditList* edits,
                       ForwardOptions* options) override {
    if (log_) log_->push_back(name_ + ":process");
    for (const auto& s : p.spans) {
      if (s.has_llmobs) {
        edits->SetMeta(s.index, "_dd.llmobs.submitted", "1");
        edits->RemoveMetaStruct(s.index, "_llmobs");
      }
    }
    options->want_real_http_status = true;
    return absl::OkStatus();
  }
  absl::Status AfterForward(const decoder::Payload& p, const TraceRequest&,
                            const AgentOutcome& outcome, bool forwarded_edits) override {
    if (log_) {
      log_->push_back(name_ + ":after:" + std::to_string(outcome.status) + ":" +
                      (forwarded_edits ? "edits" : "original") + ":" +
                      std::to_string(p.spans.size()));
    }
    return absl::OkStatus();
  }

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

class FailingStage : public Stage {
 public:
  std::string_view name() const override { return "failing"; }
  absl::Status Process(const decoder::Payload&, const TraceRequest&, decoder::EditList* edits,
                       ForwardOptions* options) override {
    edits->SetMeta(0, "half", "done");
    options->want_real_http_status = true;
    return absl::InternalError("boom");
  }
};

class EveryPayloadStage : public Stage {
 public:
  std::string_view name() const override { return "every"; }
  bool NeedsEveryPayload() const override { return true; }
  absl::Status Process(const decoder::Payload& p, const TraceRequest&, decoder::EditList*,
                       ForwardOptions*) override {
    ++seen;
    return absl::OkStatus();
  }
  int seen = 0;
};

std::string LlmPayload() {
  TestSpan s;
  s.name = "llm.call";
  s.trace_id = 7;
  s.span_id = 8;
  s.metrics = {{"_sampling_priority_v1", 0}};
  s.meta_struct = {{"_llmobs", decoder::testing::EncodeLlmobsStruct("7", "llm.call")}};
  return EncodePayload({{s}});
}

std::string PlainPayload() {
  TestSpan s;
  s.name = "web.request";
  s.trace_id = 1;
  s.span_id = 2;
  return EncodePayload({{s}});
}

uint64_t CounterValue(const telemetry::Registry& r, const std::string& line_prefix) {
  const std::string text = r.RenderOpenMetrics();
  const size_t at = text.find(line_prefix + " ");
  if (at == std::string::npos) return ~uint64_t{0};
  return std::stoull(text.substr(at + line_prefix.size() + 1));
}

StageChain MakeChain(std::vector<std::unique_ptr<Stage>> stages, telemetry::Registry* r) {
  return StageChain(std::move(stages), decoder::ReaderLimits{}, r);
}

TEST(StageChain, EmptyChainSkipsPayloadWithoutLlmobsBytes) {
  telemetry::Registry reg;
  StageChain chain = MakeChain({}, &reg);
  ChainScratch scratch;
  const std::string body = PlainPayload();
  const ChainResult r = chain.Run(body, {}, &scratch);
  EXPECT_EQ(r.kind, ChainResult::Kind::kSkipped);
  EXPECT_EQ(r.body.data(), body.data());
  EXPECT_EQ(CounterValue(reg, "llmobs_edge_chain_payloads_total{outcome=\"skipped\"}"), 1u);
}

TEST(StageChain, EmptyChainDecodesLlmobsPayloadAndForwardsItUnchanged) {
  telemetry::Registry reg;
  StageChain chain = MakeChain({}, &reg);
  ChainScratch scratch;
  const std::string body = LlmPayload();
  const ChainResult r = chain.Run(body, {}, &scratch);
  EXPECT_EQ(r.kind, ChainResult::Kind::kUnchanged);
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(CounterValue(reg, "llmobs_edge_chain_spans_total"), 1u);
  EXPECT_EQ(CounterValue(reg, "llmobs_edge_chain_llmobs_spans_total"), 1u);
}

TEST(StageChain, SplicesStageEditsIntoForwardedBytes) {
  telemetry::Registry reg;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<StampStage>("stamp"));
  StageChain chain = MakeChain(std::move(stages), &reg);
  ChainScratch scratch;
  const std::string body = LlmPayload();
  const ChainResult r = chain.Run(body, {}, &scratch);
  ASSERT_EQ(r.kind, ChainResult::Kind::kEdited);
  EXPECT_TRUE(r.options.want_real_http_status);
  decoder::Payload out;
  ASSERT_TRUE(decoder::PayloadReader().Read(r.body, &out).ok());
  ASSERT_EQ(out.spans.size(), 1u);
  EXPECT_FALSE(out.spans[0].has_llmobs);
  EXPECT_TRUE(out.spans[0].llmobs_already_submitted());
  EXPECT_EQ(CounterValue(reg, "llmobs_edge_chain_edits_total"), 2u);
}

TEST(StageChain, FailsOpenWithOriginalBytesWhenStageFails) {
  telemetry::Registry reg;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<StampStage>("stamp"));
  stages.push_back(std::make_unique<FailingStage>());
  StageChain chain = MakeChain(std::move(stages), &reg);
  ChainScratch scratch;
  const std::string body = LlmPayload();
  const ChainResult r = chain.Run(body, {}, &scratch);
  EXPECT_EQ(r.kind, ChainResult::Kind::kStageFailed);
  EXPECT_EQ(r.body.data(), body.data());
  EXPECT_FALSE(r.options.want_real_http_status);
  EXPECT_EQ(CounterValue(reg, "llmobs_edge_stage_failures_total{stage=\"failing\",phase=\"process\"}"),
            1u);
  EXPECT_EQ(CounterValue(reg, "llmobs_edge_chain_payloads_total{outcome=\"stage_failed\"}"), 1u);
}

TEST(StageChain, FailsOpenWithOriginalBytesWhenPayloadDoesNotDecode) {
  telemetry::Registry reg;
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<StampStage>("stamp", &log));
  StageChain chain = MakeChain(std::move(stages), &reg);
  ChainScratch scratch;
  std::string body = LlmPayload();
  body.resize(body.size() - 3);  // truncated
  const ChainResult r = chain.Run(body, {}, &scratch);
  EXPECT_EQ(r.kind, ChainResult::Kind::kDecodeFailed);
  EXPECT_EQ(r.body, body);
  EXPECT_TRUE(log.empty());
  chain.AfterForward(r, {}, AgentOutcome{AgentOutcome::Kind::kAnswered, 400}, &scratch);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(CounterValue(reg, "llmobs_edge_chain_payloads_total{outcome=\"decode_failed\"}"), 1u);
}

TEST(StageChain, RunsStagesInOrderAndAfterForwardSeesOutcome) {
  telemetry::Registry reg;
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<StampStage>("a", &log));
  stages.push_back(std::make_unique<StampStage>("b", &log));
  StageChain chain = MakeChain(std::move(stages), &reg);
  ChainScratch scratch;
  const std::string body = LlmPayload();
  const ChainResult r = chain.Run(body, {}, &scratch);
  chain.AfterForward(r, {}, AgentOutcome{AgentOutcome::Kind::kAnswered, 413}, &scratch);
  EXPECT_EQ(log, (std::vector<std::string>{"a:process", "b:process", "a:after:413:edits:1",
                                           "b:after:413:edits:1"}));
}

TEST(StageChain, DecodesEveryPayloadWhenAStageAsks) {
  telemetry::Registry reg;
  auto every = std::make_unique<EveryPayloadStage>();
  EveryPayloadStage* raw = every.get();
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::move(every));
  StageChain chain = MakeChain(std::move(stages), &reg);
  ChainScratch scratch;
  const std::string body = PlainPayload();
  EXPECT_EQ(chain.Run(body, {}, &scratch).kind, ChainResult::Kind::kUnchanged);
  EXPECT_EQ(raw->seen, 1);
}

TEST(StageChain, RealTracerPayloadsPassThroughByteIdentical) {
  telemetry::Registry reg;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<EveryPayloadStage>());
  StageChain chain = MakeChain(std::move(stages), &reg);
  ChainScratch scratch;
  for (const auto& golden : decoder::testing::RealTracerTracePayloads()) {
    const ChainResult r = chain.Run(golden.body, {}, &scratch);
    EXPECT_EQ(r.kind, ChainResult::Kind::kUnchanged) << golden.name;
    EXPECT_EQ(r.body, golden.body) << golden.name;
  }
}

TEST(StageRegistry, BuildsConfiguredStagesInOrder) {
  StageRegistry registry;
  std::vector<std::string> log;
  registry.Register("a", [&](const config::Config&, const StageDeps&) {
    return absl::StatusOr<std::unique_ptr<Stage>>(std::make_unique<StampStage>("a", &log));
  });
  registry.Register("b", [&](const config::Config&, const StageDeps&) {
    return absl::StatusOr<std::unique_ptr<Stage>>(std::make_unique<StampStage>("b", &log));
  });
  config::Config c = config::DefaultConfig();
  c.mutable_pipeline()->clear_stages();
  c.mutable_pipeline()->add_stages("b");
  c.mutable_pipeline()->add_stages("a");
  auto stages = registry.Create(c, StageDeps{});
  ASSERT_TRUE(stages.ok()) << stages.status();
  ASSERT_EQ(stages->size(), 2u);
  EXPECT_EQ((*stages)[0]->name(), "b");
  EXPECT_EQ((*stages)[1]->name(), "a");
}

TEST(StageRegistry, NamesSettingOfUnknownOrRepeatedStage) {
  StageRegistry registry;
  registry.Register("rescue", [](const config::Config&, const StageDeps&) {
    return absl::StatusOr<std::unique_ptr<Stage>>(std::make_unique<StampStage>("rescue"));
  });
  config::Config c = config::DefaultConfig();
  c.mutable_pipeline()->clear_stages();
  c.mutable_pipeline()->add_stages("rescu");
  EXPECT_EQ(registry.Create(c, {}).status().message(),
            "pipeline.stages[0] = \"rescu\": expected one of: rescue");
  c.mutable_pipeline()->clear_stages();
  c.mutable_pipeline()->add_stages("rescue");
  c.mutable_pipeline()->add_stages("rescue");
  EXPECT_EQ(registry.Create(c, {}).status().message(),
            "pipeline.stages[1] = \"rescue\": expected each stage once");
}

TEST(StageRegistry, FactoryErrorNamesTheStageSetting) {
  StageRegistry registry;
  registry.Register("x", [](const config::Config&, const StageDeps&) {
    return absl::StatusOr<std::unique_ptr<Stage>>(absl::FailedPreconditionError("no ledger"));
  });
  config::Config c = config::DefaultConfig();
  c.mutable_pipeline()->clear_stages();
  c.mutable_pipeline()->add_stages("x");
  EXPECT_EQ(registry.Create(c, {}).status().message(), "pipeline.stages[0] = \"x\": no ledger");
}

}  // namespace
}  // namespace llmobs_edge::plugin
