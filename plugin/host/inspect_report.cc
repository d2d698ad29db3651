#include "plugin/host/inspect_report.h"

#include <string>

#include "decoder/json.h"
#include "decoder/prefilter.h"
#include "decoder/reader.h"
#include "nlohmann/json.hpp"

namespace llmobs_edge::plugin {
namespace {

using Json = nlohmann::ordered_json;
using decoder::SpanView;

// 64-bit ids as decimal strings: JSON readers in most languages lose precision above 2^53.
std::string Id(uint64_t v) { return std::to_string(v); }

Json SpanSummary(const SpanView& s) {
  Json j;
  j["span_index"] = s.index;
  j["span_id"] = Id(s.span_id);
  j["parent_id"] = Id(s.parent_id);
  j["service"] = std::string(s.service);
  j["name"] = std::string(s.name);
  j["resource"] = std::string(s.resource);
  return j;
}

}  // namespace

absl::StatusOr<std::string> BuildInspectReport(std::string_view payload,
                                               const InspectOptions& options) {
  decoder::Payload p;
  const absl::Status status = decoder::PayloadReader().Read(payload, &p);
  if (!status.ok()) return status;

  Json report;
  report["payload"] = {{"bytes", payload.size()},
                       {"chunks", p.chunks.size()},
                       {"spans", p.spans.size()},
                       {"llmobs_spans", p.llmobs_spans},
                       {"prefilter_match", decoder::MayContainLlmobs(payload)}};
  Json chunks = Json::array();
  Json llmobs = Json::array();
  Json totals = {{"rescue", 0},
                 {"already_submitted", 0},
                 {"rides_trace", 0},
                 {"rides_single_span_sampling", 0}};

  for (size_t ci = 0; ci < p.chunks.size(); ++ci) {
    const decoder::ChunkView& chunk = p.chunks[ci];
    const rescue::ChunkVerdict v = rescue::PredictChunk(p, chunk, options.policy);
    Json c;
    c["chunk"] = ci;
    c["spans"] = chunk.span_count;
    if (chunk.nil_spans > 0) c["nil_spans"] = chunk.nil_spans;
    if (v.root >= 0) {
      c["trace_id"] = Id(p.spans[v.root].trace_id);
      c["root"] = SpanSummary(p.spans[v.root]);
    }
    c["priority"] = v.has_priority ? Json(static_cast<int>(v.priority)) : Json(nullptr);
    c["predicted_drop"] = v.predicted_drop;
    c["reason"] = std::string(rescue::ChunkFateName(v.fate));
    uint32_t chunk_llmobs = 0;
    for (const SpanView* s = p.chunk_begin(chunk); s != p.chunk_end(chunk); ++s) {
      const rescue::SpanFate fate = rescue::PredictSpan(*s, v);
      if (fate == rescue::SpanFate::kNoLlmobs) continue;
      ++chunk_llmobs;
      const std::string fate_name(rescue::SpanFateName(fate));
      totals[fate_name] = totals[fate_name].get<int>() + 1;
      Json e = {{"chunk", ci}};
      e.update(SpanSummary(*s));
      e["verdict"] = fate_name;
      e["llmobs_bytes"] = s->llmobs.size();
      if (options.include_structs) {
        std::string text;
        const absl::Status st = decoder::MsgpackToJson(s->llmobs, &text);
        if (st.ok()) {
          e["llmobs"] = Json::parse(text);
        } else {
          e["llmobs_error"] = std::string(st.message());
        }
      }
      llmobs.push_back(std::move(e));
    }
    c["llmobs_spans"] = chunk_llmobs;
    chunks.push_back(std::move(c));
  }
  report["chunks"] = std::move(chunks);
  report["llmobs_spans"] = std::move(llmobs);
  report["summary"] = std::move(totals);
  return report.dump(options.pretty ? 2 : -1) + "\n";
}

}  // namespace llmobs_edge::plugin
