#pragma once
// IntakeSender: the one thread that delivers the ledger's outbox to the LLM Observability intake
// (shared/DESIGN.md "Delivery contract", docs/intake.md).
//
// Loop: peek the oldest outbox records (at most max_batch_records, and a request body of at most
// max_batch_bytes: `[` + envelopes joined by `,` + `]`); when the outbox holds less than a full
// batch, wait until the oldest record is flush_interval old by its enqueued_unix_ms, or has been
// waited for that long on the monotonic clock (Notify() after a commit wakes the thread early
// when a full batch may be ready); POST; then
//   2xx                        -> Ack: the records leave the outbox;
//   transport error, 408, 429,
//   5xx (any other non-4xx)    -> RecordAttempt, back off (exponential, full jitter) and retry;
//   413                        -> split the batch in halves and send each; a single record that
//                                 gets 413 goes to the dead letters ("413 payload too large");
//   other 4xx                  -> dead letters (reason: the status).
// A ledger error never stops the thread: it is counted, the thread backs off and tries again; an
// Ack or DeadLetter that failed is remembered and written again before anything else is sent, so
// a disk hiccup does not deliver an event twice while the process lives. Records are deleted
// only after a 2xx, so a crash or restart redelivers at most the batch in flight (at least once;
// the intake deduplicates on the event key).
//
// Each outbox record's event_json is one complete envelope object; the sender neither parses nor
// rewrites it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "dedup/ledger.h"
#include "plugin/api/clock.h"
#include "plugin/host/intake/transport.h"
#include "plugin/api/log_limiter.h"
#include "plugin/api/metrics.h"

namespace llmobs_edge::plugin::intake {

class IntakeSender {
 public:
  struct Options {
    // Largest request body (brackets and commas included). A single envelope larger than this is
    // still sent alone (the intake decides; a 413 dead-letters it).
    uint64_t max_batch_bytes = 5ull << 20;
    // How long the oldest record may wait for a batch to fill.
    std::chrono::milliseconds flush_interval{1000};
    // Retry delays: after the n-th consecutive failure, uniform in
    // [min_backoff, min(max_backoff, min_backoff * 2^n)].
    std::chrono::milliseconds min_backoff{200};
    std::chrono::milliseconds max_backoff{60000};
    size_t max_batch_records = 1000;
  };

  // Everything passed by reference must outlive the sender. Metrics are registered on `metrics`
  // (registering again, e.g. a second sender in tests, shares them).
  IntakeSender(Options options, dedup::Ledger& ledger, IntakeTransport& transport,
               const Clock& clock, telemetry::Registry& metrics);
  ~IntakeSender();  // stops (without draining) and joins the thread

  IntakeSender(const IntakeSender&) = delete;
  IntakeSender& operator=(const IntakeSender&) = delete;

  // Starts the sender thread. Once.
  void Start();
  // Wakes the thread: the rescue stage calls this after a commit (a full batch may be ready).
  // Cheap (a mutex and a condition variable); safe from any thread.
  void Notify();
  // Graceful shutdown: stops waiting for batches to fill and keeps sending what the outbox holds
  // until it is empty or `grace` has passed, then stops the thread. Records not delivered stay in
  // the ledger and are sent after a restart. No request starts after `grace`; one in flight then
  // finishes within the transport's timeout, so this returns within grace + that timeout.
  // Returns at once when the thread was never started.
  void Drain(std::chrono::milliseconds grace);

  struct Stats {
    uint64_t batches_sent = 0;          // requests answered 2xx
    uint64_t events_delivered = 0;      // records acknowledged after a 2xx
    uint64_t events_dead_lettered = 0;  // records the intake refused for good
    uint64_t retries = 0;               // requests that failed retryably (then backed off)
  };
  Stats stats() const;

 private:
  enum class Outcome { kProgress, kRetry, kStopped };

  struct Metrics {
    explicit Metrics(telemetry::Registry& r);
    telemetry::Counter& requests_2xx;
    telemetry::Counter& requests_4xx;
    telemetry::Counter& requests_5xx;
    telemetry::Counter& requests_413;
    telemetry::Counter& requests_429;
    telemetry::Counter& requests_408;
    telemetry::Counter& requests_transport_error;
    telemetry::Counter& requests_other;
    telemetry::Counter& events_delivered;
    telemetry::Counter& events_dead_lettered;
    telemetry::Counter& batches;
    telemetry::Counter& retries;
    telemetry::Counter& splits;
    telemetry::Counter& ledger_errors;
    telemetry::Histogram& batch_bytes;
    telemetry::Histogram& request_seconds;
    telemetry::Gauge& backoff_ms;
    telemetry::Gauge& outbox_records;
    telemetry::Gauge& outbox_bytes;
    telemetry::Gauge& outbox_oldest_age_seconds;
  };

  struct PendingDeadLetter {
    std::vector<uint64_t> seqs;
    std::string reason;
  };

  void Run();
  // Sends `records` (one request, or more after a 413).
  Outcome Send(std::span<const dedup::OutboxRecord> records);
  // Writes Acks / DeadLetters that failed earlier. False while the ledger still refuses them.
  bool FlushPending();
  void AckOrKeep(std::vector<uint64_t> seqs);
  void DeadLetterOrKeep(std::vector<uint64_t> seqs, std::string reason);
  void LedgerError(const char* what, const absl::Status& s);
  void RefreshGauges(const dedup::Ledger::Stats& s);
  // Sleeps the next backoff delay (cut short by Stop, bounded by the drain deadline).
  void BackOff();
  void Succeeded();
  // Waits until `until` (steady), a Notify, Drain or stop. True when woken by Notify.
  bool WaitForWork(std::chrono::steady_clock::time_point until);
  // Whether the thread should stop now: stopped, or draining past the deadline.
  bool ShouldExit();
  bool draining();

  const Options options_;
  dedup::Ledger& ledger_;
  IntakeTransport& transport_;
  const Clock& clock_;
  Metrics m_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;  // guarded by mu_
  bool stop_ = false;      // guarded by mu_
  bool draining_ = false;  // guarded by mu_
  bool done_ = false;      // guarded by mu_: the thread left its loop
  std::chrono::steady_clock::time_point drain_deadline_;  // guarded by mu_
  std::thread thread_;

  // Sender thread only.
  int consecutive_failures_ = 0;
  bool failing_ = false;  // for logging state changes only
  std::mt19937_64 rng_;
  std::string body_;
  uint64_t partial_seq_ = 0;  // oldest record of the partial batch being waited for
  std::chrono::steady_clock::time_point partial_since_;  // clock_.Steady() when first seen
  std::vector<uint64_t> pending_acks_;
  std::vector<PendingDeadLetter> pending_dead_letters_;
  LogLimiter failure_log_{std::chrono::seconds(60)};
  LogLimiter dead_letter_log_{std::chrono::seconds(60)};
  LogLimiter ledger_log_{std::chrono::seconds(60)};

  std::atomic<uint64_t> batches_sent_{0};
  std::atomic<uint64_t> events_delivered_{0};
  std::atomic<uint64_t> events_dead_lettered_{0};
  std::atomic<uint64_t> retries_{0};
};

}  // namespace llmobs_edge::plugin::intake
