#pragma once
// Lazy iterators over the maps of a span that PayloadReader has already validated: meta
// (str -> str), metrics (str -> number) and meta_struct (str -> bin). They decode pairs in place,
// one at a time, without allocating; rescue and inspect use them for lookups the reader does not
// pre-compute (Agent filter tags on a root span, listing a span's meta_struct keys).

#include <string_view>

#include "decoder/cursor.h"
#include "decoder/payload.h"

namespace llmobs_edge::decoder {

// The shared part: a cursor positioned after the map's header and the number of pairs left.
class MapPairs {
 protected:
  MapPairs(std::string_view payload, const ValueRange& map)
      : cursor_(payload.substr(0, map.end), map.begin) {
    uint32_t n = 0;
    if (map.present && cursor_.ReadMapHeader(&n)) left_ = n;
  }
  // Consumes one pair's turn; false when none is left.
  bool Take() {
    if (left_ == 0) return false;
    --left_;
    return true;
  }
  MsgpackCursor cursor_;

 private:
  uint32_t left_ = 0;
};

// Next pair; false at the end (or on malformed bytes, which a validated range never has).
class StringMapIterator : private MapPairs {
 public:
  StringMapIterator(std::string_view payload, const ValueRange& map) : MapPairs(payload, map) {}
  bool Next(std::string_view* key, std::string_view* value) {
    return Take() && cursor_.ReadStrOrBin(key) && cursor_.ReadStrOrBin(value);
  }
};

class MetricsIterator : private MapPairs {
 public:
  MetricsIterator(std::string_view payload, const ValueRange& map) : MapPairs(payload, map) {}
  bool Next(std::string_view* key, double* value) {
    return Take() && cursor_.ReadStrOrBin(key) && cursor_.ReadFloat64Tolerant(value);
  }
};

class MetaStructIterator : private MapPairs {
 public:
  MetaStructIterator(std::string_view payload, const ValueRange& map) : MapPairs(payload, map) {}
  bool Next(std::string_view* key, std::string_view* bin) {
    return Take() && cursor_.ReadStr(key) && cursor_.ReadBin(bin);
  }
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
