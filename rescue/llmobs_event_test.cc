// Tests of rescue/llmobs_event: the worked example of llmobs.md §6 reproduced exactly, every rule
// of the §2 conversion, §5.4 truncation, §5.2 envelopes, structs that cannot be decoded, and the
// golden events of tests/golden/llmobs-events/ (regenerate: see that folder's BUILD.bazel).

#include "rescue/llmobs_event.h"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "decoder/msgpack_writer.h"
#include "decoder/reader.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace llmobs_edge::rescue {
namespace {

using decoder::Payload;
using decoder::PayloadReader;
using decoder::testing::EncodePayload;
using decoder::testing::ReadFileOrDie;
using decoder::testing::TestSpan;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

const std::string kGoldenDir = "tests/golden/llmobs-events/";

// llmobs.md §6.2, verbatim.
constexpr char kStruct62[] = R"json({
  "name": "generate-answer",
  "parent_id": "undefined",
  "trace_id": "6aa99a60000000007e41c2b9d35a0f68",
  "ml_app": "support-bot",
  "session_id": "conv-7f3a",
  "tags": {
    "version": "2.3.1",
    "env": "prod",
    "service": "chat-api",
    "source": "integration",
    "ml_app": "support-bot",
    "agent_service": "support-bot",
    "ddtrace.version": "4.13.0",
    "language": "python",
    "session_id": "conv-7f3a"
  },
  "metrics": {
    "input_tokens": 31,
    "output_tokens": 19,
    "total_tokens": 50
  },
  "meta": {
    "span": {"kind": "llm"},
    "model_name": "gpt-4o-mini",
    "model_provider": "openai",
    "metadata": {"temperature": 0.2, "max_tokens": 256},
    "input": {
      "messages": [
        {"role": "system", "content": "You are a support assistant for Acme Cloud."},
        {"role": "user", "content": "How do I rotate my API key?"}
      ]
    },
    "output": {
      "messages": [
        {"role": "assistant", "content": "Open Organization Settings > API Keys, create a new key, then revoke the old one."}
      ]
    }
  },
  "_dd": {
    "sample_rate": "1",
    "sampling_decision": "1"
  }
})json";

// llmobs.md §6.4, verbatim.
constexpr char kBody64[] = R"json([
  {
    "_dd.stage": "raw",
    "_dd.tracer_version": "4.13.0",
    "event_type": "span",
    "spans": [
      {
        "_dd": {
          "apm_trace_id": "6aa99a60000000003c9a5e1f7b2d4608",
          "sample_rate": "1",
          "sampling_decision": "1",
          "span_id": "2264075030106042450",
          "trace_id": "6aa99a60000000003c9a5e1f7b2d4608"
        },
        "duration": 1208774112,
        "meta": {
          "input": {
            "messages": [
              {"content": "You are a support assistant for Acme Cloud.", "role": "system"},
              {"content": "How do I rotate my API key?", "role": "user"}
            ]
          },
          "metadata": {"max_tokens": 256, "temperature": 0.2},
          "model_name": "gpt-4o-mini",
          "model_provider": "openai",
          "output": {
            "messages": [
              {"content": "Open Organization Settings > API Keys, create a new key, then revoke the old one.", "role": "assistant"}
            ]
          },
          "span": {"kind": "llm"}
        },
        "metrics": {
          "input_tokens": 31,
          "output_tokens": 19,
          "total_tokens": 50
        },
        "name": "generate-answer",
        "parent_id": "undefined",
        "session_id": "conv-7f3a",
        "span_id": "2264075030106042450",
        "start_ns": 1789500000467902311,
        "status": "ok",
        "tags": [
          "agent_service:support-bot",
          "ddtrace.version:4.13.0",
          "env:prod",
          "error:0",
          "language:python",
          "ml_app:support-bot",
          "service:chat-api",
          "session_id:conv-7f3a",
          "source:integration",
          "version:2.3.1"
        ],
        "trace_id": "6aa99a60000000007e41c2b9d35a0f68"
      }
    ]
  }
])json";

// JSON text -> a msgpack document in the text's key order (ints in their smallest form).
std::string Msgpack(std::string_view json_text) {
  const std::vector<uint8_t> bytes = ordered_json::to_msgpack(ordered_json::parse(json_text));
  return std::string(bytes.begin(), bytes.end());
}

// §6.2 with `patch` (a JSON object) merged over it (null removes a key).
std::string Struct62(std::string_view patch = "{}") {
  ordered_json doc = ordered_json::parse(kStruct62);
  doc.merge_patch(ordered_json::parse(patch));
  const std::vector<uint8_t> bytes = ordered_json::to_msgpack(doc);
  return std::string(bytes.begin(), bytes.end());
}

// The two spans of §6.1.
TestSpan FlaskRequest() {
  TestSpan s;
  s.trace_id = 4366906277992678920u;
  s.span_id = 6714461642924179088u;
  s.parent_id = 0;
  s.service = "chat-api";
  s.resource = "POST /v1/chat";
  s.name = "flask.request";
  s.start = 1789500000412365120;
  s.duration = 1391877003;
  s.type = "web";
  s.meta = {{"_dd.p.tid", "6aa99a6000000000"},
            {"env", "prod"},
            {"version", "2.3.1"},
            {"language", "python"},
            {"runtime-id", "0b6f2c1e9d8a4f37b5e2c4a1d9f08e63"},
            {"component", "flask"},
            {"span.kind", "server"},
            {"http.method", "POST"},
            {"http.route", "/v1/chat"},
            {"http.status_code", "200"},
            {"llmobs_trace_id", "6aa99a60000000007e41c2b9d35a0f68"},
            {"llmobs_parent_id", "2264075030106042450"}};
  s.metrics = {{"_dd.top_level", 1},
               {"_dd.agent_psr", 0.25},
               {"_sampling_priority_v1", 0},
               {"process_id", 4242}};
  return s;
}

TestSpan GenerateAnswer(std::string llmobs) {
  TestSpan s;
  s.trace_id = 4366906277992678920u;
  s.parent_id = 6714461642924179088u;
  s.span_id = 2264075030106042450u;
  s.service = "chat-api";
  s.resource = "llm";
  s.name = "generate-answer";
  s.start = 1789500000467902311;
  s.duration = 1208774112;
  s.type = "llm";
  s.meta = {{"env", "prod"}, {"version", "2.3.1"}};
  s.meta_struct = {{"_llmobs", std::move(llmobs)}};
  return s;
}

// Encodes one chunk, decodes it, builds the event of the span at `index` into `out`.
absl::Status BuildFrom(const std::vector<TestSpan>& chunk, size_t index, BuiltEvent* out,
                       EventBuilder::Options options = {}) {
  const std::string bytes = EncodePayload({chunk});
  Payload payload;
  const absl::Status read = PayloadReader().Read(bytes, &payload);
  EXPECT_TRUE(read.ok()) << read;
  if (!read.ok()) return read;
  EventBuilder builder(options);
  return builder.Build(payload, payload.chunks[0], payload.spans[index], out);
}

// The §6.1 chunk with `llmobs` as the LLM span's struct; returns the parsed event.
json BuildWorked(const std::string& llmobs, BuiltEvent* out, EventBuilder::Options options = {}) {
  const absl::Status st = BuildFrom({FlaskRequest(), GenerateAnswer(llmobs)}, 1, out, options);
  EXPECT_TRUE(st.ok()) << st;
  return st.ok() ? json::parse(out->json) : json();
}

std::vector<std::string> Keys(const ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

// Compares `actual` with a golden file, as JSON (key order included) and byte for byte against
// the golden's compact form. With LLMOBS_EDGE_UPDATE_GOLDEN=<dir> it writes the file instead.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const ordered_json got = ordered_json::parse(actual);
  if (const char* dir = std::getenv("LLMOBS_EDGE_UPDATE_GOLDEN")) {
    std::ofstream(std::string(dir) + "/" + name) << got.dump(2) << "\n";
    return;
  }
  const ordered_json want = ordered_json::parse(ReadFileOrDie(kGoldenDir + name));
  EXPECT_EQ(got, want) << name << "\n got: " << got.dump(2);
  EXPECT_EQ(actual, want.dump()) << name;
}

std::vector<std::string> Tags(const json& event) { return event["tags"]; }

// --- llmobs.md §6: the worked example ------------------------------------------------------------

TEST(WorkedExample, EventEqualsSection64) {
  BuiltEvent ev;
  const json event = BuildWorked(Msgpack(kStruct62), &ev);
  const json expected = json::parse(kBody64)[0]["spans"][0];
  EXPECT_EQ(event, expected) << event.dump(2);
  // Key order too, at every level (dd-trace-py's sort_keys=True), and the compact bytes.
  const ordered_json want = ordered_json::parse(kBody64)[0]["spans"][0];
  EXPECT_EQ(ordered_json::parse(ev.json), want);
  EXPECT_EQ(ev.json, want.dump());
  EXPECT_EQ(ev.key, (EventKey{"6aa99a60000000007e41c2b9d35a0f68", 2264075030106042450u}));
  EXPECT_FALSE(ev.truncated);
  EXPECT_EQ(ev.untruncated_bytes, ev.json.size());
  EXPECT_EQ(ev.tracer_version, "4.13.0");
  EXPECT_FALSE(ev.experiments_scope);
  EXPECT_EQ(ev.json_stats.repaired_utf8_bytes + ev.json_stats.non_finite_floats +
                ev.json_stats.ext_values + ev.json_stats.bin_values +
                ev.json_stats.skipped_keys + ev.json_stats.converted_keys,
            0u);
  EXPECT_LT(ev.json.size(), 1163u);  // compact: below the SDK's own measure of §6.4
}

TEST(WorkedExample, IntakeBodyEqualsSection64) {
  BuiltEvent ev;
  BuildWorked(Msgpack(kStruct62), &ev);
  const std::string body = BuildIntakeBody({AsIntakeEvent(ev)}, "llmobs-edge/0.1.0");
  EXPECT_EQ(ordered_json::parse(body), ordered_json::parse(kBody64));
  EXPECT_EQ(body, ordered_json::parse(kBody64).dump());
}

TEST(WorkedExample, MatchesGolden) {
  BuiltEvent ev;
  BuildWorked(Msgpack(kStruct62), &ev);
  ExpectGolden("worked_example.event.json", ev.json);
  ExpectGolden("worked_example.body.json", BuildIntakeBody({AsIntakeEvent(ev)}, "unused"));
}

TEST(WorkedExample, WithoutTidTheApmTraceIdIsDecimal) {
  TestSpan root = FlaskRequest();
  root.meta.erase(root.meta.begin());  // _dd.p.tid
  BuiltEvent ev;
  ASSERT_TRUE(BuildFrom({root, GenerateAnswer(Msgpack(kStruct62))}, 1, &ev).ok());
  const json event = json::parse(ev.json);
  EXPECT_EQ(event["_dd"]["apm_trace_id"], "4366906277992678920");
  EXPECT_EQ(event["_dd"]["trace_id"], "4366906277992678920");
}

// The bundled sample was written by Python's msgpack (tests/golden/samples/make_samples.py):
// chunk 0 is the worked example with a different LLMObs trace id and user message.
TEST(WorkedExample, SamplePayloadWrittenByPythonMsgpack) {
  const std::string bytes = ReadFileOrDie("tests/golden/samples/llmobs-sample.msgpack");
  Payload payload;
  ASSERT_TRUE(PayloadReader().Read(bytes, &payload).ok());
  EventBuilder builder;
  BuiltEvent ev;
  int built = 0;
  for (const auto& chunk : payload.chunks) {
    for (const auto* s = payload.chunk_begin(chunk); s != payload.chunk_end(chunk); ++s) {
      if (!s->has_llmobs) continue;
      ASSERT_TRUE(builder.Build(payload, chunk, *s, &ev).ok());
      ++built;
      if (&chunk != &payload.chunks[0]) continue;
      json expected = json::parse(kBody64)[0]["spans"][0];
      expected["trace_id"] = "6aa99a60000000007e41c2b9d35a0f52";
      expected["meta"]["input"]["messages"][1]["content"] =
          "How do I rotate my API key? (2264075030106042450)";
      EXPECT_EQ(json::parse(ev.json), expected);
    }
  }
  EXPECT_EQ(built, 4);
}

TEST(FailedCall, Section65) {
  TestSpan llm = GenerateAnswer(Struct62(R"({
    "meta": {"output": null,
             "error": {"message": "Rate limit reached", "stack": "…",
                       "type": "openai.RateLimitError"}}})"));
  llm.error = 1;
  llm.meta.push_back({"error.type", "openai.RateLimitError"});
  llm.meta.push_back({"error.message", "Rate limit reached"});
  llm.meta.push_back({"error.stack", "…"});
  BuiltEvent ev;
  ASSERT_TRUE(BuildFrom({FlaskRequest(), llm}, 1, &ev).ok());
  const json event = json::parse(ev.json);
  EXPECT_EQ(event["status"], "error");
  const std::vector<std::string> tags = Tags(event);
  EXPECT_EQ(std::vector<std::string>(tags.begin() + 2, tags.begin() + 6),
            (std::vector<std::string>{"env:prod", "error:1", "error_type:openai.RateLimitError",
                                      "language:python"}));
  EXPECT_EQ(event["meta"]["error"],
            json::parse(R"({"message": "Rate limit reached", "stack": "…",
                            "type": "openai.RateLimitError"})"));
  EXPECT_FALSE(event["meta"].contains("output"));
  ExpectGolden("failed_call.event.json", ev.json);
}

// --- §2: field by field --------------------------------------------------------------------------

TEST(Name, FallsBackToTheApmSpanName) {
  for (const char* patch : {R"({"name": null})", R"({"name": ""})"}) {
    TestSpan llm = GenerateAnswer(Struct62(patch));
    llm.name = "openai.request";
    BuiltEvent ev;
    ASSERT_TRUE(BuildFrom({FlaskRequest(), llm}, 1, &ev).ok());
    EXPECT_EQ(json::parse(ev.json)["name"], "openai.request") << patch;
  }
  BuiltEvent ev;
  EXPECT_EQ(BuildWorked(Struct62(R"({"name": "custom"})"), &ev)["name"], "custom");
  std::string nil_name;  // {"trace_id": "t", "name": nil}: nil reads as absent
  decoder::AppendMapHeader(&nil_name, 2);
  decoder::AppendStr(&nil_name, "trace_id");
  decoder::AppendStr(&nil_name, "t");
  decoder::AppendStr(&nil_name, "name");
  decoder::AppendNil(&nil_name);
  EXPECT_EQ(BuildWorked(nil_name, &ev)["name"], "generate-answer");
}

TEST(ParentId, MissingOrEmptyIsUndefined) {
  BuiltEvent ev;
  EXPECT_EQ(BuildWorked(Struct62(R"({"parent_id": null})"), &ev)["parent_id"], "undefined");
  EXPECT_EQ(BuildWorked(Struct62(R"({"parent_id": ""})"), &ev)["parent_id"], "undefined");
  EXPECT_EQ(BuildWorked(Struct62(R"({"parent_id": "123"})"), &ev)["parent_id"], "123");
}

TEST(Fields, StartDurationStatusAndSpanIdComeFromTheApmSpan) {
  TestSpan llm = GenerateAnswer(Msgpack(kStruct62));
  llm.start = std::numeric_limits<int64_t>::max();
  llm.duration = 1;
  llm.span_id = std::numeric_limits<uint64_t>::max();
  BuiltEvent ev;
  ASSERT_TRUE(BuildFrom({FlaskRequest(), llm}, 1, &ev).ok());
  EXPECT_NE(ev.json.find("\"start_ns\":9223372036854775807,"), std::string::npos);
  const json event = json::parse(ev.json);
  EXPECT_EQ(event["duration"], 1);
  EXPECT_EQ(event["status"], "ok");
  EXPECT_EQ(event["span_id"], "18446744073709551615");
  EXPECT_EQ(event["_dd"]["span_id"], "18446744073709551615");
  EXPECT_EQ(ev.key.span_id, std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(event.contains("ml_app"));  // only a tag (§2)
}

TEST(Fields, MetaAndMetricsDefaultToEmptyObjects) {
  BuiltEvent ev;
  const json event = BuildWorked(Struct62(R"({"meta": null, "metrics": null, "_dd": null,
                                              "tags": null})"), &ev);
  EXPECT_EQ(event["meta"], json::object());
  EXPECT_EQ(event["metrics"], json::object());
  EXPECT_EQ(event["tags"], json::parse(R"(["error:0"])"));
  EXPECT_EQ(Keys(ordered_json::parse(ev.json)["_dd"]),
            (std::vector<std::string>{"apm_trace_id", "span_id", "trace_id"}));
}

TEST(Fields, DuplicatedStructKeyLastWins) {
  std::string doc = Msgpack(kStruct62);
  // Rewrite the map header to one more entry and append a second "name".
  ASSERT_EQ(static_cast<uint8_t>(doc[0]), 0x89);  // fixmap of 9
  doc[0] = static_cast<char>(0x8a);
  decoder::AppendStr(&doc, "name");
  decoder::AppendStr(&doc, "second");
  BuiltEvent ev;
  EXPECT_EQ(BuildWorked(doc, &ev)["name"], "second");
}

// --- §2.2: APM trace id --------------------------------------------------------------------------

std::string ApmTraceId(const std::vector<TestSpan>& chunk, size_t index) {
  BuiltEvent ev;
  const absl::Status st = BuildFrom(chunk, index, &ev);
  EXPECT_TRUE(st.ok()) << st;
  if (!st.ok()) return "";
  const json event = json::parse(ev.json);
  EXPECT_EQ(event["_dd"]["trace_id"], event["_dd"]["apm_trace_id"]);
  return event["_dd"]["apm_trace_id"];
}

TEST(ApmTraceId, HighBitsFromTheChunksFirstSpan) {
  EXPECT_EQ(ApmTraceId({FlaskRequest(), GenerateAnswer(Msgpack(kStruct62))}, 1),
            "6aa99a60000000003c9a5e1f7b2d4608");
}

TEST(ApmTraceId, OnlyTheLlmSpanCarriesTid) {
  TestSpan root = FlaskRequest();
  root.meta.erase(root.meta.begin());
  TestSpan llm = GenerateAnswer(Msgpack(kStruct62));
  llm.meta.push_back({"_dd.p.tid", "6aa99a6000000000"});
  EXPECT_EQ(ApmTraceId({root, llm}, 1), "6aa99a60000000003c9a5e1f7b2d4608");
}

TEST(ApmTraceId, AnotherSpanOfTheChunkCarriesTid) {
  TestSpan root = FlaskRequest();
  root.meta.erase(root.meta.begin());
  TestSpan other = FlaskRequest();
  other.span_id = 99;
  other.parent_id = root.span_id;
  other.meta = {{"_dd.p.tid", "00000000000000AB"}};  // upper case accepted, written lower case
  EXPECT_EQ(ApmTraceId({root, GenerateAnswer(Msgpack(kStruct62)), other}, 1),
            "00000000000000ab3c9a5e1f7b2d4608");
}

TEST(ApmTraceId, ZeroOrMalformedTidMeansDecimal) {
  for (const char* tid : {"0000000000000000", "6aa99a60", "6aa99a600000000g", "", "0x6aa99a6000000"}) {
    TestSpan root = FlaskRequest();
    root.meta[0].second = tid;
    EXPECT_EQ(ApmTraceId({root, GenerateAnswer(Msgpack(kStruct62))}, 1), "4366906277992678920")
        << tid;
  }
}

TEST(ApmTraceId, SixtyFourBitIdsAreDecimal) {
  TestSpan root = FlaskRequest();
  root.meta.erase(root.meta.begin());
  root.trace_id = std::numeric_limits<uint64_t>::max();
  TestSpan llm = GenerateAnswer(Msgpack(kStruct62));
  llm.trace_id = root.trace_id;
  EXPECT_EQ(ApmTraceId({root, llm}, 1), "18446744073709551615");
  // With high bits the low half is zero-padded hex.
  root.meta = {{"_dd.p.tid", "0000000000000001"}};
  root.trace_id = llm.trace_id = 5;
  EXPECT_EQ(ApmTraceId({root, llm}, 1), "00000000000000010000000000000005");
}

// --- §2.1: tags ----------------------------------------------------------------------------------

TEST(Tags, SortedInByteOrderWithTheErrorTag) {
  BuiltEvent ev;
  const std::string doc = Msgpack(R"({"trace_id": "t", "tags": {
      "zeta": "1", "Zeta": "2", "é": "3", "a.b": "4", "a": "5", "a_b": "6", "~": "7"}})");
  const json tags = BuildWorked(doc, &ev)["tags"];
  EXPECT_EQ(tags, json::parse(R"(["Zeta:2", "a.b:4", "a:5", "a_b:6", "error:0", "zeta:1",
                                  "~:7", "é:3"])"));
}

TEST(Tags, SpanErrorOverwritesStructErrorKeys) {
  const std::string doc = Msgpack(R"({"trace_id": "t",
      "tags": {"error": "0", "error_type": "Struct", "env": "prod"}})");
  TestSpan llm = GenerateAnswer(doc);
  BuiltEvent ev;
  // No error.type on the span: the struct's error_type stays, error follows the span.
  llm.error = 1;
  ASSERT_TRUE(BuildFrom({FlaskRequest(), llm}, 1, &ev).ok());
  EXPECT_EQ(Tags(json::parse(ev.json)),
            (std::vector<std::string>{"env:prod", "error:1", "error_type:Struct"}));
  // With error.type on the span, it wins.
  llm.meta.push_back({"error.type", "ValueError"});
  ASSERT_TRUE(BuildFrom({FlaskRequest(), llm}, 1, &ev).ok());
  EXPECT_EQ(Tags(json::parse(ev.json)),
            (std::vector<std::string>{"env:prod", "error:1", "error_type:ValueError"}));
  // An empty error.type is ignored; a non-zero error other than 1 still reads as an error.
  llm.meta.back().second = "";
  llm.error = 7;
  ASSERT_TRUE(BuildFrom({FlaskRequest(), llm}, 1, &ev).ok());
  const json event = json::parse(ev.json);
  EXPECT_EQ(Tags(event), (std::vector<std::string>{"env:prod", "error:1", "error_type:Struct"}));
  EXPECT_EQ(event["status"], "error");
}

TEST(Tags, DuplicatedKeyLastWins) {
  std::string doc;
  decoder::AppendMapHeader(&doc, 2);
  decoder::AppendStr(&doc, "trace_id");
  decoder::AppendStr(&doc, "t");
  decoder::AppendStr(&doc, "tags");
  decoder::AppendMapHeader(&doc, 3);
  for (const char* kv : {"env", "dev", "b", "x", "env", "prod"}) decoder::AppendStr(&doc, kv);
  BuiltEvent ev;
  EXPECT_EQ(BuildWorked(doc, &ev)["tags"], json::parse(R"(["b:x", "env:prod", "error:0"])"));
}

TEST(Tags, ListFormIsAccepted) {
  const std::string doc = Msgpack(R"({"trace_id": "t",
      "tags": ["env:prod", "error:1", "ddtrace.version:5.0.0", 3, "bare", "env:prod"]})");
  BuiltEvent ev;
  EXPECT_EQ(BuildWorked(doc, &ev)["tags"],
            json::parse(R"(["bare", "ddtrace.version:5.0.0", "env:prod", "env:prod",
                            "error:0"])"));
  EXPECT_EQ(ev.tracer_version, "5.0.0");
}

TEST(Tags, ScalarValuesAreRendered) {
  std::string doc;
  decoder::AppendMapHeader(&doc, 2);
  decoder::AppendStr(&doc, "trace_id");
  decoder::AppendStr(&doc, "t");
  decoder::AppendStr(&doc, "tags");
  decoder::AppendMapHeader(&doc, 8);
  decoder::AppendStr(&doc, "u");
  decoder::AppendUint(&doc, std::numeric_limits<uint64_t>::max());
  decoder::AppendStr(&doc, "i");
  decoder::AppendInt(&doc, -42);
  decoder::AppendStr(&doc, "f");
  decoder::AppendFloat64(&doc, 0.5);
  decoder::AppendStr(&doc, "g");
  decoder::AppendFloat64(&doc, 100000.0);  // dd-trace-js sends every number as float64
  decoder::AppendStr(&doc, "h");
  decoder::AppendFloat32(&doc, 1.25f);
  decoder::AppendStr(&doc, "t");
  decoder::AppendBool(&doc, true);
  decoder::AppendStr(&doc, "n");
  decoder::AppendNil(&doc);  // left out
  decoder::AppendStr(&doc, "b");
  decoder::AppendBin(&doc, "bin");
  BuiltEvent ev;
  EXPECT_EQ(BuildWorked(doc, &ev)["tags"],
            json::parse(R"(["b:bin", "error:0", "f:0.5", "g:100000", "h:1.25", "i:-42",
                            "t:true", "u:18446744073709551615"])"));
}

TEST(Tags, UnicodeSortsByCodePointAndIsKept) {
  const std::string doc = Msgpack(R"({"trace_id": "t",
      "tags": {"k": "日本", "k2": "😀", "K": "ü", "k\"q": "x\ny"}})");
  BuiltEvent ev;
  EXPECT_EQ(BuildWorked(doc, &ev)["tags"],
            json::parse(R"(["K:ü", "error:0", "k\"q:x\ny", "k2:😀", "k:日本"])"));
}

// --- §2.2: _dd -----------------------------------------------------------------------------------

TEST(Dd, ComputedIdsWinAndKeysAreSorted) {
  const std::string doc = Msgpack(R"({"trace_id": "t", "_dd": {
      "trace_id": "struct", "span_id": "struct", "apm_trace_id": "struct",
      "sampling_decision": "0", "sample_rate": 0.5, "extra": {"k": [1, 2]}}})");
  BuiltEvent ev;
  BuildWorked(doc, &ev);
  const ordered_json dd = ordered_json::parse(ev.json)["_dd"];
  EXPECT_EQ(dd, ordered_json::parse(R"({
      "apm_trace_id": "6aa99a60000000003c9a5e1f7b2d4608", "extra": {"k": [1, 2]},
      "sample_rate": 0.5, "sampling_decision": "0", "span_id": "2264075030106042450",
      "trace_id": "6aa99a60000000003c9a5e1f7b2d4608"})"));
}

TEST(Dd, ExperimentsScopeReachesTheEnvelope) {
  BuiltEvent ev;
  BuildWorked(Struct62(R"({"_dd": {"scope": "experiments"}})"), &ev);
  EXPECT_TRUE(ev.experiments_scope);
  const ordered_json body = ordered_json::parse(BuildIntakeBody({AsIntakeEvent(ev)}, "x"));
  EXPECT_EQ(Keys(body[0]), (std::vector<std::string>{"_dd.scope", "_dd.stage", "_dd.tracer_version",
                                                     "event_type", "spans"}));
  EXPECT_EQ(body[0]["_dd.scope"], "experiments");
  BuildWorked(Struct62(R"({"_dd": {"scope": "other"}})"), &ev);
  EXPECT_FALSE(ev.experiments_scope);
}

// --- optional fields -----------------------------------------------------------------------------

TEST(Optional, SessionIdOnlyWhenNonEmpty) {
  BuiltEvent ev;
  EXPECT_FALSE(BuildWorked(Struct62(R"({"session_id": ""})"), &ev).contains("session_id"));
  EXPECT_FALSE(BuildWorked(Struct62(R"({"session_id": null})"), &ev).contains("session_id"));
  EXPECT_EQ(BuildWorked(Struct62(R"({"session_id": "s-1"})"), &ev)["session_id"], "s-1");
}

TEST(Optional, SpanLinksOnlyWhenNonEmpty) {
  BuiltEvent ev;
  EXPECT_FALSE(BuildWorked(Struct62(R"({"span_links": []})"), &ev).contains("span_links"));
  const char* links = R"([{"span_id": "18446744073709551615",
      "trace_id": "6aa99a60000000007e41c2b9d35a0f68",
      "attributes": {"from": "output", "to": "input"}}])";
  const json event = BuildWorked(Struct62(std::string(R"({"span_links": )") + links + "}"), &ev);
  EXPECT_EQ(event["span_links"], json::parse(links));
}

TEST(Optional, ConfigOnlyWhenNonEmpty) {
  BuiltEvent ev;
  EXPECT_FALSE(BuildWorked(Struct62(R"({"config": {}})"), &ev).contains("config"));
  const json event =
      BuildWorked(Struct62(R"({"config": {"model": "gpt-4o", "temperature": 0.7}})"), &ev);
  EXPECT_EQ(event["config"], json::parse(R"({"model": "gpt-4o", "temperature": 0.7})"));
}

TEST(Optional, AgentAttributionFromPagentFields) {
  BuiltEvent ev;
  json event = BuildWorked(Struct62(R"({"pagent_name": "planner", "pagent_span_id": "77"})"), &ev);
  EXPECT_EQ(event["meta"]["agent_attribution"],
            json::parse(R"({"pagent_name": "planner", "pagent_span_id": "77"})"));
  event = BuildWorked(Struct62(R"({"pagent_name": "planner"})"), &ev);
  EXPECT_EQ(event["meta"]["agent_attribution"],
            json::parse(R"({"pagent_name": "planner", "pagent_span_id": null})"));
  // Replaces one the struct's meta already had; the rest of meta is unchanged.
  event = BuildWorked(Struct62(R"({"pagent_span_id": "9",
                                   "meta": {"agent_attribution": {"stale": true}}})"), &ev);
  EXPECT_EQ(event["meta"]["agent_attribution"],
            json::parse(R"({"pagent_name": null, "pagent_span_id": "9"})"));
  EXPECT_EQ(event["meta"]["model_name"], "gpt-4o-mini");
  EXPECT_EQ(ev.json.find("stale"), std::string::npos);
  // None without pagent fields (a struct meta's own agent_attribution passes through).
  event = BuildWorked(Struct62(R"({"pagent_name": "", "meta": {"agent_attribution": {"a": 1}}})"),
                      &ev);
  EXPECT_EQ(event["meta"]["agent_attribution"], json::parse(R"({"a": 1})"));
  EXPECT_FALSE(BuildWorked(Msgpack(kStruct62), &ev)["meta"].contains("agent_attribution"));
}

TEST(Optional, AttributionLinksConfigAndScopeGolden) {
  TestSpan root = FlaskRequest();
  root.meta.erase(root.meta.begin());  // a 64-bit trace: decimal ids
  BuiltEvent ev;
  ASSERT_TRUE(BuildFrom({root, GenerateAnswer(Struct62(R"({
      "parent_id": "5501976830934221063", "pagent_name": "planner",
      "pagent_span_id": "5501976830934221063",
      "span_links": [{"span_id": "5501976830934221063",
                      "trace_id": "6aa99a60000000007e41c2b9d35a0f68",
                      "attributes": {"from": "output", "to": "input"}}],
      "config": {"experiment_id": "exp-1", "temperature": 0.25},
      "_dd": {"scope": "experiments", "trace_id": "struct value, overridden"}})"))},
                        1, &ev)
                  .ok());
  ExpectGolden("attribution_links_config.event.json", ev.json);
  ExpectGolden("attribution_links_config.body.json",
               BuildIntakeBody({AsIntakeEvent(ev)}, "unused"));
}

// --- §5.4: truncation ----------------------------------------------------------------------------

TEST(Truncation, AtTheLimitInputAndOutputAreReplaced) {
  BuiltEvent full;
  BuildWorked(Msgpack(kStruct62), &full);
  const size_t size = full.json.size();

  BuiltEvent ev;
  BuildWorked(Msgpack(kStruct62), &ev, {.max_event_bytes = size + 1});
  EXPECT_FALSE(ev.truncated);
  EXPECT_EQ(ev.json, full.json);

  const json event = BuildWorked(Msgpack(kStruct62), &ev, {.max_event_bytes = size});  // >=
  EXPECT_TRUE(ev.truncated);
  EXPECT_EQ(ev.untruncated_bytes, size);
  const json dropped = {{"value", std::string(kDroppedValueText)}};
  EXPECT_EQ(dropped["value"],
            "[This value has been dropped because this span's size exceeds the 5MB size limit.]");
  EXPECT_EQ(event["meta"]["input"], dropped);
  EXPECT_EQ(event["meta"]["output"], dropped);
  EXPECT_EQ(event["collection_errors"], json::parse(R"(["dropped_io"])"));
  // Everything else is as before.
  json expected = json::parse(full.json);
  expected["meta"]["input"] = dropped;
  expected["meta"]["output"] = dropped;
  expected["collection_errors"] = {"dropped_io"};
  EXPECT_EQ(event, expected);
  EXPECT_EQ(Keys(ordered_json::parse(ev.json))[1], "collection_errors");
  EXPECT_EQ(ev.key, full.key);
  ExpectGolden("truncated.event.json", ev.json);
}

TEST(Truncation, SetsInputAndOutputEvenWhenAbsentAndKeepsAttribution) {
  BuiltEvent ev;
  const json event = BuildWorked(
      Struct62(R"({"meta": {"input": null, "output": null}, "pagent_name": "p"})"), &ev,
      {.max_event_bytes = 1});
  EXPECT_TRUE(ev.truncated);
  EXPECT_EQ(event["meta"]["input"]["value"], std::string(kDroppedValueText));
  EXPECT_EQ(event["meta"]["output"]["value"], std::string(kDroppedValueText));
  EXPECT_EQ(event["meta"]["agent_attribution"]["pagent_name"], "p");
  EXPECT_EQ(event["meta"]["model_name"], "gpt-4o-mini");
}

TEST(Truncation, OversizedMessagesAreDropped) {
  const std::string big(200'000, 'x');
  BuiltEvent ev;
  const json event = BuildWorked(
      Struct62(std::string(R"({"meta": {"input": {"value": ")") + big + R"("}}})"), &ev,
      {.max_event_bytes = 100'000});
  EXPECT_TRUE(ev.truncated);
  EXPECT_GT(ev.untruncated_bytes, 200'000u);
  EXPECT_LT(ev.json.size(), 2'000u);
  EXPECT_EQ(event["meta"]["input"]["value"], std::string(kDroppedValueText));
}

// --- structs that cannot be converted: an error, nothing returned --------------------------------

// Builds a valid event into `ev` first, so the test also sees that a failure clears it.
absl::Status BuildBroken(const std::string& llmobs, BuiltEvent* ev) {
  BuildWorked(Msgpack(kStruct62), ev);
  EXPECT_FALSE(ev->json.empty());
  const absl::Status st = BuildFrom({FlaskRequest(), GenerateAnswer(llmobs)}, 1, ev);
  EXPECT_TRUE(ev->json.empty());
  EXPECT_TRUE(ev->key.trace_id.empty());
  EXPECT_EQ(ev->key.span_id, 0u);
  EXPECT_FALSE(ev->truncated);
  return st;
}

TEST(Undecodable, NotAMap) {
  for (const char* doc : {R"(["trace_id", "t"])", R"("a string")", "42", "null", "true"}) {
    BuiltEvent ev;
    const absl::Status st = BuildBroken(Msgpack(doc), &ev);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << doc;
    EXPECT_NE(st.message().find("must be a msgpack map"), absl::string_view::npos) << st;
  }
  BuiltEvent ev;
  EXPECT_EQ(BuildBroken("", &ev).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Undecodable, EveryTruncationIsRejected) {
  const std::string doc = Msgpack(kStruct62);
  for (size_t n = 0; n < doc.size(); ++n) {
    BuiltEvent ev;
    EXPECT_EQ(BuildBroken(doc.substr(0, n), &ev).code(), absl::StatusCode::kInvalidArgument) << n;
  }
}

TEST(Undecodable, TrailingBytes) {
  BuiltEvent ev;
  const absl::Status st = BuildBroken(Msgpack(kStruct62) + "\x01", &ev);
  EXPECT_NE(st.message().find("trailing bytes"), absl::string_view::npos) << st;
}

TEST(Undecodable, WrongTypes) {
  for (const char* patch : {
           R"({"trace_id": 42})", R"({"name": {"a": 1}})", R"({"parent_id": 1})",
           R"({"session_id": ["s"]})", R"({"pagent_name": 1.5})", R"({"tags": "env:prod"})",
           R"({"tags": {"k": {"nested": 1}}})", R"({"tags": {"k": [1]}})",
           R"({"meta": ["not", "a", "map"]})", R"({"metrics": "31"})",
           R"({"_dd": "x"})", R"({"span_links": {"span_id": "1"}})", R"({"config": [1]})"}) {
    BuiltEvent ev;
    const absl::Status st = BuildBroken(Struct62(patch), &ev);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << patch;
  }
}

TEST(Undecodable, NonStringKeys) {
  // {1: "x", "trace_id": "t"} and {"trace_id": "t", "tags": {1: "x"}}.
  std::vector<std::string> docs(2);
  decoder::AppendMapHeader(&docs[0], 2);
  decoder::AppendUint(&docs[0], 1);
  decoder::AppendStr(&docs[0], "x");
  decoder::AppendStr(&docs[0], "trace_id");
  decoder::AppendStr(&docs[0], "t");
  decoder::AppendMapHeader(&docs[1], 2);
  decoder::AppendStr(&docs[1], "trace_id");
  decoder::AppendStr(&docs[1], "t");
  decoder::AppendStr(&docs[1], "tags");
  decoder::AppendMapHeader(&docs[1], 1);
  decoder::AppendUint(&docs[1], 1);
  decoder::AppendStr(&docs[1], "x");
  for (const std::string& doc : docs) {
    BuiltEvent ev;
    EXPECT_EQ(BuildBroken(doc, &ev).code(), absl::StatusCode::kInvalidArgument);
  }
}

// Inside meta, metrics, _dd, config and span_links, maps are written as decoder/json.h writes
// them (non-string scalar keys as their text, container keys dropped), then sorted, and a
// duplicated key keeps its last value, as the Python dict of a msgpack-decoded struct would.
TEST(NestedMaps, SortedDeduplicatedAndKeysConverted) {
  std::string doc;
  decoder::AppendMapHeader(&doc, 3);
  decoder::AppendStr(&doc, "trace_id");
  decoder::AppendStr(&doc, "t");
  decoder::AppendStr(&doc, "meta");
  decoder::AppendMapHeader(&doc, 6);
  decoder::AppendStr(&doc, "b");
  decoder::AppendUint(&doc, 1);
  decoder::AppendStr(&doc, "a");
  decoder::AppendMapHeader(&doc, 2);  // {"z": [{"y": 1, "x": 2}], "y": null}
  decoder::AppendStr(&doc, "z");
  decoder::AppendArrayHeader(&doc, 1);
  decoder::AppendMapHeader(&doc, 2);
  decoder::AppendStr(&doc, "y");
  decoder::AppendUint(&doc, 1);
  decoder::AppendStr(&doc, "x");
  decoder::AppendUint(&doc, 2);
  decoder::AppendStr(&doc, "y");
  decoder::AppendNil(&doc);
  decoder::AppendStr(&doc, "b");  // duplicate: wins
  decoder::AppendUint(&doc, 2);
  decoder::AppendUint(&doc, 10);  // int key -> "10"
  decoder::AppendBool(&doc, true);
  decoder::AppendArrayHeader(&doc, 0);  // container key: pair dropped
  decoder::AppendUint(&doc, 3);
  decoder::AppendBin(&doc, "k");  // bin key -> "k"
  decoder::AppendStr(&doc, "v");
  decoder::AppendStr(&doc, "_dd");
  decoder::AppendMapHeader(&doc, 1);
  decoder::AppendUint(&doc, 1);
  decoder::AppendStr(&doc, "x");
  BuiltEvent ev;
  BuildWorked(doc, &ev);
  const ordered_json event = ordered_json::parse(ev.json);
  EXPECT_EQ(event["meta"].dump(), R"({"10":true,"a":{"y":null,"z":[{"x":2,"y":1}]},"b":2,"k":"v"})");
  EXPECT_EQ(event["_dd"]["1"], "x");
  EXPECT_EQ(ev.duplicate_keys, 1u);
  EXPECT_EQ(ev.json_stats.converted_keys, 3u);
  EXPECT_EQ(ev.json_stats.skipped_keys, 1u);
}

TEST(Undecodable, MissingOrEmptyTraceId) {
  for (const char* patch : {R"({"trace_id": null})", R"({"trace_id": ""})"}) {
    BuiltEvent ev;
    const absl::Status st = BuildBroken(Struct62(patch), &ev);
    EXPECT_NE(st.message().find("no trace_id"), absl::string_view::npos) << st;
  }
}

TEST(Undecodable, BadBytesInsideANestedValue) {
  // 0xc1 is never valid msgpack; deep nesting exceeds the depth limit.
  std::string doc = Msgpack(R"({"trace_id": "t", "meta": {"input": {"value": "AAAA"}}})");
  doc[doc.find("AAAA") - 1] = static_cast<char>(0xc1);  // the fixstr header
  BuiltEvent ev;
  EXPECT_EQ(BuildBroken(doc, &ev).code(), absl::StatusCode::kInvalidArgument);
  std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(BuildBroken(Struct62(std::string(R"({"meta": {"metadata": )") + deep + "}}"), &ev)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildBroken(Struct62(std::string(R"({"config": {"x": )") + deep + "}}"), &ev).code(),
            absl::StatusCode::kInvalidArgument);
  // A depth under the limit is fine.
  std::string ok = std::string(40, '[') + std::string(40, ']');
  EXPECT_TRUE(BuildFrom({FlaskRequest(),
                         GenerateAnswer(Struct62(std::string(R"({"config": {"x": )") + ok + "}}"))},
                        1, &ev)
                  .ok());
}

// Deterministic byte mutations of §6.2: every outcome is either a complete, valid JSON event
// (json::parse also rejects invalid UTF-8) or an error with nothing returned.
TEST(Undecodable, MutatedStructsGiveAValidEventOrNothing) {
  const std::string original = Msgpack(kStruct62);
  uint64_t state = 0x9e3779b97f4a7c15u;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int ok = 0, failed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string doc = original;
    for (int k = 0, n = 1 + static_cast<int>(next() % 3); k < n; ++k) {
      doc[next() % doc.size()] = static_cast<char>(next() & 0xff);
    }
    BuiltEvent ev;
    if (BuildFrom({FlaskRequest(), GenerateAnswer(doc)}, 1, &ev).ok()) {
      ++ok;
      EXPECT_NO_THROW(json::parse(ev.json)) << round;
      EXPECT_FALSE(ev.key.trace_id.empty());
    } else {
      ++failed;
      EXPECT_TRUE(ev.json.empty()) << round;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(failed, 0);
}

TEST(Undecodable, SpanWithoutTheStruct) {
  TestSpan llm = GenerateAnswer("");
  llm.meta_struct = {{"other", Msgpack("{}")}};
  BuiltEvent ev;
  EXPECT_EQ(BuildFrom({FlaskRequest(), llm}, 1, &ev).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ev.json.empty());
}

// --- strings and numbers -------------------------------------------------------------------------

TEST(Strings, UnicodePassesThroughUnchanged) {
  BuiltEvent ev;
  const json event = BuildWorked(
      Struct62(R"({"name": "répondre 🚀", "meta": {"input": {"value": "日本語 \u0001 \"q\" \\"}}})"),
      &ev);
  EXPECT_EQ(event["name"], "répondre 🚀");
  EXPECT_EQ(event["meta"]["input"]["value"], "日本語 \u0001 \"q\" \\");
  EXPECT_NE(ev.json.find("répondre 🚀"), std::string::npos);  // raw UTF-8, not \u escapes
  EXPECT_EQ(ev.json_stats.repaired_utf8_bytes, 0u);
}

TEST(Strings, InvalidUtf8IsRepaired) {
  const std::string bad = "a\xff" "b\xc3";  // a stray byte and a truncated sequence
  std::string doc;
  decoder::AppendMapHeader(&doc, 5);
  decoder::AppendStr(&doc, "trace_id");
  decoder::AppendStr(&doc, "t\xfe");
  decoder::AppendStr(&doc, "name");
  decoder::AppendStr(&doc, bad);
  decoder::AppendStr(&doc, "tags");
  decoder::AppendMapHeader(&doc, 1);
  decoder::AppendStr(&doc, "k" + bad);
  decoder::AppendStr(&doc, bad);
  decoder::AppendStr(&doc, "meta");
  decoder::AppendMapHeader(&doc, 1);
  decoder::AppendStr(&doc, bad);
  decoder::AppendStr(&doc, bad);
  decoder::AppendStr(&doc, "_dd");
  decoder::AppendMapHeader(&doc, 1);
  decoder::AppendStr(&doc, bad);
  decoder::AppendStr(&doc, bad);
  BuiltEvent ev;
  const json event = BuildWorked(doc, &ev);  // json::parse rejects invalid UTF-8
  const std::string fixed = "a\xEF\xBF\xBD" "b\xEF\xBF\xBD";
  EXPECT_EQ(event["name"], fixed);
  EXPECT_EQ(event["trace_id"], "t\xEF\xBF\xBD");
  EXPECT_EQ(ev.key.trace_id, "t\xEF\xBF\xBD");
  EXPECT_EQ(event["meta"][fixed], fixed);
  EXPECT_EQ(event["_dd"][fixed], fixed);
  EXPECT_EQ(Tags(event), (std::vector<std::string>{"error:0", "k" + fixed + ":" + fixed}));
  EXPECT_EQ(ev.json_stats.repaired_utf8_bytes, 15u);
}

TEST(Numbers, BigNumbersAreExact) {
  std::string doc;
  decoder::AppendMapHeader(&doc, 2);
  decoder::AppendStr(&doc, "trace_id");
  decoder::AppendStr(&doc, "t");
  decoder::AppendStr(&doc, "metrics");
  decoder::AppendMapHeader(&doc, 6);
  decoder::AppendStr(&doc, "u64");
  decoder::AppendUint(&doc, std::numeric_limits<uint64_t>::max());
  decoder::AppendStr(&doc, "i64");
  decoder::AppendInt(&doc, std::numeric_limits<int64_t>::min());
  decoder::AppendStr(&doc, "big_float");
  decoder::AppendFloat64(&doc, 1e300);
  decoder::AppendStr(&doc, "sum");
  decoder::AppendFloat64(&doc, 0.1 + 0.2);
  decoder::AppendStr(&doc, "integral_float");
  decoder::AppendFloat64(&doc, 31.0);
  decoder::AppendStr(&doc, "nan");
  decoder::AppendFloat64(&doc, std::numeric_limits<double>::quiet_NaN());
  BuiltEvent ev;
  const json event = BuildWorked(doc, &ev);
  EXPECT_NE(ev.json.find(
                "\"metrics\":{\"big_float\":1e+300,\"i64\":-9223372036854775808,"
                "\"integral_float\":31.0,\"nan\":null,\"sum\":0.30000000000000004,"
                "\"u64\":18446744073709551615}"),
            std::string::npos)
      << ev.json;
  EXPECT_EQ(event["metrics"]["u64"].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(event["metrics"]["i64"].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(event["metrics"]["sum"].get<double>(), 0.1 + 0.2);
  EXPECT_TRUE(event["metrics"]["integral_float"].is_number_float());
  EXPECT_EQ(ev.json_stats.non_finite_floats, 1u);
}

// dd-trace-js's encoding: map32 / str32 everywhere, every number a float64, flat meta keys.
TEST(Shapes, DdTraceJsEncoding) {
  using decoder::Width;
  std::string doc;
  auto str = [&](std::string_view s) { decoder::AppendStr(&doc, s, Width::k32); };
  decoder::AppendMapHeader(&doc, 5, 5);
  str("trace_id");
  str("6aa99a60000000007e41c2b9d35a0f68");
  str("tags");
  decoder::AppendMapHeader(&doc, 3, 5);
  str("error");
  str("0");
  str("language");
  str("javascript");
  str("ddtrace.version");
  str("6.21.0");
  str("meta");
  decoder::AppendMapHeader(&doc, 2, 5);
  str("span.kind");
  str("llm");
  str("output");
  decoder::AppendMapHeader(&doc, 0, 5);
  str("metrics");
  decoder::AppendMapHeader(&doc, 1, 5);
  str("input_tokens");
  decoder::AppendFloat64(&doc, 31);
  str("_dd");
  decoder::AppendMapHeader(&doc, 1, 5);
  str("sample_rate");
  decoder::AppendFloat64(&doc, 1);
  TestSpan llm = GenerateAnswer(doc);
  llm.wide = true;
  llm.error = 1;
  BuiltEvent ev;
  ASSERT_TRUE(BuildFrom({FlaskRequest(), llm}, 1, &ev).ok());
  const json event = json::parse(ev.json);
  EXPECT_EQ(event["meta"], json::parse(R"({"span.kind": "llm", "output": {}})"));
  EXPECT_NE(ev.json.find("\"metrics\":{\"input_tokens\":31.0}"), std::string::npos);
  EXPECT_EQ(event["_dd"]["sample_rate"], 1.0);
  EXPECT_EQ(Tags(event),
            (std::vector<std::string>{"ddtrace.version:6.21.0", "error:1", "language:javascript"}));
  EXPECT_EQ(ev.tracer_version, "6.21.0");
}

// --- the builder and the intake body -------------------------------------------------------------

TEST(Builder, ReusedAcrossEventsAndPayloads) {
  const std::string a = EncodePayload({{FlaskRequest(), GenerateAnswer(Msgpack(kStruct62))}});
  TestSpan other = GenerateAnswer(Msgpack(R"({"trace_id": "ffff", "tags": {"x": "y"}})"));
  other.span_id = 5;
  const std::string b = EncodePayload({{other}});
  Payload pa, pb;
  ASSERT_TRUE(PayloadReader().Read(a, &pa).ok());
  ASSERT_TRUE(PayloadReader().Read(b, &pb).ok());
  EventBuilder builder;
  BuiltEvent ev1, ev2, scratch;
  ASSERT_TRUE(builder.Build(pa, pa.chunks[0], pa.spans[1], &ev1).ok());
  ASSERT_TRUE(builder.Build(pb, pb.chunks[0], pb.spans[0], &scratch).ok());
  ASSERT_TRUE(builder.Build(pa, pa.chunks[0], pa.spans[1], &scratch).ok());
  EXPECT_EQ(scratch.json, ev1.json);
  ASSERT_TRUE(builder.Build(pb, pb.chunks[0], pb.spans[0], &ev2).ok());
  const json e2 = json::parse(ev2.json);
  EXPECT_EQ(e2["tags"], json::parse(R"(["error:0", "x:y"])"));
  EXPECT_EQ(e2["_dd"]["span_id"], "5");
  EXPECT_FALSE(e2.contains("session_id"));
  EXPECT_EQ(ev2.key, (EventKey{"ffff", 5}));
  EXPECT_EQ(ev2.tracer_version, "");
}

TEST(IntakeBody, OneEnvelopePerEvent) {
  const std::string e1 = R"({"trace_id":"a"})";
  const std::string e2 = R"({"trace_id":"b"})";
  const std::string body = BuildIntakeBody(
      {IntakeEvent{e1, "4.13.0", false}, IntakeEvent{e2, "", true}}, "llmobs-edge/0.1.0");
  EXPECT_EQ(body,
            R"([{"_dd.stage":"raw","_dd.tracer_version":"4.13.0","event_type":"span",)"
            R"("spans":[{"trace_id":"a"}]},{"_dd.scope":"experiments","_dd.stage":"raw",)"
            R"("_dd.tracer_version":"llmobs-edge/0.1.0","event_type":"span",)"
            R"("spans":[{"trace_id":"b"}]}])");
  EXPECT_EQ(BuildIntakeBody({}, "x"), "[]");
}

}  // namespace
}  // namespace llmobs_edge::rescue
