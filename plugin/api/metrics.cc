// The metrics registry of plugin/api/metrics.h: registration checks, the lock-free
// histogram, and the OpenMetrics 1.0.0 text renderer (escaping and canonical number rendering)
// that the service's metrics endpoint serves to the Datadog Agent or Prometheus.

#include "plugin/api/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <utility>

namespace llmobs_edge::telemetry {
namespace {

static_assert(std::atomic<double>::is_always_lock_free, "Histogram::Observe must be lock-free");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "Counter::Inc must be lock-free");

[[noreturn]] void Fail(std::string_view message) {
  std::fprintf(stderr, "llmobs_edge::telemetry: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  std::abort();
}

// Debian's abseil is built with its own absl::string_view, so absl::StrCat does not take
// std::string_view; messages are only built on the way to abort(), so a stream is fine.
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return std::move(out).str();
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name) {
  if (name.empty() || IsDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == '_' || c == ':'; });
}

// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for internal use by Prometheus).
bool IsValidLabelName(std::string_view name) {
  if (name.empty() || IsDigit(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; });
}

std::string_view KindName(internal::Kind kind) {
  switch (kind) {
    case internal::Kind::kCounter:
      return "counter";
    case internal::Kind::kGauge:
      return "gauge";
    case internal::Kind::kHistogram:
      return "histogram";
  }
  return "unknown";
}

// The sample names a family of this kind puts on the wire (plus _created, which OpenMetrics
// reserves for counters and histograms even though this registry does not emit it).
std::vector<std::string> SampleNames(internal::Kind kind, const std::string& name) {
  switch (kind) {
    case internal::Kind::kCounter:
      return {name, name + "_total", name + "_created"};
    case internal::Kind::kGauge:
      return {name};
    case internal::Kind::kHistogram:
      return {name, name + "_bucket", name + "_count", name + "_sum", name + "_created"};
  }
  return {name};
}

// OpenMetrics escaped-string: backslash, double quote and line feed (label values and HELP).
void AppendEscaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

template <typename Int>
void AppendInt(std::string& out, Int v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

// OpenMetrics' canonical rendering: Go's strconv.FormatFloat(v, 'g', -1, 64) (shortest digits
// that round-trip; exponent form when the decimal exponent is < -4 or >= 6, with at least two
// exponent digits), then ".0" appended when there is neither '.' nor an exponent. So 1 -> "1.0",
// 0.005 -> "0.005", 100000 -> "100000.0", 1e6 -> "1e+06", 1e-5 -> "1e-05"; +Inf, -Inf, NaN.
void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, result.ptr - buf);  // e.g. "-1.25e-05": shortest round-trip digits
  const size_t e = sci.find('e');
  int exponent = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  if (exponent < -4 || exponent >= 6) {
    out += sci;
    return;
  }
  std::string_view mantissa = sci.substr(0, e);
  if (mantissa.front() == '-') {
    out += '-';
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  const int point = exponent + 1;  // digits before the decimal point
  const int n = static_cast<int>(digits.size());
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-point), '0');
    out += digits;
  } else if (point >= n) {
    out += digits;
    out.append(static_cast<size_t>(point - n), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(point));
    out += '.';
    out.append(digits, static_cast<size_t>(point));
  }
}

// `name_suffix{labels} ` ready for the value.
void AppendSampleStart(std::string& out, std::string_view name, std::string_view suffix,
                       std::string_view labels) {
  out += name;
  out += suffix;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
}

void ValidateLabelNames(std::string_view metric, const std::vector<std::string>& label_names) {
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (!IsValidLabelName(label_names[i])) {
      Fail(Cat("metric \"", metric, "\": invalid label name \"", label_names[i], "\""));
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names[i] == label_names[j]) {
        Fail(Cat("metric \"", metric, "\": duplicate label name \"", label_names[i], "\""));
      }
    }
  }
}

// Drops a trailing +Inf and aborts unless the rest is finite and strictly ascending.
std::vector<double> NormalizeBounds(std::string_view metric, std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      Fail(Cat("histogram \"", metric, "\": bucket bounds must be finite"));
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      Fail(Cat("histogram \"", metric, "\": bucket bounds must be strictly ascending"));
    }
  }
  return bounds;
}

}  // namespace

// --- Histogram -----------------------------------------------------------------------------------

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::Count() const {
  uint64_t count = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    count += buckets_[i].load(std::memory_order_relaxed);
  }
  return count;
}

// --- Families ------------------------------------------------------------------------------------

namespace internal {

FamilyBase::FamilyBase(Kind kind, std::string name, std::string help,
                       std::vector<std::string> label_names)
    : kind_(kind),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)) {}

std::string FamilyBase::LabelKey(std::initializer_list<std::string_view> values) const {
  if (values.size() != label_names_.size()) {
    Fail(Cat("metric \"", name_, "\": WithLabels got ", values.size(), " values for label names [",
             Join(label_names_, ","), "]"));
  }
  std::string key;
  size_t i = 0;
  for (std::string_view value : values) {
    if (i > 0) key += ',';
    key += label_names_[i++];
    key += "=\"";
    AppendEscaped(key, value);
    key += '"';
  }
  return key;
}

void FamilyBase::Render(std::string& out) const {
  out += "# TYPE ";
  out += name_;
  out += ' ';
  out += KindName(kind_);
  out += '\n';
  if (!help_.empty()) {  // an empty HELP is the same as none (OpenMetrics)
    out += "# HELP ";
    out += name_;
    out += ' ';
    AppendEscaped(out, help_);
    out += '\n';
  }
  std::lock_guard lock(mu_);
  RenderChildren(out);
}

}  // namespace internal

Counter& CounterFamily::WithLabels(std::initializer_list<std::string_view> values) {
  return GetOrCreate(values);
}

void CounterFamily::RenderChildren(std::string& out) const {
  for (const Child& child : children_) {
    AppendSampleStart(out, name(), "_total", child.labels);
    AppendInt(out, child.metric.Value());
    out += '\n';
  }
}

Gauge& GaugeFamily::WithLabels(std::initializer_list<std::string_view> values) {
  return GetOrCreate(values);
}

void GaugeFamily::RenderChildren(std::string& out) const {
  for (const Child& child : children_) {
    AppendSampleStart(out, name(), "", child.labels);
    AppendInt(out, child.metric.Value());
    out += '\n';
  }
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : Family(internal::Kind::kHistogram, std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)),
      render_sum_(bounds_.empty() || bounds_.front() >= 0) {
  for (double bound : bounds_) {
    std::string le = "le=\"";
    AppendDouble(le, bound);
    le += '"';
    le_labels_.push_back(std::move(le));
  }
  le_labels_.push_back("le=\"+Inf\"");
}

Histogram& HistogramFamily::WithLabels(std::initializer_list<std::string_view> values) {
  return GetOrCreate(values, std::span<const double>(bounds_));
}

void HistogramFamily::RenderChildren(std::string& out) const {
  for (const Child& child : children_) {
    const Histogram& h = child.metric;
    // One relaxed load per bucket; _count is the cumulative total, so it matches +Inf.
    uint64_t cumulative = 0;
    for (size_t i = 0; i < le_labels_.size(); ++i) {
      cumulative += h.buckets_[i].load(std::memory_order_relaxed);
      out += name();
      out += "_bucket{";
      if (!child.labels.empty()) {
        out += child.labels;
        out += ',';
      }
      out += le_labels_[i];
      out += "} ";
      AppendInt(out, cumulative);
      out += '\n';
    }
    AppendSampleStart(out, name(), "_count", child.labels);
    AppendInt(out, cumulative);
    out += '\n';
    // OpenMetrics: with a negative bucket threshold the sum is no longer a counter and MUST NOT
    // be exposed.
    if (render_sum_) {
      AppendSampleStart(out, name(), "_sum", child.labels);
      AppendDouble(out, h.Sum());
      out += '\n';
    }
  }
}

// --- Registry ------------------------------------------------------------------------------------

internal::FamilyBase* Registry::FindOrReserve(internal::Kind kind, const std::string& name,
                                              const std::vector<std::string>& label_names) {
  if (!IsValidMetricName(name)) Fail(Cat("invalid metric name \"", name, "\""));
  if (kind == internal::Kind::kCounter && name.ends_with("_total")) {
    Fail(Cat("counter \"", name, "\": pass the name without \"_total\" (it is added)"));
  }
  ValidateLabelNames(name, label_names);
  if (kind == internal::Kind::kHistogram &&
      std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    Fail(Cat("histogram \"", name, "\": \"le\" is reserved for the bucket bound"));
  }
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    internal::FamilyBase* existing = it->second;
    if (existing->kind() != kind) {
      Fail(Cat("metric \"", name, "\" registered as a ", KindName(existing->kind()),
               " and again as a different kind: ", KindName(kind)));
    }
    if (existing->label_names() != label_names) {
      Fail(Cat("metric \"", name, "\" registered again with different label names: [",
               Join(existing->label_names(), ","), "] then [", Join(label_names, ","), "]"));
    }
    return existing;
  }
  const std::vector<std::string> samples = SampleNames(kind, name);
  for (const std::string& sample : samples) {
    if (sample_names_.contains(sample)) {
      Fail(Cat(KindName(kind), " \"", name, "\" would expose \"", sample,
               "\", which another metric already uses"));
    }
  }
  sample_names_.insert(samples.begin(), samples.end());
  return nullptr;
}

void Registry::Insert(std::unique_ptr<internal::FamilyBase> family) {
  by_name_.emplace(family->name(), family.get());
  families_.push_back(std::move(family));
}

CounterFamily& Registry::AddCounterFamily(std::string name, std::string help,
                                          std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  if (internal::FamilyBase* existing = FindOrReserve(internal::Kind::kCounter, name, label_names)) {
    return static_cast<CounterFamily&>(*existing);
  }
  auto* family = new CounterFamily(std::move(name), std::move(help), std::move(label_names));
  Insert(std::unique_ptr<internal::FamilyBase>(family));
  return *family;
}

Counter& Registry::AddCounter(std::string name, std::string help) {
  return AddCounterFamily(std::move(name), std::move(help), {}).WithLabels({});
}

GaugeFamily& Registry::AddGaugeFamily(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  if (internal::FamilyBase* existing = FindOrReserve(internal::Kind::kGauge, name, label_names)) {
    return static_cast<GaugeFamily&>(*existing);
  }
  auto* family = new GaugeFamily(std::move(name), std::move(help), std::move(label_names));
  Insert(std::unique_ptr<internal::FamilyBase>(family));
  return *family;
}

Gauge& Registry::AddGauge(std::string name, std::string help) {
  return AddGaugeFamily(std::move(name), std::move(help), {}).WithLabels({});
}

HistogramFamily& Registry::AddHistogramFamily(std::string name, std::string help,
                                              std::vector<double> bounds,
                                              std::vector<std::string> label_names) {
  bounds = NormalizeBounds(name, std::move(bounds));
  std::lock_guard lock(mu_);
  if (internal::FamilyBase* existing =
          FindOrReserve(internal::Kind::kHistogram, name, label_names)) {
    auto& family = static_cast<HistogramFamily&>(*existing);
    if (family.bounds_ != bounds) {
      Fail(Cat("histogram \"", name, "\" registered again with different bounds"));
    }
    return family;
  }
  auto* family = new HistogramFamily(std::move(name), std::move(help), std::move(label_names),
                                     std::move(bounds));
  Insert(std::unique_ptr<internal::FamilyBase>(family));
  return *family;
}

Histogram& Registry::AddHistogram(std::string name, std::string help, std::vector<double> bounds) {
  return AddHistogramFamily(std::move(name), std::move(help), std::move(bounds), {}).WithLabels({});
}

std::string Registry::RenderOpenMetrics() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(last_render_size_ + last_render_size_ / 8 + 64);
  for (const auto& family : families_) family->Render(out);
  out += "# EOF\n";
  last_render_size_ = out.size();
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1 || !std::isfinite(start) ||
      !std::isfinite(factor)) {
    Fail(Cat("ExponentialBuckets(", start, ", ", factor, ", ", count,
             "): needs start > 0, factor > 1, count >= 1"));
  }
  std::vector<double> bounds;
  bounds.reserve(static_cast<size_t>(count));
  double bound = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(bound);
    bound *= factor;
  }
  return bounds;
}

}  // namespace llmobs_edge::telemetry
