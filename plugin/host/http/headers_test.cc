// Tests of the hop-by-hop header rules: IsHopByHop (the static list, case-insensitive, and names
// listed in one or more Connection headers), CopyEndToEndHeaders (end-to-end headers copied in
// order with their spelling, duplicates kept; hop-by-hop, Connection-named and Expect dropped;
// Content-Length only on request) and StripHopByHop (in place, keeping the framing headers), on
// hand-built fields, on a message parsed by Beast, and against a small model on random headers.

#include "plugin/host/http/headers.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "gtest/gtest.h"

namespace llmobs_edge::http {
namespace {

namespace h = boost::beast::http;

using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

h::fields Make(const Headers& headers) {
  h::fields f;
  for (const auto& [name, value] : headers) f.insert(name, value);
  return f;
}

// Name (as spelled) and value of every field, in iteration order.
Headers List(const h::fields& f) {
  Headers out;
  for (const auto& field : f) out.emplace_back(field.name_string(), field.value());
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string LowerName(boost::beast::string_view s) {
  return Lower(std::string_view(s.data(), s.size()));
}

Headers Copied(const Headers& from, bool drop_content_length) {
  h::fields to;
  CopyEndToEndHeaders(Make(from), &to, drop_content_length);
  return List(to);
}

Headers Stripped(const Headers& headers) {
  h::fields f = Make(headers);
  StripHopByHop(&f);
  return List(f);
}

// --- IsHopByHop --------------------------------------------------------------------------------

TEST(IsHopByHop, StaticListIsCaseInsensitive) {
  const h::fields none;
  for (std::string_view name :
       {"Connection", "connection", "CONNECTION", "Keep-Alive", "keep-alive", "KEEP-ALIVE",
        "Proxy-Connection", "proxy-connection", "Proxy-Authenticate", "PROXY-AUTHENTICATE",
        "Proxy-Authorization", "proxy-authorization", "TE", "te", "Te", "Trailer", "trailer",
        "TRAILER", "Transfer-Encoding", "transfer-encoding", "tRaNsFeR-eNcOdInG", "Upgrade",
        "upgrade", "UPGRADE"}) {
    EXPECT_TRUE(IsHopByHop(none, name)) << name;
  }
}

TEST(IsHopByHop, EndToEndHeadersAreNot) {
  const h::fields none;
  for (std::string_view name :
       {"Content-Type", "Content-Length", "Content-Encoding", "Host", "User-Agent", "Accept",
        "Datadog-Meta-Lang", "Datadog-Meta-Tracer-Version", "Datadog-Container-ID",
        "Datadog-Entity-ID", "X-Datadog-Trace-Count", "Datadog-Agent-Version",
        "Datadog-Agent-State", "X-Foo", "Trailers", "Connections", "Upgrade-Insecure-Requests",
        "Proxy", "T", "", "Keep-Alive2"}) {
    EXPECT_FALSE(IsHopByHop(none, name)) << name;
  }
  // Expect is not hop-by-hop by this definition; CopyEndToEndHeaders and StripHopByHop drop it
  // separately (the edge answers 100-continue itself).
  EXPECT_FALSE(IsHopByHop(none, "Expect"));
}

TEST(IsHopByHop, NamesListedInConnectionAreHopByHop) {
  const h::fields m = Make({{"Connection", "close, X-Foo"}, {"X-Foo", "1"}});
  EXPECT_TRUE(IsHopByHop(m, "X-Foo"));
  EXPECT_TRUE(IsHopByHop(m, "x-foo"));
  EXPECT_TRUE(IsHopByHop(m, "X-FOO"));
  EXPECT_TRUE(IsHopByHop(m, "close"));
  EXPECT_FALSE(IsHopByHop(m, "X-Bar"));
  EXPECT_FALSE(IsHopByHop(m, "X-Fo"));
  EXPECT_FALSE(IsHopByHop(m, "X-Foo2"));
  EXPECT_FALSE(IsHopByHop(m, "Content-Type"));
  EXPECT_FALSE(IsHopByHop(m, ""));
}

TEST(IsHopByHop, EveryConnectionHeaderCounts) {
  // Beast keeps fields of one name together, so a later Connection header joins the first.
  const h::fields m = Make({{"Connection", "close"},
                            {"X-Between", "1"},
                            {"connection", "X-Foo"},
                            {"CONNECTION", "  X-Bar ,\tX-Baz\t"}});
  EXPECT_TRUE(IsHopByHop(m, "X-Foo"));
  EXPECT_TRUE(IsHopByHop(m, "x-bar"));
  EXPECT_TRUE(IsHopByHop(m, "X-Baz"));
  EXPECT_FALSE(IsHopByHop(m, "X-Between"));
}

TEST(IsHopByHop, ConnectionTokensAreTrimmedAndEmptyOnesIgnored) {
  const h::fields m = Make({{"Connection", " , X-A ,, \t X-B\t,  ,"}, {"Connection", "X-C,X-D"}});
  for (std::string_view name : {"X-A", "X-B", "X-C", "X-D"}) {
    EXPECT_TRUE(IsHopByHop(m, name)) << name;
  }
  EXPECT_FALSE(IsHopByHop(m, ""));
  EXPECT_FALSE(IsHopByHop(m, " "));
  EXPECT_FALSE(IsHopByHop(m, "X-A ,"));
}

// --- CopyEndToEndHeaders -------------------------------------------------------------------

const Headers& TracerRequest() {
  static const Headers kHeaders = {
      {"Host", "localhost:8126"},
      {"Datadog-Meta-Lang", "python"},
      {"datadog-meta-lang-version", "3.12.1"},
      {"DATADOG-META-TRACER-VERSION", "2.9.0"},
      {"Datadog-Container-ID", "0123456789abcdef"},
      {"Datadog-Entity-ID", "ci-0123456789abcdef"},
      {"X-Datadog-Trace-Count", "3"},
      {"Content-Type", "application/msgpack"},
      {"Content-Length", "1234"},
      {"Connection", "keep-alive, X-Hop"},
      {"Keep-Alive", "timeout=5"},
      {"X-Hop", "dropped"},
      {"Expect", "100-continue"},
      {"TE", "trailers"},
      {"Trailer", "X-Checksum"},
      {"Transfer-Encoding", "chunked"},
      {"Upgrade", "h2c"},
      {"Proxy-Connection", "keep-alive"},
      {"Proxy-Authorization", "Basic Zm9vOmJhcg=="},
      {"Proxy-Authenticate", "Basic"},
      {"X-My-Custom-Header", "Some Value, with, commas"},
      {"User-Agent", "ddtrace/2.9.0"},
  };
  return kHeaders;
}

TEST(CopyEndToEndHeaders, KeepsOrderAndSpellingOfEndToEndHeaders) {
  EXPECT_EQ(Copied(TracerRequest(), /*drop_content_length=*/false),
            (Headers{
                {"Host", "localhost:8126"},
                {"Datadog-Meta-Lang", "python"},
                {"datadog-meta-lang-version", "3.12.1"},
                {"DATADOG-META-TRACER-VERSION", "2.9.0"},
                {"Datadog-Container-ID", "0123456789abcdef"},
                {"Datadog-Entity-ID", "ci-0123456789abcdef"},
                {"X-Datadog-Trace-Count", "3"},
                {"Content-Type", "application/msgpack"},
                {"Content-Length", "1234"},
                {"X-My-Custom-Header", "Some Value, with, commas"},
                {"User-Agent", "ddtrace/2.9.0"},
            }));
}

TEST(CopyEndToEndHeaders, DropsContentLengthOnlyWhenAsked) {
  const Headers kept = Copied(TracerRequest(), /*drop_content_length=*/false);
  const Headers dropped = Copied(TracerRequest(), /*drop_content_length=*/true);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), Header{"Content-Length", "1234"}), 1);
  EXPECT_EQ(std::count_if(dropped.begin(), dropped.end(),
                          [](const Header& x) { return Lower(x.first) == "content-length"; }),
            0);
  Headers expected = kept;
  expected.erase(std::find(expected.begin(), expected.end(), Header{"Content-Length", "1234"}));
  EXPECT_EQ(dropped, expected);
  // Any spelling.
  EXPECT_EQ(Copied({{"content-LENGTH", "5"}, {"X-A", "1"}}, true), (Headers{{"X-A", "1"}}));
  EXPECT_EQ(Copied({{"content-LENGTH", "5"}, {"X-A", "1"}}, false),
            (Headers{{"content-LENGTH", "5"}, {"X-A", "1"}}));
}

TEST(CopyEndToEndHeaders, DropsHopByHopAndExpectInAnySpelling) {
  EXPECT_EQ(Copied({{"connection", "close"},
                    {"KEEP-ALIVE", "timeout=1"},
                    {"te", "trailers"},
                    {"TRAILER", "X-T"},
                    {"transfer-encoding", "chunked"},
                    {"UPGRADE", "websocket"},
                    {"proxy-connection", "close"},
                    {"PROXY-AUTHORIZATION", "x"},
                    {"proxy-authenticate", "y"},
                    {"EXPECT", "100-continue"},
                    {"Content-Type", "application/json"}},
                   false),
            (Headers{{"Content-Type", "application/json"}}));
}

TEST(CopyEndToEndHeaders, DropsHeadersNamedInAnyConnectionHeader) {
  EXPECT_EQ(Copied({{"Connection", "close, X-Foo"},
                    {"X-Foo", "1"},
                    {"X-Keep", "k"},
                    {"Connection", " x-bar ,X-BAZ "},
                    {"X-BAR", "2"},
                    {"x-baz", "3"},
                    {"X-Foo", "4"},
                    {"Datadog-Meta-Lang", "go"}},
                   false),
            (Headers{{"X-Keep", "k"}, {"Datadog-Meta-Lang", "go"}}));
}

TEST(CopyEndToEndHeaders, KeepsDuplicateHeadersInOrder) {
  const Headers out =
      Copied({{"X-A", "first"}, {"X-B", "b"}, {"x-a", "second"}, {"X-A", "third"}}, false);
  // Beast lists fields of one name together, in the order they were added.
  EXPECT_EQ(out, (Headers{{"X-A", "first"}, {"x-a", "second"}, {"X-A", "third"}, {"X-B", "b"}}));
  h::fields to;
  CopyEndToEndHeaders(Make({{"X-A", "1"}, {"X-B", "b"}, {"X-A", "2"}}), &to, false);
  std::vector<std::string> values;
  for (auto [it, end] = to.equal_range("x-a"); it != end; ++it) values.emplace_back(it->value());
  EXPECT_EQ(values, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(to.count("X-A"), 2u);
}

TEST(CopyEndToEndHeaders, CopiesAreIdenticalToWhatBeastWouldIterate) {
  // The copy lists exactly the kept fields of `from`, in `from`'s iteration order.
  const h::fields from = Make(TracerRequest());
  h::fields to;
  CopyEndToEndHeaders(from, &to, true);
  Headers expected;
  for (const auto& f : from) {
    const std::string lower = LowerName(f.name_string());
    if (lower == "host" || lower.rfind("datadog-", 0) == 0 || lower.rfind("x-datadog-", 0) == 0 ||
        lower == "content-type" || lower == "x-my-custom-header" || lower == "user-agent") {
      expected.emplace_back(f.name_string(), f.value());
    }
  }
  EXPECT_EQ(List(to), expected);
}

TEST(CopyEndToEndHeaders, KnownFieldsKeepTheirEnumAndUnknownOnesTheirName) {
  h::fields to;
  CopyEndToEndHeaders(Make({{"content-type", "text/plain"},
                            {"CONTENT-LENGTH", "3"},
                            {"Datadog-Meta-Lang", "js"}}),
                      &to, false);
  ASSERT_NE(to.find(h::field::content_type), to.end());
  EXPECT_EQ(to.find(h::field::content_type)->name_string(), "content-type");
  EXPECT_EQ(to.find(h::field::content_type)->name(), h::field::content_type);
  ASSERT_NE(to.find(h::field::content_length), to.end());
  EXPECT_EQ(to[h::field::content_length], "3");
  ASSERT_NE(to.find("datadog-meta-lang"), to.end());
  EXPECT_EQ(to.find("datadog-meta-lang")->name(), h::field::unknown);
  EXPECT_EQ(to.find("datadog-meta-lang")->name_string(), "Datadog-Meta-Lang");
}

TEST(CopyEndToEndHeaders, AppendsToWhatTheDestinationHolds) {
  h::fields to = Make({{"Host", "agent:8126"}, {"Via", "edge"}});
  CopyEndToEndHeaders(Make({{"X-A", "1"}, {"Connection", "close"}, {"Content-Type", "t"}}), &to,
                      true);
  EXPECT_EQ(List(to), (Headers{{"Host", "agent:8126"}, {"Via", "edge"}, {"X-A", "1"},
                               {"Content-Type", "t"}}));
}

TEST(CopyEndToEndHeaders, EmptySourceCopiesNothing) {
  EXPECT_EQ(Copied({}, false), Headers{});
  EXPECT_EQ(Copied({{"Connection", "X-A"}, {"X-A", "1"}}, false), Headers{});
}

TEST(CopyEndToEndHeaders, WorksOnAMessageParsedByBeast) {
  const std::string raw =
      "PUT /v0.4/traces HTTP/1.1\r\n"
      "Host: localhost:8126\r\n"
      "Datadog-Meta-Lang: nodejs\r\n"
      "Connection: keep-alive\r\n"
      "X-Datadog-Trace-Count: 2\r\n"
      "Connection: X-Secret\r\n"
      "X-Secret: s\r\n"
      "Datadog-Container-ID: cid\r\n"
      "Expect: 100-continue\r\n"
      "Content-Type: application/msgpack\r\n"
      "Content-Length: 0\r\n"
      "\r\n";
  h::request_parser<h::empty_body> parser;
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(raw), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_header_done());
  h::fields up;
  CopyEndToEndHeaders(parser.get(), &up, /*drop_content_length=*/true);
  EXPECT_EQ(List(up), (Headers{{"Host", "localhost:8126"},
                               {"Datadog-Meta-Lang", "nodejs"},
                               {"X-Datadog-Trace-Count", "2"},
                               {"Datadog-Container-ID", "cid"},
                               {"Content-Type", "application/msgpack"}}));
}

// --- StripHopByHop ---------------------------------------------------------------------------

TEST(StripHopByHop, RemovesHopByHopAndExpectButKeepsFraming) {
  EXPECT_EQ(Stripped(TracerRequest()),
            (Headers{
                {"Host", "localhost:8126"},
                {"Datadog-Meta-Lang", "python"},
                {"datadog-meta-lang-version", "3.12.1"},
                {"DATADOG-META-TRACER-VERSION", "2.9.0"},
                {"Datadog-Container-ID", "0123456789abcdef"},
                {"Datadog-Entity-ID", "ci-0123456789abcdef"},
                {"X-Datadog-Trace-Count", "3"},
                {"Content-Type", "application/msgpack"},
                {"Content-Length", "1234"},
                {"Transfer-Encoding", "chunked"},
                {"X-My-Custom-Header", "Some Value, with, commas"},
                {"User-Agent", "ddtrace/2.9.0"},
            }));
}

TEST(StripHopByHop, RemovesEveryCopyOfConnectionNamedHeadersInAnySpelling) {
  EXPECT_EQ(Stripped({{"Connection", "close, x-foo"},
                      {"X-Foo", "1"},
                      {"X-Keep", "k"},
                      {"x-FOO", "2"},
                      {"Connection", "X-Bar"},
                      {"X-BAR", "3"},
                      {"Datadog-Agent-Version", "7.99.0"}}),
            (Headers{{"X-Keep", "k"}, {"Datadog-Agent-Version", "7.99.0"}}));
}

TEST(StripHopByHop, KeepsTransferEncodingAndContentLengthEvenWhenConnectionNamesThem) {
  EXPECT_EQ(Stripped({{"Connection", "Transfer-Encoding, content-length, TE"},
                      {"Transfer-Encoding", "chunked"},
                      {"Content-Length", "10"},
                      {"TE", "trailers"},
                      {"Content-Type", "x"}}),
            (Headers{{"Transfer-Encoding", "chunked"}, {"Content-Length", "10"},
                     {"Content-Type", "x"}}));
}

TEST(StripHopByHop, RemovesStaticHopByHopInAnySpelling) {
  EXPECT_EQ(Stripped({{"CONNECTION", "upgrade"},
                      {"keep-alive", "timeout=5, max=100"},
                      {"Te", "trailers"},
                      {"trailer", "X-T"},
                      {"upgrade", "h2c"},
                      {"Proxy-Connection", "keep-alive"},
                      {"PROXY-AUTHENTICATE", "Basic"},
                      {"proxy-authorization", "Basic x"},
                      {"expect", "100-continue"},
                      {"Datadog-Agent-State", "abc"}}),
            (Headers{{"Datadog-Agent-State", "abc"}}));
}

TEST(StripHopByHop, LeavesEndToEndOnlyMessagesAlone) {
  const Headers end_to_end = {{"Content-Type", "application/json"},
                              {"Datadog-Agent-Version", "7.99.0"},
                              {"X-A", "1"},
                              {"X-A", "2"},
                              {"Content-Length", "2"}};
  EXPECT_EQ(Stripped(end_to_end), end_to_end);
  EXPECT_EQ(Stripped({}), Headers{});
}

// --- Model check on random headers ---------------------------------------------------------

const std::set<std::string>& StaticHop() {
  static const std::set<std::string> kHop = {
      "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",    "transfer-encoding", "upgrade"};
  return kHop;
}

std::set<std::string> ConnectionTokens(const Headers& headers) {
  std::set<std::string> tokens;
  for (const auto& [name, value] : headers) {
    if (Lower(name) != "connection") continue;
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string token = value.substr(start, comma - start);
      const size_t b = token.find_first_not_of(" \t");
      const size_t e = token.find_last_not_of(" \t");
      if (b != std::string::npos) tokens.insert(Lower(token.substr(b, e - b + 1)));
      start = comma + 1;
    }
  }
  return tokens;
}

TEST(HeadersProperty, RandomHeadersFollowTheModel) {
  static const char* const kNames[] = {
      "Connection",         "Keep-Alive",          "TE",
      "Trailer",            "Transfer-Encoding",   "Upgrade",
      "Proxy-Connection",   "Proxy-Authorization", "Proxy-Authenticate",
      "Expect",             "Content-Length",      "Content-Type",
      "Host",               "Datadog-Meta-Lang",   "Datadog-Container-ID",
      "Datadog-Entity-ID",  "X-Datadog-Trace-Count", "X-A",
      "X-B",                "X-Custom",            "Trailers",
  };
  std::mt19937 rng(42);
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  auto spelled = [&](std::string s) {
    for (char& c : s) {
      switch (below(3)) {
        case 0: c = static_cast<char>(std::tolower(static_cast<unsigned char>(c))); break;
        case 1: c = static_cast<char>(std::toupper(static_cast<unsigned char>(c))); break;
        default: break;
      }
    }
    return s;
  };
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(testing::Message() << "case " << i);
    Headers headers;
    const size_t n = below(12);
    for (size_t j = 0; j < n; ++j) {
      std::string name = spelled(kNames[below(std::size(kNames))]);
      std::string value = "v" + std::to_string(j);
      if (Lower(name) == "connection") {
        value.clear();
        const size_t tokens = below(4);
        for (size_t t = 0; t < tokens; ++t) {
          if (t > 0) value += below(2) ? ", " : ",";
          if (below(3) == 0) value += " \t";
          value += below(4) == 0 ? std::string("close") : spelled(kNames[below(std::size(kNames))]);
        }
      }
      headers.emplace_back(std::move(name), std::move(value));
    }
    const h::fields from = Make(headers);
    const Headers ordered = List(from);  // Beast's iteration order (same-name fields together)
    const std::set<std::string> tokens = ConnectionTokens(headers);

    for (const char* name : kNames) {
      const std::string lower = Lower(name);
      EXPECT_EQ(IsHopByHop(from, spelled(name)),
                StaticHop().count(lower) > 0 || tokens.count(lower) > 0)
          << name;
    }
    for (bool drop_cl : {false, true}) {
      Headers expected;
      for (const auto& [name, value] : ordered) {
        const std::string lower = Lower(name);
        if (StaticHop().count(lower) || lower == "expect" || tokens.count(lower) ||
            (drop_cl && lower == "content-length")) {
          continue;
        }
        expected.emplace_back(name, value);
      }
      h::fields to;
      CopyEndToEndHeaders(from, &to, drop_cl);
      EXPECT_EQ(List(to), expected) << "drop_content_length=" << drop_cl;
    }
    {
      Headers expected;
      for (const auto& [name, value] : ordered) {
        const std::string lower = Lower(name);
        const bool framing = lower == "content-length" || lower == "transfer-encoding";
        if (!framing && (StaticHop().count(lower) || lower == "expect" || tokens.count(lower))) {
          continue;
        }
        expected.emplace_back(name, value);
      }
      h::fields stripped = from;
      StripHopByHop(&stripped);
      EXPECT_EQ(List(stripped), expected);
    }
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace llmobs_edge::http
