#pragma once
// Statistics and number formatting shared by the proxy and rescue benchmark reports: percentiles
// of one run's samples, the median and spread (min-max) of a figure over repeated runs, and the
// PASS/MISS lines of the targets. //tests/bench:stats_test checks them.

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace llmobs_edge::bench {

// The q-quantile (0 < q <= 1) of `v` by the nearest-rank method; 0 when `v` is empty.
double Percentile(std::vector<double> v, double q);

// One figure over repeated runs.
struct Spread {
  size_t n = 0;  // runs that measured it
  double median = 0, min = 0, max = 0;
};
// The median (the mean of the two middle values for an even count), min and max. NaN values (a
// run that did not measure the figure) are left out; +infinity (e.g. "never") sorts last.
Spread Summarize(std::vector<double> values);

// `one(value)` for one run, "median (min–max)" for more ("median" alone when min and max print
// the same), "—" for none.
std::string FormatSpread(const Spread& s, const std::function<std::string(double)>& one);
// The same with a printf format for each value ("%.2f").
std::string FormatSpread(const Spread& s, const char* format);
// The same with thousands separators.
std::string FormatSpreadThousands(const Spread& s);

// `v` through a printf format ("%.3f").
std::string Fmt(const char* format, double v);
// `v` rounded to an integer with thousands separators: "12,345".
std::string Thousands(double v);

// A target of the issue and what the run measured for it.
struct TargetLine {
  std::string target;    // "1 MiB: edge CPU <= 0.5 s/GB at saturation"
  std::string measured;  // "0.41 (0.39–0.45) s/GB"; "not measured" when `!measured_at_all`
  bool pass = false;
  bool measured_at_all = true;
  bool informative = false;  // shown, not counted
};
// One line per target: "- **PASS** target: measured", "MISS", "n/a" (not measured), with
// "(informative)" after the verdict of a line that does not count.
void PrintTargets(std::ostream& out, const std::vector<TargetLine>& lines);
// Targets that count and passed / missed (a target not measured counts as neither).
int TargetsPassed(const std::vector<TargetLine>& lines);
int TargetsMissed(const std::vector<TargetLine>& lines);

}  // namespace llmobs_edge::bench
