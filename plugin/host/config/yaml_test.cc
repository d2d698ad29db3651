// Tests of the YAML configuration file (yaml.cc), LoadConfig()'s layering, and the YAML printout
// of the effective configuration (render.cc). Field kinds proto/config.proto does not use yet
// (enums, maps, repeated messages, signed and floating types) are exercised on a test-only schema
// built at run time, and on protobuf's own descriptor messages.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugin/host/config/config.h"

namespace llmobs_edge::config {
namespace {

namespace pb = google::protobuf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- helpers ---------------------------------------------------------------------------------

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}
const EnvLookup kNoEnv = Env({});

// The defaults with `yaml` applied; fails the test on error.
Config Apply(const std::string& yaml) {
  Config c = DefaultConfig();
  const absl::Status st = ApplyYaml(yaml, "config.yaml", &c);
  EXPECT_TRUE(st.ok()) << st;
  return c;
}

// The error message for `yaml` applied to the defaults ("" when it applies).
std::string Error(const std::string& yaml) {
  Config c = DefaultConfig();
  const absl::Status st = ApplyYaml(yaml, "config.yaml", &c);
  if (!st.ok()) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  }
  return std::string(st.message());
}

bool Same(const pb::Message& a, const pb::Message& b) {
  pb::util::MessageDifferencer d;
  std::string report;
  d.ReportDifferencesToString(&report);
  const bool same = d.Compare(a, b);
  EXPECT_TRUE(same) << report;
  return same;
}

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string WriteFile(absl::string_view name, absl::string_view text) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

// A schema with every kind of field, built at run time (no .proto file in the tree): the walk
// only follows descriptors, so it must handle what proto/config.proto may grow into.
constexpr absl::string_view kSchema = R"txt(
  name: "yaml_test_schema.proto"
  package: "yamltest"
  syntax: "proto3"
  enum_type {
    name: "Mode"
    value { name: "MODE_UNSPECIFIED" number: 0 }
    value { name: "MODE_FAST" number: 1 }
    value { name: "MODE_SAFE" number: 2 }
  }
  message_type {
    name: "Everything"
    field { name: "text" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "blob" number: 2 label: LABEL_OPTIONAL type: TYPE_BYTES }
    field { name: "flag" number: 3 label: LABEL_OPTIONAL type: TYPE_BOOL }
    field { name: "i32" number: 4 label: LABEL_OPTIONAL type: TYPE_INT32 }
    field { name: "i64" number: 5 label: LABEL_OPTIONAL type: TYPE_INT64 }
    field { name: "u32" number: 6 label: LABEL_OPTIONAL type: TYPE_UINT32 }
    field { name: "u64" number: 7 label: LABEL_OPTIONAL type: TYPE_UINT64 }
    field { name: "s32" number: 8 label: LABEL_OPTIONAL type: TYPE_SINT32 }
    field { name: "f64" number: 9 label: LABEL_OPTIONAL type: TYPE_FIXED64 }
    field { name: "d" number: 10 label: LABEL_OPTIONAL type: TYPE_DOUBLE }
    field { name: "f" number: 11 label: LABEL_OPTIONAL type: TYPE_FLOAT }
    field {
      name: "mode" number: 12 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".yamltest.Mode"
    }
    field { name: "numbers" number: 13 label: LABEL_REPEATED type: TYPE_INT64 }
    field {
      name: "modes" number: 14 label: LABEL_REPEATED type: TYPE_ENUM type_name: ".yamltest.Mode"
    }
    field {
      name: "children" number: 15 label: LABEL_REPEATED type: TYPE_MESSAGE
      type_name: ".yamltest.Everything"
    }
    field {
      name: "counts" number: 16 label: LABEL_REPEATED type: TYPE_MESSAGE
      type_name: ".yamltest.Everything.CountsEntry"
    }
    field {
      name: "by_id" number: 17 label: LABEL_REPEATED type: TYPE_MESSAGE
      type_name: ".yamltest.Everything.ByIdEntry"
    }
    field {
      name: "child" number: 18 label: LABEL_OPTIONAL type: TYPE_MESSAGE
      type_name: ".yamltest.Everything"
    }
    field { name: "name" number: 19 label: LABEL_OPTIONAL type: TYPE_STRING oneof_index: 0 }
    field { name: "id" number: 20 label: LABEL_OPTIONAL type: TYPE_UINT32 oneof_index: 0 }
    field {
      name: "intake" number: 21 label: LABEL_OPTIONAL type: TYPE_MESSAGE
      type_name: ".yamltest.Intake"
    }
    oneof_decl { name: "choice" }
    nested_type {
      name: "CountsEntry"
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
      field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
      options { map_entry: true }
    }
    nested_type {
      name: "ByIdEntry"
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
      field {
        name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
        type_name: ".yamltest.Everything"
      }
      options { map_entry: true }
    }
  }
  message_type {
    name: "Intake"
    field { name: "api_key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "url" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "auth_token" number: 3 label: LABEL_REPEATED type: TYPE_STRING }
    field { name: "client_secret" number: 4 label: LABEL_OPTIONAL type: TYPE_STRING }
  }
)txt";

class Schema {
 public:
  static const Schema& Get() {
    static const Schema* schema = new Schema;
    return *schema;
  }
  std::unique_ptr<pb::Message> New() const {
    return std::unique_ptr<pb::Message>(factory_.GetPrototype(everything_)->New());
  }
  // A message from protobuf text format.
  std::unique_ptr<pb::Message> Parse(absl::string_view text) const {
    std::unique_ptr<pb::Message> m = New();
    EXPECT_TRUE(pb::TextFormat::ParseFromString(std::string(text), m.get())) << text;
    return m;
  }

 private:
  Schema() {
    pb::FileDescriptorProto file;
    if (!pb::TextFormat::ParseFromString(std::string(kSchema), &file)) std::abort();
    if (pool_.BuildFile(file) == nullptr) std::abort();
    everything_ = pool_.FindMessageTypeByName("yamltest.Everything");
  }
  pb::DescriptorPool pool_;
  mutable pb::DynamicMessageFactory factory_{&pool_};
  const pb::Descriptor* everything_ = nullptr;
};

std::unique_ptr<pb::Message> ApplyToNew(const std::string& yaml) {
  std::unique_ptr<pb::Message> m = Schema::Get().New();
  const absl::Status st = ApplyYamlToMessage(yaml, "test.yaml", m.get());
  EXPECT_TRUE(st.ok()) << st;
  return m;
}

std::string GenericError(const std::string& yaml) {
  std::unique_ptr<pb::Message> m = Schema::Get().New();
  return std::string(ApplyYamlToMessage(yaml, "test.yaml", m.get()).message());
}

// --- ApplyYaml on the configuration -------------------------------------------------------------

TEST(ApplyYaml, SetsStringIntegerAndBoolSettingsOfTheConfig) {
  const Config c = Apply(R"(
ingest:
  host: 0.0.0.0
  port: 8126
  max_payload_bytes: 10485760000
agent:
  url: unix:///var/run/datadog/apm.socket
rescue:
  rescue_without_priority: false
)");
  EXPECT_EQ(c.ingest().host(), "0.0.0.0");
  EXPECT_EQ(c.ingest().port(), 8126u);
  EXPECT_EQ(c.ingest().max_payload_bytes(), 10485760000u);
  EXPECT_EQ(c.agent().url(), "unix:///var/run/datadog/apm.socket");
  EXPECT_TRUE(c.rescue().has_rescue_without_priority());
  EXPECT_FALSE(c.rescue().rescue_without_priority());
}

TEST(ApplyYaml, LeavesSettingsTheDocumentDoesNotMentionAlone) {
  const Config c = Apply("ingest: {port: 9000}\n");
  Config expected = DefaultConfig();
  expected.mutable_ingest()->set_port(9000);
  Same(c, expected);
}

TEST(ApplyYaml, EmptyDocumentNullOrCommentsChangeNothing) {
  for (const char* yaml :
       {"", "~", "null", "# nothing yet\n", "---\n", "ingest:\n", "ingest: {}"}) {
    Same(Apply(yaml), DefaultConfig());
  }
}

TEST(ApplyYaml, SequenceReplacesTheWholeRepeatedSetting) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyYaml("pipeline: {stages: [rescue, sample]}", "a.yaml", &c).ok());
  ASSERT_TRUE(ApplyYaml("pipeline:\n  stages:\n    - redact\n", "b.yaml", &c).ok());
  ASSERT_EQ(c.pipeline().stages_size(), 1);
  EXPECT_EQ(c.pipeline().stages(0), "redact");
  ASSERT_TRUE(ApplyYaml("pipeline: {stages: []}", "c.yaml", &c).ok());
  EXPECT_EQ(c.pipeline().stages_size(), 0);
}

TEST(ApplyYaml, NamesLineAndSettingOfBadInteger) {
  EXPECT_EQ(Error("ingest:\n  host: 0.0.0.0\n  port: abc\n"),
            "config.yaml:3: ingest.port = \"abc\": expected an integer from 0 to 4294967295");
}

TEST(ApplyYaml, RejectsIntegersOutsideTheFieldType) {
  EXPECT_EQ(Error("ingest: {port: 4294967296}"),
            "config.yaml:1: ingest.port = \"4294967296\": expected an integer from 0 to "
            "4294967295");
  EXPECT_THAT(Error("ingest: {port: -1}"), HasSubstr("ingest.port = \"-1\""));
  EXPECT_THAT(Error("ingest: {port: 1.5}"), HasSubstr("ingest.port = \"1.5\""));
  EXPECT_THAT(Error("ingest: {port: 1_000}"), HasSubstr("ingest.port = \"1_000\""));
  EXPECT_THAT(Error("ingest: {port: ''}"), HasSubstr("ingest.port = \"\""));
  EXPECT_EQ(Error("ingest: {max_payload_bytes: 18446744073709551616}"),
            "config.yaml:1: ingest.max_payload_bytes = \"18446744073709551616\": expected an "
            "integer from 0 to 18446744073709551615");
  EXPECT_EQ(Apply("ingest: {max_payload_bytes: 18446744073709551615}").ingest().max_payload_bytes(),
            UINT64_MAX);
}

TEST(ApplyYaml, PortAbove65535IsLeftToValidate) {
  // ApplyYaml checks the field type (uint32); the service's limit is Validate()'s.
  const Config c = Apply("ingest: {port: 70000}");
  EXPECT_EQ(c.ingest().port(), 70000u);
  EXPECT_EQ(Validate(c).message(), "ingest.port = \"70000\": expected 0 to 65535");
}

TEST(ApplyYaml, AcceptsYaml12CoreIntegerForms) {
  EXPECT_EQ(Apply("ingest: {port: 0x1F90}").ingest().port(), 8080u);
  EXPECT_EQ(Apply("ingest: {port: 0o17}").ingest().port(), 15u);
  EXPECT_EQ(Apply("ingest: {port: +42}").ingest().port(), 42u);
  EXPECT_EQ(Apply("ingest: {port: 0}").ingest().port(), 0u);
  // The field's type decides, not the quoting.
  EXPECT_EQ(Apply("ingest: {port: \"8137\"}").ingest().port(), 8137u);
}

TEST(ApplyYaml, BoolsAreTrueOrFalseOnly) {
  for (const char* yes : {"true", "True", "TRUE"}) {
    Config c = DefaultConfig();
    c.mutable_rescue()->set_rescue_without_priority(false);
    ASSERT_TRUE(
        ApplyYaml(absl::StrCat("rescue: {rescue_without_priority: ", yes, "}"), "c.yaml", &c).ok());
    EXPECT_TRUE(c.rescue().rescue_without_priority()) << yes;
  }
  for (const char* no : {"false", "False", "FALSE"}) {
    EXPECT_FALSE(Apply(absl::StrCat("rescue: {rescue_without_priority: ", no, "}"))
                     .rescue()
                     .rescue_without_priority())
        << no;
  }
  // YAML 1.1 spellings are not booleans in YAML 1.2.
  for (const char* other : {"yes", "no", "on", "off", "y", "n", "1", "0", "tRUE"}) {
    EXPECT_EQ(Error(absl::StrCat("rescue:\n  rescue_without_priority: ", other)),
              absl::StrCat("config.yaml:2: rescue.rescue_without_priority = \"", other,
                           "\": expected true or false"));
  }
}

TEST(ApplyYaml, StringSettingsTakeAnyScalarVerbatim) {
  // `off` is a bool in YAML 1.1 and a number looks like a number: a string setting takes the text.
  EXPECT_EQ(Apply("logging: {level: off}").logging().level(), "off");
  EXPECT_EQ(Apply("ingest: {host: 10}").ingest().host(), "10");
  EXPECT_EQ(Apply("ingest: {socket: ''}").ingest().socket(), "");
  EXPECT_EQ(Apply("ingest: {socket: \"~\"}").ingest().socket(), "~");
}

TEST(ApplyYaml, NullForAScalarSettingIsAnError) {
  EXPECT_EQ(Error("ingest:\n  socket:\n  port: 1\n"),
            "config.yaml:2: ingest.socket: expected UTF-8 text, found null (write \"\" for an "
            "empty string)");
  EXPECT_EQ(Error("ingest: {port: ~}"),
            "config.yaml:1: ingest.port: expected an integer from 0 to 4294967295, found null");
  EXPECT_EQ(Error("pipeline:\n  stages:\n"),
            "config.yaml:2: pipeline.stages: expected a sequence, found null (write [] for none)");
}

TEST(ApplyYaml, UnknownSettingNamesLineAndSuggestsTheNearestField) {
  EXPECT_EQ(Error("ingest:\n  host: 0.0.0.0\n\n  # the port\n  prot: 8126\n"),
            "config.yaml:5: unknown setting \"ingest.prot\"; did you mean \"ingest.port\"?");
  EXPECT_EQ(Error("agnet:\n  url: http://agent:8126\n"),
            "config.yaml:1: unknown setting \"agnet\"; did you mean \"agent\"?");
}

TEST(ApplyYaml, UnknownSettingWithNothingCloseHasNoSuggestion) {
  EXPECT_EQ(Error("ingest: {compression: zstd}"),
            "config.yaml:1: unknown setting \"ingest.compression\"");
}

TEST(ApplyYaml, SuggestsTheProtoNameForCamelCaseOrDashedKeys) {
  EXPECT_THAT(Error("ingest: {maxPayloadBytes: 1}"),
              HasSubstr("did you mean \"ingest.max_payload_bytes\"?"));
  EXPECT_THAT(Error("ingest: {max-payload-bytes: 1}"),
              HasSubstr("did you mean \"ingest.max_payload_bytes\"?"));
  EXPECT_THAT(Error("Ingest: {port: 1}"), HasSubstr("did you mean \"ingest\"?"));
}

TEST(ApplyYaml, SuggestsTheSectionOfAMisplacedSetting) {
  EXPECT_EQ(Error("url: http://agent:8126"),
            "config.yaml:1: unknown setting \"url\"; did you mean \"agent.url\" or "
            "\"intake.url\"?");
  EXPECT_EQ(Error("timeout_ms: 5"),
            "config.yaml:1: unknown setting \"timeout_ms\"; did you mean \"agent.timeout_ms\" or "
            "\"intake.timeout_ms\"?");
  EXPECT_EQ(Error("stages: [rescue]"),
            "config.yaml:1: unknown setting \"stages\"; did you mean \"pipeline.stages\"?");
}

TEST(ApplyYaml, RejectsAMappingOrSequenceWhereAScalarIsExpected) {
  EXPECT_EQ(Error("ingest:\n  port:\n    value: 1\n"),
            "config.yaml:3: ingest.port: expected an integer from 0 to 4294967295, found a "
            "mapping");
  EXPECT_EQ(Error("agent: {url: [http://a, http://b]}"),
            "config.yaml:1: agent.url: expected UTF-8 text, found a sequence");
  EXPECT_EQ(Error("pipeline: {stages: [[rescue]]}"),
            "config.yaml:1: pipeline.stages[0]: expected UTF-8 text, found a sequence");
}

TEST(ApplyYaml, RejectsAScalarOrSequenceWhereAMappingIsExpected) {
  EXPECT_EQ(Error("ingest: 8136"),
            "config.yaml:1: ingest = \"8136\": expected a mapping of settings");
  EXPECT_EQ(Error("agent:\n  - url: http://a\n"),
            "config.yaml:2: agent: expected a mapping of settings, found a sequence");
  EXPECT_EQ(Error("pipeline: {stages: rescue}"),
            "config.yaml:1: pipeline.stages = \"rescue\": expected a sequence such as [rescue]");
  EXPECT_EQ(Error("- ingest"), "config.yaml:1: expected a mapping of settings, found a sequence");
  EXPECT_EQ(Error("8136"), "config.yaml:1: expected a mapping of settings, found a scalar");
}

TEST(ApplyYaml, RejectsASettingWrittenTwice) {
  EXPECT_EQ(Error("ingest:\n  port: 1\n  host: h\n  port: 2\n"),
            "config.yaml:4: setting \"ingest.port\" appears twice (also on line 2)");
}

TEST(ApplyYaml, RejectsNonScalarKeys) {
  EXPECT_EQ(Error("ingest:\n  ? [port]\n  : 1\n"),
            "config.yaml:2: expected a setting name in ingest, found a sequence");
}

TEST(ApplyYaml, ParseErrorNamesLineAndColumn) {
  const std::string error = Error("ingest:\n  port: [1\n  host: x\n");
  EXPECT_THAT(error, StartsWith("config.yaml:"));
  EXPECT_THAT(error, HasSubstr("invalid YAML: "));
  EXPECT_EQ(Error("a: 1\n b: 2\n"), "config.yaml:2:3: invalid YAML: illegal map value");
}

TEST(ApplyYaml, RejectsMoreThanOneDocument) {
  EXPECT_EQ(Error("ingest: {port: 1}\n---\ningest: {port: 2}\n"),
            "config.yaml:3: expected one YAML document, found 2");
}

TEST(ApplyYaml, RejectsStringsThatAreNotUtf8) {
  EXPECT_EQ(Error("ingest: {host: \"a\xff\"}"),
            "config.yaml:1: ingest.host = \"a\\xff\": expected UTF-8 text");
}

TEST(ApplyYaml, LeavesTheConfigUnchangedOnError) {
  Config c = DefaultConfig();
  EXPECT_FALSE(ApplyYaml("ingest: {port: 1, host: h}\npipeline: {stages: [a]}\nagent: {url: [x]}",
                         "c.yaml", &c)
                   .ok());
  Same(c, DefaultConfig());
}

TEST(ApplyYaml, WithoutSourceNameErrorsNameTheLine) {
  Config c = DefaultConfig();
  EXPECT_EQ(ApplyYaml("\ningest: {port: x}", "", &c).message(),
            "line 2: ingest.port = \"x\": expected an integer from 0 to 4294967295");
}

// --- ApplyYamlToMessage: field kinds the configuration does not use yet ----------------------

TEST(ApplyYamlToMessage, ConvertsEveryScalarType) {
  const auto m = ApplyToNew(R"(
text: "héllo"
blob: raw bytes
flag: true
i32: -2147483648
i64: -9223372036854775808
u32: 4294967295
u64: 18446744073709551615
s32: -7
f64: 0xFFFFFFFFFFFFFFFF
d: -1.5e3
f: 0.1
mode: MODE_SAFE
)");
  Same(*m, *Schema::Get().Parse(R"txt(
    text: "h\303\251llo" blob: "raw bytes" flag: true i32: -2147483648
    i64: -9223372036854775808 u32: 4294967295 u64: 18446744073709551615 s32: -7
    f64: 18446744073709551615 d: -1500 f: 0.1 mode: MODE_SAFE
  )txt"));
}

TEST(ApplyYamlToMessage, RejectsSignedIntegersOutOfRange) {
  EXPECT_EQ(GenericError("i32: 2147483648"),
            "test.yaml:1: i32 = \"2147483648\": expected an integer from -2147483648 to "
            "2147483647");
  EXPECT_EQ(GenericError("i32: -2147483649"),
            "test.yaml:1: i32 = \"-2147483649\": expected an integer from -2147483648 to "
            "2147483647");
  EXPECT_EQ(GenericError("i64: 9223372036854775808"),
            "test.yaml:1: i64 = \"9223372036854775808\": expected an integer from "
            "-9223372036854775808 to 9223372036854775807");
  EXPECT_THAT(GenericError("i64: -0x1"), HasSubstr("i64 = \"-0x1\""));
}

TEST(ApplyYamlToMessage, ReadsYamlFloatingPointForms) {
  auto d = [](absl::string_view yaml) {
    const auto m = ApplyToNew(absl::StrCat("d: ", yaml));
    return m->GetReflection()->GetDouble(*m, m->GetDescriptor()->FindFieldByName("d"));
  };
  EXPECT_EQ(d("1"), 1.0);
  EXPECT_EQ(d(".5"), 0.5);
  EXPECT_EQ(d("+2.5E-1"), 0.25);
  EXPECT_EQ(d(".inf"), INFINITY);
  EXPECT_EQ(d("-.Inf"), -INFINITY);
  EXPECT_TRUE(std::isnan(d(".nan")));
  for (const char* bad : {"abc", "1e", "inf", "nan", "0x10", "1,5", "--1"}) {
    EXPECT_EQ(GenericError(absl::StrCat("d: ", bad)),
              absl::StrCat("test.yaml:1: d = \"", bad, "\": expected a number"));
  }
  EXPECT_EQ(GenericError("f: 1e39"),
            "test.yaml:1: f = \"1e39\": expected a number in the range of a 32-bit float");
  EXPECT_EQ(GenericError("d: 1e999"), "test.yaml:1: d = \"1e999\": expected a number");
}

TEST(ApplyYamlToMessage, ReadsEnumsByNameOrNumber) {
  Same(*ApplyToNew("mode: MODE_FAST\nmodes: [MODE_SAFE, 1, 7]"),
       *Schema::Get().Parse("mode: MODE_FAST modes: [MODE_SAFE, MODE_FAST, 7]"));
  EXPECT_EQ(GenericError("mode: fast"),
            "test.yaml:1: mode = \"fast\": expected one of MODE_UNSPECIFIED, MODE_FAST, "
            "MODE_SAFE");
  // A closed (proto2) enum takes only its declared numbers.
  pb::FieldDescriptorProto field;
  EXPECT_TRUE(ApplyYamlToMessage("type: 5", "f.yaml", &field).ok());
  EXPECT_EQ(field.type(), pb::FieldDescriptorProto::TYPE_INT32);
  EXPECT_THAT(std::string(ApplyYamlToMessage("type: 99", "f.yaml", &field).message()),
              StartsWith("f.yaml:1: type = \"99\": expected one of TYPE_DOUBLE, TYPE_FLOAT"));
}

TEST(ApplyYamlToMessage, ReadsSequencesOfMappingsAndNestedMessages) {
  const auto m = ApplyToNew(R"(
children:
  - text: first
    numbers: [1, 2]
  -
  - child: {u32: 7}
child:
  children: [{flag: true}]
)");
  Same(*m, *Schema::Get().Parse(R"txt(
    children { text: "first" numbers: [1, 2] }
    children {}
    children { child { u32: 7 } }
    child { children { flag: true } }
  )txt"));
  EXPECT_EQ(GenericError("children:\n  - text: a\n  - 5\n"),
            "test.yaml:3: children[1] = \"5\": expected a mapping of settings");
  EXPECT_EQ(GenericError("children:\n  - {nmae: a}\n"),
            "test.yaml:2: unknown setting \"children[0].nmae\"; did you mean "
            "\"children[0].name\"?");
}

TEST(ApplyYamlToMessage, ReadsMapsWithTypedKeys) {
  const auto m = ApplyToNew(R"(
counts: {b: 2, a: 1}
by_id:
  7: {text: seven}
  -1: {}
)");
  Same(*m, *Schema::Get().Parse(R"txt(
    counts { key: "a" value: 1 }
    counts { key: "b" value: 2 }
    by_id { key: 7 value { text: "seven" } }
    by_id { key: -1 value {} }
  )txt"));
  EXPECT_EQ(GenericError("by_id:\n  x: {}\n"),
            "test.yaml:2: by_id: key \"x\": expected an integer from -2147483648 to 2147483647");
  EXPECT_EQ(GenericError("by_id:\n  1: {}\n  01: {}\n"),
            "test.yaml:3: by_id[\"1\"] appears twice (also on line 2)");
  EXPECT_EQ(GenericError("counts: {a: x}"),
            "test.yaml:1: counts[\"a\"] = \"x\": expected an integer from -2147483648 to "
            "2147483647");
  EXPECT_EQ(GenericError("counts: [a]"),
            "test.yaml:1: counts: expected a mapping, found a sequence");
}

TEST(ApplyYamlToMessage, LastOneofMemberWins) {
  Same(*ApplyToNew("name: n\nid: 5"), *Schema::Get().Parse("id: 5"));
}

// --- LoadConfig: defaults < YAML file < environment, then Validate -----------------------------

TEST(LoadConfig, FileOverridesDefaultsAndEnvironmentOverridesFile) {
  const std::string path = WriteFile("precedence.yaml", R"(
ingest:
  port: 9000
  max_connections: 10
agent:
  url: unix:///var/run/datadog/apm.socket
logging:
  level: debug
)");
  const absl::StatusOr<Config> c =
      LoadConfig(path, Env({{"DD_LLMOBS_EDGE_PORT", "9100"}, {"DD_LOG_LEVEL", "warn"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ingest().port(), 9100u);                                    // environment
  EXPECT_EQ(c->logging().level(), "warn");                                 // environment
  EXPECT_EQ(c->ingest().max_connections(), 10u);                           // file
  EXPECT_EQ(c->agent().url(), "unix:///var/run/datadog/apm.socket");       // file
  EXPECT_EQ(c->ingest().request_timeout_ms(), 5000u);                      // default
  EXPECT_EQ(c->ingest().socket(), "/var/run/datadog/llmobs-edge.socket");  // default
}

TEST(LoadConfig, WithoutFileIsDefaultsThenEnvironment) {
  absl::StatusOr<Config> c = LoadConfig("", kNoEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  Same(*c, DefaultConfig());
  c = LoadConfig("", Env({{"DD_LLMOBS_EDGE_STAGES", "rescue"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->pipeline().stages_size(), 1);
}

TEST(LoadConfig, MissingFileIsAnErrorNamingThePath) {
  const std::string path = TempPath("does-not-exist.yaml");
  const absl::StatusOr<Config> c = LoadConfig(path, kNoEnv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(),
            absl::StrCat("cannot read config file \"", path, "\": No such file or directory"));
}

TEST(LoadConfig, DirectoryIsAnErrorNamingThePath) {
  const std::string dir = TempPath("");
  const absl::StatusOr<Config> c = LoadConfig(dir, kNoEnv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            absl::StrCat("cannot read config file \"", dir, "\": Is a directory"));
}

TEST(LoadConfig, YamlErrorsNameTheFile) {
  const std::string path = WriteFile("typo.yaml", "ingest:\n  prot: 1\n");
  EXPECT_EQ(LoadConfig(path, kNoEnv).status().message(),
            absl::StrCat(path,
                         ":2: unknown setting \"ingest.prot\"; did you mean "
                         "\"ingest.port\"?"));
}

TEST(LoadConfig, ValidationErrorNamesTheLineOfTheFile) {
  const std::string path = WriteFile("port.yaml", "# edge\ningest:\n  port: 70000\n");
  EXPECT_EQ(LoadConfig(path, kNoEnv).status().message(),
            absl::StrCat(path, ":3: ingest.port = \"70000\": expected 0 to 65535"));
  // The environment fixes it: nothing to report.
  EXPECT_TRUE(LoadConfig(path, Env({{"DD_LLMOBS_EDGE_PORT", "9000"}})).ok());
}

TEST(LoadConfig, ValidationErrorFromTheEnvironmentDoesNotBlameTheFile) {
  const std::string path = WriteFile("telemetry.yaml", "telemetry:\n  port: 9000\n");
  EXPECT_EQ(LoadConfig(path, Env({{"DD_LLMOBS_EDGE_TELEMETRY_PORT", "8136"}})).status().message(),
            "telemetry.port = \"8136\": expected a port other than ingest.port on the same host");
}

TEST(LoadConfig, ExampleFileIsTheDefaults) {
  const absl::StatusOr<Config> c = LoadConfig("deploy/config/llmobs-edge.example.yaml", kNoEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  Same(*c, DefaultConfig());
}

// --- RenderConfigYaml
// -----------------------------------------------------------------------------

// The lines of a YAML text without comment-only and blank lines.
std::string WithoutComments(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t first = line.find_first_not_of(' ');
    if (first == absl::string_view::npos || line[first] == '#') continue;
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

TEST(RenderConfigYaml, PrintsEveryFieldOfTheDefaultsInProtoOrder) {
  const std::string yaml = RenderConfigYaml(DefaultConfig());
  EXPECT_THAT(yaml, StartsWith("ingest:\n  host: \"127.0.0.1\"\n  port: 8136\n"));
  EXPECT_THAT(yaml, HasSubstr("\nagent:\n  url: http://localhost:8126\n  timeout_ms: 10000\n"));
  EXPECT_THAT(yaml, HasSubstr("\nlogging:\n  level: info\n"));
  // A section that is not set prints commented out, with its defaults.
  EXPECT_THAT(yaml, HasSubstr("\npipeline:\n  stages: [rescue]\n"));
}

TEST(RenderConfigYaml, ExampleFileShowsExactlyTheDefaults) {
  std::ifstream in("deploy/config/llmobs-edge.example.yaml");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string example = text.str();
  const std::string rendered = RenderConfigYaml(DefaultConfig());
  // The same settings, and every printed line (commented-out sections too) in the same order,
  // with explanations between them.
  EXPECT_EQ(WithoutComments(example), WithoutComments(rendered))
      << "update deploy/config/llmobs-edge.example.yaml and docs/configuration.md";
  std::vector<absl::string_view> lines = absl::StrSplit(example, '\n');
  auto next = lines.begin();
  for (absl::string_view line : absl::StrSplit(rendered, '\n', absl::SkipEmpty())) {
    next = std::find(next, lines.end(), line);
    ASSERT_NE(next, lines.end()) << "the example file lacks, or misplaces, the line \"" << line
                                 << "\" of:\n"
                                 << rendered;
    ++next;
  }
}

TEST(RenderConfigYaml, PrintsAnUnsetOptionalSettingCommentedOut) {
  Config c = DefaultConfig();
  c.mutable_ingest()->clear_port();
  const std::string yaml = RenderConfigYaml(c);
  EXPECT_THAT(yaml, HasSubstr("\n  host: \"127.0.0.1\"\n  # port: 0\n  socket: "));
  Config back;
  ASSERT_TRUE(ApplyYaml(yaml, "rendered", &back).ok());
  EXPECT_FALSE(back.ingest().has_port());
  Same(back, c);
  EXPECT_EQ(RenderConfigYaml(Config()),
            "# ingest:\n#   host: \"\"\n#   port: 0\n#   socket: \"\"\n#   grpc_address: \"\"\n"
            "#   max_payload_bytes: 0\n#   max_connections: 0\n#   request_timeout_ms: 0\n"
            "#   shutdown_grace_ms: 0\n#   threads: 0\n#   pipeline_threads: 0\n# agent:\n#   url: \"\"\n"
            "#   timeout_ms: 0\n# telemetry:\n#   host: \"\"\n#   port: 0\n# rescue:\n"
            "#   rescue_without_priority: false\n# logging:\n#   level: \"\"\n# pipeline:\n"
            "#   stages: []\n# ledger:\n#   path: \"\"\n#   sync: \"\"\n#   sync_interval_ms: 0\n"
            "#   seen_ttl_hours: 0\n#   max_outbox_bytes: 0\n#   max_dead_letter_bytes: 0\n"
            "# intake:\n#   mode: \"\"\n#   site: \"\"\n#   api_key: \"\"\n#   url: \"\"\n"
            "#   max_batch_bytes: 0\n#   flush_interval_ms: 0\n#   timeout_ms: 0\n"
            "#   max_backoff_ms: 0\n");
}

TEST(RenderConfigYaml, DefaultsRoundTrip) {
  const std::string yaml = RenderConfigYaml(DefaultConfig());
  Config back;
  ASSERT_TRUE(ApplyYaml(yaml, "rendered", &back).ok()) << ApplyYaml(yaml, "rendered", &back);
  Same(back, DefaultConfig());
  EXPECT_EQ(RenderConfigYaml(back), yaml);
  EXPECT_TRUE(Validate(back).ok());
}

// Checks that every setting of `c` differs from the default, so the round trip covers them all.
void ExpectEveryFieldDiffers(const pb::Message& a, const pb::Message& b, const std::string& path) {
  const pb::Descriptor* d = a.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    const std::string name = path + f->name();
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      ExpectEveryFieldDiffers(a.GetReflection()->GetMessage(a, f),
                              b.GetReflection()->GetMessage(b, f), name + ".");
      continue;
    }
    pb::util::MessageDifferencer differencer;
    EXPECT_FALSE(differencer.CompareWithFields(a, b, {f}, {f}))
        << name << " keeps its default in the round-trip test: change it";
  }
}

TEST(RenderConfigYaml, ConfigWithEveryFieldChangedRoundTrips) {
  Config c;
  v1::Ingest* in = c.mutable_ingest();
  in->set_host("::");
  in->set_port(0);
  in->set_socket("");
  in->set_grpc_address("[::1]:9000");
  in->set_max_payload_bytes(UINT64_MAX);
  in->set_max_connections(UINT32_MAX);
  in->set_request_timeout_ms(1);
  in->set_shutdown_grace_ms(0);
  in->set_threads(1024);
  in->set_pipeline_threads(1024);
  c.mutable_agent()->set_url("unix:///var/run/datadog/apm.socket");
  c.mutable_agent()->set_timeout_ms(4294967295u);
  c.mutable_telemetry()->set_host("0.0.0.0");
  c.mutable_telemetry()->set_port(0);
  c.mutable_rescue()->set_rescue_without_priority(false);
  c.mutable_logging()->set_level("off");
  c.mutable_pipeline()->add_stages("rescue");
  c.mutable_pipeline()->add_stages("null");
  c.mutable_pipeline()->add_stages("a, b");
  v1::Ledger* l = c.mutable_ledger();
  l->set_path("/data/ledger: x");
  l->set_sync("interval");
  l->set_sync_interval_ms(7);
  l->set_seen_ttl_hours(48);
  l->set_max_outbox_bytes(1ull << 40);
  l->set_max_dead_letter_bytes(3);
  v1::Intake* i = c.mutable_intake();
  i->set_mode("agentless");
  i->set_site("datadoghq.eu");
  i->set_api_key("0123456789abcdef");
  i->set_url("https://intake.example/api/v2/llmobs");
  i->set_max_batch_bytes(1 << 20);
  i->set_flush_interval_ms(250);
  i->set_timeout_ms(3000);
  i->set_max_backoff_ms(5000);
  ExpectEveryFieldDiffers(c, DefaultConfig(), "");

  const std::string yaml = RenderConfigYaml(c);
  EXPECT_EQ(yaml.find("0123456789abcdef"), std::string::npos) << "the API key must be redacted";
  Config back;
  const absl::Status st = ApplyYaml(yaml, "rendered", &back);
  ASSERT_TRUE(st.ok()) << st << "\n" << yaml;
  // Everything comes back except the secret, which prints redacted.
  EXPECT_EQ(back.intake().api_key(), "<redacted>");
  back.mutable_intake()->set_api_key(c.intake().api_key());
  Same(back, c);
}

TEST(RenderConfigYaml, StringsThatNeedQuotingRoundTrip) {
  for (const char* s : {"",
                        " lead",
                        "trail ",
                        "yes",
                        "No",
                        "off",
                        "null",
                        "~",
                        "true",
                        "8136",
                        "1.5",
                        "-1",
                        ".inf",
                        "0x10",
                        "a: b",
                        "a #b",
                        "#x",
                        "- item",
                        "[x]",
                        "{x}",
                        "*ref",
                        "&anchor",
                        "!tag",
                        "%dir",
                        "@at",
                        "`tick",
                        "'single'",
                        "\"double\"",
                        "back\\slash",
                        "multi\nline",
                        "tab\there",
                        "bell\a",
                        "del\x7f",
                        "ünïcödé",
                        "nel\xc2\x85",
                        "ls\xe2\x80\xa8",
                        "bom\xef\xbb\xbf",
                        "emoji \xf0\x9f\x98\x80",
                        "ends:",
                        "---",
                        "...",
                        "=",
                        "<<",
                        "?",
                        "key:value",
                        "a,b"}) {
    Config c = DefaultConfig();
    c.mutable_logging()->set_level(s);
    c.mutable_pipeline()->clear_stages();
    c.mutable_pipeline()->add_stages(s);
    c.mutable_pipeline()->add_stages("x");
    const std::string yaml = RenderConfigYaml(c);
    Config back;
    const absl::Status st = ApplyYaml(yaml, "rendered", &back);
    ASSERT_TRUE(st.ok()) << st << "\n" << yaml;
    EXPECT_EQ(back.logging().level(), s) << yaml;
    ASSERT_EQ(back.pipeline().stages_size(), 2) << yaml;
    EXPECT_EQ(back.pipeline().stages(0), s) << yaml;
  }
}

TEST(RenderConfigYaml, RedactsThePasswordOfAUrl) {
  Config c = DefaultConfig();
  c.mutable_agent()->set_url("http://user:pass@host:8126");
  EXPECT_THAT(RenderConfigYaml(c), HasSubstr("\n  url: http://user:<redacted>@host:8126\n"));
  c.mutable_agent()->set_url("http://us@er:p@ss:w@rd@[::1]:8126/x@y");
  EXPECT_THAT(RenderConfigYaml(c), HasSubstr("\n  url: http://us@er:<redacted>@[::1]:8126/x@y\n"));
  for (const char* kept : {"http://user@host:8126", "http://host:8126/a:b@c", "unix:///a:b@c",
                           "user:pass@host", "http://user:@host"}) {
    c.mutable_agent()->set_url(kept);
    EXPECT_THAT(RenderConfigYaml(c), HasSubstr(absl::StrCat("\n  url: ", kept, "\n"))) << kept;
  }
}

TEST(IsSecretField, MatchesNamesEndingInASecretWord) {
  for (const char* secret : {"api_key", "app_key", "token", "password", "secret", "intake_api_key",
                             "access_token", "proxy_password", "client_secret", "API_KEY"}) {
    EXPECT_TRUE(IsSecretField(secret)) << secret;
  }
  for (const char* plain : {"url", "host", "port", "key", "tokens_per_second", "secret_file_path",
                            "api_key_file", "stages"}) {
    EXPECT_FALSE(IsSecretField(plain)) << plain;
  }
}

TEST(RenderMessageYaml, RedactsNonEmptySecretFields) {
  const auto m = Schema::Get().Parse(R"txt(
    intake {
      api_key: "0123456789abcdef"
      url: "https://u:hunter2@intake.example.com"
      auth_token: ["t1", ""]
      client_secret: ""
    }
  )txt");
  const std::string yaml = RenderMessageYaml(*m);
  EXPECT_THAT(yaml, HasSubstr("\nintake:\n  api_key: \"<redacted>\"\n"
                              "  url: https://u:<redacted>@intake.example.com\n"
                              "  auth_token: [\"<redacted>\", \"\"]\n"
                              "  client_secret: \"\"\n"));
  EXPECT_EQ(yaml.find("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(yaml.find("hunter2"), std::string::npos);
}

TEST(ApplyYamlToMessage, ErrorsDoNotRepeatTheValueOfASecret) {
  EXPECT_EQ(GenericError("intake: {api_key: \"s3cr3t\xff\"}"),
            "test.yaml:1: intake.api_key = \"<redacted>\": expected UTF-8 text");
}

TEST(RenderMessageYaml, EveryFieldKindRoundTrips) {
  const auto m = Schema::Get().Parse(R"txt(
    text: "plain" blob: "b: y" flag: true i32: -2147483648 i64: -9223372036854775808
    u32: 4294967295 u64: 18446744073709551615 s32: -7 f64: 18446744073709551615
    d: 0.1 f: 3.4028235e38 mode: MODE_SAFE
    numbers: [-1, 0, 1] modes: [MODE_FAST, MODE_UNSPECIFIED]
    children { text: "first" numbers: [1] }
    children {}
    children { child { u32: 7 children { flag: true } } }
    counts { key: "b" value: 2 }
    counts { key: "a b" value: 1 }
    counts { key: "" value: 0 }
    by_id { key: 7 value { text: "seven" } }
    by_id { key: -1 value {} }
    child { id: 9 d: -0.5 }
    name: "chosen"
  )txt");
  const std::string yaml = RenderMessageYaml(*m);
  std::unique_ptr<pb::Message> back = Schema::Get().New();
  const absl::Status st = ApplyYamlToMessage(yaml, "rendered", back.get());
  ASSERT_TRUE(st.ok()) << st << "\n" << yaml;
  Same(*back, *m);
  EXPECT_EQ(RenderMessageYaml(*back), yaml);
}

TEST(RenderMessageYaml, SpecialNumbersRoundTrip) {
  const auto m = Schema::Get().Parse("d: inf f: -inf");
  const std::string yaml = RenderMessageYaml(*m);
  EXPECT_THAT(yaml, HasSubstr("\nd: .inf\nf: -.inf\n"));
  Same(*ApplyToNew(yaml), *m);
  EXPECT_THAT(RenderMessageYaml(*Schema::Get().Parse("d: nan")), HasSubstr("\nd: .nan\n"));
  EXPECT_THAT(RenderMessageYaml(*Schema::Get().Parse("d: 2")), HasSubstr("\nd: 2.0\n"));
}

TEST(RenderMessageYaml, PrintsMessagesAndMapsAsBlocksAndUnknownEnumNumbers) {
  const auto m = Schema::Get().Parse(R"txt(
    mode: 42
    children { text: "a" child { u32: 1 } }
    by_id { key: 3 value { flag: true } }
  )txt");
  const std::string yaml = RenderMessageYaml(*m);
  EXPECT_THAT(yaml, HasSubstr("\nmode: 42\n"));
  EXPECT_THAT(yaml, HasSubstr("\nchildren:\n  - text: a\n    blob: \"\"\n"));
  EXPECT_THAT(yaml, HasSubstr("\n    child:\n      text: \"\"\n"));
  EXPECT_THAT(yaml, HasSubstr("\nby_id:\n  3:\n    text: \"\"\n"));
  // Only the member of a oneof that is set; a recursive message only when set.
  EXPECT_EQ(yaml.find("\nname:"), std::string::npos);
  EXPECT_EQ(yaml.find("\nchild:"), std::string::npos);
  // A section that is not set is commented out.
  EXPECT_THAT(yaml, HasSubstr("\n# intake:\n#   api_key: \"\"\n"));
}

TEST(RenderMessageYaml, DescriptorOfTheConfigSchemaRoundTrips) {
  // A large proto2 message with enums, nested repeated messages and options.
  pb::FileDescriptorProto file;
  Config::descriptor()->file()->CopyTo(&file);
  const std::string yaml = RenderMessageYaml(file);
  pb::FileDescriptorProto back;
  const absl::Status st = ApplyYamlToMessage(yaml, "rendered", &back);
  ASSERT_TRUE(st.ok()) << st << "\n" << yaml;
  Same(back, file);
  EXPECT_EQ(RenderMessageYaml(back), yaml);
}

}  // namespace
}  // namespace llmobs_edge::config
