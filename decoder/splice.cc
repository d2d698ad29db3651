#include "decoder/splice.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "decoder/cursor.h"
#include "decoder/msgpack_writer.h"

namespace llmobs_edge::decoder {
namespace {

bool Contains(const std::vector<std::string_view>& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

}  // namespace

absl::Status Splicer::Splice(const Payload& payload, const EditList& edits, std::string* out) {
  const std::string_view bytes = payload.bytes;
  out->clear();
  if (edits.empty()) {
    out->assign(bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  sorted_.assign(edits.edits().begin(), edits.edits().end());
  // Stable: for one span, the order of SetMeta calls decides which value wins.
  std::stable_sort(sorted_.begin(), sorted_.end(),
                   [](const SpanEdit& a, const SpanEdit& b) { return a.span < b.span; });
  if (sorted_.back().span >= payload.spans.size()) {
    return absl::InvalidArgumentError(absl::StrCat("edit for span ", sorted_.back().span,
                                                   " but the payload has ",
                                                   payload.spans.size(), " spans"));
  }
  size_t extra = 0;
  for (const SpanEdit& e : sorted_) extra += e.key.size() + e.value.size() + 16;
  out->reserve(bytes.size() + extra + 16);

  size_t pos = 0;
  for (size_t i = 0; i < sorted_.size();) {
    size_t j = i;
    while (j < sorted_.size() && sorted_[j].span == sorted_[i].span) ++j;
    const SpanView& span = payload.spans[sorted_[i].span];
    out->append(bytes.data() + pos, span.begin - pos);
    EncodeSpan(payload, span, sorted_.data() + i, sorted_.data() + j, out);
    pos = span.end;
    i = j;
  }
  out->append(bytes.data() + pos, bytes.size() - pos);
  return absl::OkStatus();
}

void Splicer::EncodeSpan(const Payload& payload, const SpanView& span, const SpanEdit* begin,
                         const SpanEdit* end, std::string* out) {
  const std::string_view bytes = payload.bytes;
  set_.clear();
  removed_.clear();
  for (const SpanEdit* e = begin; e != end; ++e) {
    if (e->op == SpanEdit::Op::kSetMeta) {
      auto it = std::find_if(set_.begin(), set_.end(),
                             [&](const auto& kv) { return kv.first == e->key; });
      if (it != set_.end()) {
        it->second = e->value;
      } else {
        set_.emplace_back(e->key, e->value);
      }
    } else if (!Contains(removed_, e->key)) {
      removed_.push_back(e->key);
    }
  }

  if (!force_general_ && span.meta_keys <= 1 && span.meta_struct_keys <= 1) {
    EncodeSpanFast(bytes, span, out);
  } else {
    EncodeSpanGeneral(bytes, span, out);
  }
}

namespace {

void AppendRanges(std::string_view bytes, const std::vector<std::pair<uint32_t, uint32_t>>& r,
                  std::string* out) {
  for (const auto& [from, to] : r) out->append(bytes.data() + from, to - from);
}

void AddRange(std::vector<std::pair<uint32_t, uint32_t>>* ranges, size_t from, size_t to) {
  if (!ranges->empty() && ranges->back().second == from) {
    ranges->back().second = static_cast<uint32_t>(to);
  } else {
    ranges->emplace_back(static_cast<uint32_t>(from), static_cast<uint32_t>(to));
  }
}

}  // namespace

uint32_t Splicer::KeptPairs(std::string_view bytes, const ValueRange& map, bool is_meta,
                           std::vector<std::pair<uint32_t, uint32_t>>* kept) {
  kept->clear();
  if (!map.present) return 0;
  // The reader validated the map: meta holds str/bin/nil strings, meta_struct str keys and bin
  // values, all of which ReadStrOrBin reads.
  MsgpackCursor c(bytes.substr(0, map.end), map.begin);
  uint32_t n = 0, count = 0;
  c.ReadMapHeader(&n);
  for (uint32_t j = 0; j < n; ++j) {
    const size_t pair_begin = c.offset();
    std::string_view k, v;
    c.ReadStrOrBin(&k);
    c.ReadStrOrBin(&v);
    bool drop = false;
    if (is_meta) {
      for (const auto& kv : set_) drop |= kv.first == k;
    } else {
      drop = Contains(removed_, k);
    }
    if (drop) continue;
    AddRange(kept, pair_begin, c.offset());
    ++count;
  }
  return count;
}

void Splicer::AppendMeta(std::string_view bytes, const ValueRange& map, uint32_t kept,
                         bool with_new_pairs, std::string* out) const {
  const int width = map.present ? MsgpackCursor::ContainerHeaderSize(
                                      static_cast<uint8_t>(bytes[map.begin]))
                                : 1;
  AppendMapHeader(out, kept + (with_new_pairs ? static_cast<uint32_t>(set_.size()) : 0), width);
  AppendRanges(bytes, kept_, out);
  if (!with_new_pairs) return;
  for (const auto& kv : set_) {
    AppendStr(out, kv.first);
    AppendStr(out, kv.second);
  }
}


void Splicer::AppendMetaStruct(std::string_view bytes, const ValueRange& map, uint32_t kept,
                               std::string* out) const {
  AppendMapHeader(out, kept,
                  MsgpackCursor::ContainerHeaderSize(static_cast<uint8_t>(bytes[map.begin])));
  AppendRanges(bytes, kept_struct_, out);
}

void Splicer::AppendNewMeta(std::string* out) const {
  AppendStr(out, "meta");
  AppendMapHeader(out, static_cast<uint32_t>(set_.size()));
  for (const auto& kv : set_) {
    AppendStr(out, kv.first);
    AppendStr(out, kv.second);
  }
}

void Splicer::EncodeSpanFast(std::string_view bytes, const SpanView& span, std::string* out) {
  const bool rewrite_meta = !set_.empty() && span.meta_keys == 1;
  const bool add_meta = !set_.empty() && span.meta_keys == 0;
  const bool rewrite_struct = !removed_.empty() && span.meta_struct_keys == 1;

  const uint32_t meta_kept = rewrite_meta ? KeptPairs(bytes, span.meta, true, &kept_) : 0;
  const uint32_t struct_kept =
      rewrite_struct ? KeptPairs(bytes, span.meta_struct, false, &kept_struct_) : 0;
  const bool drop_struct = rewrite_struct && struct_kept == 0;

  const uint32_t pairs = span.entry_count + (add_meta ? 1 : 0) - (drop_struct ? 1 : 0);
  AppendMapHeader(out, pairs, span.header_size);

  // Up to two regions of the span body are rewritten; everything else is copied verbatim.
  struct Region {
    uint32_t key;    // where the key starts
    uint32_t value;  // where the value starts
    bool is_meta;
  };
  Region regions[2];
  int count = 0;
  if (rewrite_meta) regions[count++] = {span.meta_key, span.meta.begin, true};
  if (rewrite_struct) regions[count++] = {span.meta_struct_key, span.meta_struct.begin, false};
  if (count == 2 && regions[1].key < regions[0].key) std::swap(regions[0], regions[1]);

  size_t pos = span.begin + span.header_size;
  for (int i = 0; i < count; ++i) {
    const Region& r = regions[i];
    out->append(bytes.data() + pos, r.key - pos);
    if (r.is_meta) {
      out->append(bytes.data() + r.key, r.value - r.key);
      AppendMeta(bytes, span.meta, meta_kept, /*with_new_pairs=*/true, out);
      pos = span.meta.end;
    } else {
      if (!drop_struct) {
        out->append(bytes.data() + r.key, r.value - r.key);
        AppendMetaStruct(bytes, span.meta_struct, struct_kept, out);
      }
      pos = span.meta_struct.end;
    }
  }
  out->append(bytes.data() + pos, span.end - pos);
  if (add_meta) AppendNewMeta(out);
}

void Splicer::EncodeSpanGeneral(std::string_view bytes, const SpanView& span, std::string* out) {
  // The span was validated by the reader, so these reads cannot fail.
  MsgpackCursor c(bytes.substr(0, span.end), span.begin);
  uint32_t n = 0;
  c.ReadMapHeader(&n);
  body_.clear();
  uint32_t pairs = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const size_t key_begin = c.offset();
    std::string_view k;
    c.ReadKey(&k);
    const size_t value_begin = c.offset();
    c.Skip();
    ValueRange value;
    value.begin = static_cast<uint32_t>(value_begin);
    value.end = static_cast<uint32_t>(c.offset());
    value.present = static_cast<uint8_t>(bytes[value_begin]) != 0xc0;
    const std::string_view key_bytes = bytes.substr(key_begin, value_begin - key_begin);

    if (!set_.empty() && k == "meta") {
      // Every meta map loses the keys being set; the effective (last) one gets the new pairs.
      const uint32_t kept = KeptPairs(bytes, value, true, &kept_);
      body_.append(key_bytes.data(), key_bytes.size());
      AppendMeta(bytes, value, kept, value.begin == span.meta.begin, &body_);
    } else if (!removed_.empty() && k == "meta_struct") {
      const uint32_t kept = KeptPairs(bytes, value, false, &kept_struct_);
      // An emptied meta_struct is dropped, unless another meta_struct key would then take effect.
      if (kept == 0 && span.meta_struct_keys == 1) continue;
      body_.append(key_bytes.data(), key_bytes.size());
      AppendMetaStruct(bytes, value, kept, &body_);
    } else {
      body_.append(bytes.data() + key_begin, value.end - key_begin);
    }
    ++pairs;
  }
  if (!set_.empty() && !span.has(kFieldMeta)) {
    AppendNewMeta(&body_);
    ++pairs;
  }
  AppendMapHeader(out, pairs, span.header_size);
  out->append(body_);
}

}  // namespace llmobs_edge::decoder
