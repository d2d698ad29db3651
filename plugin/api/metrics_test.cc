// Tests for the metrics registry of plugin/api/metrics.h: exact rendered output of small
// registries, escaping, canonical numbers, registration rules, stable references and exact totals
// under concurrent updates. Python's prometheus_client is not available offline, so every
// rendering also goes through ParseOpenMetrics below, a validating parser for the OpenMetrics
// 1.0.0 text rules this registry relies on (grammar, family structure, histogram semantics).

#include "plugin/api/metrics.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace llmobs_edge::telemetry {
namespace {

// --- A validating OpenMetrics 1.0.0 text parser --------------------------------------------------

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
  std::string value_text;
  double value = 0;
};

struct ParsedFamily {
  std::string name;
  std::string type;
  std::optional<std::string> help;  // unescaped
  std::vector<ParsedSample> samples;
};

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// A cursor over one line; every Parse* consumes what it accepts.
class Line {
 public:
  explicit Line(std::string_view text) : rest_(text) {}
  bool Done() const { return rest_.empty(); }
  bool Consume(std::string_view prefix) {
    if (!rest_.starts_with(prefix)) return false;
    rest_.remove_prefix(prefix.size());
    return true;
  }
  char Peek() const { return rest_.empty() ? '\0' : rest_.front(); }
  std::string_view Rest() const { return rest_; }

  // metricname = (ALPHA / "_" / ":") *(ALPHA / DIGIT / "_" / ":")
  std::optional<std::string> MetricName() {
    size_t n = 0;
    while (n < rest_.size() && (IsAlpha(rest_[n]) || rest_[n] == '_' || rest_[n] == ':' ||
                                (n > 0 && IsDigit(rest_[n]))))
      ++n;
    if (n == 0) return std::nullopt;
    std::string name(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return name;
  }
  // label-name = (ALPHA / "_") *(ALPHA / DIGIT / "_")
  std::optional<std::string> LabelName() {
    size_t n = 0;
    while (n < rest_.size() &&
           (IsAlpha(rest_[n]) || rest_[n] == '_' || (n > 0 && IsDigit(rest_[n]))))
      ++n;
    if (n == 0) return std::nullopt;
    std::string name(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return name;
  }
  // escaped-string up to (not including) `terminator` ('"' for label values, end of line for
  // HELP). Raw '"' and '\n' are not allowed; a backslash must be followed by n, " or \ (the spec
  // allows "\x" for other x but says it SHOULD NOT be produced, so this stricter check holds the
  // exposer to the SHOULD).
  std::optional<std::string> EscapedString(bool until_quote) {
    std::string out;
    while (!rest_.empty()) {
      const char c = rest_.front();
      if (c == '"') {
        if (until_quote) return out;
        return std::nullopt;
      }
      if (c == '\n') return std::nullopt;
      if (c == '\\') {
        if (rest_.size() < 2) return std::nullopt;
        const char e = rest_[1];
        if (e == 'n') {
          out += '\n';
        } else if (e == '"' || e == '\\') {
          out += e;
        } else {
          return std::nullopt;
        }
        rest_.remove_prefix(2);
        continue;
      }
      out += c;
      rest_.remove_prefix(1);
    }
    if (until_quote) return std::nullopt;
    return out;
  }
  // The rest of the line as a number (realnumber, [sign] inf/infinity, nan).
  std::optional<double> Number(std::string* text) {
    *text = std::string(rest_);
    std::string lower;
    for (char c : rest_) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    rest_ = {};
    std::string_view s = lower;
    if (s == "nan") return std::nan("");
    double sign = 1;
    std::string_view unsigned_part = s;
    if (!unsigned_part.empty() && (unsigned_part[0] == '+' || unsigned_part[0] == '-')) {
      if (unsigned_part[0] == '-') sign = -1;
      unsigned_part.remove_prefix(1);
    }
    if (unsigned_part == "inf" || unsigned_part == "infinity") {
      return sign * std::numeric_limits<double>::infinity();
    }
    // [SIGN] (1*DIGIT ["." *DIGIT] / *DIGIT "." 1*DIGIT) ["e" [SIGN] 1*DIGIT]
    size_t i = 0;
    const std::string_view u = unsigned_part;
    size_t int_digits = 0, frac_digits = 0;
    while (i < u.size() && IsDigit(u[i])) ++i, ++int_digits;
    if (i < u.size() && u[i] == '.') {
      ++i;
      while (i < u.size() && IsDigit(u[i])) ++i, ++frac_digits;
    }
    if (int_digits + frac_digits == 0) return std::nullopt;
    if (i < u.size() && u[i] == 'e') {
      ++i;
      if (i < u.size() && (u[i] == '+' || u[i] == '-')) ++i;
      size_t exp_digits = 0;
      while (i < u.size() && IsDigit(u[i])) ++i, ++exp_digits;
      if (exp_digits == 0) return std::nullopt;
    }
    if (i != u.size()) return std::nullopt;
    double value = 0;
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    const auto result = std::from_chars(begin, s.data() + s.size(), value);
    if (result.ec != std::errc() || result.ptr != s.data() + s.size()) return std::nullopt;
    return value;
  }

 private:
  std::string_view rest_;
};

bool IsInteger(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsDigit);
}

// Checks one family's samples against the semantics of its type. Empty string when fine.
std::string CheckFamilySemantics(const ParsedFamily& f) {
  using Labels = std::vector<std::pair<std::string, std::string>>;
  const auto without_le = [](Labels labels) {
    std::erase_if(labels, [](const auto& l) { return l.first == "le"; });
    return labels;
  };
  std::set<Labels> finished;  // MetricPoints already closed: they must not come back
  std::set<std::pair<std::string, Labels>> seen_samples;
  std::optional<Labels> current;
  // Histogram state for the current MetricPoint.
  std::optional<double> last_le;
  uint64_t last_bucket = 0;
  bool saw_inf = false, saw_count = false, saw_sum = false;
  std::optional<uint64_t> count;

  const auto close_point = [&]() -> std::string {
    if (!current) return "";
    if (f.type == "histogram") {
      if (!saw_inf) return "histogram point without a +Inf bucket in " + f.name;
      if (count && *count != last_bucket) return "_count differs from +Inf bucket in " + f.name;
    }
    finished.insert(*current);
    current.reset();
    last_le.reset();
    last_bucket = 0;
    saw_inf = saw_count = saw_sum = false;
    count.reset();
    return "";
  };

  for (const ParsedSample& s : f.samples) {
    const std::string suffix = s.name.substr(f.name.size());
    if (!seen_samples.emplace(s.name, s.labels).second) return "duplicate sample " + s.name;
    const Labels point = without_le(s.labels);
    if (!current || *current != point) {
      if (std::string e = close_point(); !e.empty()) return e;
      if (finished.contains(point)) return "interleaved or duplicate MetricPoint in " + f.name;
      current = point;
    }
    const bool has_le = point.size() != s.labels.size();
    if (f.type == "counter") {
      if (suffix != "_total") return "unexpected counter sample " + s.name;
      if (std::isnan(s.value) || s.value < 0) return "counter total NaN or negative: " + s.name;
      if (has_le) return "le label outside a histogram bucket: " + s.name;
    } else if (f.type == "gauge") {
      if (!suffix.empty()) return "unexpected gauge sample " + s.name;
      if (has_le) return "le label outside a histogram bucket: " + s.name;
    } else if (f.type == "histogram") {
      if (suffix == "_bucket") {
        if (!has_le) return "histogram bucket without le: " + s.name;
        if (saw_inf || saw_count || saw_sum) return "bucket after +Inf/_count/_sum in " + f.name;
        std::string le_text;
        for (const auto& [k, v] : s.labels)
          if (k == "le") le_text = v;
        Line le_line(le_text);
        std::string unused;
        const std::optional<double> le = le_line.Number(&unused);
        if (!le || std::isnan(*le)) return "le is not a number: " + le_text;
        if (last_le && !(*last_le < *le)) return "le not strictly ascending in " + f.name;
        if (!IsInteger(s.value_text)) return "bucket value not an integer: " + s.value_text;
        const uint64_t v = std::stoull(s.value_text);
        if (v < last_bucket) return "buckets not cumulative in " + f.name;
        last_le = *le;
        last_bucket = v;
        if (std::isinf(*le) && *le > 0) saw_inf = true;
      } else if (suffix == "_count") {
        if (has_le || saw_count) return "bad _count in " + f.name;
        if (!IsInteger(s.value_text)) return "_count not an integer: " + s.value_text;
        count = std::stoull(s.value_text);
        saw_count = true;
      } else if (suffix == "_sum") {
        if (has_le || saw_sum) return "bad _sum in " + f.name;
        if (std::isnan(s.value) || s.value < 0) return "_sum NaN or negative in " + f.name;
        saw_sum = true;
      } else {
        return "unexpected histogram sample " + s.name;
      }
    } else {
      return "unexpected type " + f.type;
    }
  }
  return close_point();
}

// Parses `text` as an OpenMetrics 1.0.0 exposition; returns an error message ("" when valid).
std::string ParseOpenMetrics(std::string_view text, std::vector<ParsedFamily>* families) {
  families->clear();
  if (!ValidUtf8(text)) return "not valid UTF-8";
  if (text.find('\r') != std::string_view::npos) return "carriage return";
  if (!text.ends_with("# EOF\n")) return "does not end with '# EOF\\n'";
  std::string_view body = text.substr(0, text.size() - std::string_view("# EOF\n").size());
  if (!body.empty() && !body.ends_with('\n')) return "EOF not on its own line";

  std::set<std::string> seen_families;
  std::map<std::string, std::string> reserved;  // sample name -> family
  ParsedFamily* current = nullptr;
  bool metadata_done = false;
  int line_no = 0;
  while (!body.empty()) {
    ++line_no;
    const size_t nl = body.find('\n');
    Line line(body.substr(0, nl));
    body.remove_prefix(nl + 1);
    const std::string where = "line " + std::to_string(line_no) + ": ";

    if (line.Consume("#")) {
      if (line.Consume(" TYPE ")) {
        const std::optional<std::string> name = line.MetricName();
        if (!name || !line.Consume(" ")) return where + "bad TYPE line";
        const std::string type(line.Rest());
        static const std::set<std::string> kTypes = {"counter",        "gauge",    "histogram",
                                                     "gaugehistogram", "stateset", "info",
                                                     "summary",        "unknown"};
        if (!kTypes.contains(type)) return where + "unknown type " + type;
        if (!seen_families.insert(*name).second) return where + "family repeated: " + *name;
        families->push_back({*name, type, std::nullopt, {}});
        current = &families->back();
        metadata_done = false;
        continue;
      }
      if (line.Consume(" HELP ")) {
        const std::optional<std::string> name = line.MetricName();
        if (!name || !line.Consume(" ")) return where + "bad HELP line";
        if (!current || *name != current->name) return where + "HELP outside its family";
        if (current->help || metadata_done) return where + "HELP repeated or after samples";
        const std::optional<std::string> help = line.EscapedString(/*until_quote=*/false);
        if (!help) return where + "bad escaping in HELP";
        current->help = *help;
        continue;
      }
      return where + "a line starting with # that is not TYPE/HELP/UNIT or the final EOF";
    }

    ParsedSample sample;
    const std::optional<std::string> name = line.MetricName();
    if (!name) return where + "bad metric name";
    sample.name = *name;
    if (line.Consume("{")) {
      std::set<std::string> names;
      while (!line.Consume("}")) {
        if (!sample.labels.empty() && !line.Consume(",")) return where + "expected , or }";
        const std::optional<std::string> label = line.LabelName();
        if (!label || !line.Consume("=\"")) return where + "bad label name";
        const std::optional<std::string> value = line.EscapedString(/*until_quote=*/true);
        if (!value || !line.Consume("\"")) return where + "bad label value";
        if (!names.insert(*label).second) return where + "duplicate label " + *label;
        sample.labels.emplace_back(*label, *value);
      }
    }
    if (!line.Consume(" ")) return where + "expected a space before the value";
    if (line.Rest().find(' ') != std::string_view::npos) {
      return where + "timestamps/exemplars are not produced by this registry";
    }
    const std::optional<double> value = line.Number(&sample.value_text);
    if (!value) return where + "bad number '" + sample.value_text + "'";
    sample.value = *value;
    if (!current) return where + "sample before any TYPE";
    if (!sample.name.starts_with(current->name)) {
      return where + "sample " + sample.name + " outside family " + current->name;
    }
    if (auto [it, inserted] = reserved.emplace(sample.name, current->name);
        !inserted && it->second != current->name) {
      return where + "sample name " + sample.name + " used by two families";
    }
    metadata_done = true;
    current->samples.push_back(std::move(sample));
  }
  for (const ParsedFamily& f : *families) {
    if (std::string e = CheckFamilySemantics(f); !e.empty()) return e;
  }
  return "";
}

// Renders and validates; test failures name the parser's complaint.
std::string RenderValid(const Registry& registry) {
  const std::string text = registry.RenderOpenMetrics();
  std::vector<ParsedFamily> families;
  const std::string error = ParseOpenMetrics(text, &families);
  EXPECT_EQ(error, "") << text;
  return text;
}

std::vector<ParsedFamily> Parse(const Registry& registry) {
  std::vector<ParsedFamily> families;
  const std::string text = registry.RenderOpenMetrics();
  EXPECT_EQ(ParseOpenMetrics(text, &families), "") << text;
  return families;
}

// --- The validator itself -----------------------------------------------------------------------

TEST(OpenMetricsValidator, AcceptsTheSpecExamples) {
  std::vector<ParsedFamily> f;
  EXPECT_EQ(ParseOpenMetrics("# EOF\n", &f), "");
  EXPECT_EQ(ParseOpenMetrics("# TYPE foo_seconds counter\n"
                             "# HELP foo_seconds Some text and \\n some \\\" escaping\n"
                             "foo_seconds_total 17.0\n"
                             "# TYPE foo histogram\n"
                             "foo_bucket{a=\"x\",le=\"1e-05\"} 0\n"
                             "foo_bucket{a=\"x\",le=\"+Inf\"} 17\n"
                             "foo_count{a=\"x\"} 17\n"
                             "foo_sum{a=\"x\"} 324789.3\n"
                             "# EOF\n",
                             &f),
            "");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].help, "Some text and \n some \" escaping");
}

TEST(OpenMetricsValidator, RejectsMalformedExpositions) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", "missing EOF"},
      {"# EOF", "EOF without newline"},
      {"# EOF\n\n", "text after EOF"},
      {"# TYPE a gauge\na 1\n# EOF\n# TYPE b gauge\n# EOF\n", "EOF twice"},
      {"# TYPE a gauge\r\na 1\n# EOF\n", "carriage return"},
      {"# TYPE 1a gauge\n# EOF\n", "metric name starting with a digit"},
      {"# TYPE a widget\n# EOF\n", "unknown type"},
      {"# TYPE a gauge\na{b=\"x\ny\"} 1\n# EOF\n", "raw newline in a label value"},
      {"# TYPE a gauge\na{b=\"x\"y\"} 1\n# EOF\n", "raw quote in a label value"},
      {"# TYPE a gauge\na{b=\"x\\q\"} 1\n# EOF\n", "undefined escape"},
      {"# TYPE a gauge\na{b=\"\xff\"} 1\n# EOF\n", "invalid UTF-8"},
      {"# TYPE a gauge\na{1b=\"x\"} 1\n# EOF\n", "bad label name"},
      {"# TYPE a gauge\na{b=\"x\",b=\"y\"} 1\n# EOF\n", "duplicate label"},
      {"# TYPE a gauge\na 1.2.3\n# EOF\n", "bad number"},
      {"# TYPE a gauge\na .\n# EOF\n", "lone dot"},
      {"# TYPE a gauge\na 1e\n# EOF\n", "empty exponent"},
      {"# TYPE a gauge\na  1\n# EOF\n", "two spaces"},
      {"# TYPE a gauge\na{b=\"1\"} 1\na{b=\"1\"} 2\n# EOF\n", "duplicate series"},
      {"# TYPE a gauge\n# TYPE b gauge\n# TYPE a gauge\n# EOF\n", "family repeated"},
      {"# TYPE a counter\na 1\n# EOF\n", "counter without _total"},
      {"# TYPE a counter\na_total -1\n# EOF\n", "negative counter"},
      {"# TYPE a gauge\n# HELP b x\n# EOF\n", "HELP for another family"},
      {"# TYPE a gauge\n# HELP a x\n# HELP a y\n# EOF\n", "HELP twice"},
      {"# TYPE a gauge\n# comment\n# EOF\n", "comment line"},
      {"a 1\n# EOF\n", "sample before TYPE"},
      {"# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_count 1\n# EOF\n", "missing +Inf"},
      {"# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
       "not cumulative"},
      {"# TYPE h histogram\nh_bucket{le=\"2.0\"} 1\nh_bucket{le=\"1.0\"} 1\n"
       "h_bucket{le=\"+Inf\"} 1\n# EOF\n",
       "le descending"},
      {"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n# EOF\n", "_count != +Inf"},
      {"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF\n", "fractional bucket"},
      {"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum NaN\n# EOF\n", "NaN sum"},
      {"# TYPE h histogram\nh_bucket{a=\"1\",le=\"+Inf\"} 1\nh_bucket{a=\"2\",le=\"+Inf\"} 1\n"
       "h_count{a=\"1\"} 1\n# EOF\n",
       "interleaved MetricPoints"},
      {"# TYPE a gauge\na 1 123\n# EOF\n", "timestamp"},
  };
  for (const auto& [text, why] : cases) {
    std::vector<ParsedFamily> f;
    EXPECT_NE(ParseOpenMetrics(text, &f), "") << why;
  }
}

// --- Rendering ----------------------------------------------------------------------------------

TEST(Registry, RendersEmptyRegistryAsEofOnly) {
  Registry r;
  EXPECT_EQ(RenderValid(r), "# EOF\n");
}

TEST(Registry, RendersCounterWithTotalSuffixAndEof) {
  Registry r;
  Counter& c = r.AddCounter("llmobs_edge_requests", "Requests received.");
  c.Inc();
  c.Inc(41);
  EXPECT_EQ(c.Value(), 42u);
  EXPECT_EQ(RenderValid(r),
            "# TYPE llmobs_edge_requests counter\n"
            "# HELP llmobs_edge_requests Requests received.\n"
            "llmobs_edge_requests_total 42\n"
            "# EOF\n");
}

TEST(Registry, RendersUnusedCounterAsZero) {
  Registry r;
  r.AddCounter("c", "h");
  EXPECT_EQ(RenderValid(r), "# TYPE c counter\n# HELP c h\nc_total 0\n# EOF\n");
}

TEST(Registry, RendersGaugeIncludingNegativeValues) {
  Registry r;
  Gauge& g = r.AddGauge("inflight", "In flight.");
  g.Set(5);
  g.Add(-8);
  EXPECT_EQ(g.Value(), -3);
  EXPECT_EQ(RenderValid(r),
            "# TYPE inflight gauge\n"
            "# HELP inflight In flight.\n"
            "inflight -3\n"
            "# EOF\n");
  g.Set(INT64_MIN);
  EXPECT_EQ(RenderValid(r),
            "# TYPE inflight gauge\n# HELP inflight In flight.\ninflight -9223372036854775808\n"
            "# EOF\n");
}

TEST(Registry, RendersHistogramWithCumulativeBucketsInfCountAndSum) {
  Registry r;
  Histogram& h = r.AddHistogram("latency_seconds", "Latency.", {0.005, 1, 2.5});
  for (double v : {0.001, 0.005, 0.5, 0.75, 2.0, 3.0, 100.0}) h.Observe(v);
  EXPECT_EQ(h.Count(), 7u);
  EXPECT_DOUBLE_EQ(h.Sum(), 0.001 + 0.005 + 0.5 + 0.75 + 2.0 + 3.0 + 100.0);
  EXPECT_EQ(RenderValid(r),
            "# TYPE latency_seconds histogram\n"
            "# HELP latency_seconds Latency.\n"
            "latency_seconds_bucket{le=\"0.005\"} 2\n"
            "latency_seconds_bucket{le=\"1.0\"} 4\n"
            "latency_seconds_bucket{le=\"2.5\"} 5\n"
            "latency_seconds_bucket{le=\"+Inf\"} 7\n"
            "latency_seconds_count 7\n"
            "latency_seconds_sum 106.256\n"
            "# EOF\n");
}

TEST(Registry, RendersLabelledFamiliesInRegistrationAndCreationOrder) {
  Registry r;
  CounterFamily& requests = r.AddCounterFamily("req", "Requests.", {"route", "code"});
  GaugeFamily& queue = r.AddGaugeFamily("queue_depth", "Queued.", {"stage"});
  HistogramFamily& sizes = r.AddHistogramFamily("size_bytes", "Sizes.", {1024, 65536}, {"dir"});
  requests.WithLabels({"/v0.4/traces", "200"}).Inc(3);
  requests.WithLabels({"/v0.5/traces", "413"}).Inc();
  queue.WithLabels({"decode"}).Set(7);
  sizes.WithLabels({"in"}).Observe(100);
  sizes.WithLabels({"in"}).Observe(2000);
  sizes.WithLabels({"out"}).Observe(1e6);
  EXPECT_EQ(RenderValid(r),
            "# TYPE req counter\n"
            "# HELP req Requests.\n"
            "req_total{route=\"/v0.4/traces\",code=\"200\"} 3\n"
            "req_total{route=\"/v0.5/traces\",code=\"413\"} 1\n"
            "# TYPE queue_depth gauge\n"
            "# HELP queue_depth Queued.\n"
            "queue_depth{stage=\"decode\"} 7\n"
            "# TYPE size_bytes histogram\n"
            "# HELP size_bytes Sizes.\n"
            "size_bytes_bucket{dir=\"in\",le=\"1024.0\"} 1\n"
            "size_bytes_bucket{dir=\"in\",le=\"65536.0\"} 2\n"
            "size_bytes_bucket{dir=\"in\",le=\"+Inf\"} 2\n"
            "size_bytes_count{dir=\"in\"} 2\n"
            "size_bytes_sum{dir=\"in\"} 2100.0\n"
            "size_bytes_bucket{dir=\"out\",le=\"1024.0\"} 0\n"
            "size_bytes_bucket{dir=\"out\",le=\"65536.0\"} 0\n"
            "size_bytes_bucket{dir=\"out\",le=\"+Inf\"} 1\n"
            "size_bytes_count{dir=\"out\"} 1\n"
            "size_bytes_sum{dir=\"out\"} 1e+06\n"
            "# EOF\n");
}

TEST(Registry, PrintsTypeAndHelpForFamiliesWithoutChildren) {
  Registry r;
  r.AddCounterFamily("a", "A.", {"x"});
  r.AddGaugeFamily("b", "B.", {"x"});
  r.AddHistogramFamily("c", "C.", {1}, {"x"});
  EXPECT_EQ(RenderValid(r),
            "# TYPE a counter\n# HELP a A.\n"
            "# TYPE b gauge\n# HELP b B.\n"
            "# TYPE c histogram\n# HELP c C.\n"
            "# EOF\n");
}

TEST(Registry, OmitsHelpLineWhenHelpIsEmpty) {
  Registry r;
  r.AddGauge("g", "");
  EXPECT_EQ(RenderValid(r), "# TYPE g gauge\ng 0\n# EOF\n");
}

TEST(Registry, EscapesBackslashQuoteAndNewlineInLabelValues) {
  Registry r;
  CounterFamily& f = r.AddCounterFamily("c", "h", {"path"});
  const std::string nasty = "a\\b\"c\nd},e=\"f";
  f.WithLabels({nasty}).Inc();
  EXPECT_EQ(RenderValid(r),
            "# TYPE c counter\n# HELP c h\n"
            "c_total{path=\"a\\\\b\\\"c\\nd},e=\\\"f\"} 1\n"
            "# EOF\n");
  const std::vector<ParsedFamily> parsed = Parse(r);
  ASSERT_EQ(parsed.size(), 1u);
  ASSERT_EQ(parsed[0].samples.size(), 1u);
  ASSERT_EQ(parsed[0].samples[0].labels.size(), 1u);
  EXPECT_EQ(parsed[0].samples[0].labels[0].second, nasty);
}

TEST(Registry, KeepsUtf8AndEmptyLabelValuesVerbatim) {
  Registry r;
  GaugeFamily& f = r.AddGaugeFamily("g", "h", {"model", "tag"});
  f.WithLabels({"gpt-4o \xc3\xa9\xe6\x97\xa5", ""}).Set(1);
  EXPECT_EQ(
      RenderValid(r),
      "# TYPE g gauge\n# HELP g h\ng{model=\"gpt-4o \xc3\xa9\xe6\x97\xa5\",tag=\"\"} 1\n# EOF\n");
}

TEST(Registry, EscapesHelpText) {
  Registry r;
  r.AddGauge("g", "Bytes in C:\\tmp \"now\"\nsecond line");
  EXPECT_EQ(RenderValid(r),
            "# TYPE g gauge\n# HELP g Bytes in C:\\\\tmp \\\"now\\\"\\nsecond line\ng 0\n# EOF\n");
  EXPECT_EQ(Parse(r)[0].help, "Bytes in C:\\tmp \"now\"\nsecond line");
}

TEST(Registry, ContentTypeIsOpenMetrics100) {
  EXPECT_EQ(Registry::kContentType, "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

// --- Numbers ------------------------------------------------------------------------------------

// le values follow OpenMetrics' canonical numbers (Go's %g, plus ".0" for integral values).
TEST(Histogram, RendersBoundsAsCanonicalOpenMetricsNumbers) {
  Registry r;
  r.AddHistogram("h", "",
                 {1e-10, 1e-05, 0.0001, 0.001, 0.005, 0.1, 0.95, 1, 2.5, 10, 100000, 1e6, 1.5e6,
                  123456789, 1e10});
  std::vector<std::string> les;
  const std::vector<ParsedFamily> parsed = Parse(r);
  for (const ParsedSample& s : parsed[0].samples) {
    for (const auto& [k, v] : s.labels) {
      if (k == "le") les.push_back(v);
    }
  }
  EXPECT_EQ(les, (std::vector<std::string>{"1e-10", "1e-05", "0.0001", "0.001", "0.005", "0.1",
                                           "0.95", "1.0", "2.5", "10.0", "100000.0", "1e+06",
                                           "1.5e+06", "1.23456789e+08", "1e+10", "+Inf"}));
}

TEST(Histogram, RendersZeroAndNegativeBoundsAndOmitsSumWhenABoundIsNegative) {
  Registry r;
  Histogram& h = r.AddHistogram("temp_delta", "", {-2.5, 0, 0.25});
  h.Observe(-3);
  h.Observe(0);
  h.Observe(0.1);
  EXPECT_EQ(RenderValid(r),
            "# TYPE temp_delta histogram\n"
            "temp_delta_bucket{le=\"-2.5\"} 1\n"
            "temp_delta_bucket{le=\"0.0\"} 2\n"
            "temp_delta_bucket{le=\"0.25\"} 3\n"
            "temp_delta_bucket{le=\"+Inf\"} 3\n"
            "temp_delta_count 3\n"
            "# EOF\n");
  EXPECT_DOUBLE_EQ(h.Sum(), -2.9);
}

TEST(Histogram, RendersSumWithShortestRoundTripDigits) {
  Registry r;
  Histogram& h = r.AddHistogram("h", "", {});
  h.Observe(0.1);
  h.Observe(0.2);
  const std::vector<ParsedFamily> parsed = Parse(r);
  const ParsedSample& sum = parsed[0].samples.back();
  EXPECT_EQ(sum.name, "h_sum");
  EXPECT_EQ(sum.value_text, "0.30000000000000004");
  EXPECT_EQ(sum.value, 0.1 + 0.2);
}

TEST(Histogram, RendersTinyAndHugeSumsAsValidNumbers) {
  Registry r;
  Histogram& tiny = r.AddHistogramFamily("h", "", {}, {"k"}).WithLabels({"tiny"});
  Histogram& huge = r.AddHistogramFamily("h", "", {}, {"k"}).WithLabels({"huge"});
  Histogram& zero = r.AddHistogramFamily("h", "", {}, {"k"}).WithLabels({"zero"});
  tiny.Observe(1.25e-05);
  huge.Observe(3e300);
  zero.Observe(0);
  std::map<std::string, std::string> sums;
  const std::vector<ParsedFamily> parsed = Parse(r);
  for (const ParsedSample& s : parsed[0].samples) {
    if (s.name == "h_sum") sums[s.labels[0].second] = s.value_text;
  }
  EXPECT_EQ(sums["tiny"], "1.25e-05");
  EXPECT_EQ(sums["huge"], "3e+300");
  EXPECT_EQ(sums["zero"], "0.0");
}

// --- Histogram semantics ------------------------------------------------------------------------

TEST(Histogram, CountsValueOnABoundInThatBucket) {
  Registry r;
  Histogram& h = r.AddHistogram("h", "", {1, 2});
  h.Observe(1);
  h.Observe(std::nextafter(1.0, 2.0));
  h.Observe(2);
  EXPECT_EQ(RenderValid(r),
            "# TYPE h histogram\n"
            "h_bucket{le=\"1.0\"} 1\n"
            "h_bucket{le=\"2.0\"} 3\n"
            "h_bucket{le=\"+Inf\"} 3\n"
            "h_count 3\n"
            "h_sum 4.0\n"  // 1 + nextafter(1) + 2 rounds to 4
            "# EOF\n");
}

TEST(Histogram, IgnoresNanAndCountsInfinityInTheInfBucket) {
  Registry r;
  Histogram& h = r.AddHistogram("h", "", {1});
  h.Observe(std::nan(""));
  EXPECT_EQ(h.Count(), 0u);
  h.Observe(std::numeric_limits<double>::infinity());
  EXPECT_EQ(RenderValid(r),
            "# TYPE h histogram\n"
            "h_bucket{le=\"1.0\"} 0\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_count 1\n"
            "h_sum +Inf\n"
            "# EOF\n");
}

TEST(Histogram, WithoutBoundsHasOnlyTheInfBucket) {
  Registry r;
  r.AddHistogram("h", "", {}).Observe(4);
  EXPECT_EQ(RenderValid(r),
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 4.0\n# EOF\n");
}

TEST(Histogram, DropsAnExplicitTrailingInfBound) {
  Registry r;
  r.AddHistogram("h", "", {1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(RenderValid(r),
            "# TYPE h histogram\nh_bucket{le=\"1.0\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_count 0\n"
            "h_sum 0.0\n# EOF\n");
}

TEST(ExponentialBuckets, MultipliesStartByFactor) {
  EXPECT_EQ(ExponentialBuckets(1, 10, 4), (std::vector<double>{1, 10, 100, 1000}));
  EXPECT_EQ(ExponentialBuckets(0.25, 2, 3), (std::vector<double>{0.25, 0.5, 1}));
  EXPECT_EQ(ExponentialBuckets(5, 1.5, 1), (std::vector<double>{5}));
  Registry r;
  r.AddHistogram("h", "", ExponentialBuckets(0.001, 2, 4));
  EXPECT_EQ(Parse(r)[0].samples[3].labels[0].second, "0.008");
}

// --- Registration rules -------------------------------------------------------------------------

TEST(Registry, ReturnsExistingMetricWhenSameNameAndKindAreRegisteredAgain) {
  Registry r;
  Counter& a = r.AddCounter("c", "first help");
  Counter& b = r.AddCounter("c", "second help");
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&r.AddGaugeFamily("g", "", {"x"}), &r.AddGaugeFamily("g", "", {"x"}));
  EXPECT_EQ(&r.AddHistogram("h", "", {1, 2}), &r.AddHistogram("h", "", {1, 2}));
  a.Inc();
  EXPECT_EQ(RenderValid(r),
            "# TYPE c counter\n# HELP c first help\nc_total 1\n"
            "# TYPE g gauge\n"
            "# TYPE h histogram\nh_bucket{le=\"1.0\"} 0\nh_bucket{le=\"2.0\"} 0\n"
            "h_bucket{le=\"+Inf\"} 0\nh_count 0\nh_sum 0.0\n"
            "# EOF\n");
}

TEST(Registry, AcceptsColonsUnderscoresAndDigitsInNames) {
  Registry r;
  r.AddGauge("_a:b_9", "");
  r.AddGaugeFamily("ns:sub:x", "", {"_l", "L9"});
  EXPECT_EQ(RenderValid(r), "# TYPE _a:b_9 gauge\n_a:b_9 0\n# TYPE ns:sub:x gauge\n# EOF\n");
}

using RegistryDeathTest = ::testing::Test;

TEST(RegistryDeathTest, AbortsWhenANameIsRegisteredAsAnotherKind) {
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("x", "");
        r.AddGauge("x", "");
      },
      "registered as a counter and again as a different kind: gauge");
}

TEST(RegistryDeathTest, AbortsWhenAFamilyIsRegisteredAgainWithOtherLabelsOrBounds) {
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounterFamily("x", "", {"a"});
        r.AddCounterFamily("x", "", {"b"});
      },
      "different label names");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("x", "");
        r.AddCounterFamily("x", "", {"a"});
      },
      "different label names");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddHistogram("x", "", {1});
        r.AddHistogram("x", "", {2});
      },
      "different bounds");
}

TEST(RegistryDeathTest, AbortsOnInvalidMetricNames) {
  for (const char* name : {"", "1abc", "a-b", "a b", "a.b", "caf\xc3\xa9"}) {
    EXPECT_DEATH(Registry().AddGauge(name, ""), "invalid metric name") << name;
  }
}

TEST(RegistryDeathTest, AbortsOnInvalidDuplicateOrReservedLabelNames) {
  EXPECT_DEATH(Registry().AddGaugeFamily("g", "", {"a:b"}), "invalid label name");
  EXPECT_DEATH(Registry().AddGaugeFamily("g", "", {"9a"}), "invalid label name");
  EXPECT_DEATH(Registry().AddGaugeFamily("g", "", {""}), "invalid label name");
  EXPECT_DEATH(Registry().AddGaugeFamily("g", "", {"__name"}), "invalid label name");
  EXPECT_DEATH(Registry().AddGaugeFamily("g", "", {"a", "a"}), "duplicate label name");
  EXPECT_DEATH(Registry().AddHistogramFamily("h", "", {1}, {"le"}), "\"le\" is reserved");
}

TEST(RegistryDeathTest, AbortsWhenACounterNameAlreadyEndsInTotal) {
  EXPECT_DEATH(Registry().AddCounter("requests_total", ""), "without \"_total\"");
}

TEST(RegistryDeathTest, AbortsWhenSampleNamesOfTwoMetricsCollide) {
  EXPECT_DEATH(
      {
        Registry r;
        r.AddHistogram("x", "", {1});
        r.AddGauge("x_count", "");
      },
      "would expose \"x_count\"");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddGauge("x_total", "");
        r.AddCounter("x", "");
      },
      "would expose \"x_total\"");
}

TEST(RegistryDeathTest, AbortsOnUnsortedDuplicateOrNonFiniteBounds) {
  EXPECT_DEATH(Registry().AddHistogram("h", "", {2, 1}), "strictly ascending");
  EXPECT_DEATH(Registry().AddHistogram("h", "", {1, 1}), "strictly ascending");
  EXPECT_DEATH(Registry().AddHistogram("h", "", {1, std::nan("")}), "finite");
  EXPECT_DEATH(Registry().AddHistogram("h", "", {-std::numeric_limits<double>::infinity()}),
               "finite");
}

TEST(RegistryDeathTest, AbortsWhenWithLabelsGetsTheWrongNumberOfValues) {
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounterFamily("c", "", {"a", "b"}).WithLabels({"x"});
      },
      "WithLabels got 1 values for label names \\[a,b\\]");
}

TEST(ExponentialBucketsDeathTest, AbortsOnInvalidArguments) {
  EXPECT_DEATH(ExponentialBuckets(0, 2, 3), "needs start > 0");
  EXPECT_DEATH(ExponentialBuckets(1, 1, 3), "needs start > 0");
  EXPECT_DEATH(ExponentialBuckets(1, 2, 0), "needs start > 0");
}

// --- Families and references --------------------------------------------------------------------

TEST(CounterFamily, WithLabelsReturnsTheSameChildForTheSameValues) {
  Registry r;
  CounterFamily& f = r.AddCounterFamily("c", "", {"a", "b"});
  Counter& x = f.WithLabels({"1", "2"});
  EXPECT_EQ(&x, &f.WithLabels({"1", "2"}));
  EXPECT_EQ(&x, &f.WithLabels({std::string("1"), std::string_view("2x", 1)}));
  // Values that would concatenate to the same text stay distinct children.
  EXPECT_NE(&f.WithLabels({"1", "2"}), &f.WithLabels({"12", ""}));
  EXPECT_NE(&f.WithLabels({"1,b=\"2", ""}), &f.WithLabels({"1", "2"}));
  EXPECT_EQ(&r.AddCounterFamily("c", "", {"a", "b"}).WithLabels({"1", "2"}), &x);
}

TEST(Registry, ReferencesStayValidWhileManyMetricsAndChildrenAreAdded) {
  Registry r;
  Counter& first = r.AddCounter("first", "");
  GaugeFamily& gauges = r.AddGaugeFamily("g", "", {"i"});
  Gauge& g0 = gauges.WithLabels({"0"});
  HistogramFamily& hists = r.AddHistogramFamily("h", "", {1, 2, 3}, {"i"});
  Histogram& h0 = hists.WithLabels({"0"});
  first.Inc();
  g0.Set(-7);
  h0.Observe(2);
  for (int i = 1; i < 5000; ++i) {
    r.AddCounter("c" + std::to_string(i), "").Inc(i);
    gauges.WithLabels({std::to_string(i)}).Set(i);
    hists.WithLabels({std::to_string(i)}).Observe(i);
  }
  EXPECT_EQ(&first, &r.AddCounter("first", ""));
  EXPECT_EQ(&g0, &gauges.WithLabels({"0"}));
  EXPECT_EQ(&h0, &hists.WithLabels({"0"}));
  first.Inc();
  g0.Add(-1);
  h0.Observe(1);
  EXPECT_EQ(first.Value(), 2u);
  EXPECT_EQ(g0.Value(), -8);
  EXPECT_EQ(h0.Count(), 2u);
  EXPECT_EQ(h0.Sum(), 3.0);
  const std::vector<ParsedFamily> parsed = Parse(r);
  ASSERT_EQ(parsed.size(), 5002u);  // first, g, h, c1..c4999
  EXPECT_EQ(parsed[1].samples.size(), 5000u);
  EXPECT_EQ(parsed[2].samples.size(), 5000u * 6);
}

// --- Concurrency --------------------------------------------------------------------------------

constexpr int kThreads = 4;
constexpr int kPerThread = 200000;

template <typename Fn>
void RunOnThreads(Fn fn) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(fn, t);
  for (std::thread& t : threads) t.join();
}

TEST(Counter, ConcurrentIncrementsFromFourThreadsGiveExactTotals) {
  Registry r;
  Counter& shared = r.AddCounter("shared", "");
  CounterFamily& family = r.AddCounterFamily("per_thread", "", {"t"});
  RunOnThreads([&](int t) {
    Counter& mine = family.WithLabels({std::to_string(t)});
    for (int i = 0; i < kPerThread; ++i) {
      shared.Inc();
      mine.Inc(2);
    }
  });
  EXPECT_EQ(shared.Value(), uint64_t{kThreads} * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(family.WithLabels({std::to_string(t)}).Value(), 2u * kPerThread);
  }
}

TEST(Gauge, ConcurrentAddsFromFourThreadsGiveExactTotals) {
  Registry r;
  Gauge& g = r.AddGauge("g", "");
  RunOnThreads([&](int t) {
    for (int i = 0; i < kPerThread; ++i) g.Add(t % 2 == 0 ? 3 : -5);
  });
  EXPECT_EQ(g.Value(), int64_t{kPerThread} * (3 + 3 - 5 - 5));
}

TEST(Histogram, ConcurrentObservationsFromFourThreadsGiveExactCountsAndSum) {
  Registry r;
  Histogram& h = r.AddHistogram("h", "", {0.5, 1, 2});
  // Dyadic values: every partial sum is exact in a double, so the total is order-independent.
  RunOnThreads([&](int t) {
    for (int i = 0; i < kPerThread; ++i) h.Observe(0.25 * (1 << (t % 4)));  // .25 .5 1 2
  });
  EXPECT_EQ(h.Count(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(h.Sum(), kPerThread * (0.25 + 0.5 + 1 + 2));
  EXPECT_EQ(RenderValid(r),
            "# TYPE h histogram\n"
            "h_bucket{le=\"0.5\"} 400000\n"
            "h_bucket{le=\"1.0\"} 600000\n"
            "h_bucket{le=\"2.0\"} 800000\n"
            "h_bucket{le=\"+Inf\"} 800000\n"
            "h_count 800000\n"
            "h_sum 750000.0\n"
            "# EOF\n");
}

TEST(Registry, RendersValidOutputWhileOtherThreadsUpdateAndAddChildren) {
  Registry r;
  CounterFamily& c = r.AddCounterFamily("c", "", {"t"});
  HistogramFamily& h = r.AddHistogramFamily("h", "", ExponentialBuckets(1, 2, 8), {"t"});
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    int scrapes = 0;
    while (!done.load() || scrapes < 10) {
      std::vector<ParsedFamily> parsed;
      const std::string text = r.RenderOpenMetrics();
      ASSERT_EQ(ParseOpenMetrics(text, &parsed), "") << text;
      ++scrapes;
    }
  });
  RunOnThreads([&](int t) {
    for (int i = 0; i < 20000; ++i) {
      const std::string label = std::to_string(t * 100 + i % 50);  // new children early on
      c.WithLabels({label}).Inc();
      h.WithLabels({label}).Observe(i % 300);
    }
  });
  done = true;
  scraper.join();
  uint64_t total = 0;
  const std::vector<ParsedFamily> parsed = Parse(r);
  for (const ParsedSample& s : parsed[0].samples) total += std::stoull(s.value_text);
  EXPECT_EQ(total, uint64_t{kThreads} * 20000);
}

}  // namespace
}  // namespace llmobs_edge::telemetry
