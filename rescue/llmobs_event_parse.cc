// Reading the `_llmobs` struct: EventBuilder::Parse finds the top-level fields the event needs
// (checking each one's type), and Collect renders the tags (a map or a "k:v" list) merged with the
// span's error tags, sorted and deduplicated, and reads the envelope's facts. Part of EventBuilder
// (llmobs_event.h); Build in llmobs_event.cc calls them before writing the event.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rescue/llmobs_event_internal.h"

namespace llmobs_edge::rescue {
namespace {

using decoder::JsonStats;
using decoder::MsgpackCursor;
using event_internal::kStructName;
using event_internal::IsStrOrBin;
using event_internal::IsMap;
using event_internal::IsArray;
using event_internal::IsUnsigned;
using event_internal::IsSigned;
using event_internal::AppendRepairedUtf8;
using event_internal::AppendInteger;
using event_internal::Cat;
using event_internal::StructError;

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

}  // namespace llmobs_edge::rescue
