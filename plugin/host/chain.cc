#include "plugin/host/chain.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "decoder/prefilter.h"
#include "spdlog/spdlog.h"

namespace llmobs_edge::plugin {

std::string_view ChainResultName(ChainResult::Kind kind) {
  switch (kind) {
    case ChainResult::Kind::kSkipped: return "skipped";
    case ChainResult::Kind::kUnchanged: return "unchanged";
    case ChainResult::Kind::kEdited: return "edited";
    case ChainResult::Kind::kDecodeFailed: return "decode_failed";
    case ChainResult::Kind::kStageFailed: return "stage_failed";
    case ChainResult::Kind::kSpliceFailed: return "splice_failed";
  }
  return "unknown";
}

void StageRegistry::Register(std::string name, StageFactory factory) {
  factories_[std::move(name)] = std::move(factory);
}

std::vector<std::string> StageRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories_) names.push_back(name);
  return names;
}

absl::StatusOr<std::vector<std::unique_ptr<Stage>>> StageRegistry::Create(
    const config::v1::Config& config, const StageDeps& deps) const {
  std::vector<std::unique_ptr<Stage>> stages;
  std::set<std::string, std::less<>> seen;
  const auto& names = config.pipeline().stages();
  for (int i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::string setting = absl::StrCat("pipeline.stages[", i, "] = \"", name, "\"");
    auto it = factories_.find(name);
    if (it == factories_.end()) {
      const std::vector<std::string> known = Names();
      return absl::InvalidArgumentError(absl::StrCat(
          setting, ": expected one of: ", known.empty() ? "(none)" : absl::StrJoin(known, ", ")));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(setting, ": expected each stage once"));
    }
    absl::StatusOr<std::unique_ptr<Stage>> stage = it->second(config, deps);
    if (!stage.ok()) {
      return absl::Status(stage.status().code(),
                          absl::StrCat(setting, ": ", stage.status().message()));
    }
    stages.push_back(*std::move(stage));
  }
  return stages;
}

StageChain::StageChain(std::vector<std::unique_ptr<Stage>> stages, decoder::ReaderLimits limits,
                       telemetry::Registry* metrics)
    : stages_(std::move(stages)), reader_(limits) {
  for (const auto& s : stages_) needs_every_payload_ |= s->NeedsEveryPayload();
  auto& payloads = metrics->AddCounterFamily(
      "llmobs_edge_chain_payloads",
      "Trace payloads through the stage chain, by outcome (skipped = no _llmobs bytes, not "
      "decoded; *_failed = forwarded unchanged, failing open)",
      {"outcome"});
  for (int k = 0; k < 6; ++k) {
    m_.by_kind[k] = &payloads.WithLabels({ChainResultName(static_cast<ChainResult::Kind>(k))});
  }
  m_.chunks = &metrics->AddCounter("llmobs_edge_chain_chunks", "Chunks in decoded payloads");
  m_.spans = &metrics->AddCounter("llmobs_edge_chain_spans", "Spans in decoded payloads");
  m_.llmobs_spans = &metrics->AddCounter(
      "llmobs_edge_chain_llmobs_spans", "Spans carrying meta_struct[\"_llmobs\"] in decoded payloads");
  m_.edits = &metrics->AddCounter("llmobs_edge_chain_edits", "Span edits spliced into payloads");
  auto& failures = metrics->AddCounterFamily(
      "llmobs_edge_stage_failures",
      "Stage errors, by stage and phase (process: the payload was forwarded unchanged)",
      {"stage", "phase"});
  for (const auto& s : stages_) {
    m_.stage_failures.push_back(&failures.WithLabels({s->name(), "process"}));
    m_.stage_after_failures.push_back(&failures.WithLabels({s->name(), "after_forward"}));
  }
}

bool StageChain::WillDecode(std::string_view body) const {
  return needs_every_payload_ || decoder::MayContainLlmobs(body);
}

ChainResult StageChain::Run(std::string_view body, const TraceRequest& request,
                            ChainScratch* scratch, bool will_decode) const {
  ChainResult result;
  result.body = body;
  auto finish = [&](ChainResult::Kind kind) {
    result.kind = kind;
    if (kind != ChainResult::Kind::kEdited) result.body = body;
    m_.by_kind[static_cast<int>(kind)]->Inc();
    return result;
  };
  if (!will_decode) return finish(ChainResult::Kind::kSkipped);
  if (absl::Status st = reader_.Read(body, &scratch->payload); !st.ok()) {
    scratch->payload.Clear();
    uint64_t held_back;
    if (fail_open_log_.Allow(&held_back)) {
      spdlog::warn("a v0.4 payload with _llmobs bytes could not be decoded; forwarded unchanged "
                   "(fail open): {} ({} more fail-open passes since the last warning)",
                   std::string(st.message()), held_back);
    }
    return finish(ChainResult::Kind::kDecodeFailed);
  }
  const decoder::Payload& payload = scratch->payload;
  m_.chunks->Inc(payload.chunks.size());
  m_.spans->Inc(payload.spans.size());
  m_.llmobs_spans->Inc(payload.llmobs_spans);

  scratch->edits.Clear();
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (absl::Status st = stages_[i]->Process(payload, request, &scratch->edits, &result.options);
        !st.ok()) {
      m_.stage_failures[i]->Inc();
      uint64_t held_back;
      if (fail_open_log_.Allow(&held_back)) {
        spdlog::warn("stage {} failed; payload forwarded unchanged (fail open): {} ({} more "
                     "fail-open passes since the last warning)",
                     std::string(stages_[i]->name()), std::string(st.message()), held_back);
      }
      result.options = {};
      scratch->edits.Clear();
      return finish(ChainResult::Kind::kStageFailed);
    }
  }
  if (scratch->edits.empty()) return finish(ChainResult::Kind::kUnchanged);
  if (!scratch->splicer.Splice(payload, scratch->edits, &scratch->spliced).ok()) {
    result.options = {};
    scratch->edits.Clear();
    return finish(ChainResult::Kind::kSpliceFailed);
  }
  m_.edits->Inc(scratch->edits.size());
  result.body = scratch->spliced;
  return finish(ChainResult::Kind::kEdited);
}

void StageChain::AfterForward(const ChainResult& result, const TraceRequest& request,
                              const AgentOutcome& outcome, ChainScratch* scratch) const {
  if (!result.decoded()) return;
  const bool forwarded_edits = result.kind == ChainResult::Kind::kEdited ||
                               result.kind == ChainResult::Kind::kUnchanged;
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (!stages_[i]->AfterForward(scratch->payload, request, outcome, forwarded_edits).ok()) {
      m_.stage_after_failures[i]->Inc();
    }
  }
}

}  // namespace llmobs_edge::plugin
