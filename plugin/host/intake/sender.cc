// The intake sender's loop: peek, wait for a batch to fill, POST, then ack / retry / split /
// dead-letter (sender.h has the rules, docs/intake.md the why).

#include "plugin/host/intake/sender.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/time/time.h"
#include "plugin/api/thread_name.h"
#include "spdlog/spdlog.h"

namespace llmobs_edge::plugin::intake {
namespace {

using SteadyClock = std::chrono::steady_clock;

IntakeSender::Options Normalized(IntakeSender::Options o) {
  o.max_batch_records = std::max<size_t>(o.max_batch_records, 1);
  o.max_batch_bytes = std::max<uint64_t>(o.max_batch_bytes, 3);  // "[" + one byte + "]"
  o.flush_interval = std::max(o.flush_interval, std::chrono::milliseconds(0));
  o.min_backoff = std::max(o.min_backoff, std::chrono::milliseconds(1));
  o.max_backoff = std::max(o.max_backoff, o.min_backoff);
  return o;
}

telemetry::Counter& Requests(telemetry::Registry& r, std::string_view cls) {
  return r
      .AddCounterFamily("llmobs_edge_intake_requests",
                        "Requests to the LLMObs intake by outcome: 2xx, 4xx (other than 408, 413, "
                        "429), 5xx, 413, 429, 408, transport_error (no answer), other",
                        {"class"})
      .WithLabels({cls});
}

}  // namespace

IntakeSender::Metrics::Metrics(telemetry::Registry& r)
    : requests_2xx(Requests(r, "2xx")),
      requests_4xx(Requests(r, "4xx")),
      requests_5xx(Requests(r, "5xx")),
      requests_413(Requests(r, "413")),
      requests_429(Requests(r, "429")),
      requests_408(Requests(r, "408")),
      requests_transport_error(Requests(r, "transport_error")),
      requests_other(Requests(r, "other")),
      events_delivered(r.AddCounter("llmobs_edge_intake_events_delivered",
                                    "Events the intake accepted (2xx) and the outbox deleted")),
      events_dead_lettered(r.AddCounter(
          "llmobs_edge_intake_events_dead_lettered",
          "Events the intake refused for good (4xx, or 413 alone): moved to the dead letters")),
      batches(r.AddCounter("llmobs_edge_intake_batches", "Requests the intake answered with 2xx")),
      retries(r.AddCounter("llmobs_edge_intake_retries",
                           "Requests that failed retryably (transport error, 408, 429, 5xx); "
                           "their events stay in the outbox")),
      splits(r.AddCounter("llmobs_edge_intake_splits", "Batches split in two after a 413")),
      ledger_errors(r.AddCounter("llmobs_edge_intake_ledger_errors",
                                 "Ledger operations of the sender that failed (retried later)")),
      batch_bytes(r.AddHistogram("llmobs_edge_intake_batch_bytes",
                                 "Size of the request bodies sent to the intake",
                                 telemetry::ExponentialBuckets(1024, 4, 9))),
      request_seconds(r.AddHistogram("llmobs_edge_intake_request_seconds",
                                     "Latency of requests to the intake, failures included",
                                     telemetry::ExponentialBuckets(0.005, 2, 14))),
      backoff_ms(r.AddGauge("llmobs_edge_intake_backoff_milliseconds",
                            "Current retry delay of the intake sender (0 when delivering)")),
      outbox_records(r.AddGauge("llmobs_edge_intake_outbox_records",
                                "Events waiting in the outbox (refreshed by the sender)")),
      outbox_bytes(r.AddGauge("llmobs_edge_intake_outbox_bytes",
                              "Bytes of the outbox (keys + values; refreshed by the sender)")),
      outbox_oldest_age_seconds(
          r.AddGauge("llmobs_edge_intake_outbox_oldest_age_seconds",
                     "Age of the oldest event in the outbox (0 when empty)")) {}

IntakeSender::IntakeSender(Options options, dedup::Ledger& ledger, IntakeTransport& transport,
                           const Clock& clock, telemetry::Registry& metrics)
    : options_(Normalized(options)),
      ledger_(ledger),
      transport_(transport),
      clock_(clock),
      m_(metrics),
      rng_(std::random_device{}()) {}

IntakeSender::~IntakeSender() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IntakeSender::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    SetCurrentThreadName("intake-sender");
    Run();
  });
}

void IntakeSender::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void IntakeSender::Drain(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!draining_) {
      draining_ = true;
      drain_deadline_ = SteadyClock::now() + std::max(grace, std::chrono::milliseconds(0));
    }
  }
  cv_.notify_all();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }
  thread_.join();
}

IntakeSender::Stats IntakeSender::stats() const {
  Stats s;
  s.batches_sent = batches_sent_.load(std::memory_order_relaxed);
  s.events_delivered = events_delivered_.load(std::memory_order_relaxed);
  s.events_dead_lettered = events_dead_lettered_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  return s;
}

bool IntakeSender::ShouldExit() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_ || (draining_ && SteadyClock::now() >= drain_deadline_);
}

bool IntakeSender::draining() {
  std::lock_guard<std::mutex> lock(mu_);
  return draining_;
}

bool IntakeSender::WaitForWork(SteadyClock::time_point until) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, until, [&] { return notified_ || stop_ || draining_; });
  const bool notified = notified_;
  notified_ = false;
  return notified;
}

void IntakeSender::RefreshGauges(const dedup::Ledger::Stats& s) {
  m_.outbox_records.Set(static_cast<int64_t>(s.outbox_records));
  m_.outbox_bytes.Set(static_cast<int64_t>(s.outbox_bytes));
  int64_t age_s = 0;
  if (s.outbox_records > 0 && s.oldest_enqueued_unix_ms > 0) {
    age_s = std::max<int64_t>(0, absl::ToUnixMillis(clock_.Now()) - s.oldest_enqueued_unix_ms) /
            1000;
  }
  m_.outbox_oldest_age_seconds.Set(age_s);
}

void IntakeSender::LedgerError(const char* what, const absl::Status& s) {
  m_.ledger_errors.Inc();
  uint64_t suppressed = 0;
  if (ledger_log_.Allow(&suppressed)) {
    spdlog::warn("intake sender: ledger {} failed: {}; retrying with backoff ({} similar "
                 "failures not logged)",
                 what, s.ToString(), suppressed);
  }
}

void IntakeSender::BackOff() {
  ++consecutive_failures_;
  using std::chrono::milliseconds;
  const int64_t lo = options_.min_backoff.count();
  const int64_t hi_cap = options_.max_backoff.count();
  // min * 2^n without overflow: stop doubling at the ceiling.
  int64_t hi = lo;
  for (int i = 0; i < consecutive_failures_ && hi < hi_cap; ++i) hi = std::min(hi * 2, hi_cap);
  const int64_t delay = std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  m_.backoff_ms.Set(delay);
  const SteadyClock::time_point until = SteadyClock::now() + milliseconds(delay);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stop_) return;
    SteadyClock::time_point t = until;
    if (draining_) t = std::min(t, drain_deadline_);
    if (SteadyClock::now() >= t) return;
    cv_.wait_until(lock, t);  // woken early by Drain (new deadline) or the destructor
  }
}

void IntakeSender::Succeeded() {
  consecutive_failures_ = 0;
  m_.backoff_ms.Set(0);
  if (failing_) {
    failing_ = false;
    spdlog::info("intake sender: the intake accepts requests again through {}", transport_.name());
  }
}

void IntakeSender::AckOrKeep(std::vector<uint64_t> seqs) {
  if (absl::Status s = ledger_.Ack(seqs); !s.ok()) {
    LedgerError("ack", s);
    pending_acks_.insert(pending_acks_.end(), seqs.begin(), seqs.end());
  }
}

void IntakeSender::DeadLetterOrKeep(std::vector<uint64_t> seqs, std::string reason) {
  if (absl::Status s = ledger_.DeadLetter(seqs, reason); !s.ok()) {
    LedgerError("dead-letter", s);
    pending_dead_letters_.push_back({std::move(seqs), std::move(reason)});
  }
}

bool IntakeSender::FlushPending() {
  if (!pending_acks_.empty()) {
    if (absl::Status s = ledger_.Ack(pending_acks_); !s.ok()) {
      LedgerError("ack", s);
      return false;
    }
    pending_acks_.clear();
  }
  while (!pending_dead_letters_.empty()) {
    PendingDeadLetter& p = pending_dead_letters_.front();
    if (absl::Status s = ledger_.DeadLetter(p.seqs, p.reason); !s.ok()) {
      LedgerError("dead-letter", s);
      return false;
    }
    pending_dead_letters_.erase(pending_dead_letters_.begin());
  }
  return true;
}

IntakeSender::Outcome IntakeSender::Send(std::span<const dedup::OutboxRecord> records) {
  if (records.empty()) return Outcome::kProgress;
  size_t bytes = 2 + (records.size() - 1);
  for (const dedup::OutboxRecord& r : records) bytes += r.event_json.size();
  body_.clear();
  body_.reserve(bytes);
  body_.push_back('[');
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) body_.push_back(',');
    body_.append(records[i].event_json);
  }
  body_.push_back(']');
  std::vector<uint64_t> seqs;
  seqs.reserve(records.size());
  for (const dedup::OutboxRecord& r : records) seqs.push_back(r.seq);

  m_.batch_bytes.Observe(static_cast<double>(body_.size()));
  const SteadyClock::time_point start = SteadyClock::now();
  IntakeResponse res;
  try {
    res = transport_.Post(body_);
  } catch (const std::exception& e) {
    res = IntakeResponse{0, std::string("transport threw: ") + e.what()};
  }
  m_.request_seconds.Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
  const int status = res.status;

  if (status >= 200 && status < 300) {
    m_.requests_2xx.Inc();
    m_.batches.Inc();
    batches_sent_.fetch_add(1, std::memory_order_relaxed);
    AckOrKeep(std::move(seqs));
    m_.events_delivered.Inc(records.size());
    events_delivered_.fetch_add(records.size(), std::memory_order_relaxed);
    Succeeded();
    return Outcome::kProgress;
  }

  if (status == 413) {
    m_.requests_413.Inc();
    if (records.size() == 1) {
      uint64_t suppressed = 0;
      if (dead_letter_log_.Allow(&suppressed)) {
        spdlog::warn("intake sender: the intake refused a single {}-byte event with 413; moved to "
                     "the dead letters ({} similar not logged)",
                     body_.size(), suppressed);
      }
      DeadLetterOrKeep(std::move(seqs), "413 payload too large");
      m_.events_dead_lettered.Inc();
      events_dead_lettered_.fetch_add(1, std::memory_order_relaxed);
      Succeeded();  // the intake answered: no reason to back off
      return Outcome::kProgress;
    }
    m_.splits.Inc();
    const size_t half = records.size() / 2;
    const Outcome first = Send(records.first(half));
    if (first != Outcome::kProgress) return first;
    if (ShouldExit()) return Outcome::kStopped;
    return Send(records.subspan(half));
  }

  const bool client_error = status >= 400 && status < 500 && status != 408 && status != 429;
  if (client_error) {
    m_.requests_4xx.Inc();
    uint64_t suppressed = 0;
    if (dead_letter_log_.Allow(&suppressed)) {
      spdlog::warn("intake sender: the intake refused {} events with {}{}{}; moved to the dead "
                   "letters ({} similar not logged)",
                   records.size(), status, res.error.empty() ? "" : ": ", res.error, suppressed);
    }
    DeadLetterOrKeep(std::move(seqs), std::to_string(status));
    m_.events_dead_lettered.Inc(records.size());
    events_dead_lettered_.fetch_add(records.size(), std::memory_order_relaxed);
    Succeeded();
    return Outcome::kProgress;
  }

  // Retryable: no answer, 408, 429, 5xx, and anything unexpected (1xx, 3xx) — keep the events.
  if (status == 0) {
    m_.requests_transport_error.Inc();
  } else if (status == 408) {
    m_.requests_408.Inc();
  } else if (status == 429) {
    m_.requests_429.Inc();
  } else if (status >= 500 && status < 600) {
    m_.requests_5xx.Inc();
  } else {
    m_.requests_other.Inc();
  }
  m_.retries.Inc();
  retries_.fetch_add(1, std::memory_order_relaxed);
  if (absl::Status s = ledger_.RecordAttempt(seqs); !s.ok()) LedgerError("record-attempt", s);
  const std::string what = status == 0 ? res.error : "status " + std::to_string(status);
  if (!failing_) {
    failing_ = true;
    uint64_t ignored = 0;
    failure_log_.Allow(&ignored);  // the next "still failing" line comes an interval later
    spdlog::warn("intake sender: request through {} failed ({}); events stay in the outbox, "
                 "retrying with backoff",
                 transport_.name(), what);
  } else {
    uint64_t suppressed = 0;
    if (failure_log_.Allow(&suppressed)) {
      spdlog::warn("intake sender: still failing through {} ({}); {} failures not logged",
                   transport_.name(), what, suppressed);
    }
  }
  return Outcome::kRetry;
}

void IntakeSender::Run() {
  spdlog::info("intake sender: delivering through {} (batches up to {} bytes / {} events, flush "
               "after {} ms)",
               transport_.name(), options_.max_batch_bytes, options_.max_batch_records,
               options_.flush_interval.count());
  const size_t peek_bytes = options_.max_batch_bytes - 2;  // the brackets
  // An empty outbox is looked at again after this even without a Notify.
  const auto idle_wait = std::max(options_.flush_interval, std::chrono::milliseconds(50));
  while (!ShouldExit()) {
    try {
      if (!FlushPending()) {
        BackOff();
        continue;
      }
      const dedup::Ledger::Stats stats = ledger_.GetStats();
      RefreshGauges(stats);
      const bool drain = draining();
      if (stats.outbox_records == 0) {
        if (drain) break;
        WaitForWork(SteadyClock::now() + idle_wait);
        continue;
      }
      absl::StatusOr<std::vector<dedup::OutboxRecord>> peeked =
          ledger_.PeekOutbox(options_.max_batch_records, peek_bytes);
      if (!peeked.ok()) {
        LedgerError("peek", peeked.status());
        BackOff();
        continue;
      }
      std::vector<dedup::OutboxRecord>& records = *peeked;
      if (records.empty()) {  // every counted record was corrupt (and is gone now)
        if (drain) break;
        continue;
      }
      // PeekOutbox counts event bytes only; keep the prefix whose body, commas included, fits.
      const size_t peeked_count = records.size();
      uint64_t body_bytes = 2 + records[0].event_json.size();
      size_t keep = 1;
      while (keep < records.size() &&
             body_bytes + 1 + records[keep].event_json.size() <= options_.max_batch_bytes) {
        body_bytes += 1 + records[keep].event_json.size();
        ++keep;
      }
      records.resize(keep);
      const bool full = keep < peeked_count || keep >= options_.max_batch_records ||
                        stats.outbox_records > keep;
      if (!full && !drain) {
        // Wait for the batch to fill until the oldest record is flush_interval old. A Notify
        // re-peeks only when the outbox may now hold a full batch.
        // Also due flush_interval after this sender first saw that record (monotonic), so a
        // wall clock stepped backwards cannot hold a batch back.
        const int64_t due_ms = records.front().enqueued_unix_ms + options_.flush_interval.count();
        if (records.front().seq != partial_seq_) {
          partial_seq_ = records.front().seq;
          partial_since_ = clock_.Steady();
        }
        bool send_now = false;
        for (;;) {
          const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
          const auto seen_for = clock_.Steady() - partial_since_;
          if (now_ms >= due_ms || seen_for >= options_.flush_interval) {
            send_now = true;
            break;
          }
          const int64_t left_ms = std::min<int64_t>(
              due_ms - now_ms,
              std::chrono::ceil<std::chrono::milliseconds>(options_.flush_interval - seen_for)
                  .count());
          const auto wait = std::min<int64_t>(left_ms, options_.flush_interval.count());
          const bool notified = WaitForWork(SteadyClock::now() + std::chrono::milliseconds(wait));
          if (!notified || ShouldExit() || draining()) break;  // re-evaluate from the top
          const dedup::Ledger::Stats now_stats = ledger_.GetStats();
          if (now_stats.outbox_records >= options_.max_batch_records ||
              now_stats.outbox_bytes >= options_.max_batch_bytes) {
            break;
          }
        }
        if (!send_now) continue;
      }
      if (Send(records) == Outcome::kRetry) BackOff();
    } catch (const std::exception& e) {
      // Nothing here throws by design; if something does, keep the thread alive.
      uint64_t suppressed = 0;
      if (ledger_log_.Allow(&suppressed)) {
        spdlog::error("intake sender: unexpected error: {}; retrying with backoff", e.what());
      }
      BackOff();
    }
  }
  if (draining()) {
    const dedup::Ledger::Stats left = ledger_.GetStats();
    RefreshGauges(left);
    if (left.outbox_records > 0) {
      spdlog::warn("intake sender: drain ended with {} events in the outbox; they are sent after "
                   "the next start",
                   left.outbox_records);
    } else {
      spdlog::info("intake sender: drained, the outbox is empty");
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

}  // namespace llmobs_edge::plugin::intake
