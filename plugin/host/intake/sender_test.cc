// Tests of the intake sender (docs/intake.md): the delivery logic against the in-memory ledger and
// a scripted transport, then the two real transports against an in-process HTTP server
// (tests/integration/fake_agent.h) playing the Agent's EVP proxy and the agentless intake.

#include "plugin/host/intake/sender.h"

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp needs it
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dedup/memory_ledger.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "plugin/host/http/upstream.h"
#include "plugin/host/intake/agent_evp_transport.h"
#include "plugin/host/intake/curl_transport.h"
#include "tests/integration/fake_agent.h"

namespace llmobs_edge::plugin::intake {
namespace {

using namespace std::chrono_literals;
using dedup::MemoryLedger;
using testing::FakeAgent;
using testing::FakeResponse;
using testing::RecordedRequest;

// A Clock the test moves while the sender thread reads it (FakeClock is not thread-safe).
class TestClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixMillis(wall_ms_.load()); }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(steady_ms_.load()));
  }
  void Advance(std::chrono::milliseconds d) {
    wall_ms_.fetch_add(d.count());
    steady_ms_.fetch_add(d.count());
  }
  // The wall clock alone (NTP step); the monotonic clock does not move.
  void StepWall(std::chrono::milliseconds d) { wall_ms_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> wall_ms_{1'800'000'000'000};
  std::atomic<int64_t> steady_ms_{1'000'000};
};

// One complete envelope, as the rescue stage stores it; `pad` makes it larger.
std::string Envelope(int id, size_t pad = 0) {
  return absl::StrCat(R"({"_dd.stage":"raw","_dd.tracer_version":"1.2.3","event_type":"span",)",
                      R"("spans":[{"span_id":")", id, R"(","trace_id":"t)", id, R"(","pad":")",
                      std::string(pad, 'x'), R"("}]})");
}

// A transport with scripted answers: first the queued ones, then the responder (default 200).
class FakeTransport final : public IntakeTransport {
 public:
  struct Call {
    std::string body;
    int status = 0;
    std::chrono::steady_clock::time_point at;
  };
  using Responder = std::function<IntakeResponse(const std::string& body)>;

  IntakeResponse Post(const std::string& body) override {
    if (const auto d = delay_.load(); d.count() > 0) std::this_thread::sleep_for(d);
    IntakeResponse r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!script_.empty()) {
        r = script_.front();
        script_.pop_front();
      } else if (responder_) {
        r = responder_(body);
      } else {
        r.status = 200;
      }
      posts_.push_back({body, r.status, std::chrono::steady_clock::now()});
    }
    cv_.notify_all();
    return r;
  }
  std::string_view name() const override { return "fake"; }

  void Script(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    for (int s : statuses) script_.push_back({s, s == 0 ? "connection refused" : ""});
  }
  void SetResponder(Responder r) {
    std::lock_guard<std::mutex> lock(mu_);
    responder_ = std::move(r);
  }
  void Always(int status) {
    SetResponder([status](const std::string&) { return IntakeResponse{status, ""}; });
  }
  void set_delay(std::chrono::milliseconds d) { delay_ = d; }

  std::vector<Call> posts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return posts_;
  }
  size_t post_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return posts_.size();
  }
  bool WaitForPosts(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return posts_.size() >= n; });
  }
  // span_id -> how many times a 2xx answer covered it.
  std::map<std::string, int> Delivered() const {
    std::map<std::string, int> out;
    for (const Call& p : posts()) {
      if (p.status < 200 || p.status >= 300) continue;
      for (const auto& env : nlohmann::json::parse(p.body)) {
        ++out[env["spans"][0]["span_id"].get<std::string>()];
      }
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IntakeResponse> script_;
  Responder responder_;
  std::vector<Call> posts_;
  std::atomic<std::chrono::milliseconds> delay_{0ms};
};

template <typename F>
bool Eventually(F f, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return f();
}

std::map<std::string, int> Ids(int from, int to) {
  std::map<std::string, int> out;
  for (int i = from; i < to; ++i) out[std::to_string(i)] = 1;
  return out;
}

class SenderTest : public ::testing::Test {
 protected:
  // Fast settings: tests that wait for the flush interval move `clock`.
  static IntakeSender::Options Fast() {
    IntakeSender::Options o;
    o.flush_interval = 1000ms;  // on `clock`, which stands still unless advanced
    o.min_backoff = 2ms;
    o.max_backoff = 20ms;
    return o;
  }

  // Commits events [from, to) in one call.
  void Commit(int from, int to, size_t pad = 0) {
    std::vector<std::string> jsons;
    for (int i = from; i < to; ++i) jsons.push_back(Envelope(i, pad));
    std::vector<dedup::PendingEvent> events;
    for (int i = from; i < to; ++i) {
      events.push_back({dedup::EventKey{absl::StrCat("t", i), static_cast<uint64_t>(i)},
                        jsons[i - from]});
    }
    absl::StatusOr<dedup::CommitResult> r = ledger_.Commit(events);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->enqueued, static_cast<size_t>(to - from));
  }

  std::unique_ptr<IntakeSender> NewSender(IntakeSender::Options o) {
    return std::make_unique<IntakeSender>(o, ledger_, transport_, clock_, metrics_);
  }

  uint64_t Outbox() { return ledger_.GetStats().outbox_records; }
  uint64_t DeadLetters() { return ledger_.GetStats().dead_letters; }
  std::string Metrics() const { return metrics_.RenderOpenMetrics(); }

  TestClock clock_;
  telemetry::Registry metrics_;
  MemoryLedger ledger_{&clock_};
  FakeTransport transport_;
};

TEST_F(SenderTest, BatchesBySizeAndSendsTheRestAfterTheFlushInterval) {
  IntakeSender::Options o = Fast();
  const size_t env = Envelope(10).size();
  o.max_batch_bytes = 2 + 3 * env + 2;  // exactly three envelopes with brackets and commas
  auto sender = NewSender(o);
  sender->Start();
  Commit(10, 17);  // 7 events of the same size
  sender->Notify();

  ASSERT_TRUE(transport_.WaitForPosts(2));
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(transport_.post_count(), 2u) << "the last, partial batch waits for the interval";
  std::vector<FakeTransport::Call> posts = transport_.posts();
  EXPECT_EQ(posts[0].body, absl::StrCat("[", Envelope(10), ",", Envelope(11), ",", Envelope(12),
                                        "]"));
  EXPECT_EQ(posts[1].body, absl::StrCat("[", Envelope(13), ",", Envelope(14), ",", Envelope(15),
                                        "]"));
  EXPECT_EQ(posts[0].body.size(), o.max_batch_bytes);

  clock_.Advance(1000ms);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(3));
  EXPECT_EQ(transport_.posts()[2].body, absl::StrCat("[", Envelope(16), "]"));
  EXPECT_TRUE(Eventually([&] { return Outbox() == 0; }));
  EXPECT_EQ(transport_.Delivered(), Ids(10, 17));
  EXPECT_EQ(sender->stats().batches_sent, 3u);
  EXPECT_EQ(sender->stats().events_delivered, 7u);
}

TEST_F(SenderTest, CommasCountAgainstTheByteLimit) {
  IntakeSender::Options o = Fast();
  const size_t env = Envelope(10).size();
  o.max_batch_bytes = 2 + 3 * env + 1;  // three envelopes fit PeekOutbox's count, not the commas
  auto sender = NewSender(o);
  sender->Start();
  Commit(10, 14);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(1));
  EXPECT_EQ(transport_.posts()[0].body, absl::StrCat("[", Envelope(10), ",", Envelope(11), "]"));
  clock_.Advance(1000ms);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(2));
  EXPECT_EQ(transport_.posts()[1].body, absl::StrCat("[", Envelope(12), ",", Envelope(13), "]"));
  for (const auto& p : transport_.posts()) EXPECT_LE(p.body.size(), o.max_batch_bytes);
}

TEST_F(SenderTest, BatchesByRecordCount) {
  IntakeSender::Options o = Fast();
  o.max_batch_records = 4;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 10);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(2));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(transport_.post_count(), 2u);
  clock_.Advance(1000ms);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(3));
  const auto posts = transport_.posts();
  EXPECT_EQ(nlohmann::json::parse(posts[0].body).size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(posts[1].body).size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(posts[2].body).size(), 2u);
  EXPECT_EQ(transport_.Delivered(), Ids(0, 10));
}

TEST_F(SenderTest, WaitsTheFlushIntervalSinceTheOldestRecord) {
  auto sender = NewSender(Fast());
  sender->Start();
  Commit(0, 1);
  sender->Notify();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(transport_.post_count(), 0u);
  clock_.Advance(600ms);
  Commit(1, 2);  // younger: the batch is due by the oldest record's age
  sender->Notify();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(transport_.post_count(), 0u);
  clock_.Advance(399ms);
  sender->Notify();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(transport_.post_count(), 0u);
  clock_.Advance(1ms);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(1));
  EXPECT_EQ(transport_.posts()[0].body, absl::StrCat("[", Envelope(0), ",", Envelope(1), "]"));
}

TEST_F(SenderTest, AWallClockSteppedBackDoesNotHoldABatch) {
  auto sender = NewSender(Fast());
  sender->Start();
  Commit(0, 1);
  sender->Notify();
  std::this_thread::sleep_for(50ms);
  clock_.StepWall(-3600s);  // by the wall clock the record is now due in an hour
  sender->Notify();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(transport_.post_count(), 0u);
  clock_.Advance(1000ms);  // but it has waited flush_interval
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(1));
  EXPECT_EQ(transport_.Delivered(), Ids(0, 1));
}

TEST_F(SenderTest, FlushIntervalOnTheSystemClockWithoutNotify) {
  // Real time end to end, and no Notify: the sender finds the records by itself.
  SystemClock system;
  MemoryLedger ledger(&system);
  IntakeSender::Options o = Fast();
  o.flush_interval = 150ms;
  IntakeSender sender(o, ledger, transport_, system, metrics_);
  sender.Start();
  const std::string e = Envelope(1);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(ledger.Commit({dedup::PendingEvent{{"t1", 1}, e}}).ok());
  ASSERT_TRUE(transport_.WaitForPosts(1, 3s));
  const auto waited = transport_.posts()[0].at - start;
  EXPECT_GE(waited, 140ms);
  EXPECT_LT(waited, 2s);
  EXPECT_TRUE(Eventually([&] { return ledger.GetStats().outbox_records == 0; }));
}

TEST_F(SenderTest, AcksOn2xx) {
  transport_.Always(202);
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 3);
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  EXPECT_EQ(transport_.post_count(), 1u);
  EXPECT_EQ(DeadLetters(), 0u);
  EXPECT_EQ(sender->stats().events_delivered, 3u);
  const std::string m = Metrics();
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_requests_total{class=\"2xx\"} 1")) << m;
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_events_delivered_total 3")) << m;
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_batches_total 1")) << m;
}

class RetryTest : public SenderTest, public ::testing::WithParamInterface<int> {};

TEST_P(RetryTest, RetriesWithBackoffThenDeliversOnce) {
  const int status = GetParam();
  transport_.Script({status, status});
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  o.min_backoff = 30ms;
  o.max_backoff = 40ms;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 3);
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  const auto posts = transport_.posts();
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(posts[0].body, posts[1].body);
  EXPECT_EQ(posts[1].body, posts[2].body);
  EXPECT_GE(posts[1].at - posts[0].at, 29ms) << "backed off at least min_backoff";
  EXPECT_GE(posts[2].at - posts[1].at, 29ms);
  EXPECT_EQ(transport_.Delivered(), Ids(0, 3));
  EXPECT_EQ(DeadLetters(), 0u);
  EXPECT_EQ(sender->stats().retries, 2u);
  EXPECT_EQ(sender->stats().events_delivered, 3u);
  const std::string cls = status == 0               ? "transport_error"
                          : status == 429 || status == 408 ? std::to_string(status)
                                                    : "5xx";
  const std::string m = Metrics();
  EXPECT_TRUE(absl::StrContains(m, absl::StrCat("llmobs_edge_intake_requests_total{class=\"", cls,
                                                "\"} 2")))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_retries_total 2")) << m;
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_backoff_milliseconds 0")) << m;
}

INSTANTIATE_TEST_SUITE_P(Statuses, RetryTest, ::testing::Values(0, 408, 429, 500, 502, 503),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == 0 ? std::string("TransportError")
                                               : absl::StrCat("Status", p.param);
                         });

TEST_F(SenderTest, RetryCountsAttemptsOnTheRecords) {
  transport_.Always(503);
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 2);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(3));
  sender.reset();  // stop
  absl::StatusOr<std::vector<dedup::OutboxRecord>> r = ledger_.PeekOutbox(10, 1 << 20);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_GE((*r)[0].attempts, 3u);
  EXPECT_EQ((*r)[0].attempts, (*r)[1].attempts);
}

TEST_F(SenderTest, BackoffIsExponentialWithJitterBetweenMinAndMax) {
  transport_.Always(500);
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  o.min_backoff = 10ms;
  o.max_backoff = 80ms;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 1);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(12, 10s));
  sender.reset();
  const auto posts = transport_.posts();
  std::vector<std::chrono::steady_clock::duration> gaps;
  for (size_t i = 1; i < posts.size(); ++i) gaps.push_back(posts[i].at - posts[i - 1].at);
  for (const auto& g : gaps) EXPECT_GE(g, 9ms);
  // Full jitter: not every delay sits at the ceiling, and none goes far beyond it.
  int below_ceiling = 0;
  for (size_t i = 4; i < gaps.size(); ++i) {
    EXPECT_LT(gaps[i], 80ms + 400ms);  // the ceiling, plus scheduling slack on a busy machine
    if (gaps[i] < 75ms) ++below_ceiling;
  }
  EXPECT_GT(below_ceiling, 0);
}

TEST_F(SenderTest, StopsPromptlyWhileBackingOff) {
  transport_.Always(500);
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  o.min_backoff = 60s;
  o.max_backoff = 60s;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 1);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(1));
  const auto start = std::chrono::steady_clock::now();
  sender.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(Outbox(), 1u);
}

TEST_F(SenderTest, SplitsOn413DownToTheOversizedRecord) {
  // The intake takes bodies up to `limit`; event 5 alone is larger.
  const size_t small = Envelope(0).size();
  const size_t limit = 2 * small + 3;
  transport_.SetResponder([limit](const std::string& body) {
    return IntakeResponse{body.size() > limit ? 413 : 200, ""};
  });
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 5);
  Commit(5, 6, /*pad=*/2 * small);
  Commit(6, 8);
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  std::map<std::string, int> want = Ids(0, 8);
  want.erase("5");
  EXPECT_EQ(transport_.Delivered(), want);
  EXPECT_EQ(DeadLetters(), 1u);
  EXPECT_EQ(sender->stats().events_dead_lettered, 1u);
  EXPECT_EQ(sender->stats().events_delivered, 7u);
  EXPECT_EQ(sender->stats().retries, 0u);
  for (const auto& p : transport_.posts()) {
    if (p.status == 200) {
      EXPECT_LE(p.body.size(), limit);
    }
  }
  const std::string m = Metrics();
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_events_dead_lettered_total 1")) << m;
  EXPECT_FALSE(absl::StrContains(m, "llmobs_edge_intake_splits_total 0")) << m;

  // The dead letter can be requeued (operator command) and then goes through.
  transport_.Always(200);
  ASSERT_EQ(*ledger_.RequeueDeadLetters(), 1u);
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  EXPECT_EQ(transport_.Delivered(), Ids(0, 8));
}

TEST_F(SenderTest, ClientErrorsGoToTheDeadLetters) {
  transport_.Script({400});
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 3);
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return DeadLetters() == 3u; }));
  EXPECT_EQ(Outbox(), 0u);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(transport_.post_count(), 1u) << "a 400 is not retried";
  EXPECT_EQ(sender->stats().events_dead_lettered, 3u);
  EXPECT_EQ(sender->stats().retries, 0u);
  // The next events flow normally.
  Commit(3, 4);
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0 && transport_.post_count() == 2; }));
  EXPECT_EQ(transport_.Delivered(), Ids(3, 4));
  EXPECT_TRUE(absl::StrContains(Metrics(), "llmobs_edge_intake_requests_total{class=\"4xx\"} 1"));
}

TEST_F(SenderTest, AFailedAckIsWrittenAgainWithoutSendingTwice) {
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  Commit(0, 3);
  ledger_.FailWrites(absl::UnavailableError("disk full"), 3);
  sender->Start();
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  EXPECT_EQ(transport_.post_count(), 1u) << "the delivered batch is not sent again";
  EXPECT_EQ(transport_.Delivered(), Ids(0, 3));
  EXPECT_TRUE(ledger_.healthy());
  EXPECT_TRUE(absl::StrContains(Metrics(), "llmobs_edge_intake_ledger_errors_total 3"));
}

TEST_F(SenderTest, AFailedDeadLetterIsWrittenAgain) {
  transport_.Script({400});
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  Commit(0, 2);
  ledger_.FailWrites(absl::UnavailableError("disk full"), 2);
  sender->Start();
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return DeadLetters() == 2u; }));
  EXPECT_EQ(Outbox(), 0u);
  EXPECT_EQ(transport_.post_count(), 1u);
}

TEST_F(SenderTest, SurvivesLedgerReadAndAttemptFailures) {
  transport_.Script({503});
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  Commit(0, 4);
  ledger_.FailReads(absl::UnavailableError("I/O error"), 3);
  ledger_.FailWrites(absl::UnavailableError("I/O error"), 1);  // the RecordAttempt after the 503
  sender->Start();
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  EXPECT_EQ(transport_.Delivered(), Ids(0, 4));
  EXPECT_TRUE(absl::StrContains(Metrics(), "llmobs_edge_intake_ledger_errors_total 4"))
      << Metrics();
}

TEST_F(SenderTest, KeepsRunningWhileTheLedgerIsDown) {
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  auto sender = NewSender(o);
  Commit(0, 2);
  ledger_.FailReads(absl::UnavailableError("I/O error"));
  sender->Start();
  sender->Notify();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(transport_.post_count(), 0u);
  ledger_.ClearFailures();
  sender->Notify();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  EXPECT_EQ(transport_.Delivered(), Ids(0, 2));
}

TEST_F(SenderTest, DrainSendsWhatIsLeftWithoutWaitingForTheInterval) {
  IntakeSender::Options o = Fast();
  o.flush_interval = 3600s;
  o.max_batch_records = 2;
  auto sender = NewSender(o);
  sender->Start();
  Commit(0, 5);
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(2));  // the two full batches
  const auto start = std::chrono::steady_clock::now();
  sender->Drain(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(Outbox(), 0u);
  EXPECT_EQ(transport_.Delivered(), Ids(0, 5));
  sender->Notify();   // after the drain: ignored
  sender->Drain(1s);  // again: returns at once
}

TEST_F(SenderTest, DrainLeavesTheRestInTheLedgerWhenTheGraceRunsOut) {
  transport_.set_delay(60ms);
  IntakeSender::Options o = Fast();
  o.flush_interval = 3600s;
  o.max_batch_records = 1;
  auto sender = NewSender(o);
  Commit(0, 30);
  sender->Start();
  const auto start = std::chrono::steady_clock::now();
  sender->Drain(200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 200ms + 60ms + 500ms) << "grace + one request in flight (+ slack)";
  const size_t delivered = transport_.Delivered().size();
  EXPECT_GE(delivered, 1u);
  EXPECT_LT(delivered, 30u);
  EXPECT_EQ(Outbox(), 30u - delivered);
  EXPECT_EQ(sender->stats().events_delivered, delivered);
}

TEST_F(SenderTest, DrainGivesUpOnAFailingIntakeAtTheDeadline) {
  transport_.Always(503);
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  o.min_backoff = 20ms;
  o.max_backoff = 10s;
  auto sender = NewSender(o);
  Commit(0, 3);
  sender->Start();
  sender->Notify();
  ASSERT_TRUE(transport_.WaitForPosts(1));
  const auto start = std::chrono::steady_clock::now();
  sender->Drain(300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_EQ(Outbox(), 3u);
  EXPECT_EQ(DeadLetters(), 0u);
}

TEST_F(SenderTest, ANewSenderResumesAfterRestart) {
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  {
    transport_.Always(503);
    auto first = NewSender(o);
    first->Start();
    Commit(0, 5);
    first->Notify();
    ASSERT_TRUE(transport_.WaitForPosts(1));
    first->Drain(50ms);
  }  // "restart": the outbox is all that survives
  EXPECT_EQ(Outbox(), 5u);
  transport_.Always(200);
  auto second = NewSender(o);
  second->Start();  // no Notify: the records are found at start
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  EXPECT_EQ(transport_.Delivered(), Ids(0, 5));
  EXPECT_EQ(second->stats().events_delivered, 5u);
}

TEST_F(SenderTest, ConcurrentCommitsAreEachDeliveredOnce) {
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  o.max_batch_records = 7;
  auto sender = NewSender(o);
  sender->Start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Commit(t * 1000 + i, t * 1000 + i + 1);
        sender->Notify();
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(Eventually([&] { return Outbox() == 0; }));
  const std::map<std::string, int> got = transport_.Delivered();
  EXPECT_EQ(got.size(), 200u);
  for (const auto& [id, n] : got) EXPECT_EQ(n, 1) << id;
}

TEST_F(SenderTest, RefreshesOutboxGaugesAndRegistersEveryMetric) {
  transport_.Always(503);
  IntakeSender::Options o = Fast();
  o.flush_interval = 0ms;
  o.min_backoff = 5ms;
  o.max_backoff = 5ms;
  auto sender = NewSender(o);
  Commit(0, 4);
  clock_.Advance(7000ms);
  sender->Start();
  ASSERT_TRUE(transport_.WaitForPosts(2));
  const std::string m = Metrics();
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_outbox_records 4")) << m;
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_outbox_oldest_age_seconds 7")) << m;
  EXPECT_TRUE(absl::StrContains(m, "llmobs_edge_intake_backoff_milliseconds 5")) << m;
  for (const char* name :
       {"llmobs_edge_intake_requests_total{class=\"413\"}", "llmobs_edge_intake_outbox_bytes",
        "llmobs_edge_intake_batch_bytes_bucket", "llmobs_edge_intake_request_seconds_bucket",
        "llmobs_edge_intake_splits_total", "llmobs_edge_intake_ledger_errors_total",
        "llmobs_edge_intake_events_dead_lettered_total"}) {
    EXPECT_TRUE(absl::StrContains(m, name)) << name;
  }
}

// --- The real transports against an in-process HTTP server ---

// An io_context run by two threads, as the service runs it.
class IoThreads {
 public:
  IoThreads() : guard_(ioc.get_executor()) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc.run(); });
  }
  ~IoThreads() {
    guard_.reset();
    ioc.stop();
    for (auto& t : threads_) t.join();
  }
  boost::asio::io_context ioc;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// A TCP port nothing listens on (bound, then closed).
uint16_t ClosedPort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(
      ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

std::unique_ptr<http::AgentPool> PoolFor(const std::string& url) {
  absl::StatusOr<http::UpstreamAddress> a = http::ParseAgentUrl(url);
  EXPECT_TRUE(a.ok()) << a.status();
  return std::make_unique<http::AgentPool>(*a);
}

TEST(AgentEvpTransport, PostsTheBodyToTheEvpProxy) {
  FakeAgent agent({});
  IoThreads io;
  auto pool = PoolFor(agent.url());
  auto t = NewAgentEvpTransport(io.ioc, *pool, 5000ms);
  EXPECT_EQ(t->name(), "agent_evp_proxy");
  const std::string body = absl::StrCat("[", Envelope(1), ",", Envelope(2), "]");
  IntakeResponse r = t->Post(body);
  EXPECT_EQ(r.status, 202) << r.error;  // the fake answers the EVP proxy like the Agent
  ASSERT_EQ(agent.request_count(), 1u);
  const RecordedRequest req = agent.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/evp_proxy/v2/api/v2/llmobs");
  EXPECT_EQ(req.Header("X-Datadog-EVP-Subdomain"), "llmobs-intake");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(req.Header("Host"), "127.0.0.1");
  EXPECT_FALSE(req.HasHeader("DD-API-KEY")) << "the Agent adds the key";
  EXPECT_FALSE(req.chunked);
  EXPECT_EQ(req.Header("Content-Length"), std::to_string(body.size()));
  EXPECT_EQ(req.body, body);
  // The connection is kept alive and reused.
  EXPECT_EQ(t->Post(body).status, 202);
  EXPECT_EQ(agent.connections(), 1u);
}

TEST(AgentEvpTransport, ReportsTheAgentsStatus) {
  FakeAgent agent({}, [](const RecordedRequest&) {
    FakeResponse r;
    r.status = 413;
    return r;
  });
  IoThreads io;
  auto pool = PoolFor(agent.url());
  auto t = NewAgentEvpTransport(io.ioc, *pool, 5000ms);
  EXPECT_EQ(t->Post("[]").status, 413);
  agent.set_handler([](const RecordedRequest&) {
    FakeResponse r;
    r.status = 502;
    return r;
  });
  EXPECT_EQ(t->Post("[]").status, 502);
}

TEST(AgentEvpTransport, UnreachableAgentAndTimeoutAreTransportErrors) {
  IoThreads io;
  {
    auto pool = PoolFor(absl::StrCat("http://127.0.0.1:", ClosedPort()));
    auto t = NewAgentEvpTransport(io.ioc, *pool, 2000ms);
    IntakeResponse r = t->Post("[]");
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(absl::StrContains(r.error, "unreachable")) << r.error;
  }
  {
    FakeAgent agent({}, [](const RecordedRequest& req) {
      FakeResponse r = FakeAgent::AgentLikeAnswer(req);
      r.delay = 1000ms;
      return r;
    });
    auto pool = PoolFor(agent.url());
    auto t = NewAgentEvpTransport(io.ioc, *pool, 100ms);
    const auto start = std::chrono::steady_clock::now();
    IntakeResponse r = t->Post("[]");
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(absl::StrContains(r.error, "timeout")) << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
  }
  {
    FakeAgent agent({}, [](const RecordedRequest&) {
      FakeResponse r;
      r.close_without_answer = true;
      return r;
    });
    auto pool = PoolFor(agent.url());
    auto t = NewAgentEvpTransport(io.ioc, *pool, 2000ms);
    EXPECT_EQ(t->Post("[]").status, 0);
  }
}

TEST(AgentEvpTransport, SenderDeliversThroughTheAgent) {
  FakeAgent agent({});
  IoThreads io;
  auto pool = PoolFor(agent.url());
  auto t = NewAgentEvpTransport(io.ioc, *pool, 5000ms);
  TestClock clock;
  MemoryLedger ledger(&clock);
  telemetry::Registry metrics;
  IntakeSender::Options o;
  o.flush_interval = 0ms;
  IntakeSender sender(o, ledger, *t, clock, metrics);
  std::vector<std::string> jsons = {Envelope(1), Envelope(2), Envelope(3)};
  ASSERT_TRUE(ledger
                  .Commit({dedup::PendingEvent{{"t1", 1}, jsons[0]},
                           dedup::PendingEvent{{"t2", 2}, jsons[1]},
                           dedup::PendingEvent{{"t3", 3}, jsons[2]}})
                  .ok());
  sender.Start();
  sender.Drain(5s);
  EXPECT_EQ(ledger.GetStats().outbox_records, 0u);
  ASSERT_EQ(agent.request_count(), 1u);
  EXPECT_EQ(agent.requests()[0].body, absl::StrCat("[", absl::StrJoin(jsons, ","), "]"));
}

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A proxy in the test's environment must not capture the loopback requests.
    for (const char* v : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                          "no_proxy", "NO_PROXY"}) {
      ::unsetenv(v);
    }
  }
};

TEST_F(CurlTransportTest, AgentlessUrl) {
  EXPECT_EQ(AgentlessUrl("datadoghq.com"), "https://llmobs-intake.datadoghq.com/api/v2/llmobs");
  EXPECT_EQ(AgentlessUrl("datadoghq.eu"), "https://llmobs-intake.datadoghq.eu/api/v2/llmobs");
}

TEST_F(CurlTransportTest, PostsWithTheApiKeyAndReusesTheConnection) {
  FakeAgent intake({}, [](const RecordedRequest&) {
    FakeResponse r;
    r.status = 202;
    r.body = "{}";
    return r;
  });
  auto t = NewCurlTransport(intake.url() + "/api/v2/llmobs", "0123abcd", 5000ms);
  EXPECT_EQ(t->name(), "agentless");
  // Over 1 KiB: libcurl would otherwise send "Expect: 100-continue".
  const std::string body = absl::StrCat("[", Envelope(1, 3000), ",", Envelope(2), "]");
  for (int i = 0; i < 3; ++i) {
    IntakeResponse r = t->Post(body);
    EXPECT_EQ(r.status, 202) << r.error;
  }
  ASSERT_EQ(intake.request_count(), 3u);
  const RecordedRequest req = intake.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/api/v2/llmobs");
  EXPECT_EQ(req.Header("DD-API-KEY"), "0123abcd");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_FALSE(req.HasHeader("Expect"));
  EXPECT_FALSE(req.HasHeader("Content-Encoding"));
  EXPECT_EQ(req.body, body);
  EXPECT_EQ(intake.connections(), 1u) << "one handle, one kept-alive connection";
}

TEST_F(CurlTransportTest, ReportsStatusesAndTheAnswer) {
  FakeAgent intake({}, [](const RecordedRequest&) {
    FakeResponse r;
    r.status = 400;
    r.body = R"({"errors":["bad"]})";
    return r;
  });
  auto t = NewCurlTransport(intake.url() + "/api/v2/llmobs", "k", 5000ms);
  IntakeResponse r = t->Post("[]");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error, R"({"errors":["bad"]})");
  intake.set_handler([](const RecordedRequest&) {
    FakeResponse r;
    r.status = 429;
    return r;
  });
  EXPECT_EQ(t->Post("[]").status, 429);
}

TEST_F(CurlTransportTest, ConnectionRefusedAndTimeoutAreStatus0) {
  auto t = NewCurlTransport(absl::StrCat("http://127.0.0.1:", ClosedPort(), "/api/v2/llmobs"),
                            "secret-key", 2000ms);
  IntakeResponse r = t->Post("[]");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_FALSE(absl::StrContains(r.error, "secret-key"));

  FakeAgent slow({}, [](const RecordedRequest&) {
    FakeResponse r;
    r.delay = 1000ms;
    return r;
  });
  auto t2 = NewCurlTransport(slow.url() + "/api/v2/llmobs", "k", 100ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(t2->Post("[]").status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
}

TEST_F(CurlTransportTest, HonoursTheProxyEnvironment) {
  FakeAgent proxy({}, [](const RecordedRequest&) {
    FakeResponse r;
    r.status = 202;
    return r;
  });
  ::setenv("http_proxy", proxy.url().c_str(), 1);
  auto t = NewCurlTransport("http://llmobs-intake.example.invalid/api/v2/llmobs", "k", 5000ms);
  IntakeResponse r = t->Post("[]");
  ::unsetenv("http_proxy");
  EXPECT_EQ(r.status, 202) << r.error;
  ASSERT_EQ(proxy.request_count(), 1u);
  EXPECT_EQ(proxy.requests()[0].target, "http://llmobs-intake.example.invalid/api/v2/llmobs");
  EXPECT_EQ(proxy.requests()[0].Header("DD-API-KEY"), "k");
}

TEST_F(CurlTransportTest, SenderDeliversAgentless) {
  FakeAgent intake({}, [](const RecordedRequest&) {
    FakeResponse r;
    r.status = 202;
    return r;
  });
  auto t = NewCurlTransport(intake.url() + "/api/v2/llmobs", "k", 5000ms);
  TestClock clock;
  MemoryLedger ledger(&clock);
  telemetry::Registry metrics;
  IntakeSender::Options o;
  o.max_batch_records = 2;
  IntakeSender sender(o, ledger, *t, clock, metrics);
  std::vector<std::string> jsons = {Envelope(1), Envelope(2), Envelope(3)};
  ASSERT_TRUE(ledger
                  .Commit({dedup::PendingEvent{{"t1", 1}, jsons[0]},
                           dedup::PendingEvent{{"t2", 2}, jsons[1]},
                           dedup::PendingEvent{{"t3", 3}, jsons[2]}})
                  .ok());
  sender.Start();
  sender.Drain(5s);
  EXPECT_EQ(ledger.GetStats().outbox_records, 0u);
  ASSERT_EQ(intake.request_count(), 2u);
  EXPECT_EQ(intake.requests()[0].body, absl::StrCat("[", jsons[0], ",", jsons[1], "]"));
  EXPECT_EQ(intake.requests()[1].body, absl::StrCat("[", jsons[2], "]"));
}

}  // namespace
}  // namespace llmobs_edge::plugin::intake
