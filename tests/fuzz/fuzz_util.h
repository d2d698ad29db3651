#pragma once
// Shared by the fuzz targets of tests/fuzz: a CHECK that aborts (so libFuzzer and the Bazel replay
// tests both see a crash), a byte toucher that makes ASan check every byte of a view, and the
// structural invariants every successfully decoded Payload must satisfy (used on the reader's
// input and on the splicer's output). Header-only; builds with clang (libFuzzer) and gcc (replay).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "decoder/cursor.h"
#include "decoder/map_iterators.h"
#include "decoder/payload.h"

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

// Same, with printf-style context (span index, offsets, ...).
#define FUZZ_CHECKF(cond, ...)                                                            \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                  \
      std::fputc('\n', stderr);                                                           \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace llmobs_edge::fuzz {

using decoder::ChunkView;
using decoder::MsgpackCursor;
using decoder::Payload;
using decoder::SpanField;
using decoder::SpanView;
using decoder::ValueRange;

// Reads every byte of `s` (ASan reports a view that reaches outside its buffer).
inline uint32_t Touch(std::string_view s) {
  uint32_t sum = 0;
  for (char ch : s) sum += static_cast<uint8_t>(ch);
  volatile uint32_t sink = sum;
  return sink;
}

// `s` is empty or lies inside bytes[begin, end).
inline bool ViewInside(std::string_view bytes, std::string_view s, uint32_t begin, uint32_t end) {
  if (s.empty()) return true;
  const auto p = reinterpret_cast<uintptr_t>(s.data());
  const auto lo = reinterpret_cast<uintptr_t>(bytes.data()) + begin;
  const auto hi = reinterpret_cast<uintptr_t>(bytes.data()) + end;
  return p >= lo && p <= hi && s.size() <= hi - p;
}

inline bool SameView(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || a.data() == b.data());
}

inline bool SameDouble(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The bytes of one msgpack value starting at `begin`, which must skip cleanly to `end`.
inline bool SkipsTo(std::string_view bytes, uint32_t begin, uint32_t end) {
  MsgpackCursor c(bytes.substr(0, end), begin);
  return c.Skip() && c.offset() == end;
}

// Every map of a span that the splicer may touch, by key, in order: (key, value begin, value end).
struct SpanPair {
  std::string_view key;
  uint32_t value_begin;
  uint32_t value_end;
};
inline std::vector<SpanPair> SpanPairs(std::string_view bytes, const SpanView& span) {
  std::vector<SpanPair> out;
  MsgpackCursor c(bytes.substr(0, span.end), span.begin);
  uint32_t n = 0;
  FUZZ_CHECK(c.ReadMapHeader(&n));
  FUZZ_CHECK(n == span.entry_count);
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view k;
    FUZZ_CHECK(c.ReadKey(&k));
    const uint32_t vb = static_cast<uint32_t>(c.offset());
    FUZZ_CHECK(c.Skip());
    out.push_back({k, vb, static_cast<uint32_t>(c.offset())});
  }
  FUZZ_CHECKF(c.offset() == span.end, "span %u: pairs end at %zu, span.end %u", span.index,
              c.offset(), span.end);
  return out;
}

// All (key, value) pairs of a str->str map value at `begin` (nil -> none).
inline std::vector<std::pair<std::string_view, std::string_view>> StringPairsAt(
    std::string_view bytes, uint32_t begin, uint32_t end) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  MsgpackCursor c(bytes.substr(0, end), begin);
  if (c.TryReadNil()) return out;
  uint32_t n = 0;
  FUZZ_CHECK(c.ReadMapHeader(&n));
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view k, v;
    FUZZ_CHECK(c.ReadStrOrBin(&k) && c.ReadStrOrBin(&v));
    out.emplace_back(k, v);
  }
  return out;
}

// The effective meta / meta_struct pairs, through the public iterators.
inline std::vector<std::pair<std::string_view, std::string_view>> MetaPairs(
    std::string_view bytes, const SpanView& span) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  decoder::StringMapIterator it(bytes, span.meta);
  std::string_view k, v;
  while (it.Next(&k, &v)) out.emplace_back(k, v);
  return out;
}
inline std::vector<std::pair<std::string_view, std::string_view>> MetaStructPairs(
    std::string_view bytes, const SpanView& span) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  decoder::MetaStructIterator it(bytes, span.meta_struct);
  std::string_view k, v;
  while (it.Next(&k, &v)) out.emplace_back(k, v);
  return out;
}

// A map or array field of a span: absent (all zero), nil, or a container whose header announces
// `count` and whose bytes end at `end`, inside the span.
inline void CheckRange(std::string_view bytes, const SpanView& span, const ValueRange& r,
                       bool seen, bool nil_ok, bool is_map, const char* what) {
  if (!seen) {
    FUZZ_CHECKF(!r.present && r.begin == 0 && r.end == 0 && r.count == 0,
                "span %u: absent %s has a range", span.index, what);
    return;
  }
  FUZZ_CHECKF(r.begin < r.end, "span %u: %s [%u,%u)", span.index, what, r.begin, r.end);
  FUZZ_CHECKF(r.begin >= span.begin + span.header_size && r.end <= span.end,
              "span %u [%u,%u): %s [%u,%u) outside", span.index, span.begin, span.end, what,
              r.begin, r.end);
  if (!r.present) {
    FUZZ_CHECKF(nil_ok, "span %u: %s nil but nil is rejected", span.index, what);
    FUZZ_CHECKF(static_cast<uint8_t>(bytes[r.begin]) == 0xc0 && r.end == r.begin + 1 &&
                    r.count == 0,
                "span %u: nil %s", span.index, what);
    return;
  }
  MsgpackCursor c(bytes.substr(0, r.end), r.begin);
  uint32_t n = 0;
  FUZZ_CHECKF(is_map ? c.ReadMapHeader(&n) : c.ReadArrayHeader(&n), "span %u: %s header",
              span.index, what);
  FUZZ_CHECKF(n == r.count, "span %u: %s count %u, header says %u", span.index, what, r.count, n);
  FUZZ_CHECKF(SkipsTo(bytes, r.begin, r.end), "span %u: %s does not end at %u", span.index, what,
              r.end);
}

// Every invariant of a Payload that PayloadReader::Read returned OK for.
inline void CheckPayload(std::string_view bytes, const Payload& p) {
  FUZZ_CHECK(p.bytes.data() == bytes.data() && p.bytes.size() == bytes.size());
  FUZZ_CHECK(!bytes.empty());
  FUZZ_CHECK(p.end <= bytes.size());
  FUZZ_CHECK(p.header_size != 0 &&
             p.header_size == MsgpackCursor::ContainerHeaderSize(static_cast<uint8_t>(bytes[0])));
  FUZZ_CHECK(SkipsTo(bytes, 0, p.end));
  {
    MsgpackCursor c(bytes);
    uint32_t n = 0;
    FUZZ_CHECK(c.ReadArrayHeader(&n));
    FUZZ_CHECK(n == p.chunks.size());
    FUZZ_CHECK(c.offset() == p.header_size);
  }

  uint32_t next_span = 0;
  uint32_t prev_end = p.header_size;
  for (size_t ci = 0; ci < p.chunks.size(); ++ci) {
    const ChunkView& c = p.chunks[ci];
    FUZZ_CHECKF(c.begin >= prev_end && c.begin < c.end && c.end <= p.end,
                "chunk %zu [%u,%u) prev_end %u payload end %u", ci, c.begin, c.end, prev_end, p.end);
    prev_end = c.end;
    FUZZ_CHECK(c.header_size != 0 && c.header_size == MsgpackCursor::ContainerHeaderSize(
                                                          static_cast<uint8_t>(bytes[c.begin])));
    MsgpackCursor hc(bytes.substr(0, c.end), c.begin);
    uint32_t n = 0;
    FUZZ_CHECK(hc.ReadArrayHeader(&n));
    FUZZ_CHECKF(n == c.entry_count && c.entry_count == c.span_count + c.nil_spans,
                "chunk %zu: header %u entries %u spans %u nils %u", ci, n, c.entry_count,
                c.span_count, c.nil_spans);
    FUZZ_CHECK(SkipsTo(bytes, c.begin, c.end));
    FUZZ_CHECK(c.first_span == next_span);
    next_span += c.span_count;
    FUZZ_CHECK(next_span <= p.spans.size());
  }
  FUZZ_CHECK(next_span == p.spans.size());
  FUZZ_CHECK(p.chunks.empty() || prev_end == p.end);
  if (p.chunks.empty()) FUZZ_CHECK(p.end == p.header_size);

  uint32_t llmobs_spans = 0;
  uint32_t prev_span_end = 0;
  for (size_t i = 0; i < p.spans.size(); ++i) {
    const SpanView& s = p.spans[i];
    FUZZ_CHECK(s.index == i);
    FUZZ_CHECKF(s.begin < s.end && s.end <= p.end && s.begin >= prev_span_end,
                "span %zu [%u,%u) prev end %u payload end %u", i, s.begin, s.end, prev_span_end,
                p.end);
    prev_span_end = s.end;
    FUZZ_CHECK(s.chunk < p.chunks.size());
    const ChunkView& c = p.chunks[s.chunk];
    FUZZ_CHECKF(i >= c.first_span && i < c.first_span + c.span_count, "span %zu in chunk %u", i,
                s.chunk);
    FUZZ_CHECKF(s.begin >= c.begin + c.header_size && s.end <= c.end,
                "span %zu [%u,%u) outside chunk %u [%u,%u)", i, s.begin, s.end, s.chunk, c.begin,
                c.end);
    FUZZ_CHECK(s.header_size != 0 && s.header_size == MsgpackCursor::ContainerHeaderSize(
                                                          static_cast<uint8_t>(bytes[s.begin])));
    FUZZ_CHECK(SkipsTo(bytes, s.begin, s.end));
    FUZZ_CHECK(s.unknown_keys <= s.entry_count);
    SpanPairs(bytes, s);  // checks the header count and that the pairs end at s.end

    // Every view lies inside the span.
    for (std::string_view v : {s.service, s.name, s.resource, s.type, s.tid, s.dm, s.error_type,
                               s.llmobs_submitted, s.llmobs}) {
      Touch(v);
      FUZZ_CHECKF(ViewInside(bytes, v, s.begin, s.end), "span %zu: a string view is outside",
                  i);
    }

    CheckRange(bytes, s, s.meta, s.has(decoder::kFieldMeta), true, true, "meta");
    CheckRange(bytes, s, s.metrics, s.has(decoder::kFieldMetrics), true, true, "metrics");
    CheckRange(bytes, s, s.meta_struct, s.has(decoder::kFieldMetaStruct), false, true,
               "meta_struct");
    CheckRange(bytes, s, s.span_links, s.has(decoder::kFieldSpanLinks), true, false,
               "span_links");
    CheckRange(bytes, s, s.span_events, s.has(decoder::kFieldSpanEvents), true, false,
               "span_events");

    // meta: every pair through the iterator, the reader's facts agree (last wins).
    {
      decoder::StringMapIterator it(bytes, s.meta);
      std::string_view k, v;
      uint32_t pairs = 0;
      bool tid = false, dm = false, et = false, sub = false;
      std::string_view tid_v, dm_v, et_v, sub_v;
      while (it.Next(&k, &v)) {
        ++pairs;
        Touch(k);
        Touch(v);
        FUZZ_CHECK(ViewInside(bytes, k, s.meta.begin, s.meta.end));
        FUZZ_CHECK(ViewInside(bytes, v, s.meta.begin, s.meta.end));
        if (k == "_dd.p.tid") tid = true, tid_v = v;
        if (k == "_dd.p.dm") dm = true, dm_v = v;
        if (k == "error.type") et = true, et_v = v;
        if (k == "_dd.llmobs.submitted") sub = true, sub_v = v;
      }
      FUZZ_CHECKF(pairs == s.meta.count, "span %zu: meta iterator gave %u of %u pairs", i, pairs,
                  s.meta.count);
      FUZZ_CHECK(tid == s.has_tid && (!tid || SameView(tid_v, s.tid)));
      FUZZ_CHECK(dm == s.has_dm && (!dm || SameView(dm_v, s.dm)));
      FUZZ_CHECK(et == s.has_error_type && (!et || SameView(et_v, s.error_type)));
      FUZZ_CHECK(sub == s.has_llmobs_submitted && (!sub || SameView(sub_v, s.llmobs_submitted)));
      std::string_view found;
      FUZZ_CHECK(decoder::FindMeta(bytes, s, "_dd.llmobs.submitted", &found) == sub);
      if (sub) FUZZ_CHECK(SameView(found, s.llmobs_submitted));
      FUZZ_CHECK(s.llmobs_already_submitted() == (sub && sub_v == "1"));
    }
    // metrics
    {
      decoder::MetricsIterator it(bytes, s.metrics);
      std::string_view k;
      double v = 0;
      uint32_t pairs = 0;
      bool prio = false, ssm = false;
      double prio_v = 0, ssm_v = 0;
      while (it.Next(&k, &v)) {
        ++pairs;
        Touch(k);
        FUZZ_CHECK(ViewInside(bytes, k, s.metrics.begin, s.metrics.end));
        if (k == "_sampling_priority_v1") prio = true, prio_v = v;
        if (k == "_dd.span_sampling.mechanism") ssm = true, ssm_v = v;
      }
      FUZZ_CHECKF(pairs == s.metrics.count, "span %zu: metrics iterator gave %u of %u pairs", i,
                  pairs, s.metrics.count);
      FUZZ_CHECK(prio == s.has_priority && (!prio || SameDouble(prio_v, s.priority)));
      FUZZ_CHECK(ssm == s.has_span_sampling && (!ssm || SameDouble(ssm_v, s.span_sampling_mechanism)));
    }
    // meta_struct
    {
      decoder::MetaStructIterator it(bytes, s.meta_struct);
      std::string_view k, v;
      uint32_t pairs = 0;
      bool llmobs = false;
      std::string_view llmobs_v;
      while (it.Next(&k, &v)) {
        ++pairs;
        Touch(k);
        Touch(v);
        FUZZ_CHECK(ViewInside(bytes, k, s.meta_struct.begin, s.meta_struct.end));
        FUZZ_CHECK(ViewInside(bytes, v, s.meta_struct.begin, s.meta_struct.end));
        if (k == "_llmobs") llmobs = true, llmobs_v = v;
      }
      FUZZ_CHECKF(pairs == s.meta_struct.count, "span %zu: meta_struct iterator gave %u of %u",
                  i, pairs, s.meta_struct.count);
      FUZZ_CHECK(llmobs == s.has_llmobs && (!llmobs || SameView(llmobs_v, s.llmobs)));
    }
    if (s.has_llmobs) ++llmobs_spans;
  }
  FUZZ_CHECK(llmobs_spans == p.llmobs_spans);
}

}  // namespace llmobs_edge::fuzz
