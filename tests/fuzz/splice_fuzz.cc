// Fuzz target: decode, derive span edits from the input bytes, Splice, and check the output.
//
// The edit script is read from the payload's trailing bytes (the reader keeps bytes after the
// top-level array verbatim, so libFuzzer can learn and mutate the script without breaking the
// payload); when they run out, a PRNG seeded with a hash of the whole input takes over. Edits are
// SetMeta("_dd.llmobs.submitted", "1") and RemoveMetaStruct("_llmobs") above all (what the rescue
// stage records), other keys and values (long ones, empty ones, "meta", bytes from the input) and
// repeated edits of one span.
//
// Checked on every splice (abort on violation):
//  - zero edits: the output equals the input exactly;
//  - the output decodes OK, with the same chunks (entries, spans, nil spans) and span count, and
//    satisfies every Payload invariant (fuzz_util.h);
//  - every byte outside the edited spans (headers, nil entries, unedited spans, trailing bytes) is
//    copied unchanged, and every unedited span's bytes are byte-identical;
//  - each edited span: FindMeta gives the last value set for each key, and no other meta map of the
//    span holds that key; its other meta pairs are kept in order; no meta_struct map of the span
//    holds a removed key and the other meta_struct pairs are kept; every other field is unchanged;
//  - an edit of a span index out of range fails cleanly;
//  - splicing the output again with the same edits gives the same bytes (edits are idempotent).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "decoder/map_iterators.h"
#include "decoder/payload.h"
#include "decoder/reader.h"
#include "decoder/splice.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using llmobs_edge::decoder::EditList;
using llmobs_edge::decoder::FindMeta;
using llmobs_edge::decoder::Payload;
using llmobs_edge::decoder::PayloadReader;
using llmobs_edge::decoder::SpanView;
using llmobs_edge::decoder::Splicer;
using llmobs_edge::fuzz::MetaPairs;
using llmobs_edge::fuzz::MetaStructPairs;
using llmobs_edge::fuzz::SameDouble;
using llmobs_edge::fuzz::SpanPairs;
using llmobs_edge::fuzz::StringPairsAt;
namespace dec = llmobs_edge::decoder;

class Script {
 public:
  Script(std::string_view script, std::string_view whole) : script_(script) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char ch : whole) h = (h ^ static_cast<uint8_t>(ch)) * 1099511628211ull;
    state_ = h;
  }
  uint8_t Byte() {
    if (pos_ < script_.size()) return static_cast<uint8_t>(script_[pos_++]);
    state_ += 0x9e3779b97f4a7c15ull;  // splitmix64
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<uint8_t>(z ^ (z >> 31));
  }
  // Up to `max` bytes, taken from the script when it has them.
  std::string Bytes(size_t max) {
    const size_t n = Byte() % (max + 1);
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(Byte()));
    return s;
  }

 private:
  std::string_view script_;
  size_t pos_ = 0;
  uint64_t state_;
};

// What the edits of one span should produce.
struct Expected {
  std::vector<std::pair<std::string, std::string>> set;  // last value per key, first-set order
  std::vector<std::string> removed;
  bool Sets(std::string_view k) const {
    return std::any_of(set.begin(), set.end(), [&](const auto& kv) { return kv.first == k; });
  }
  bool Removes(std::string_view k) const {
    return std::find(removed.begin(), removed.end(), k) != removed.end();
  }
};

const std::string kLong31(31, 'x');   // longest fixstr
const std::string kLong32(32, 'y');   // str8
const std::string kLong300(300, 'z');  // str16
const char* const kSetKeys[] = {"_dd.llmobs.submitted", "_dd.p.tid", "_dd.p.dm", "error.type",
                                "language", "meta", "", "k", "meta_struct", "_llmobs"};
const char* const kSetValues[] = {"1", "0", "", "value", "\xff\xfe not utf-8"};
const char* const kRemoveKeys[] = {"_llmobs", "ai_guard", "other", "", "_llmobs2", "_llmob",
                                   "meta"};

void CheckEditedSpan(std::string_view in, const SpanView& o, std::string_view out,
                     const SpanView& n, const Expected& e) {
  const uint32_t i = o.index;
  // Scalars and untouched maps.
  FUZZ_CHECK(n.index == o.index && n.chunk == o.chunk);
  FUZZ_CHECK(n.service == o.service && n.name == o.name && n.resource == o.resource &&
             n.type == o.type);
  FUZZ_CHECK(n.trace_id == o.trace_id && n.span_id == o.span_id && n.parent_id == o.parent_id &&
             n.start == o.start && n.duration == o.duration && n.error == o.error);
  FUZZ_CHECK(n.unknown_keys == o.unknown_keys);
  FUZZ_CHECK(n.has_priority == o.has_priority && SameDouble(n.priority, o.priority));
  FUZZ_CHECK(n.has_span_sampling == o.has_span_sampling &&
             SameDouble(n.span_sampling_mechanism, o.span_sampling_mechanism));
  constexpr uint32_t kEditable = dec::kFieldMeta | dec::kFieldMetaStruct;
  FUZZ_CHECKF((n.fields & ~kEditable) == (o.fields & ~kEditable), "span %u fields %x -> %x", i,
              o.fields, n.fields);
  auto same_range = [&](const dec::ValueRange& a, const dec::ValueRange& b) {
    return a.present == b.present && a.count == b.count &&
           in.substr(a.begin, a.end - a.begin) == out.substr(b.begin, b.end - b.begin);
  };
  FUZZ_CHECK(same_range(o.metrics, n.metrics));
  FUZZ_CHECK(same_range(o.span_links, n.span_links));
  FUZZ_CHECK(same_range(o.span_events, n.span_events));

  const auto pairs = SpanPairs(out, n);
  // meta
  if (e.set.empty()) {
    FUZZ_CHECK(n.has(dec::kFieldMeta) == o.has(dec::kFieldMeta));
    FUZZ_CHECK(same_range(o.meta, n.meta));
  } else {
    FUZZ_CHECK(n.has(dec::kFieldMeta) && n.meta.present);
    for (const auto& [k, v] : e.set) {
      std::string_view found;
      FUZZ_CHECKF(FindMeta(out, n, k, &found) && found == v, "span %u: meta[%s] not set", i,
                  k.c_str());
    }
    // The kept pairs of the effective map, in order, then one entry per key set.
    std::vector<std::pair<std::string_view, std::string_view>> kept;
    for (const auto& kv : MetaPairs(in, o)) {
      if (!e.Sets(kv.first)) kept.push_back(kv);
    }
    const auto now = MetaPairs(out, n);
    FUZZ_CHECKF(now.size() == kept.size() + e.set.size(), "span %u: meta has %zu pairs, want %zu",
                i, now.size(), kept.size() + e.set.size());
    FUZZ_CHECK(std::equal(kept.begin(), kept.end(), now.begin()));
    for (size_t j = kept.size(); j < now.size(); ++j) FUZZ_CHECK(e.Sets(now[j].first));
    // A set key appears in no other meta map of the span.
    for (const auto& pr : pairs) {
      if (pr.key != "meta" || pr.value_begin == n.meta.begin) continue;
      for (const auto& kv : StringPairsAt(out, pr.value_begin, pr.value_end)) {
        FUZZ_CHECKF(!e.Sets(kv.first), "span %u: a non-effective meta map still has a set key", i);
      }
    }
  }
  // meta_struct
  if (e.removed.empty()) {
    FUZZ_CHECK(n.has(dec::kFieldMetaStruct) == o.has(dec::kFieldMetaStruct));
    FUZZ_CHECK(same_range(o.meta_struct, n.meta_struct));
    FUZZ_CHECK(n.has_llmobs == o.has_llmobs && n.llmobs == o.llmobs);
  } else {
    std::vector<std::pair<std::string_view, std::string_view>> kept;
    for (const auto& kv : MetaStructPairs(in, o)) {
      if (!e.Removes(kv.first)) kept.push_back(kv);
    }
    const auto now = MetaStructPairs(out, n);
    FUZZ_CHECKF(now == kept, "span %u: meta_struct has %zu pairs, want %zu", i, now.size(),
                kept.size());
    if (!kept.empty()) FUZZ_CHECK(n.has(dec::kFieldMetaStruct));
    if (!o.has(dec::kFieldMetaStruct)) FUZZ_CHECK(!n.has(dec::kFieldMetaStruct));
    if (e.Removes("_llmobs")) {
      FUZZ_CHECK(!n.has_llmobs);
    } else {
      FUZZ_CHECK(n.has_llmobs == o.has_llmobs && n.llmobs == o.llmobs);
    }
    // No meta_struct map of the span holds a removed key.
    for (const auto& pr : pairs) {
      if (pr.key != "meta_struct") continue;
      dec::ValueRange r;
      r.begin = pr.value_begin;
      r.end = pr.value_end;
      r.present = true;
      dec::MetaStructIterator it(out, r);
      std::string_view k, v;
      while (it.Next(&k, &v)) {
        FUZZ_CHECKF(!e.Removes(k), "span %u: a meta_struct map still holds a removed key", i);
      }
    }
  }
  // Entry count: +1 for a created meta; a dropped meta_struct may remove one.
  const uint32_t added = (!e.set.empty() && !o.has(dec::kFieldMeta)) ? 1 : 0;
  if (e.removed.empty()) {
    FUZZ_CHECK(n.entry_count == o.entry_count + added);
  } else {
    FUZZ_CHECK(n.entry_count <= o.entry_count + added && n.entry_count + 1 >= o.entry_count + added);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const PayloadReader reader;
  Payload p;
  if (!reader.Read(in, &p).ok()) return 0;
  llmobs_edge::fuzz::CheckPayload(in, p);

  Script script(in.substr(p.end), in);
  std::deque<std::string> storage;  // keeps dynamic keys and values alive (stable addresses)
  EditList edits;
  std::map<uint32_t, Expected> expected;
  const uint32_t spans = static_cast<uint32_t>(p.spans.size());
  const uint32_t count = spans == 0 ? 0 : script.Byte() % 10;
  for (uint32_t k = 0; k < count; ++k) {
    const uint32_t span = (script.Byte() | (uint32_t{script.Byte()} << 8)) % spans;
    std::string_view key, value;
    bool set = true;
    switch (script.Byte() % 9) {
      case 0: case 1: case 2:
        key = "_dd.llmobs.submitted";
        value = "1";
        break;
      case 3: case 4:
        set = false;
        key = "_llmobs";
        break;
      case 5: {
        const uint8_t b = script.Byte();
        key = kSetKeys[b % std::size(kSetKeys)];
        const uint8_t c = script.Byte() % 8;
        if (c < 5) {
          value = kSetValues[c];
        } else {
          value = c == 5 ? std::string_view(kLong31)
                         : c == 6 ? std::string_view(kLong32) : std::string_view(kLong300);
        }
        if (b & 0x80) key = b & 0x40 ? std::string_view(kLong32) : std::string_view(kLong300);
        break;
      }
      case 6:
        set = false;
        key = kRemoveKeys[script.Byte() % std::size(kRemoveKeys)];
        break;
      case 7:
        key = storage.emplace_back(script.Bytes(24));
        value = storage.emplace_back(script.Bytes(40));
        break;
      default:
        set = false;
        key = storage.emplace_back(script.Bytes(12));
        break;
    }
    Expected& e = expected[span];
    if (set) {
      edits.SetMeta(span, key, value);
      auto it = std::find_if(e.set.begin(), e.set.end(),
                             [&](const auto& kv) { return kv.first == key; });
      if (it != e.set.end()) {
        it->second = std::string(value);
      } else {
        e.set.emplace_back(std::string(key), std::string(value));
      }
    } else {
      edits.RemoveMetaStruct(span, key);
      if (!e.Removes(key)) e.removed.emplace_back(key);
    }
  }

  static Splicer* splicer = new Splicer();  // reused, as the ingest path does
  std::string out;
  FUZZ_CHECK(splicer->Splice(p, edits, &out).ok());
  if (edits.empty()) {
    FUZZ_CHECK(out == in);
  }

  // An edit of a span that does not exist fails cleanly.
  if (script.Byte() % 4 == 0) {
    EditList bad = edits;
    bad.SetMeta(spans + script.Byte(), "_dd.llmobs.submitted", "1");
    std::string ignored;
    FUZZ_CHECK(!splicer->Splice(p, bad, &ignored).ok());
  }

  Payload q;
  const absl::Status st = reader.Read(out, &q);
  FUZZ_CHECKF(st.ok(), "spliced output does not decode: %s", std::string(st.message()).c_str());
  llmobs_edge::fuzz::CheckPayload(out, q);
  FUZZ_CHECK(q.chunks.size() == p.chunks.size() && q.spans.size() == p.spans.size());
  FUZZ_CHECK(q.header_size == p.header_size);
  for (size_t c = 0; c < p.chunks.size(); ++c) {
    FUZZ_CHECK(q.chunks[c].entry_count == p.chunks[c].entry_count &&
               q.chunks[c].span_count == p.chunks[c].span_count &&
               q.chunks[c].nil_spans == p.chunks[c].nil_spans &&
               q.chunks[c].header_size == p.chunks[c].header_size);
  }
  // Bytes outside the spans (top/chunk headers, nil entries, trailing bytes) are unchanged.
  {
    uint32_t a = 0, b = 0;
    for (size_t i = 0; i < spans; ++i) {
      FUZZ_CHECKF(in.substr(a, p.spans[i].begin - a) == out.substr(b, q.spans[i].begin - b),
                  "bytes before span %zu changed", i);
      a = p.spans[i].end;
      b = q.spans[i].end;
    }
    FUZZ_CHECK(in.substr(a) == out.substr(b));
    FUZZ_CHECK(in.size() - p.end == out.size() - q.end);
  }
  for (uint32_t i = 0; i < spans; ++i) {
    const SpanView& o = p.spans[i];
    const SpanView& n = q.spans[i];
    auto it = expected.find(i);
    if (it == expected.end()) {
      FUZZ_CHECKF(in.substr(o.begin, o.end - o.begin) == out.substr(n.begin, n.end - n.begin),
                  "unedited span %u changed", i);
      continue;
    }
    CheckEditedSpan(in, o, out, n, it->second);
  }
  FUZZ_CHECK(q.llmobs_spans <= p.llmobs_spans);

  // Splicing the output again with the same edits changes nothing.
  std::string again;
  FUZZ_CHECK(splicer->Splice(q, edits, &again).ok());
  FUZZ_CHECK(again == out);
  return 0;
}
