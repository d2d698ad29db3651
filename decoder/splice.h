#pragma once
// The splicing writer: applies per-span edits (set a meta key, remove a meta_struct key) to a
// decoded payload and emits a valid payload in which every byte range outside the edited spans is
// copied unchanged. Only an edited span's map header and its meta / meta_struct maps are
// re-encoded; every other key/value pair inside it is copied verbatim too. The rescue stage
// records edits; the ingest path splices them before forwarding to the Agent.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "decoder/payload.h"

namespace llmobs_edge::decoder {

struct SpanEdit {
  enum class Op : uint8_t { kSetMeta, kRemoveMetaStruct };
  uint32_t span;  // index into Payload::spans
  Op op;
  std::string_view key;
  std::string_view value;  // kSetMeta only
};

// Edits recorded against one Payload. Keys and values are views: the caller keeps the bytes
// alive until Splice returns (stages normally use string literals).
class EditList {
 public:
  void SetMeta(uint32_t span, std::string_view key, std::string_view value) {
    edits_.push_back({span, SpanEdit::Op::kSetMeta, key, value});
  }
  void RemoveMetaStruct(uint32_t span, std::string_view key) {
    edits_.push_back({span, SpanEdit::Op::kRemoveMetaStruct, key, {}});
  }
  bool empty() const { return edits_.empty(); }
  size_t size() const { return edits_.size(); }
  void Clear() { edits_.clear(); }
  const std::vector<SpanEdit>& edits() const { return edits_; }

 private:
  std::vector<SpanEdit> edits_;
};

// Reusable: keeps its scratch buffers between calls.
class Splicer {
 public:
  // Writes `payload` with `edits` applied to `out` (replacing its contents). Semantics, per span:
  // SetMeta replaces every existing entry of the key and appends the new one to the effective
  // (last) meta map, creating `meta` if the span has none; a later SetMeta of the same key wins.
  // RemoveMetaStruct removes every entry of the key; a meta_struct left empty is dropped from the
  // span. Map headers keep their original width unless the new count needs a wider one.
  absl::Status Splice(const Payload& payload, const EditList& edits, std::string* out);

  // Tests: always take the general (pair-by-pair) path, to check both paths agree byte for byte.
  void ForceGeneralPathForTesting(bool force) { force_general_ = force; }

 private:
  void EncodeSpan(const Payload& payload, const SpanView& span, const SpanEdit* begin,
                  const SpanEdit* end, std::string* out);
  // The common case (each of meta / meta_struct present at most once): copies everything around
  // the two maps verbatim from the reader's offsets and writes straight into `out`.
  void EncodeSpanFast(std::string_view bytes, const SpanView& span, std::string* out);
  // The general case (duplicated keys): walks the span pair by pair.
  void EncodeSpanGeneral(std::string_view bytes, const SpanView& span, std::string* out);
  // Collects in `kept` the byte ranges of the pairs of a meta map (is_meta) or meta_struct map
  // that survive the edits, adjacent ranges merged; returns the number of pairs kept.
  uint32_t KeptPairs(std::string_view bytes, const ValueRange& map, bool is_meta,
                     std::vector<std::pair<uint32_t, uint32_t>>* kept);
  // Write a re-encoded map value: header (original width, or wider if needed) and kept pairs
  // (kept_ / kept_struct_), plus the SetMeta pairs when `with_new_pairs`.
  void AppendMeta(std::string_view bytes, const ValueRange& map, uint32_t kept,
                  bool with_new_pairs, std::string* out) const;
  void AppendMetaStruct(std::string_view bytes, const ValueRange& map, uint32_t kept,
                        std::string* out) const;
  // A new "meta" key and map holding only the SetMeta pairs, for a span without meta.
  void AppendNewMeta(std::string* out) const;

  std::vector<SpanEdit> sorted_;
  std::vector<std::pair<std::string_view, std::string_view>> set_;  // last-wins SetMeta pairs
  std::vector<std::string_view> removed_;                           // meta_struct keys to drop
  std::vector<std::pair<uint32_t, uint32_t>> kept_;                 // byte ranges of kept pairs
  std::vector<std::pair<uint32_t, uint32_t>> kept_struct_;          // ... of meta_struct
  std::string body_;
  bool force_general_ = false;
};

}  // namespace llmobs_edge::decoder
