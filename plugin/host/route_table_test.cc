#include "plugin/host/route_table.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace llmobs_edge::plugin {
namespace {

class NullHandler final : public RouteHandler {
 public:
  RouteOutcome Handle(const RouteRequest&, RouteAnswer*) override {
    return RouteOutcome::kPassThrough;
  }
};

class FakePlugin final : public Plugin {
 public:
  FakePlugin(std::string name, std::vector<RouteClaim> claims)
      : name_(std::move(name)), claims_(std::move(claims)) {}
  std::string_view name() const override { return name_; }
  std::vector<RouteClaim> Routes() override { return claims_; }

 private:
  std::string name_;
  std::vector<RouteClaim> claims_;
};

NullHandler handler;

RouteClaim Claim(std::string method, std::string path, bool prefix = false) {
  RouteClaim c;
  c.method = std::move(method);
  c.path = std::move(path);
  c.prefix = prefix;
  c.mode = RouteMode::kBuffered;
  c.handler = &handler;
  c.max_body_bytes = 1024;
  return c;
}

TEST(RouteTable, ExactPathsWinOverPrefixesAndTheLongestPrefixWins) {
  FakePlugin a("a", {Claim("POST", "/evp_proxy/v2/api/v2/llmobs")});
  FakePlugin b("b", {Claim("", "/api/unstable/", true)});
  FakePlugin c("c", {Claim("GET", "/api/unstable/llm-obs/", true)});
  auto t = RouteTable::Build({&a, &b, &c});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->Lookup("POST", "/evp_proxy/v2/api/v2/llmobs")->plugin, "a");
  EXPECT_EQ(t->Lookup("GET", "/evp_proxy/v2/api/v2/llmobs"), nullptr);  // method differs
  EXPECT_EQ(t->Lookup("POST", "/evp_proxy/v2/api/v2/llmobs/x"), nullptr);  // exact, not prefix
  EXPECT_EQ(t->Lookup("GET", "/api/unstable/llm-obs/v1/prompts/p")->plugin, "c");
  EXPECT_EQ(t->Lookup("PATCH", "/api/unstable/llm-obs/v1/prompts/p")->plugin, "b");
  EXPECT_EQ(t->Lookup("GET", "/v0.6/stats"), nullptr);  // the transparent proxy's
}

TEST(RouteTable, TwoPluginsClaimingOneRouteIsAnErrorNamingBoth) {
  FakePlugin a("store-and-forward", {Claim("POST", "/api/v2/llmobs")});
  FakePlugin b("other", {Claim("", "/api/v2/llmobs")});  // any method overlaps POST
  auto t = RouteTable::Build({&a, &b});
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), "store-and-forward claims POST /api/v2/llmobs"))
      << t.status();
  EXPECT_TRUE(absl::StrContains(t.status().message(), "other claims * /api/v2/llmobs"));
}

TEST(RouteTable, AnExactPathUnderAnotherPluginsPrefixConflicts) {
  FakePlugin a("prompts", {Claim("", "/api/unstable/llm-obs/v1/prompts/", true)});
  FakePlugin b("x", {Claim("GET", "/api/unstable/llm-obs/v1/prompts/p")});
  EXPECT_FALSE(RouteTable::Build({&a, &b}).ok());
  FakePlugin c("y", {Claim("GET", "/api/unstable/llm-obs/v1/prompts/", true)});
  EXPECT_FALSE(RouteTable::Build({&a, &c}).ok());
  // Different methods on one path do not conflict.
  FakePlugin d("d", {Claim("GET", "/p")});
  FakePlugin e("e", {Claim("POST", "/p")});
  EXPECT_TRUE(RouteTable::Build({&d, &e}).ok());
}

TEST(RouteTable, ClaimsWithoutAHandlerOrPathAreRefused) {
  RouteClaim no_handler = Claim("POST", "/x");
  no_handler.handler = nullptr;
  FakePlugin a("a", {no_handler});
  auto t = RouteTable::Build({&a});
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), "without its handler"));
  FakePlugin b("b", {Claim("POST", "x")});
  EXPECT_FALSE(RouteTable::Build({&b}).ok());
}

TEST(RouteTable, DescribeListsEveryClaimAndTheProxy) {
  RouteClaim c = Claim("POST", "/api/v2/llmobs");
  c.description = "committed, then 202";
  FakePlugin a("store-and-forward", {c});
  auto t = RouteTable::Build({&a});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Describe(),
            "POST /api/v2/llmobs -> store-and-forward (buffered, handled): committed, then 202\n"
            "* (every other path) -> transparent proxy to the Agent (streamed, byte for byte)\n");
}

}  // namespace
}  // namespace llmobs_edge::plugin
