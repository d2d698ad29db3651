// The conversion of llmobs.md §2: one pass over the top-level map of the `_llmobs` struct records
// where each field the event needs lives; tags are rendered and sorted in the builder's buffers;
// then the event is written in dd-trace-py's key order, transcoding nested values straight from
// the struct bytes (maps sorted and deduplicated per nesting level, scalars by decoder/json.h).

#include "rescue/llmobs_event.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <initializer_list>

#include "decoder/cursor.h"

namespace llmobs_edge::rescue {
namespace {

using decoder::JsonStats;
using decoder::MsgpackCursor;

constexpr std::string_view kRootParentId = "undefined";
constexpr std::string_view kStructName = "meta_struct[\"_llmobs\"]";
constexpr char kHex[] = "0123456789abcdef";

bool IsStrOrBin(uint8_t t) {
  return (t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb) || (t >= 0xc4 && t <= 0xc6);
}
bool IsBin(uint8_t t) { return t >= 0xc4 && t <= 0xc6; }
bool IsMap(uint8_t t) { return (t & 0xf0) == 0x80 || t == 0xde || t == 0xdf; }
bool IsArray(uint8_t t) { return (t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd; }
bool IsExt(uint8_t t) { return (t >= 0xc7 && t <= 0xc9) || (t >= 0xd4 && t <= 0xd8); }
bool IsUnsigned(uint8_t t) { return t <= 0x7f || (t >= 0xcc && t <= 0xcf); }
bool IsSigned(uint8_t t) { return t >= 0xe0 || (t >= 0xd0 && t <= 0xd3); }

using decoder::Utf8SequenceLength;

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t i = 0, n = s.size(); i < n;) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Appends `s` with every invalid UTF-8 byte replaced by U+FFFD, as AppendJsonString does, so
// strings sorted here sort as the intake will see them.
void AppendRepairedUtf8(std::string_view s, std::string* out, JsonStats* stats) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0, run = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(p + i, n - i);
    if (len > 0) {
      i += len;
      continue;
    }
    out->append(s.data() + run, i - run);
    out->append("\xEF\xBF\xBD");
    if (stats != nullptr) ++stats->repaired_utf8_bytes;
    run = ++i;
  }
  out->append(s.data() + run, n - run);
}

template <typename T>
void AppendInteger(T v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr - buf);
}

void AppendHex16(uint64_t v, std::string* out) {
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kHex[v & 15];
  out->append(buf, 16);
}

// `_dd.p.tid`: exactly 16 hex digits (either case), as tracers write it; anything else is ignored.
bool ParseTid(std::string_view tid, uint64_t* high) {
  if (tid.size() != 16) return false;
  uint64_t v = 0;
  for (const char ch : tid) {
    int d;
    if (ch >= '0' && ch <= '9') {
      d = ch - '0';
    } else if (ch >= 'a' && ch <= 'f') {
      d = ch - 'a' + 10;
    } else if (ch >= 'A' && ch <= 'F') {
      d = ch - 'A' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *high = v;
  return true;
}

std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (const std::string_view p : parts) s.append(p);
  return s;
}

absl::Status StructError(std::string_view field, const MsgpackCursor& c) {
  const absl::Status status = c.status();
  const std::string_view reason(status.message().data(), status.message().size());
  return absl::InvalidArgumentError(Cat({kStructName, " ", field, ": ", reason}));
}

// A scalar tag value as the text after "key:". Returns false for nil (the tag is left out) or,
// with the cursor failed, for a type a tag cannot hold.
bool ReadTagValue(MsgpackCursor& c, std::string* scratch, std::string_view* text) {
  uint8_t t = 0;
  if (!c.PeekTag(&t)) return c.Fail("unexpected end of data, expected a tag value");
  scratch->clear();
  if (IsStrOrBin(t)) return c.ReadStrOrBin(text);
  if (t == 0xc0) {
    c.TryReadNil();
    return false;
  }
  if (t == 0xc2 || t == 0xc3) {
    c.Skip();
    *text = t == 0xc3 ? "true" : "false";
    return true;
  }
  if (IsUnsigned(t) || IsSigned(t)) {
    uint64_t bits;
    if (!c.ReadIdTolerant(&bits)) return false;
    if (IsUnsigned(t)) {
      AppendInteger(bits, scratch);
    } else {
      AppendInteger(static_cast<int64_t>(bits), scratch);
    }
  } else if (t == 0xca || t == 0xcb) {
    double d;
    if (t == 0xcb) {
      if (!c.ReadFloat64Tolerant(&d)) return false;
    } else {
      if (c.remaining() < 5) return c.Fail("truncated float32");
      uint32_t bits;
      std::memcpy(&bits, c.data() + 1, 4);
      bits = __builtin_bswap32(bits);
      float fl;
      std::memcpy(&fl, &bits, 4);
      d = fl;
      c.Skip();
    }
    // Integral numbers as integers ("1", not "1.0"): dd-trace-js sends every number as float64.
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) {
      AppendInteger(static_cast<int64_t>(d), scratch);
    } else {
      decoder::AppendJsonDouble(d, scratch);
    }
  } else {
    return c.Fail("a tag value must be a string, a number or a boolean");
  }
  *text = *scratch;
  return true;
}

}  // namespace

// Where the fields of the struct that the conversion reads are (last occurrence wins; nil counts
// as absent). Offsets are into `doc`.
struct EventBuilder::Parsed {
  struct Text {
    std::string_view value;
    bool present = false;
  };
  struct Range {
    uint32_t begin = 0;
    uint32_t count = 0;
    bool present = false;
  };
  std::string_view doc;
  Text trace_id, parent_id, name, session_id, pagent_name, pagent_span_id;
  Range tags, metrics, meta, dd, span_links, config;
  bool tags_is_list = false;
};

namespace {

// Computed members that the builder merges into the struct's maps.
enum ExtraId : int32_t { kExtraSpanId, kExtraApmTraceId, kExtraDroppedValue, kExtraAttribution };

}  // namespace

absl::Status EventBuilder::Parse(std::string_view doc, Parsed* f, uint32_t* duplicates) {
  using P = Parsed;
  enum class Kind : uint8_t { kText, kMap, kArray, kMapOrArray };
  struct FieldSpec {
    std::string_view key;
    Kind kind;
    P::Text P::*text;
    P::Range P::*range;
  };
  static constexpr FieldSpec kFields[] = {
      {"trace_id", Kind::kText, &P::trace_id, nullptr},
      {"parent_id", Kind::kText, &P::parent_id, nullptr},
      {"name", Kind::kText, &P::name, nullptr},
      {"session_id", Kind::kText, &P::session_id, nullptr},
      {"pagent_name", Kind::kText, &P::pagent_name, nullptr},
      {"pagent_span_id", Kind::kText, &P::pagent_span_id, nullptr},
      {"tags", Kind::kMapOrArray, nullptr, &P::tags},
      {"metrics", Kind::kMap, nullptr, &P::metrics},
      {"meta", Kind::kMap, nullptr, &P::meta},
      {"_dd", Kind::kMap, nullptr, &P::dd},
      {"span_links", Kind::kArray, nullptr, &P::span_links},
      {"config", Kind::kMap, nullptr, &P::config},
  };
  constexpr size_t kFieldCount = sizeof(kFields) / sizeof(kFields[0]);
  *f = Parsed{};
  f->doc = doc;
  bool seen[kFieldCount] = {};
  MsgpackCursor c(doc);
  uint8_t t = 0;
  uint32_t n = 0;
  if (!c.PeekTag(&t)) {
    return absl::InvalidArgumentError(Cat({kStructName, ": empty document"}));
  }
  if (!IsMap(t)) {
    c.Fail("the struct must be a msgpack map");
    return StructError("document", c);
  }
  if (!c.ReadMapHeader(&n)) return StructError("document", c);
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!c.PeekTag(&t) || !IsStrOrBin(t)) {
      c.Fail("a struct key must be a string");
      return StructError("key", c);
    }
    if (!c.ReadStrOrBin(&key)) return StructError("key", c);
    size_t index = 0;
    while (index < kFieldCount && kFields[index].key != key) ++index;
    if (index == kFieldCount) {
      if (!c.Skip()) return StructError(Cat({"field \"", key, "\""}), c);
      continue;
    }
    const FieldSpec& spec = kFields[index];
    if (seen[index]) ++*duplicates;
    seen[index] = true;
    const std::string_view field = spec.key;
    if (!c.PeekTag(&t)) {
      c.Fail("unexpected end of data, expected a value");
      return StructError(field, c);
    }
    if (t == 0xc0) {  // nil: as if absent
      c.TryReadNil();
      if (spec.text != nullptr) f->*(spec.text) = {};
      if (spec.range != nullptr) f->*(spec.range) = {};
      continue;
    }
    if (spec.kind == Kind::kText) {
      if (!IsStrOrBin(t)) {
        c.Fail("expected a string");
        return StructError(field, c);
      }
      Parsed::Text& text = f->*(spec.text);
      if (!c.ReadStrOrBin(&text.value)) return StructError(field, c);
      text.present = true;
      continue;
    }
    const bool map_ok = spec.kind == Kind::kMap || spec.kind == Kind::kMapOrArray;
    const bool array_ok = spec.kind == Kind::kArray || spec.kind == Kind::kMapOrArray;
    if (!((map_ok && IsMap(t)) || (array_ok && IsArray(t)))) {
      c.Fail(spec.kind == Kind::kMap     ? "expected a map"
             : spec.kind == Kind::kArray ? "expected an array"
                                         : "expected a map or an array");
      return StructError(field, c);
    }
    Parsed::Range& range = f->*(spec.range);
    range.begin = static_cast<uint32_t>(c.offset());
    MsgpackCursor header = c;
    if (!(IsMap(t) ? header.ReadMapHeader(&range.count) : header.ReadArrayHeader(&range.count)) ||
        !c.Skip()) {
      return StructError(field, c.ok() ? header : c);
    }
    range.present = true;
    if (spec.range == &P::tags) f->tags_is_list = IsArray(t);
  }
  if (!c.at_end()) {
    c.Fail("trailing bytes after the struct");
    return StructError("document", c);
  }
  if (!f->trace_id.present || f->trace_id.value.empty()) {
    return absl::InvalidArgumentError(
        Cat({kStructName, ": no trace_id, so no event (llmobs.md §2)"}));
  }
  return absl::OkStatus();
}

EventBuilder::EventBuilder(Options options) : options_(options) {
  options_.max_depth = std::max(1, options_.max_depth);
  json_options_.max_depth = options_.max_depth;
  levels_.resize(static_cast<size_t>(options_.max_depth));
}

// Tags (§2.1) into arena_ / tags_, merged with the span's error tags and sorted; the envelope
// facts (tracer version, experiments scope).
absl::Status EventBuilder::Collect(const decoder::SpanView& span, BuiltEvent* out) {
  const Parsed& f = *parsed_;
  arena_.clear();
  tags_.clear();
  JsonStats* stats = &out->json_stats;
  const bool set_error_type = span.has_error_type && !span.error_type.empty();
  auto overridden = [&](std::string_view key) {
    return key == "error" || (set_error_type && key == "error_type");
  };
  auto is_version = [](std::string_view key) {
    return key == "ddtrace.version" || key == "ddtrace_version";  // the latter: APM_AGENTLESS
  };
  auto view = [this](uint32_t offset, uint32_t size) {
    return std::string_view(arena_).substr(offset, size);
  };
  uint32_t seq = 0;

  if (f.tags.present) {
    MsgpackCursor c(f.doc, f.tags.begin);
    uint32_t n = 0;
    if (f.tags_is_list) {  // ["k:v", ...] (the test agent accepts it); non-strings left out
      c.ReadArrayHeader(&n);
      for (uint32_t i = 0; i < n; ++i) {
        uint8_t t = 0;
        c.PeekTag(&t);
        if (!IsStrOrBin(t)) {
          if (!c.Skip()) return StructError("tags", c);
          continue;
        }
        std::string_view s;
        if (!c.ReadStrOrBin(&s)) return StructError("tags", c);
        const auto offset = static_cast<uint32_t>(arena_.size());
        AppendRepairedUtf8(s, &arena_, stats);
        const auto size = static_cast<uint32_t>(arena_.size() - offset);
        const std::string_view tag = view(offset, size);
        const size_t colon = tag.find(':');
        const auto key_size = static_cast<uint32_t>(colon == std::string_view::npos ? size : colon);
        const std::string_view key = tag.substr(0, key_size);
        if (overridden(key)) {
          arena_.resize(offset);
          continue;
        }
        if (is_version(key) && colon != std::string_view::npos) {
          out->tracer_version.assign(tag.substr(colon + 1));
        }
        tags_.push_back(TagEntry{offset, size, key_size, seq++});
      }
    } else {  // {"k": "v", ...}
      c.ReadMapHeader(&n);
      for (uint32_t i = 0; i < n; ++i) {
        uint8_t t = 0;
        c.PeekTag(&t);
        std::string_view key, value;
        if (!IsStrOrBin(t)) {
          c.Fail("a tag key must be a string");
          return StructError("tags", c);
        }
        if (!c.ReadStrOrBin(&key)) return StructError("tags", c);
        if (!ReadTagValue(c, &scratch_, &value)) {
          if (!c.ok()) return StructError("tags", c);
          continue;  // nil value
        }
        if (overridden(key)) continue;
        const auto offset = static_cast<uint32_t>(arena_.size());
        AppendRepairedUtf8(key, &arena_, stats);
        const auto key_size = static_cast<uint32_t>(arena_.size() - offset);
        arena_.push_back(':');
        AppendRepairedUtf8(value, &arena_, stats);
        const auto size = static_cast<uint32_t>(arena_.size() - offset);
        if (is_version(key)) {
          out->tracer_version.assign(view(offset + key_size + 1, size - key_size - 1));
        }
        tags_.push_back(TagEntry{offset, size, key_size, seq++});
      }
      // A duplicated key: the last one wins, as in the Python dict the SDK built.
      std::sort(tags_.begin(), tags_.end(), [&](const TagEntry& a, const TagEntry& b) {
        const int cmp = view(a.offset, a.key_size).compare(view(b.offset, b.key_size));
        return cmp != 0 ? cmp < 0 : a.seq < b.seq;
      });
      size_t w = 0;
      for (size_t i = 0; i < tags_.size(); ++i) {
        if (i + 1 < tags_.size() && view(tags_[i].offset, tags_[i].key_size) ==
                                        view(tags_[i + 1].offset, tags_[i + 1].key_size)) {
          ++out->duplicate_keys;
          continue;
        }
        tags_[w++] = tags_[i];
      }
      tags_.resize(w);
    }
  }
  {
    const auto offset = static_cast<uint32_t>(arena_.size());
    arena_.append(span.error != 0 ? "error:1" : "error:0");
    tags_.push_back(TagEntry{offset, 7, 5, seq++});
  }
  if (set_error_type) {
    const auto offset = static_cast<uint32_t>(arena_.size());
    arena_.append("error_type:");
    AppendRepairedUtf8(span.error_type, &arena_, stats);
    tags_.push_back(TagEntry{offset, static_cast<uint32_t>(arena_.size() - offset), 10, seq++});
  }
  std::sort(tags_.begin(), tags_.end(), [&](const TagEntry& a, const TagEntry& b) {
    return view(a.offset, a.size) < view(b.offset, b.size);
  });

  // The envelope's "_dd.scope" follows the struct's last _dd.scope.
  if (f.dd.present) {
    MsgpackCursor c(f.doc, f.dd.begin);
    uint32_t n = 0;
    c.ReadMapHeader(&n);
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t t = 0;
      std::string_view key, value;
      const bool string_key = c.PeekTag(&t) && IsStrOrBin(t) && c.ReadStrOrBin(&key);
      if (!string_key && !c.Skip()) return StructError("_dd", c);
      if (string_key && key == "scope") {
        out->experiments_scope =
            c.PeekTag(&t) && IsStrOrBin(t) && c.ReadStrOrBin(&value) && value == "experiments";
        if (IsStrOrBin(t)) continue;
      }
      if (!c.Skip()) return StructError("_dd", c);
    }
  }
  return absl::OkStatus();
}

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

absl::Status EventBuilder::Build(const decoder::Payload& payload, const decoder::ChunkView& chunk,
                                 const decoder::SpanView& span, BuiltEvent* out) {
  auto reset = [out] {
    out->key.trace_id.clear();
    out->key.span_id = 0;
    out->json.clear();
    out->truncated = false;
    out->untruncated_bytes = 0;
    out->tracer_version.clear();
    out->experiments_scope = false;
    out->json_stats = {};
    out->duplicate_keys = 0;
  };
  reset();
  auto fail = [&](absl::Status st) {
    parsed_ = nullptr;
    reset();
    return st;
  };
  if (!span.has_llmobs) {
    return fail(absl::InvalidArgumentError(Cat({"the span carries no ", kStructName})));
  }
  Parsed f;
  if (absl::Status st = Parse(span.llmobs, &f, &out->duplicate_keys); !st.ok()) return fail(st);
  parsed_ = &f;
  span_id_text_.clear();
  AppendInteger(span.span_id, &span_id_text_);
  apm_trace_id_.clear();
  AppendApmTraceId(payload, chunk, span, &apm_trace_id_);
  if (absl::Status st = Collect(span, out); !st.ok()) return fail(st);
  const JsonStats collected_stats = out->json_stats;
  const uint32_t collected_duplicates = out->duplicate_keys;
  if (absl::Status st = Emit(span, /*truncate=*/false, out); !st.ok()) return fail(st);
  out->untruncated_bytes = out->json.size();
  if (out->json.size() >= options_.max_event_bytes) {
    out->json_stats = collected_stats;
    out->duplicate_keys = collected_duplicates;
    if (absl::Status st = Emit(span, /*truncate=*/true, out); !st.ok()) return fail(st);
    out->truncated = true;
  }
  AppendRepairedUtf8(f.trace_id.value, &out->key.trace_id, nullptr);
  out->key.span_id = span.span_id;
  parsed_ = nullptr;
  return absl::OkStatus();
}

void AppendApmTraceId(const decoder::Payload& payload, const decoder::ChunkView& chunk,
                      const decoder::SpanView& span, std::string* out) {
  uint64_t high = 0;
  auto usable = [&high](const decoder::SpanView& s) {
    return s.has_tid && ParseTid(s.tid, &high) && high != 0;
  };
  bool found = chunk.span_count > 0 && usable(*payload.chunk_begin(chunk));
  if (!found) found = usable(span);
  for (const decoder::SpanView* s = payload.chunk_begin(chunk);
       !found && s != payload.chunk_end(chunk); ++s) {
    found = usable(*s);
  }
  if (found) {
    AppendHex16(high, out);
    AppendHex16(span.trace_id, out);
  } else {
    AppendInteger(span.trace_id, out);
  }
}

void AppendIntakeEnvelope(const IntakeEvent& event, std::string_view default_tracer_version,
                          std::string* out) {
  out->append(event.experiments_scope ? "{\"_dd.scope\":\"experiments\",\"_dd.stage\":\"raw\""
                                      : "{\"_dd.stage\":\"raw\"");
  out->append(",\"_dd.tracer_version\":");
  decoder::AppendJsonString(
      event.tracer_version.empty() ? default_tracer_version : event.tracer_version, out);
  out->append(",\"event_type\":\"span\",\"spans\":[");
  out->append(event.json);
  out->append("]}");
}

std::string BuildIntakeBody(const std::vector<IntakeEvent>& events,
                            std::string_view default_tracer_version) {
  size_t size = 2;
  for (const IntakeEvent& e : events) size += e.json.size() + e.tracer_version.size() + 128;
  std::string body;
  body.reserve(size);
  body.push_back('[');
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) body.push_back(',');
    AppendIntakeEnvelope(events[i], default_tracer_version, &body);
  }
  body.push_back(']');
  return body;
}

}  // namespace llmobs_edge::rescue
