#pragma once
// A small thread-safe metrics registry (counters, gauges, histograms, each optionally labelled)
// rendered as OpenMetrics 1.0.0 text. The proxy's request path updates metrics through references
// resolved once at setup (a relaxed atomic add, no lock); the Datadog Agent's OpenMetrics check or
// Prometheus scrapes RenderOpenMetrics() from the service's metrics endpoint.
//
// Programming errors abort the process in every build mode (after printing the reason to
// stderr): an invalid metric name, an invalid, duplicate or "__"-prefixed label name ("le" too,
// on histograms), a counter name ending in "_total", re-registering a name as another kind or
// with other label names or bounds, sample names that collide with another family's (e.g. gauge
// "x_count" next to histogram "x"), bounds that are not finite and strictly ascending (a trailing
// +Inf is allowed and dropped), and WithLabels with the wrong number of values. These happen at
// startup, so failing loudly there beats exporting something ambiguous for the service's life.
// Registering the same name again with the same kind and schema returns the existing metric (the
// first help text is kept).
//
// Output order: families in registration order, children in creation order. Number rendering
// follows OpenMetrics' canonical form (Go's %g plus ".0" when neither '.' nor an exponent is
// present): le="0.005", le="1.0", le="2.5", le="1e-05", le="+Inf". Counter and gauge values are
// integers and render without a decimal point.

#include <atomic>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace llmobs_edge::telemetry {

namespace internal {
template <typename M>
class Family;
}  // namespace internal

// Monotonic count. Inc is a relaxed atomic add; cache-line aligned so that counters bumped by
// different threads do not share a line.
class alignas(64) Counter {
 public:
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  template <typename M>
  friend class internal::Family;
  Counter() = default;

  std::atomic<uint64_t> value_{0};
};

// Value that goes up and down (may be negative). Set/Add are relaxed atomic operations.
class alignas(64) Gauge {
 public:
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  template <typename M>
  friend class internal::Family;
  Gauge() = default;

  std::atomic<int64_t> value_{0};
};

// Distribution over fixed buckets. Observe is lock-free: a binary search over the bounds, one
// relaxed atomic add on that bucket's (non-cumulative) count, and a relaxed atomic<double>
// fetch_add for the sum (C++20; a compare-exchange loop in libstdc++). Count() is the total over
// the buckets, so a rendered _count always equals its +Inf bucket even while observations race
// the scrape. A value v lands in the first bucket whose bound is >= v (OpenMetrics "le"); NaN is
// ignored (it would turn _sum into NaN for good); +Inf lands in the +Inf bucket.
class alignas(64) Histogram {
 public:
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double v);
  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  template <typename M>
  friend class internal::Family;
  friend class HistogramFamily;
  explicit Histogram(std::span<const double> bounds);

  std::span<const double> bounds_;  // finite, strictly ascending; owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1; last is +Inf
  std::atomic<double> sum_{0.0};
};

namespace internal {

enum class Kind { kCounter, kGauge, kHistogram };

// Name, help, label names and the lock over the children; one per metric name.
class FamilyBase {
 public:
  FamilyBase(Kind kind, std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends "# TYPE", "# HELP" (unless the help is empty) and every child's samples.
  void Render(std::string& out) const;

 protected:
  // `a="x",b="y"` (values escaped): both the rendered label set and the child's lookup key.
  // Aborts unless there is exactly one value per label name.
  std::string LabelKey(std::initializer_list<std::string_view> values) const;
  virtual void RenderChildren(std::string& out) const = 0;  // mu_ held

  // Guards the children. Taken by WithLabels and Render, never by metric updates. A std::mutex
  // rather than absl::Mutex so ThreadSanitizer sees it (Debian's abseil is not instrumented).
  mutable std::mutex mu_;

 private:
  const Kind kind_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// Children in a deque (references stay valid as it grows) plus an index by label key.
template <typename M>
class Family : public FamilyBase {
 protected:
  Family(Kind kind, std::string name, std::string help, std::vector<std::string> label_names)
      : FamilyBase(kind, std::move(name), std::move(help), std::move(label_names)) {}

  struct Child {
    template <typename... Args>
    explicit Child(std::string key, Args&&... args)
        : labels(std::move(key)), metric(std::forward<Args>(args)...) {}
    const std::string labels;
    M metric;
  };

  template <typename... Args>
  M& GetOrCreate(std::initializer_list<std::string_view> values, Args&&... args) {
    std::string key = LabelKey(values);
    std::lock_guard lock(mu_);
    auto [it, inserted] = index_.try_emplace(key, nullptr);
    if (inserted) it->second = &children_.emplace_back(std::move(key), args...).metric;
    return *it->second;
  }

  std::deque<Child> children_;  // guarded by mu_

 private:
  absl::flat_hash_map<std::string, M*> index_;  // guarded by mu_
};

}  // namespace internal

// One metric name with fixed label names. WithLabels takes the family's lock: resolve children
// at setup (or rarely) and keep the reference; same values -> same child.
class CounterFamily final : public internal::Family<Counter> {
 public:
  Counter& WithLabels(std::initializer_list<std::string_view> values);

 private:
  friend class Registry;
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names)
      : Family(internal::Kind::kCounter, std::move(name), std::move(help), std::move(label_names)) {
  }
  void RenderChildren(std::string& out) const override;  // mu_ held
};

class GaugeFamily final : public internal::Family<Gauge> {
 public:
  Gauge& WithLabels(std::initializer_list<std::string_view> values);

 private:
  friend class Registry;
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names)
      : Family(internal::Kind::kGauge, std::move(name), std::move(help), std::move(label_names)) {}
  void RenderChildren(std::string& out) const override;  // mu_ held
};

class HistogramFamily final : public internal::Family<Histogram> {
 public:
  Histogram& WithLabels(std::initializer_list<std::string_view> values);

 private:
  friend class Registry;
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void RenderChildren(std::string& out) const override;  // mu_ held

  const std::vector<double> bounds_;    // without +Inf
  std::vector<std::string> le_labels_;  // `le="0.005"` ... `le="+Inf"`
  const bool render_sum_;               // false when a bound is negative (OpenMetrics)
};

// Owns every metric; references it returns stay valid for its lifetime. Registration and
// rendering are thread-safe. Not copyable or movable.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // name without the _total suffix (counters get "_total" on output per OpenMetrics); help text.
  Counter& AddCounter(std::string name, std::string help);
  CounterFamily& AddCounterFamily(std::string name, std::string help,
                                  std::vector<std::string> label_names);
  Gauge& AddGauge(std::string name, std::string help);
  GaugeFamily& AddGaugeFamily(std::string name, std::string help,
                              std::vector<std::string> label_names);
  // bucket upper bounds ascending; +Inf added automatically (a trailing +Inf given is dropped).
  Histogram& AddHistogram(std::string name, std::string help, std::vector<double> bounds);
  HistogramFamily& AddHistogramFamily(std::string name, std::string help,
                                      std::vector<double> bounds,
                                      std::vector<std::string> label_names);

  std::string RenderOpenMetrics() const;  // ends with "# EOF\n"
  static constexpr std::string_view kContentType =
      "application/openmetrics-text; version=1.0.0; charset=utf-8";

 private:
  // The existing family of that name if compatible (else aborts), or nullptr after checking that
  // the new family's sample names are free (and reserving them).
  internal::FamilyBase* FindOrReserve(internal::Kind kind, const std::string& name,
                                      const std::vector<std::string>& label_names);  // mu_ held
  void Insert(std::unique_ptr<internal::FamilyBase> family);                         // mu_ held

  // Guards everything below; taken by registration and rendering (lock order: this one, then a
  // family's).
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<internal::FamilyBase>> families_;  // registration order
  absl::flat_hash_map<std::string, internal::FamilyBase*> by_name_;
  absl::flat_hash_set<std::string> sample_names_;  // every sample name in use
  mutable size_t last_render_size_ = 0;
};

// {start, start*factor, ..., start*factor^(count-1)}; aborts unless start > 0, factor > 1 and
// count >= 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

}  // namespace llmobs_edge::telemetry
