// Fuzz target: FilterInfoEndpoints (plugin/host/http/info_filter.h) on an untrusted /info body. It must
// never crash or read outside the body. When it edits (returns true): the output is shorter than
// the input, a subsequence of it (every output byte comes from the input, in order), the same for
// a reused output string, and filtering the output again returns false (idempotent). When the
// input is valid JSON (nlohmann::json parses it) and an object: an edited output is valid JSON
// too and, when the object has one top-level "endpoints" key, differs from the input only by
// hidden string entries removed from that array (all of them when the input has no backslash, so
// no escape can spell a key or an entry differently); and an escape-free input without a UTF-8
// BOM whose one top-level "endpoints" array lists a hidden entry must be edited (no miss).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "plugin/host/http/info_filter.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using llmobs_edge::http::FilterInfoEndpoints;
using llmobs_edge::http::HiddenInfoEndpoints;

bool IsSubsequence(std::string_view sub, std::string_view s) {
  size_t i = 0;
  for (char c : s) {
    if (i < sub.size() && sub[i] == c) ++i;
  }
  return i == sub.size();
}

bool IsHiddenEntry(const nlohmann::json& e) {
  if (!e.is_string()) return false;
  const auto& s = e.get_ref<const std::string&>();
  const auto& hidden = HiddenInfoEndpoints();
  return std::find(hidden.begin(), hidden.end(), std::string_view(s)) != hidden.end();
}

// Parses `text` (nlohmann::json, strict RFC 8259, last duplicate key wins) and counts the
// top-level "endpoints" keys; discarded when not JSON. nlohmann's lexer takes a NUL byte for the
// end of the input (it accepts `{...}\0garbage`), so text with a NUL, never JSON, is refused here.
nlohmann::json Parse(std::string_view text, int* top_level_endpoints_keys) {
  if (top_level_endpoints_keys != nullptr) *top_level_endpoints_keys = 0;
  if (text.find('\0') != std::string_view::npos) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  int keys = 0;
  auto count = [&keys](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed == "endpoints") ++keys;
    return true;
  };
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), count,
                                           /*allow_exceptions=*/false);
  if (top_level_endpoints_keys != nullptr) *top_level_endpoints_keys = keys;
  return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  std::string out;
  const bool edited = FilterInfoEndpoints(body, &out);

  if (edited) {
    FUZZ_CHECKF(out.size() < body.size(), "output %zu bytes, input %zu", out.size(), body.size());
    FUZZ_CHECK(IsSubsequence(out, body));
    // Deterministic, whatever the output string held before.
    std::string reused(body.size() + 7, 'x');
    FUZZ_CHECK(FilterInfoEndpoints(body, &reused));
    FUZZ_CHECK(reused == out);
    // Idempotent.
    std::string again;
    FUZZ_CHECKF(!FilterInfoEndpoints(out, &again), "filtered twice: %.300s", out.c_str());
  }

  int keys = 0;
  const nlohmann::json in_doc = Parse(body, &keys);
  if (in_doc.is_discarded() || !in_doc.is_object()) return 0;
  const auto eps = in_doc.find("endpoints");
  const bool lists_hidden = eps != in_doc.end() && eps->is_array() &&
                            std::any_of(eps->begin(), eps->end(), IsHiddenEntry);

  const bool has_escapes = body.find('\\') != std::string_view::npos;
  if (edited) {
    nlohmann::json out_doc = Parse(out, nullptr);
    FUZZ_CHECKF(!out_doc.is_discarded(), "valid JSON in, invalid out: %.300s", out.c_str());
    if (keys == 1) {
      // Only the endpoints array changed, and only by losing hidden entries (all of them when no
      // escape can hide one: "\/v0.7\/traces" is the same string to a parser, not to the filter).
      FUZZ_CHECK(lists_hidden && out_doc.is_object());
      const auto out_eps = out_doc.find("endpoints");
      FUZZ_CHECK(out_eps != out_doc.end() && out_eps->is_array());
      size_t i = 0;
      for (const auto& e : *eps) {
        if (i < out_eps->size() && (*out_eps)[i] == e) {
          ++i;
        } else {
          FUZZ_CHECKF(IsHiddenEntry(e), "removed a kept entry: %.300s", out.c_str());
        }
      }
      FUZZ_CHECKF(i == out_eps->size(), "entries not from the input: %.300s", out.c_str());
      if (!has_escapes) {
        FUZZ_CHECKF(std::none_of(out_eps->begin(), out_eps->end(), IsHiddenEntry),
                    "a hidden entry survived: %.300s", out.c_str());
      }
      nlohmann::json in_rest = in_doc;
      in_rest.erase("endpoints");
      out_doc.erase("endpoints");
      FUZZ_CHECKF(out_doc == in_rest, "another member changed: %.300s", out.c_str());
    }
  } else if (lists_hidden && keys == 1 && !has_escapes && body.substr(0, 3) != "\xEF\xBB\xBF") {
    FUZZ_CHECKF(false, "a hidden endpoint was left in place: %.300s",
                std::string(body.substr(0, 300)).c_str());
  }
  return 0;
}
