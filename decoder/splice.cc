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

  // The span was validated by the reader, so these reads cannot fail.
  MsgpackCursor c(bytes.substr(0, span.end), span.begin);
  uint32_t n = 0;
  c.ReadMapHeader(&n);

  uint32_t meta_struct_keys = 0;
  if (!removed_.empty()) {
    MsgpackCursor scan = c;
    for (uint32_t i = 0; i < n; ++i) {
      std::string_view k;
      scan.ReadKey(&k);
      if (k == "meta_struct") ++meta_struct_keys;
      scan.Skip();
    }
  }

  body_.clear();
  uint32_t pairs = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const size_t key_begin = c.offset();
    std::string_view k;
    c.ReadKey(&k);
    const size_t value_begin = c.offset();
    const std::string_view key_bytes = bytes.substr(key_begin, value_begin - key_begin);

    if (!set_.empty() && k == "meta") {
      const bool effective = value_begin == span.meta.begin;
      kept_.clear();
      uint8_t tag = 0;
      c.PeekTag(&tag);
      int width = 1;
      if (!c.TryReadNil()) {
        width = MsgpackCursor::ContainerHeaderSize(tag);
        uint32_t m = 0;
        c.ReadMapHeader(&m);
        for (uint32_t j = 0; j < m; ++j) {
          const size_t pair_begin = c.offset();
          std::string_view mk, mv;
          c.ReadStrOrBin(&mk);
          c.ReadStrOrBin(&mv);
          bool replaced = false;
          for (const auto& kv : set_) replaced |= kv.first == mk;
          if (!replaced) kept_.emplace_back(pair_begin, c.offset());
        }
      }
      const uint32_t count =
          static_cast<uint32_t>(kept_.size() + (effective ? set_.size() : 0));
      body_.append(key_bytes.data(), key_bytes.size());
      AppendMapHeader(&body_, count, width);
      for (const auto& r : kept_) body_.append(bytes.data() + r.first, r.second - r.first);
      if (effective) {
        for (const auto& kv : set_) {
          AppendStr(&body_, kv.first);
          AppendStr(&body_, kv.second);
        }
      }
      ++pairs;
      continue;
    }

    if (!removed_.empty() && k == "meta_struct") {
      kept_.clear();
      uint8_t tag = 0;
      c.PeekTag(&tag);
      const int width = MsgpackCursor::ContainerHeaderSize(tag);
      uint32_t m = 0;
      c.ReadMapHeader(&m);
      for (uint32_t j = 0; j < m; ++j) {
        const size_t pair_begin = c.offset();
        std::string_view mk, mv;
        c.ReadStr(&mk);
        c.ReadBin(&mv);
        if (!Contains(removed_, mk)) kept_.emplace_back(pair_begin, c.offset());
      }
      // An emptied meta_struct is dropped, unless another meta_struct key would then take effect.
      if (kept_.empty() && meta_struct_keys == 1) continue;
      body_.append(key_bytes.data(), key_bytes.size());
      AppendMapHeader(&body_, static_cast<uint32_t>(kept_.size()), width);
      for (const auto& r : kept_) body_.append(bytes.data() + r.first, r.second - r.first);
      ++pairs;
      continue;
    }

    c.Skip();
    body_.append(bytes.data() + key_begin, c.offset() - key_begin);
    ++pairs;
  }

  if (!set_.empty() && !span.has(kFieldMeta)) {
    AppendStr(&body_, "meta");
    AppendMapHeader(&body_, static_cast<uint32_t>(set_.size()));
    for (const auto& kv : set_) {
      AppendStr(&body_, kv.first);
      AppendStr(&body_, kv.second);
    }
    ++pairs;
  }

  AppendMapHeader(out, pairs, span.header_size);
  out->append(body_);
}

}  // namespace llmobs_edge::decoder
