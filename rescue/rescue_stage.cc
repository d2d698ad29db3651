#include "rescue/rescue_stage.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "decoder/cursor.h"
#include "decoder/json.h"
#include "plugin/api/log_limiter.h"
#include "spdlog/spdlog.h"

namespace llmobs_edge::rescue {
namespace {

using Kind = plugin::AgentOutcome::Kind;

// Per-thread working memory: the builder and the payload's events, reused call after call.
struct Scratch {
  EventBuilder builder;
  BuiltEvent event;
  std::string envelopes;                    // the payload's envelopes, back to back
  std::vector<std::pair<size_t, size_t>> ranges;  // each envelope's [begin, size) in `envelopes`
  std::vector<dedup::EventKey> keys;
  std::vector<uint32_t> spans;              // span index of each event
  std::vector<dedup::PendingEvent> pending;

  void Clear() {
    envelopes.clear();
    ranges.clear();
    keys.clear();
    spans.clear();
    pending.clear();
  }
};

Scratch& ThreadScratch(const EventBuilder::Options& options) {
  thread_local Scratch scratch{EventBuilder(options), {}, {}, {}, {}, {}, {}};
  return scratch;
}

std::string_view OutcomeCause(const plugin::AgentOutcome& o) {
  if (o.kind == Kind::kUnreachable) return "agent_unreachable";
  if (o.kind == Kind::kTimeout) return "agent_timeout";
  if (o.status == 413) return "agent_413";
  if (o.status == 400) return "agent_400";
  if (o.status == 429) return "agent_429";
  if (o.status >= 500) return "agent_5xx";
  return "agent_other";
}

}  // namespace

std::string_view LlmobsTraceId(std::string_view doc) {
  decoder::MsgpackCursor c(doc);
  uint32_t n = 0;
  if (!c.ReadMapHeader(&n)) return {};
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!c.ReadKey(&key)) return {};
    if (key == "trace_id") {
      std::string_view v;
      return c.ReadStrOrBin(&v) ? v : std::string_view();
    }
    if (!c.Skip()) return {};
  }
  return {};
}

struct RescueStage::Metrics {
  explicit Metrics(telemetry::Registry& r) {
    auto& events = r.AddCounterFamily(
        "llmobs_edge_rescue_events",
        "_llmobs events by what the rescue stage did: rescued (committed to the ledger), "
        "deduplicated (the ledger had it), already_submitted (stamped by its SDK), kept (rides "
        "the trace), unrescuable (struct not decodable; left on the span), lost (ledger failed)",
        {"outcome"});
    rescued = &events.WithLabels({"rescued"});
    deduplicated = &events.WithLabels({"deduplicated"});
    already_submitted = &events.WithLabels({"already_submitted"});
    kept = &events.WithLabels({"kept"});
    unrescuable = &events.WithLabels({"unrescuable"});
    lost = &events.WithLabels({"lost"});
    auto& chunks = r.AddCounterFamily(
        "llmobs_edge_rescue_chunks",
        "Chunks carrying _llmobs spans, by predicted fate (drop_predictor ChunkFate)", {"fate"});
    for (int f = 0; f <= static_cast<int>(ChunkFate::kFilteredByTags); ++f) {
      chunk_fate[f] = &chunks.WithLabels({ChunkFateName(static_cast<ChunkFate>(f))});
    }
    refused = &r.AddCounterFamily(
        "llmobs_edge_rescue_after_refusal_events",
        "Events rescued after the Agent did not take their payload, by cause", {"cause"});
  }
  telemetry::Counter *rescued, *deduplicated, *already_submitted, *kept, *unrescuable, *lost;
  telemetry::Counter* chunk_fate[9];
  telemetry::CounterFamily* refused;
  plugin::LogLimiter unrescuable_log;
  plugin::LogLimiter ledger_log;
};

RescueStage::RescueStage(Options options, Deps deps)
    : options_(std::move(options)),
      deps_(std::move(deps)),
      m_(std::make_shared<Metrics>(*deps_.metrics)) {}

absl::Status RescueStage::Process(const decoder::Payload& payload,
                                  const plugin::TraceRequest& request, decoder::EditList* edits,
                                  plugin::ForwardOptions* options) {
  if (payload.llmobs_spans == 0) return absl::OkStatus();
  // Learn of refusals: the forwarder asks the Agent for real statuses on our behalf.
  options->want_real_http_status = true;

  const std::shared_ptr<const AgentFilters> filters =
      deps_.filters ? deps_.filters() : std::shared_ptr<const AgentFilters>();
  DropPolicy policy;
  policy.rescue_without_priority = options_.rescue_without_priority;
  policy.filters = filters.get();

  std::string_view tracer_version = request.Header("Datadog-Meta-Tracer-Version");
  if (tracer_version.empty()) tracer_version = options_.default_tracer_version;

  Scratch& s = ThreadScratch(options_.event);
  s.Clear();
  for (const decoder::ChunkView& chunk : payload.chunks) {
    const decoder::SpanView* begin = payload.chunk_begin(chunk);
    const decoder::SpanView* end = payload.chunk_end(chunk);
    bool any = false;
    for (const decoder::SpanView* sp = begin; sp != end && !any; ++sp) any = sp->has_llmobs;
    if (!any) continue;
    const ChunkVerdict verdict = PredictChunk(payload, chunk, policy);
    m_->chunk_fate[static_cast<int>(verdict.fate)]->Inc();
    for (const decoder::SpanView* sp = begin; sp != end; ++sp) {
      if (!sp->has_llmobs) continue;
      switch (PredictSpan(*sp, verdict)) {
        case SpanFate::kNoLlmobs:
          break;
        case SpanFate::kAlreadySubmitted:
          // The SDK shipped it: never again; a leftover struct is removed.
          m_->already_submitted->Inc();
          edits->RemoveMetaStruct(sp->index, "_llmobs");
          break;
        case SpanFate::kRidesTrace:
        case SpanFate::kRidesSingleSpan: {
          // It rides the trace, unless a tracer retry of a payload we rescued: then the ledger
          // holds the key and the trace copy must go.
          const std::string_view trace_id = LlmobsTraceId(sp->llmobs);
          absl::StatusOr<bool> seen =
              trace_id.empty() ? absl::StatusOr<bool>(false)
                               : deps_.ledger->Seen({std::string(trace_id), sp->span_id});
          if (seen.ok() && *seen) {
            m_->deduplicated->Inc();
            edits->SetMeta(sp->index, "_dd.llmobs.submitted", "1");
            edits->RemoveMetaStruct(sp->index, "_llmobs");
          } else {
            m_->kept->Inc();
          }
          break;
        }
        case SpanFate::kRescue: {
          if (absl::Status st = s.builder.Build(payload, chunk, *sp, &s.event); !st.ok()) {
            m_->unrescuable->Inc();
            uint64_t held;
            if (m_->unrescuable_log.Allow(&held)) {
              spdlog::warn("an _llmobs struct could not be turned into an event and stays on its "
                           "span: {} ({} more since the last warning)",
                           std::string(st.message()), held);
            }
            break;
          }
          const size_t at = s.envelopes.size();
          AppendIntakeEnvelope(AsIntakeEvent(s.event), tracer_version, &s.envelopes);
          s.ranges.emplace_back(at, s.envelopes.size() - at);
          s.keys.push_back({s.event.key.trace_id, s.event.key.span_id});
          s.spans.push_back(sp->index);
          break;
        }
      }
    }
  }
  if (s.keys.empty()) return absl::OkStatus();

  for (size_t i = 0; i < s.keys.size(); ++i) {
    s.pending.push_back(
        {s.keys[i], std::string_view(s.envelopes).substr(s.ranges[i].first, s.ranges[i].second)});
  }
  absl::StatusOr<dedup::CommitResult> r = deps_.ledger->Commit(s.pending);
  if (!r.ok()) {
    // Fail open: the chain forwards the original bytes (the events ride the trace, which the
    // Agent drops); counted as lost.
    m_->lost->Inc(s.keys.size());
    uint64_t held;
    if (m_->ledger_log.Allow(&held)) {
      spdlog::warn("the ledger refused a commit; {} events could not be rescued: {} ({} more "
                   "since the last warning)",
                   s.keys.size(), std::string(r.status().message()), held);
    }
    return r.status();
  }
  m_->rescued->Inc(r->enqueued);
  m_->deduplicated->Inc(r->already_seen);
  // Committed: only now mark the spans so nothing downstream delivers them twice.
  for (uint32_t span : s.spans) {
    edits->SetMeta(span, "_dd.llmobs.submitted", "1");
    edits->RemoveMetaStruct(span, "_llmobs");
  }
  if (r->enqueued > 0 && deps_.on_enqueued) deps_.on_enqueued();
  return absl::OkStatus();
}

absl::Status RescueStage::AfterForward(const decoder::Payload& payload,
                                       const plugin::TraceRequest& request,
                                       const plugin::AgentOutcome& outcome,
                                       bool forwarded_edits) {
  if (outcome.taken() || payload.llmobs_spans == 0) return absl::OkStatus();
  // The Agent did not take the payload: none of its events reaches the intake through the trace.
  std::string_view tracer_version = request.Header("Datadog-Meta-Tracer-Version");
  if (tracer_version.empty()) tracer_version = options_.default_tracer_version;
  Scratch& s = ThreadScratch(options_.event);
  s.Clear();
  for (const decoder::ChunkView& chunk : payload.chunks) {
    for (const decoder::SpanView* sp = payload.chunk_begin(chunk); sp != payload.chunk_end(chunk);
         ++sp) {
      if (!sp->has_llmobs || sp->llmobs_already_submitted()) continue;
      if (!s.builder.Build(payload, chunk, *sp, &s.event).ok()) continue;  // counted in Process
      const size_t at = s.envelopes.size();
      AppendIntakeEnvelope(AsIntakeEvent(s.event), tracer_version, &s.envelopes);
      s.ranges.emplace_back(at, s.envelopes.size() - at);
      s.keys.push_back({s.event.key.trace_id, s.event.key.span_id});
    }
  }
  if (s.keys.empty()) return absl::OkStatus();
  for (size_t i = 0; i < s.keys.size(); ++i) {
    s.pending.push_back(
        {s.keys[i], std::string_view(s.envelopes).substr(s.ranges[i].first, s.ranges[i].second)});
  }
  absl::StatusOr<dedup::CommitResult> r = deps_.ledger->Commit(s.pending);
  if (!r.ok()) {
    m_->lost->Inc(s.keys.size());
    return r.status();
  }
  m_->rescued->Inc(r->enqueued);
  m_->refused->WithLabels({OutcomeCause(outcome)}).Inc(r->enqueued);
  if (r->enqueued > 0 && deps_.on_enqueued) deps_.on_enqueued();
  return absl::OkStatus();
}

}  // namespace llmobs_edge::rescue
