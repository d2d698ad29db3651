#pragma once
// Deterministic benchmark corpus: v0.4 trace payloads generated in-process from a fixed seed with
// decoder/msgpack_writer.h, in the wire forms dd-trace-js uses (array32 payload and chunks, fixmap
// spans with fixstr keys, uint64 ids, map32 meta / metrics / meta_struct, fixstr or str32 strings,
// bin32 meta_struct values). The same seed always yields the same bytes, so runs are comparable.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace llmobs_edge::bench {

// One corpus file: the payload bytes plus what the generator put in them (the benchmark checks
// these against what PayloadReader finds).
struct CorpusFile {
  std::string name;   // column title: "web", "llm", "big", "real-web", ...
  std::string about;  // one-line description for the report
  std::string bytes;  // the v0.4 payload
  uint32_t spans = 0;
  uint32_t chunks = 0;
  uint32_t llmobs_spans = 0;     // spans carrying meta_struct["_llmobs"]
  uint64_t llmobs_bytes = 0;     // total size of those _llmobs documents
};

// (a) web-style spans only (10-20 meta tags, 3-6 metrics), chunks of 1-10 spans.
CorpusFile MakeWebCorpus(size_t target_bytes, uint64_t seed);
// (b) LLM-heavy chunks: a web root plus LLM Observability spans, most carrying a 1-8 KB _llmobs
// struct shaped like LLMObsSpanData.
CorpusFile MakeLlmCorpus(size_t target_bytes, uint64_t seed);
// (c) web chunks with `llm_chunk_percent` percent of LLM chunks mixed in.
CorpusFile MakeMixedCorpus(size_t target_bytes, uint64_t seed, int llm_chunk_percent);

}  // namespace llmobs_edge::bench
