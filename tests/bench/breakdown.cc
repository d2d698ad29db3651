// The sub-step timings of breakdown.h. Each sub-step is timed on its own with the same harness as
// the main table (timing.h), on inputs prepared outside the timed loop, so differences between
// rows are the cost of the step itself.

#include "tests/bench/breakdown.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "decoder/cursor.h"
#include "decoder/json.h"
#include "decoder/msgpack_writer.h"
#include "decoder/payload.h"
#include "decoder/prefilter.h"
#include "decoder/reader.h"
#include "decoder/splice.h"
#include "tests/bench/workload.h"

namespace llmobs_edge::bench {
namespace {

using decoder::EditList;
using decoder::MsgpackCursor;
using decoder::Payload;
using decoder::PayloadReader;
using decoder::Splicer;

std::string Us(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", seconds * 1e6);
  return buf;
}
std::string Ns(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", seconds * 1e9);
  return buf;
}
std::string Mb(double bytes, double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", bytes / 1e6 / seconds);
  return buf;
}

// Every str value (keys included) of one msgpack document, in document order.
void CollectStrings(MsgpackCursor& c, std::vector<std::string_view>* out) {
  uint8_t t = 0;
  if (!c.PeekTag(&t)) return;
  uint32_t n = 0;
  if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
    c.ReadMapHeader(&n);
    for (uint64_t i = 0; i < uint64_t{n} * 2; ++i) CollectStrings(c, out);
  } else if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
    c.ReadArrayHeader(&n);
    for (uint32_t i = 0; i < n; ++i) CollectStrings(c, out);
  } else if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) {
    std::string_view s;
    c.ReadStr(&s);
    out->push_back(s);
  } else {
    c.Skip();
  }
}

}  // namespace

namespace {

// Everything one file's sub-step timings need; the timed operations refer to it, so it lives
// until Interleaved::Run() returns.
struct SpliceSteps {
  std::string_view bytes;
  PayloadReader reader;
  Payload payload, scratch;
  EditList all, set_only, remove_only, none, recorded;
  uint32_t edited_spans = 0;
  Splicer splicer;
  std::string out, dst;
  Timing walk, read, record, s_all, s_set, s_remove, s_none, copy;
};

struct JsonSteps {
  std::vector<std::string_view> docs, strings, plain;
  std::vector<std::string> plain_store;
  double doc_bytes = 0, str_bytes = 0;
  std::string json;
  Timing whole, escape, escape_plain, skip;
};

}  // namespace

void PrintBreakdown(const std::vector<NamedPayload>& files, const TimingBudget& budget) {
  std::vector<std::unique_ptr<SpliceSteps>> splice(files.size());
  std::vector<std::unique_ptr<JsonSteps>> json(files.size());
  Interleaved bench;
  for (size_t i = 0; i < files.size(); ++i) {
    SpliceSteps& st = *(splice[i] = std::make_unique<SpliceSteps>());
    st.bytes = files[i].bytes;
    (void)st.reader.Read(st.bytes, &st.payload);
    RecordEdits(st.payload, &st.all, EditMode::kAll);
    RecordEdits(st.payload, &st.set_only, EditMode::kSetMetaOnly);
    RecordEdits(st.payload, &st.remove_only, EditMode::kRemoveOnly);
    uint32_t last = UINT32_MAX;
    for (const auto& e : st.all.edits()) {
      st.edited_spans += e.span != last ? 1 : 0;
      last = e.span;
    }
    (void)st.splicer.Splice(st.payload, st.all, &st.out);
    st.dst.assign(st.out.size(), '\0');

    // The floor for any full walk with this cursor: one Skip over the whole payload visits
    // every value without recording anything.
    bench.Add(
        [&st] {
          MsgpackCursor c(st.bytes);
          c.Skip();
          return c.offset();
        },
        &st.walk);
    bench.Add(
        [&st] {
          (void)st.reader.Read(st.bytes, &st.scratch);
          return st.scratch.spans.size();
        },
        &st.read);
    bench.Add(
        [&st] {
          RecordEdits(st.payload, &st.recorded);
          return st.recorded.size();
        },
        &st.record);
    auto add_splice = [&](const EditList* edits, Timing* t) {
      bench.Add(
          [&st, edits] {
            (void)st.splicer.Splice(st.payload, *edits, &st.out);
            return st.out.size();
          },
          t);
    };
    add_splice(&st.all, &st.s_all);
    add_splice(&st.set_only, &st.s_set);
    if (!st.remove_only.empty()) add_splice(&st.remove_only, &st.s_remove);
    add_splice(&st.none, &st.s_none);
    bench.Add(
        [&st] {
          std::memcpy(st.dst.data(), st.bytes.data(), st.dst.size());
          DoNotOptimize(st.dst.data());
          return static_cast<unsigned char>(st.dst[st.dst.size() / 2]);
        },
        &st.copy);

    // _llmobs -> JSON: the whole transcoder, its string escaping alone, the same strings with
    // every byte that needs an escape or UTF-8 validation replaced by 'x' (the fast path), and
    // a structure-only walk.
    std::vector<std::string_view> docs;
    for (const auto& span : st.payload.spans) {
      if (span.has_llmobs) docs.push_back(span.llmobs);
    }
    if (docs.empty()) continue;
    JsonSteps& js = *(json[i] = std::make_unique<JsonSteps>());
    js.docs = std::move(docs);
    for (std::string_view d : js.docs) {
      js.doc_bytes += d.size();
      MsgpackCursor c(d);
      CollectStrings(c, &js.strings);
    }
    js.plain_store.reserve(js.strings.size());
    for (std::string_view str : js.strings) {
      js.str_bytes += str.size();
      std::string p(str);
      for (char& ch : p) {
        const auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u >= 0x80 || ch == '"' || ch == '\\') ch = 'x';
      }
      js.plain_store.push_back(std::move(p));
    }
    for (const std::string& p : js.plain_store) js.plain.push_back(p);
    bench.Add(
        [&js] {
          size_t total = 0;
          for (std::string_view d : js.docs) {
            js.json.clear();
            (void)decoder::MsgpackToJson(d, &js.json);
            total += js.json.size();
          }
          return total;
        },
        &js.whole);
    auto add_escape = [&](const std::vector<std::string_view>* strings, Timing* t) {
      bench.Add(
          [&js, strings] {
            js.json.clear();
            for (std::string_view str : *strings) decoder::AppendJsonString(str, &js.json);
            return js.json.size();
          },
          t);
    };
    add_escape(&js.strings, &js.escape);
    add_escape(&js.plain, &js.escape_plain);
    bench.Add(
        [&js] {
          size_t total = 0;
          for (std::string_view d : js.docs) {
            MsgpackCursor c(d);
            c.Skip();
            total += c.offset();
          }
          return total;
        },
        &js.skip);
  }
  bench.Run(budget, "breakdown");

  std::printf("### Scan + splice, step by step (µs per payload)\n\n");
  std::printf("| file | edited spans | walk only (`Skip`) | read | record edits | splice, all "
              "edits | splice, SetMeta only | splice, RemoveMetaStruct only | splice, no edits "
              "(copy) | memcpy of the output | (all edits - no edits) / edited span, ns |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < files.size(); ++i) {
    const SpliceSteps& st = *splice[i];
    const uint32_t e = st.edited_spans;
    std::printf("| %s | %u | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                files[i].name.c_str(), e, Us(st.walk.best).c_str(), Us(st.read.best).c_str(),
                Us(st.record.best).c_str(), Us(st.s_all.best).c_str(), Us(st.s_set.best).c_str(),
                st.remove_only.empty() ? "—" : Us(st.s_remove.best).c_str(),
                Us(st.s_none.best).c_str(), Us(st.copy.best).c_str(),
                e == 0 ? "—" : Ns((st.s_all.best - st.s_none.best) / e).c_str());
  }

  std::printf("\n### `_llmobs` -> JSON, step by step\n\n");
  std::printf("| file | structs | struct bytes | of which str bodies | MsgpackToJson MB/s | "
              "AppendJsonString alone MB/s (of str bytes) | share of time in strings | "
              "AppendJsonString, same strings made plain ASCII, MB/s | structure only (`Skip`) "
              "MB/s |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < files.size(); ++i) {
    if (!json[i]) continue;
    const JsonSteps& js = *json[i];
    std::printf("| %s | %zu | %.0f | %.0f | %s | %s | %.0f%% | %s | %s |\n",
                files[i].name.c_str(), js.docs.size(), js.doc_bytes, js.str_bytes,
                Mb(js.doc_bytes, js.whole.best).c_str(), Mb(js.str_bytes, js.escape.best).c_str(),
                100 * js.escape.best / js.whole.best, Mb(js.str_bytes, js.escape_plain.best).c_str(),
                Mb(js.doc_bytes, js.skip.best).c_str());
  }
}

uint64_t ProfileLoop(const std::string& op, std::string_view bytes, double seconds) {
  PayloadReader reader;
  Payload payload;
  EditList edits;
  Splicer splicer;
  std::string out;
  (void)reader.Read(bytes, &payload);
  std::vector<std::string_view> docs;
  for (const auto& s : payload.spans) {
    if (s.has_llmobs) docs.push_back(s.llmobs);
  }
  uint64_t calls = 0, sink = 0;
  const double end = Now() + seconds;
  while (Now() < end) {
    for (int i = 0; i < 16; ++i, ++calls) {
      if (op == "scan") {
        (void)reader.Read(bytes, &payload);
        sink += payload.spans.size();
      } else if (op == "splice") {
        (void)reader.Read(bytes, &payload);
        RecordEdits(payload, &edits);
        (void)splicer.Splice(payload, edits, &out);
        sink += out.size();
      } else if (op == "splice-only") {
        if (edits.empty()) RecordEdits(payload, &edits);
        (void)splicer.Splice(payload, edits, &out);
        sink += out.size();
      } else if (op == "json") {
        for (std::string_view d : docs) {
          out.clear();
          (void)decoder::MsgpackToJson(d, &out);
          sink += out.size();
        }
      } else {
        sink += decoder::FindBytes(bytes, "_llmoBs");
      }
    }
  }
  DoNotOptimize(sink);
  return calls;
}

}  // namespace llmobs_edge::bench
