// Writing the event: EventBuilder::Emit writes its fields in dd-trace-py's key order (§6.4), and
// AppendMap / AppendValue transcode the struct's nested documents straight from its bytes, each
// map sorted and deduplicated in the scratch of its nesting level, with computed members (span id,
// APM trace id, §5.4's dropped values, agent attribution) merged in. Part of EventBuilder
// (llmobs_event.h); Build in llmobs_event.cc calls Emit once, and again to truncate.

#include <algorithm>
#include <vector>

#include "rescue/llmobs_event_internal.h"

namespace llmobs_edge::rescue {
namespace {

using decoder::JsonStats;
using decoder::MsgpackCursor;
using event_internal::IsStrOrBin;
using event_internal::IsBin;
using event_internal::IsMap;
using event_internal::IsArray;
using event_internal::IsExt;
using event_internal::IsValidUtf8;
using event_internal::AppendRepairedUtf8;
using event_internal::AppendInteger;
using event_internal::StructError;

constexpr std::string_view kRootParentId = "undefined";

// Computed members that the builder merges into the struct's maps.
enum ExtraId : int32_t { kExtraSpanId, kExtraApmTraceId, kExtraDroppedValue, kExtraAttribution };

}  // namespace

bool EventBuilder::AppendValue(MsgpackCursor& c, int open, BuiltEvent* ev) {
  std::string* out = &ev->json;
  uint8_t t = 0;
  if (!c.PeekTag(&t)) {
    c.Fail("unexpected end of data inside a document");
    return Failed(c);
  }
  if (IsMap(t)) return AppendMap(&c, open, nullptr, 0, ev);
  if (!IsArray(t)) {
    return decoder::AppendJsonValue(c, out, json_options_, &ev->json_stats) || Failed(c);
  }
  if (open >= options_.max_depth) {
    c.Fail("document nested deeper than the depth limit");
    return Failed(c);
  }
  uint32_t n = 0;
  if (!c.ReadArrayHeader(&n)) return Failed(c);
  out->push_back('[');
  for (uint32_t i = 0; i < n; ++i) {
    if (i > 0) out->push_back(',');
    if (!AppendValue(c, open + 1, ev)) return false;
  }
  out->push_back(']');
  return true;
}

bool EventBuilder::AppendMap(MsgpackCursor* c, int open, const Extra* extras,
                             size_t extra_count, BuiltEvent* ev) {
  std::string* out = &ev->json;
  JsonStats* stats = &ev->json_stats;
  const std::string_view doc = parsed_->doc;
  if (open >= options_.max_depth) {
    if (c == nullptr) return false;
    c->Fail("document nested deeper than the depth limit");
    return Failed(*c);
  }
  Level& level = levels_[static_cast<size_t>(open)];
  level.entries.clear();
  level.keys.clear();
  uint32_t seq = 0;
  if (c != nullptr) {
    // Pass 1: keys (as the transcoder writes them: strings repaired, other scalars as their JSON
    // text, container and ext keys dropped with their value) and where each value starts.
    uint32_t n = 0;
    if (!c->ReadMapHeader(&n)) return Failed(*c);
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t t = 0;
      c->PeekTag(&t);
      MapEntry e{0, 0, seq++, 0, -1, false};
      if (IsStrOrBin(t)) {
        std::string_view key;
        if (!c->ReadStrOrBin(&key)) return Failed(*c);
        if (IsBin(t)) ++stats->converted_keys;
        if (IsValidUtf8(key)) {
          e.key_offset = static_cast<uint32_t>(key.data() - doc.data());
          e.key_size = static_cast<uint32_t>(key.size());
        } else {
          e.key_offset = static_cast<uint32_t>(level.keys.size());
          AppendRepairedUtf8(key, &level.keys, stats);
          e.key_size = static_cast<uint32_t>(level.keys.size() - e.key_offset);
          e.key_in_arena = true;
        }
      } else if (IsMap(t) || IsArray(t) || IsExt(t)) {
        ++stats->skipped_keys;
        if (!c->Skip() || !c->Skip()) return Failed(*c);
        continue;
      } else {
        e.key_offset = static_cast<uint32_t>(level.keys.size());
        if (!decoder::AppendJsonValue(*c, &level.keys, json_options_, stats)) return Failed(*c);
        ++stats->converted_keys;
        e.key_size = static_cast<uint32_t>(level.keys.size() - e.key_offset);
        e.key_in_arena = true;
      }
      e.value_begin = static_cast<uint32_t>(c->offset());
      if (!c->Skip()) return Failed(*c);
      level.entries.push_back(e);
    }
  }
  for (size_t i = 0; i < extra_count; ++i) {  // last in sequence: they win over the struct
    const auto offset = static_cast<uint32_t>(level.keys.size());
    level.keys.append(extras[i].key);
    level.entries.push_back(MapEntry{offset, static_cast<uint32_t>(extras[i].key.size()), seq++,
                                     0, extras[i].id, true});
  }
  auto key = [&](const MapEntry& e) {
    return (e.key_in_arena ? std::string_view(level.keys) : doc).substr(e.key_offset, e.key_size);
  };
  std::vector<MapEntry>& entries = level.entries;
  std::sort(entries.begin(), entries.end(), [&](const MapEntry& a, const MapEntry& b) {
    const int cmp = key(a).compare(key(b));
    return cmp != 0 ? cmp < 0 : a.seq < b.seq;
  });
  // Pass 2: the members, the last of equal keys only.
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < entries.size(); ++i) {
    const MapEntry& e = entries[i];
    if (i + 1 < entries.size() && key(e) == key(entries[i + 1])) {
      if (e.extra == -1 && entries[i + 1].extra == -1) ++ev->duplicate_keys;
      continue;
    }
    if (!first) out->push_back(',');
    first = false;
    decoder::AppendJsonString(key(e), out);
    out->push_back(':');
    if (e.extra >= 0) {
      AppendExtra(e.extra, out);
      continue;
    }
    MsgpackCursor value(doc, e.value_begin);
    if (!AppendValue(value, open + 1, ev)) return false;
  }
  out->push_back('}');
  return true;
}

void EventBuilder::AppendExtra(int32_t id, std::string* out) {
  switch (id) {
    case kExtraSpanId:
      decoder::AppendJsonString(span_id_text_, out);
      return;
    case kExtraApmTraceId:
      decoder::AppendJsonString(apm_trace_id_, out);
      return;
    case kExtraDroppedValue:
      out->append("{\"value\":");
      decoder::AppendJsonString(kDroppedValueText, out);
      out->push_back('}');
      return;
    case kExtraAttribution: {
      auto text_or_null = [out](const Parsed::Text& text) {
        if (text.present) {
          decoder::AppendJsonString(text.value, out);
        } else {
          out->append("null");
        }
      };
      out->append("{\"pagent_name\":");
      text_or_null(parsed_->pagent_name);
      out->append(",\"pagent_span_id\":");
      text_or_null(parsed_->pagent_span_id);
      out->push_back('}');
      return;
    }
    default:
      out->append("null");
  }
}

// The event, keys in byte order as dd-trace-py's sort_keys=True writes them (§6.4).
absl::Status EventBuilder::Emit(const decoder::SpanView& span, bool truncate, BuiltEvent* out) {
  const Parsed& f = *parsed_;
  std::string* j = &out->json;
  JsonStats* stats = &out->json_stats;
  j->clear();
  // A struct map field (nullptr if absent) with `extras` merged in; errors name the field.
  auto map = [&](const Parsed::Range& range, std::string_view field, const Extra* extras,
                 size_t extra_count) -> absl::Status {
    MsgpackCursor c(f.doc, range.begin);
    if (AppendMap(range.present ? &c : nullptr, 0, extras, extra_count, out)) {
      return absl::OkStatus();
    }
    return StructError(field, failed_);
  };

  j->append("{\"_dd\":");
  static constexpr Extra kDdExtras[] = {{"apm_trace_id", kExtraApmTraceId},
                                        {"span_id", kExtraSpanId},
                                        {"trace_id", kExtraApmTraceId}};
  if (absl::Status st = map(f.dd, "_dd", kDdExtras, 3); !st.ok()) return st;
  if (truncate) {
    j->append(",\"collection_errors\":[");
    decoder::AppendJsonString(kDroppedIoCollectionError, j);
    j->push_back(']');
  }
  if (f.config.present && f.config.count > 0) {
    const size_t mark = j->size();
    j->append(",\"config\":");
    if (absl::Status st = map(f.config, "config", nullptr, 0); !st.ok()) return st;
    if (j->size() == mark + 12) j->resize(mark);  // every pair dropped: "{}" is empty
  }
  j->append(",\"duration\":");
  AppendInteger(span.duration, j);
  j->append(",\"meta\":");
  {
    Extra extras[3];
    size_t n = 0;
    if (truncate) {  // §5.4
      extras[n++] = {"input", kExtraDroppedValue};
      extras[n++] = {"output", kExtraDroppedValue};
    }
    if ((f.pagent_name.present && !f.pagent_name.value.empty()) ||
        (f.pagent_span_id.present && !f.pagent_span_id.value.empty())) {
      extras[n++] = {"agent_attribution", kExtraAttribution};
    }
    if (absl::Status st = map(f.meta, "meta", extras, n); !st.ok()) return st;
  }
  j->append(",\"metrics\":");
  if (absl::Status st = map(f.metrics, "metrics", nullptr, 0); !st.ok()) return st;
  j->append(",\"name\":");
  decoder::AppendJsonString(
      f.name.present && !f.name.value.empty() ? f.name.value : span.name, j, stats);
  j->append(",\"parent_id\":");
  decoder::AppendJsonString(
      f.parent_id.present && !f.parent_id.value.empty() ? f.parent_id.value : kRootParentId, j,
      stats);
  if (f.session_id.present && !f.session_id.value.empty()) {
    j->append(",\"session_id\":");
    decoder::AppendJsonString(f.session_id.value, j, stats);
  }
  j->append(",\"span_id\":");
  decoder::AppendJsonString(span_id_text_, j);
  if (f.span_links.present && f.span_links.count > 0) {
    j->append(",\"span_links\":");
    MsgpackCursor c(f.doc, f.span_links.begin);
    if (!AppendValue(c, 0, out)) return StructError("span_links", failed_);
  }
  j->append(",\"start_ns\":");
  AppendInteger(span.start, j);
  j->append(span.error != 0 ? ",\"status\":\"error\"" : ",\"status\":\"ok\"");
  j->append(",\"tags\":[");
  for (size_t i = 0; i < tags_.size(); ++i) {
    if (i > 0) j->push_back(',');
    decoder::AppendJsonString(std::string_view(arena_).substr(tags_[i].offset, tags_[i].size), j);
  }
  j->append("],\"trace_id\":");
  decoder::AppendJsonString(f.trace_id.value, j, stats);
  j->push_back('}');
  return absl::OkStatus();
}

}  // namespace llmobs_edge::rescue
