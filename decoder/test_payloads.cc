#include "decoder/test_payloads.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace llmobs_edge::decoder::testing {
namespace {

constexpr char kRoot[] = "tests/golden/real-tracer";

// The "path" field of a request-NNN.meta.json, found without a JSON library.
std::string PathOf(const std::string& meta_json) {
  const std::string key = "\"path\": \"";
  const size_t at = meta_json.find(key);
  if (at == std::string::npos) return "";
  const size_t begin = at + key.size();
  return meta_json.substr(begin, meta_json.find('"', begin) - begin);
}

}  // namespace

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<GoldenRequest> AllRealTracerRequests() {
  std::vector<GoldenRequest> out;
  for (const auto& scenario : std::filesystem::directory_iterator(kRoot)) {
    if (!scenario.is_directory()) continue;
    for (const auto& file : std::filesystem::directory_iterator(scenario.path())) {
      const std::string fname = file.path().filename().string();
      const std::string suffix = ".meta.json";
      if (fname.size() <= suffix.size() ||
          fname.compare(fname.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      const std::string stem = fname.substr(0, fname.size() - suffix.size());
      const std::string dir = scenario.path().string() + "/";
      GoldenRequest r;
      r.name = scenario.path().filename().string() + "/" + stem;
      r.path = PathOf(ReadFileOrDie(file.path().string()));
      r.body = ReadFileOrDie(dir + stem + ".body");
      r.decoded_json = ReadFileOrDie(dir + stem + ".decoded.json");
      out.push_back(std::move(r));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const GoldenRequest& a, const GoldenRequest& b) { return a.name < b.name; });
  if (out.empty()) {
    std::fprintf(stderr, "no golden requests under %s\n", kRoot);
    std::abort();
  }
  return out;
}

std::vector<GoldenRequest> RealTracerTracePayloads() {
  std::vector<GoldenRequest> out;
  for (auto& r : AllRealTracerRequests()) {
    if (r.path == "/v0.4/traces") out.push_back(std::move(r));
  }
  return out;
}

}  // namespace llmobs_edge::decoder::testing

namespace llmobs_edge::decoder::testing {

std::string EncodeSpan(const TestSpan& s) {
  const int hw = s.wide ? 5 : 1;
  const Width sw = s.wide ? Width::k32 : Width::kSmallest;
  auto str = [&](std::string* out, const std::string& v) {
    AppendStr(out, v, v.size() < 32 ? Width::kSmallest : sw);
  };
  std::string out;
  const uint32_t n = 9 + (s.type.empty() ? 0 : 1) + (s.meta.empty() ? 0 : 1) +
                     (s.metrics.empty() ? 0 : 1) + (s.meta_struct.empty() ? 0 : 1);
  AppendMapHeader(&out, n, 1);
  if (!s.type.empty()) {
    AppendStr(&out, "type");
    str(&out, s.type);
  }
  AppendStr(&out, "trace_id");
  AppendUint64Fixed(&out, s.trace_id);
  AppendStr(&out, "span_id");
  AppendUint64Fixed(&out, s.span_id);
  AppendStr(&out, "parent_id");
  AppendUint64Fixed(&out, s.parent_id);
  AppendStr(&out, "name");
  str(&out, s.name);
  AppendStr(&out, "resource");
  str(&out, s.resource);
  AppendStr(&out, "service");
  str(&out, s.service);
  AppendStr(&out, "error");
  AppendInt(&out, s.error);
  AppendStr(&out, "start");
  AppendInt(&out, s.start);
  AppendStr(&out, "duration");
  AppendInt(&out, s.duration);
  if (!s.meta.empty()) {
    AppendStr(&out, "meta");
    AppendMapHeader(&out, static_cast<uint32_t>(s.meta.size()), hw);
    for (const auto& [k, v] : s.meta) {
      str(&out, k);
      str(&out, v);
    }
  }
  if (!s.metrics.empty()) {
    AppendStr(&out, "metrics");
    AppendMapHeader(&out, static_cast<uint32_t>(s.metrics.size()), hw);
    for (const auto& [k, v] : s.metrics) {
      str(&out, k);
      if (v == static_cast<double>(static_cast<int64_t>(v))) {
        AppendInt(&out, static_cast<int64_t>(v));
      } else {
        AppendFloat64(&out, v);
      }
    }
  }
  if (!s.meta_struct.empty()) {
    AppendStr(&out, "meta_struct");
    AppendMapHeader(&out, static_cast<uint32_t>(s.meta_struct.size()), hw);
    for (const auto& [k, v] : s.meta_struct) {
      str(&out, k);
      AppendBin(&out, v, s.wide ? Width::k32 : Width::kSmallest);
    }
  }
  return out;
}

std::string EncodePayload(const std::vector<std::vector<TestSpan>>& chunks) {
  std::string out;
  AppendArrayHeader(&out, static_cast<uint32_t>(chunks.size()), 5);
  for (const auto& chunk : chunks) {
    AppendArrayHeader(&out, static_cast<uint32_t>(chunk.size()), 5);
    for (const auto& span : chunk) out += EncodeSpan(span);
  }
  return out;
}

std::string EncodeLlmobsStruct(const std::string& trace_id, const std::string& name) {
  std::string out;
  AppendMapHeader(&out, 6);
  AppendStr(&out, "trace_id");
  AppendStr(&out, trace_id);
  AppendStr(&out, "name");
  AppendStr(&out, name);
  AppendStr(&out, "parent_id");
  AppendStr(&out, "undefined");
  AppendStr(&out, "ml_app");
  AppendStr(&out, "support-bot");
  AppendStr(&out, "tags");
  AppendMapHeader(&out, 2);
  AppendStr(&out, "env");
  AppendStr(&out, "prod");
  AppendStr(&out, "service");
  AppendStr(&out, "chat-api");
  AppendStr(&out, "metrics");
  AppendMapHeader(&out, 2);
  AppendStr(&out, "input_tokens");
  AppendUint(&out, 31);
  AppendStr(&out, "temperature");
  AppendFloat64(&out, 0.2);
  return out;
}

}  // namespace llmobs_edge::decoder::testing
