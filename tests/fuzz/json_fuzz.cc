// Fuzz target: MsgpackToJson on an untrusted msgpack document (a meta_struct bin body) with a small
// depth limit. When it succeeds the output must be valid UTF-8 and valid JSON (nlohmann::json parses
// it without error), of the type the document's first byte announces; the document must be exactly
// one msgpack value (MsgpackCursor::Skip agrees on its extent); options must not change whether it
// succeeds; a larger depth limit gives the same text. AppendJsonString on the raw input and
// AppendJsonDouble on input bytes must give valid JSON too, the double reading back to itself.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "decoder/cursor.h"
#include "decoder/json.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace dec = llmobs_edge::decoder;

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (b >= 0xc2 && b <= 0xdf) {
      len = 2;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t j = 1; j < len; ++j) {
      if ((p[i + j] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + j] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

nlohmann::json ParseOrDie(const std::string& text, const char* what) {
  FUZZ_CHECKF(ValidUtf8(text), "%s: output is not valid UTF-8", what);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECKF(!j.is_discarded(), "%s: output is not valid JSON: %.300s", what, text.c_str());
  return j;
}

// The JSON type the document's first byte announces.
void CheckTopLevelType(uint8_t t, const nlohmann::json& j, bool bin_as_base64) {
  if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
    FUZZ_CHECK(j.is_object());
  } else if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
    FUZZ_CHECK(j.is_array());
  } else if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb)) {
    FUZZ_CHECK(j.is_string());
  } else if (t >= 0xc4 && t <= 0xc6) {
    FUZZ_CHECK(bin_as_base64 ? j.is_string() : j.is_null());
  } else if (t == 0xc0 || (t >= 0xc7 && t <= 0xc9) || (t >= 0xd4 && t <= 0xd8)) {
    FUZZ_CHECK(j.is_null());
  } else if (t == 0xc2 || t == 0xc3) {
    FUZZ_CHECK(j.is_boolean() && j.get<bool>() == (t == 0xc3));
  } else if (t <= 0x7f || (t >= 0xcc && t <= 0xcf)) {
    FUZZ_CHECK(j.is_number_unsigned());
  } else if (t >= 0xe0 || (t >= 0xd0 && t <= 0xd3)) {
    FUZZ_CHECK(j.is_number_integer());
  } else if (t == 0xca || t == 0xcb) {
    FUZZ_CHECK(j.is_number_float() || j.is_null());
  }
}

// The exact integer a whole-document scalar encodes.
void CheckTopLevelInteger(std::string_view doc, const nlohmann::json& j) {
  const auto* q = reinterpret_cast<const uint8_t*>(doc.data());
  const uint8_t t = q[0];
  uint64_t u = 0;
  for (size_t i = 1; i < doc.size(); ++i) u = (u << 8) | q[i];
  if (t <= 0x7f) {
    FUZZ_CHECK(j.get<uint64_t>() == t);
  } else if (t >= 0xcc && t <= 0xcf) {
    FUZZ_CHECK(j.get<uint64_t>() == u);
  } else if (t >= 0xe0) {
    FUZZ_CHECK(j.get<int64_t>() == static_cast<int8_t>(t));
  } else if (t >= 0xd0 && t <= 0xd3) {
    const int bits = 8 * static_cast<int>(doc.size() - 1);
    const int64_t v = bits == 64 ? static_cast<int64_t>(u)
                                 : static_cast<int64_t>(u << (64 - bits)) >> (64 - bits);
    FUZZ_CHECK(j.get<int64_t>() == v);
  }
}

void CheckDouble(double d) {
  std::string text;
  dec::AppendJsonDouble(d, &text);
  if (!std::isfinite(d)) {
    FUZZ_CHECK(text == "null");
    return;
  }
  const nlohmann::json j = ParseOrDie(text, "AppendJsonDouble");
  FUZZ_CHECKF(j.is_number_float(), "AppendJsonDouble(%a) = %s is not a float", d, text.c_str());
  const double back = j.get<double>();
  FUZZ_CHECKF(back == d && std::signbit(back) == std::signbit(d),
              "AppendJsonDouble(%a) = %s reads back as %a", d, text.c_str(), back);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view doc(reinterpret_cast<const char*>(data), size);

  dec::JsonOptions options;
  options.max_depth = 32;
  dec::JsonStats stats;
  std::string out;
  const absl::Status status = dec::MsgpackToJson(doc, &out, options, &stats);

  // Options other than the depth limit do not change success.
  dec::JsonOptions no_bin = options;
  no_bin.bin_as_base64 = false;
  std::string out_no_bin;
  const absl::Status status_no_bin = dec::MsgpackToJson(doc, &out_no_bin, no_bin);
  FUZZ_CHECK(status.ok() == status_no_bin.ok());

  if (status.ok()) {
    const nlohmann::json j = ParseOrDie(out, "MsgpackToJson");
    const nlohmann::json j2 = ParseOrDie(out_no_bin, "MsgpackToJson (bin as null)");
    CheckTopLevelType(data[0], j, true);
    CheckTopLevelType(data[0], j2, false);
    if (j.is_number_integer()) CheckTopLevelInteger(doc, j);
    if (stats.bin_values == 0) FUZZ_CHECK(out == out_no_bin);

    // Exactly one complete msgpack value.
    dec::MsgpackCursor c(doc);
    FUZZ_CHECK(c.Skip() && c.at_end());

    // A deeper limit gives the same text.
    dec::JsonOptions deep = options;
    deep.max_depth = 64;
    std::string out_deep;
    FUZZ_CHECK(dec::MsgpackToJson(doc, &out_deep, deep).ok());
    FUZZ_CHECK(out_deep == out);
  } else {
    FUZZ_CHECK(!status.message().empty());
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  }

  // Raw bytes as a JSON string: valid, and the same text when the bytes are valid UTF-8.
  {
    const std::string_view s = doc.substr(0, 4096);
    std::string text;
    dec::JsonStats sstats;
    dec::AppendJsonString(s, &text, &sstats);
    const nlohmann::json j = ParseOrDie(text, "AppendJsonString");
    FUZZ_CHECK(j.is_string());
    if (ValidUtf8(s)) {
      FUZZ_CHECK(j.get<std::string>() == s && sstats.repaired_utf8_bytes == 0);
    } else {
      FUZZ_CHECK(sstats.repaired_utf8_bytes > 0);
    }
  }
  // Doubles and floats from the first bytes round-trip.
  if (size >= 8) {
    double d;
    std::memcpy(&d, data, 8);
    CheckDouble(d);
    float f;
    std::memcpy(&f, data, 4);
    CheckDouble(static_cast<double>(f));
  }
  return 0;
}
