#pragma once
// Lazy iterators over the maps of a span that PayloadReader has already validated: meta
// (str -> str), metrics (str -> number) and meta_struct (str -> bin). They decode pairs in place,
// one at a time, without allocating; rescue and inspect use them for lookups the reader does not
// pre-compute (Agent filter tags on a root span, listing a span's meta_struct keys).

#include <string_view>

#include "decoder/cursor.h"
#include "decoder/payload.h"

namespace llmobs_edge::decoder {

class StringMapIterator {
 public:
  StringMapIterator(std::string_view payload, const ValueRange& map)
      : cursor_(payload.substr(0, map.end), map.begin) {
    uint32_t n = 0;
    if (map.present && cursor_.ReadMapHeader(&n)) left_ = n;
  }
  // Next pair; false at the end (or on malformed bytes, which a validated range never has).
  bool Next(std::string_view* key, std::string_view* value) {
    if (left_ == 0) return false;
    --left_;
    return cursor_.ReadStrOrBin(key) && cursor_.ReadStrOrBin(value);
  }

 private:
  MsgpackCursor cursor_;
  uint32_t left_ = 0;
};

class MetricsIterator {
 public:
  MetricsIterator(std::string_view payload, const ValueRange& map)
      : cursor_(payload.substr(0, map.end), map.begin) {
    uint32_t n = 0;
    if (map.present && cursor_.ReadMapHeader(&n)) left_ = n;
  }
  bool Next(std::string_view* key, double* value) {
    if (left_ == 0) return false;
    --left_;
    return cursor_.ReadStrOrBin(key) && cursor_.ReadFloat64Tolerant(value);
  }

 private:
  MsgpackCursor cursor_;
  uint32_t left_ = 0;
};

class MetaStructIterator {
 public:
  MetaStructIterator(std::string_view payload, const ValueRange& map)
      : cursor_(payload.substr(0, map.end), map.begin) {
    uint32_t n = 0;
    if (map.present && cursor_.ReadMapHeader(&n)) left_ = n;
  }
  bool Next(std::string_view* key, std::string_view* bin) {
    if (left_ == 0) return false;
    --left_;
    return cursor_.ReadStr(key) && cursor_.ReadBin(bin);
  }

 private:
  MsgpackCursor cursor_;
  uint32_t left_ = 0;
};

// meta[key] with the Agent's last-wins rule for duplicate keys; false if absent.
inline bool FindMeta(std::string_view payload, const SpanView& span, std::string_view key,
                     std::string_view* value) {
  StringMapIterator it(payload, span.meta);
  std::string_view k, v;
  bool found = false;
  while (it.Next(&k, &v)) {
    if (k == key) {
      *value = v;
      found = true;
    }
  }
  return found;
}

}  // namespace llmobs_edge::decoder
