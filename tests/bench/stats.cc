#include "tests/bench/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace llmobs_edge::bench {

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

Spread Summarize(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  Spread s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min = values.front();
  s.max = values.back();
  const size_t mid = values.size() / 2;
  s.median = values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  return s;
}

std::string FormatSpread(const Spread& s, const std::function<std::string(double)>& one) {
  if (s.n == 0) return "—";
  const std::string median = one(s.median), lo = one(s.min), hi = one(s.max);
  if (s.n == 1 || lo == hi) return median;
  return median + " (" + lo + "–" + hi + ")";
}

std::string FormatSpread(const Spread& s, const char* format) {
  return FormatSpread(s, [format](double v) { return Fmt(format, v); });
}

std::string FormatSpreadThousands(const Spread& s) {
  return FormatSpread(s, [](double v) { return Thousands(v); });
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string Thousands(double v) {
  const bool neg = v < 0;
  std::string digits = std::to_string(static_cast<uint64_t>(std::fabs(v) + 0.5));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return neg ? "-" + out : out;
}

void PrintTargets(std::ostream& out, const std::vector<TargetLine>& lines) {
  for (const TargetLine& t : lines) {
    const char* verdict = !t.measured_at_all ? "n/a" : t.pass ? "**PASS**" : "**MISS**";
    out << "- " << verdict << (t.informative ? " (informative)" : "") << " " << t.target << ": "
        << (t.measured_at_all ? t.measured : "not measured") << "\n";
  }
}

int TargetsPassed(const std::vector<TargetLine>& lines) {
  return static_cast<int>(std::count_if(lines.begin(), lines.end(), [](const TargetLine& t) {
    return t.measured_at_all && !t.informative && t.pass;
  }));
}

int TargetsMissed(const std::vector<TargetLine>& lines) {
  return static_cast<int>(std::count_if(lines.begin(), lines.end(), [](const TargetLine& t) {
    return t.measured_at_all && !t.informative && !t.pass;
  }));
}

}  // namespace llmobs_edge::bench
