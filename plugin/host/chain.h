#pragma once
// The stage chain: decodes a /v0.4/traces payload (skipping payloads without "_llmobs" bytes
// unless a stage asks for every payload), runs the configured stages in order, and splices their
// edits into the bytes to forward. It fails open: when decoding, a stage or splicing fails, the
// original bytes are forwarded and the failure is counted. Both ingest paths (HTTP and gRPC) use
// one chain; StageRegistry builds its stages from validated config by name.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "decoder/payload.h"
#include "decoder/reader.h"
#include "decoder/splice.h"
#include "plugin/api/clock.h"
#include "plugin/api/log_limiter.h"
#include "plugin/api/stage.h"
#include "plugin/api/metrics.h"
#include "proto/config.pb.h"

namespace llmobs_edge::plugin {

// What a stage factory may hand to the stage it builds (plugins get the rest from the host when
// they are built: plugin/host/registration.h).
struct StageDeps {
  const Clock* clock = nullptr;
  telemetry::Registry* metrics = nullptr;
};

using StageFactory = std::function<absl::StatusOr<std::unique_ptr<Stage>>(
    const config::v1::Config& config, const StageDeps& deps)>;

// Stage names -> factories. The service registers every plugin's stages (Plugin::StageNames);
// tests register fakes.
class StageRegistry {
 public:
  void Register(std::string name, StageFactory factory);
  // The stages `config.pipeline.stages` names, in that order; an unknown or repeated name is an
  // error naming the setting.
  absl::StatusOr<std::vector<std::unique_ptr<Stage>>> Create(const config::v1::Config& config,
                                                            const StageDeps& deps) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, StageFactory, std::less<>> factories_;
};

// Per-request working memory, reused across the requests of one connection so the steady state
// allocates nothing. It holds the decoded views until AfterForward has run.
struct ChainScratch {
  decoder::Payload payload;
  decoder::EditList edits;
  decoder::Splicer splicer;
  std::string spliced;
};

struct ChainResult {
  enum class Kind : uint8_t {
    kSkipped,       // no "_llmobs" bytes and no stage wants every payload: not decoded
    kUnchanged,     // decoded, the stages made no edit
    kEdited,        // decoded and spliced
    kDecodeFailed,  // fail open: not a payload the reader accepts
    kStageFailed,   // fail open: a stage returned an error
    kSpliceFailed,  // fail open: the edits could not be applied
  };
  Kind kind = Kind::kSkipped;
  std::string_view body;  // the bytes to forward: the original, or ChainScratch::spliced
  ForwardOptions options;
  bool decoded() const { return kind == Kind::kUnchanged || kind == Kind::kEdited || kind == Kind::kStageFailed || kind == Kind::kSpliceFailed; }
};

std::string_view ChainResultName(ChainResult::Kind kind);

class StageChain {
 public:
  StageChain(std::vector<std::unique_ptr<Stage>> stages, decoder::ReaderLimits limits,
             telemetry::Registry* metrics);

  // Before forwarding. `body` must stay alive until AfterForward returns.
  ChainResult Run(std::string_view body, const TraceRequest& request, ChainScratch* scratch) const {
    return Run(body, request, scratch, WillDecode(body));
  }
  // The same with WillDecode(body) already known (one prefilter scan per payload).
  ChainResult Run(std::string_view body, const TraceRequest& request, ChainScratch* scratch,
                  bool will_decode) const;

  // After the Agent answered or failed; a no-op for payloads that were not decoded.
  void AfterForward(const ChainResult& result, const TraceRequest& request,
                    const AgentOutcome& outcome, ChainScratch* scratch) const;

  size_t size() const { return stages_.size(); }

  // Whether Run decodes `body` rather than stopping at the prefilter (no "_llmobs" bytes and no
  // stage that needs every payload). With stages, such payloads reach them, and stages may block
  // (the ledger's fsync): servers run those off their io threads.
  bool WillDecode(std::string_view body) const;

 private:
  struct Metrics {
    telemetry::Counter* by_kind[6];
    telemetry::Counter* chunks;
    telemetry::Counter* spans;
    telemetry::Counter* llmobs_spans;
    telemetry::Counter* edits;
    std::vector<telemetry::Counter*> stage_failures;        // per stage, Process
    std::vector<telemetry::Counter*> stage_after_failures;  // per stage, AfterForward
  };

  std::vector<std::unique_ptr<Stage>> stages_;
  decoder::PayloadReader reader_;
  bool needs_every_payload_ = false;
  Metrics m_;
  mutable LogLimiter fail_open_log_;
};

}  // namespace llmobs_edge::plugin
