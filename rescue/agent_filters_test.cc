// Tests of the Agent's trace filters as the edge learns them from /info and applies them to a
// chunk's root span: ignore_resources, filter_tags and filter_tags_regex, with the Agent's rules.

#include "rescue/agent_filters.h"

#include <string>
#include <vector>

#include "decoder/reader.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"

namespace llmobs_edge::rescue {
namespace {

using decoder::testing::EncodePayload;
using decoder::testing::TestSpan;
using Verdict = AgentFilters::Verdict;

// Decodes a one-span payload and checks the span against filters parsed from `info`.
class Root {
 public:
  explicit Root(TestSpan span) : bytes_(EncodePayload({{span}})) {
    EXPECT_TRUE(decoder::PayloadReader().Read(bytes_, &payload_).ok());
  }
  Verdict Check(const std::string& info) const {
    auto filters = AgentFilters::FromInfo(info);
    EXPECT_TRUE(filters.ok()) << filters.status();
    return (*filters)->Check(payload_, payload_.spans[0]);
  }

 private:
  std::string bytes_;
  decoder::Payload payload_;
};

TestSpan Span(std::string resource, std::vector<std::pair<std::string, std::string>> meta = {}) {
  TestSpan s;
  s.resource = std::move(resource);
  s.meta = std::move(meta);
  return s;
}

TEST(AgentFilters, AllowsEverythingWithoutFilters) {
  EXPECT_EQ(Root(Span("GET /health")).Check(R"({"version":"7.99.0"})"), Verdict::kAllowed);
  EXPECT_EQ(Root(Span("x")).Check(
                R"({"ignore_resources":[],"filter_tags":{"require":[],"reject":[]}})"),
            Verdict::kAllowed);
}

TEST(AgentFilters, IgnoreResourcesIsAnUnanchoredRegexOnTheRootResource) {
  const std::string info = R"({"ignore_resources":["GET /health","^POST /internal/.*$"]})";
  EXPECT_EQ(Root(Span("GET /healthz")).Check(info), Verdict::kIgnoredResource);
  EXPECT_EQ(Root(Span("POST /internal/sync")).Check(info), Verdict::kIgnoredResource);
  EXPECT_EQ(Root(Span("GET /users")).Check(info), Verdict::kAllowed);
  EXPECT_EQ(Root(Span("x POST /internal/sync")).Check(info), Verdict::kAllowed);
}

TEST(AgentFilters, RejectTagsMatchKeyAloneOrKeyAndExactValue) {
  const std::string info = R"({"filter_tags":{"reject":["http.url:/ping","synthetic"]}})";
  EXPECT_EQ(Root(Span("r", {{"http.url", "/ping"}})).Check(info), Verdict::kFilteredByTags);
  EXPECT_EQ(Root(Span("r", {{"http.url", "/ping2"}})).Check(info), Verdict::kAllowed);
  EXPECT_EQ(Root(Span("r", {{"synthetic", "anything"}})).Check(info), Verdict::kFilteredByTags);
}

TEST(AgentFilters, RequireTagsFilterRootsMissingTheKeyOrTheValue) {
  const std::string info = R"({"filter_tags":{"require":["env:prod", "team"]}})";
  EXPECT_EQ(Root(Span("r", {{"env", "prod"}, {"team", "ml"}})).Check(info), Verdict::kAllowed);
  EXPECT_EQ(Root(Span("r", {{"env", "staging"}, {"team", "ml"}})).Check(info),
            Verdict::kFilteredByTags);
  EXPECT_EQ(Root(Span("r", {{"env", "prod"}})).Check(info), Verdict::kFilteredByTags);
}

TEST(AgentFilters, RegexTagFiltersUseUnanchoredMatches) {
  const std::string info =
      R"({"filter_tags_regex":{"require":["env:^prod"],"reject":["http.useragent:bot|crawler"]}})";
  EXPECT_EQ(Root(Span("r", {{"env", "prod-eu"}})).Check(info), Verdict::kAllowed);
  EXPECT_EQ(Root(Span("r", {{"env", "preprod"}})).Check(info), Verdict::kFilteredByTags);
  EXPECT_EQ(Root(Span("r", {{"env", "prod"}, {"http.useragent", "Googlebot/2.1"}})).Check(info),
            Verdict::kFilteredByTags);
}

TEST(AgentFilters, TrimsSpacesAroundKeyAndValueLikeTheAgent) {
  const std::string info = R"({"filter_tags":{"reject":[" env : dev "]}})";
  EXPECT_EQ(Root(Span("r", {{"env", "dev"}})).Check(info), Verdict::kFilteredByTags);
}

TEST(AgentFilters, ValueMayContainColons) {
  const std::string info = R"({"filter_tags":{"reject":["http.url:http://x/ping"]}})";
  EXPECT_EQ(Root(Span("r", {{"http.url", "http://x/ping"}})).Check(info),
            Verdict::kFilteredByTags);
}

TEST(AgentFilters, SkipsInvalidRegexesAndReportsThem) {
  std::vector<std::string> warnings;
  auto f = AgentFilters::FromInfo(R"({"ignore_resources":["(unclosed","ok"]})", &warnings);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->size(), 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ignore_resources \"(unclosed\""), std::string::npos);
}

TEST(AgentFilters, RejectsABodyThatIsNotAnObject) {
  EXPECT_FALSE(AgentFilters::FromInfo("not json").ok());
  EXPECT_FALSE(AgentFilters::FromInfo("[1,2]").ok());
}

TEST(AgentFilters, UsesTheLastOfDuplicatedMetaKeysLikeTheAgent) {
  TestSpan s = Span("r", {{"env", "prod"}, {"env", "dev"}});
  EXPECT_EQ(Root(s).Check(R"({"filter_tags":{"reject":["env:dev"]}})"), Verdict::kFilteredByTags);
  EXPECT_EQ(Root(s).Check(R"({"filter_tags":{"reject":["env:prod"]}})"), Verdict::kAllowed);
}

}  // namespace
}  // namespace llmobs_edge::rescue
