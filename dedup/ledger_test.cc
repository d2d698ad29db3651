// The ledger contract (dedup/ledger.h), run as one typed suite against both the RocksDB ledger
// (in TEST_TMPDIR, on an Env that can inject disk errors) and the in-memory fake, so the fake the
// rescue-stage and sender tests use provably behaves like production. Then RocksDB-only tests:
// reopen, TTL compaction filter, persisted counters, open errors, recovery after disk errors, and
// crash durability (a child process committing under each sync policy is SIGKILLed or _exits;
// the parent reopens and checks that every commit the child saw return is there, exactly once).

#include "dedup/ledger.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dedup/crc32c.h"
#include "dedup/memory_ledger.h"
#include "dedup/record.h"
#include "dedup/record_testing.h"
#include "dedup/rocks_ledger.h"
#include "dedup/rocks_ledger_testing.h"
#include "gtest/gtest.h"
#include "plugin/api/clock.h"
#include "plugin/api/metrics.h"
#include "proto/ledger.pb.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

extern char** environ;

namespace llmobs_edge::dedup {
namespace {

using ::llmobs_edge::plugin::FakeClock;
using ::llmobs_edge::telemetry::Registry;

// --- helpers ---------------------------------------------------------------------------------

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

EventKey Key(int trace, uint64_t span) { return {absl::StrCat("trace-", trace), span}; }

std::string Json(const EventKey& k, size_t pad = 0) {
  return absl::StrCat(R"({"trace_id":")", k.trace_id, R"(","span_id":")", k.span_id, R"(","pad":")",
                      std::string(pad, 'x'), R"("})");
}

// Owns the JSON strings the PendingEvents point into.
struct Batch {
  std::vector<std::string> json;
  std::vector<PendingEvent> events;
  explicit Batch(const std::vector<EventKey>& keys, size_t pad = 0) {
    json.reserve(keys.size());
    for (const EventKey& k : keys) json.push_back(Json(k, pad));
    for (size_t i = 0; i < keys.size(); ++i) events.push_back({keys[i], json[i]});
  }
  absl::Span<const PendingEvent> span() const { return events; }
};

uint64_t CounterValue(Registry& r, const std::string& name) {
  return r.AddCounter(name, "").Value();
}
uint64_t CorruptValue(Registry& r, std::string_view cf) {
  return r.AddCounterFamily("llmobs_edge_ledger_corrupt_skipped", "", {"column_family"})
      .WithLabels({cf})
      .Value();
}
int64_t GaugeValue(Registry& r, const std::string& name) { return r.AddGauge(name, "").Value(); }

std::vector<OutboxRecord> PeekAll(Ledger& l) {
  absl::StatusOr<std::vector<OutboxRecord>> r = l.PeekOutbox(1'000'000, ~size_t{0});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : std::vector<OutboxRecord>{};
}

std::vector<uint64_t> Seqs(const std::vector<OutboxRecord>& records) {
  std::vector<uint64_t> out;
  for (const OutboxRecord& r : records) out.push_back(r.seq);
  return out;
}

uint64_t EncodedBytes(const EventKey& k, size_t pad, uint32_t attempts = 0,
                      int64_t enqueued = absl::ToUnixMillis(FakeClock().Now())) {
  return record::SeqEntryBytes(record::EncodeOutbox(k, Json(k, pad), enqueued, attempts).size());
}

std::string TempDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  const char* root = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/ledger-", tag, "-", getpid(),
                                 "-", counter.fetch_add(1));
  std::filesystem::remove_all(dir);
  return dir;
}

// A FileSystem whose writes fail while `failing` is set: RocksDB sees a disk error on its
// write-ahead log, manifest and table files.
class FaultyFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyFile(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* failing)
      : FSWritableFileOwnerWrapper(std::move(file)), failing_(failing) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (*failing_) return rocksdb::IOStatus::IOError("injected disk error");
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (*failing_) return rocksdb::IOStatus::IOError("injected disk error");
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (*failing_) return rocksdb::IOStatus::IOError("injected sync error");
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (*failing_) return rocksdb::IOStatus::IOError("injected sync error");
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  const std::atomic<bool>* failing_;
};

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FaultyFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = FileSystemWrapper::NewWritableFile(name, options, result, dbg);
    if (s.ok()) *result = std::make_unique<FaultyFile>(std::move(*result), &failing);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = FileSystemWrapper::ReopenWritableFile(name, options, result, dbg);
    if (s.ok()) *result = std::make_unique<FaultyFile>(std::move(*result), &failing);
    return s;
  }
  std::atomic<bool> failing{false};
};

struct Limits {
  std::chrono::hours ttl{24};
  uint64_t max_outbox_bytes = 1ull << 30;
  uint64_t max_dead_letter_bytes = 64ull << 20;
};

// --- the two implementations behind one harness ------------------------------------------------

class MemoryHarness {
 public:
  static constexpr const char* kName = "memory";
  void Open(const Limits& limits = {}) {
    ledger_.reset();
    ledger_ = std::make_unique<MemoryLedger>(
        &clock,
        MemoryLedgerOptions{limits.ttl, limits.max_outbox_bytes, limits.max_dead_letter_bytes},
        &registry);
  }
  Ledger& ledger() { return *ledger_; }
  void CorruptOutbox(uint64_t seq, std::string value) { ledger_->PutRawOutbox(seq, value); }
  void CorruptDeadLetter(uint64_t seq, std::string value) { ledger_->PutRawDeadLetter(seq, value); }
  void SetWriteFailure(bool on) {
    if (on) {
      ledger_->FailWrites(absl::UnavailableError("injected disk error"));
    } else {
      ledger_->ClearFailures();
    }
  }
  void PurgeExpired() { ledger_->PurgeExpiredSeen(); }
  size_t StoredSeen() { return ledger_->seen_entries(); }

  FakeClock clock;
  Registry registry;

 private:
  std::unique_ptr<MemoryLedger> ledger_;
};

class RocksHarness {
 public:
  static constexpr const char* kName = "rocks";
  RocksHarness()
      : fs_(std::make_shared<FaultyFileSystem>()),
        env_(rocksdb::NewCompositeEnv(fs_)),
        dir_(TempDir("typed")) {}
  ~RocksHarness() {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open(const Limits& limits = {}) {
    ledger_.reset();
    RocksLedgerOptions options;
    options.path = dir_;
    options.seen_ttl = limits.ttl;
    options.max_outbox_bytes = limits.max_outbox_bytes;
    options.max_dead_letter_bytes = limits.max_dead_letter_bytes;
    options.sync_interval = std::chrono::hours(1);  // no background retries during a test
    auto l = testing::OpenRocksLedgerWithEnv(options, &clock, &registry, env_.get());
    ASSERT_TRUE(l.ok()) << l.status();
    ledger_ = *std::move(l);
  }
  Ledger& ledger() { return *ledger_; }
  void CorruptOutbox(uint64_t seq, std::string value) {
    ASSERT_TRUE(testing::PutRaw(*ledger_, "outbox", record::SeqKey(seq), value).ok());
  }
  void CorruptDeadLetter(uint64_t seq, std::string value) {
    ASSERT_TRUE(testing::PutRaw(*ledger_, "dead_letters", record::SeqKey(seq), value).ok());
  }
  void SetWriteFailure(bool on) { fs_->failing = on; }
  void PurgeExpired() { ASSERT_TRUE(testing::CompactAll(*ledger_).ok()); }
  size_t StoredSeen() {
    absl::StatusOr<size_t> n = testing::CountRaw(*ledger_, "seen");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(0);
  }

  FakeClock clock;
  Registry registry;

 private:
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::string dir_;
  std::unique_ptr<Ledger> ledger_;
};

template <typename H>
class LedgerContract : public ::testing::Test {
 protected:
  void SetUp() override { h_.Open(); }
  Ledger& ledger() { return h_.ledger(); }
  CommitResult Commit(const std::vector<EventKey>& keys, size_t pad = 0) {
    Batch b(keys, pad);
    absl::StatusOr<CommitResult> r = ledger().Commit(b.span());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(CommitResult{});
  }
  uint64_t Counter(const std::string& name) { return CounterValue(h_.registry, name); }

  H h_;
};

struct HarnessNames {
  template <typename H>
  static std::string GetName(int) {
    return H::kName;
  }
};

using Harnesses = ::testing::Types<MemoryHarness, RocksHarness>;
TYPED_TEST_SUITE(LedgerContract, Harnesses, HarnessNames);

TYPED_TEST(LedgerContract, CommitEnqueuesEachKeyOnceAcrossCalls) {
  CommitResult r = this->Commit({Key(1, 1), Key(1, 2)});
  EXPECT_EQ(r.enqueued, 2u);
  EXPECT_EQ(r.already_seen, 0u);
  r = this->Commit({Key(1, 2), Key(1, 3)});  // a tracer retry with one new span
  EXPECT_EQ(r.enqueued, 1u);
  EXPECT_EQ(r.already_seen, 1u);
  r = this->Commit({Key(1, 1), Key(1, 2), Key(1, 3)});
  EXPECT_EQ(r.enqueued, 0u);
  EXPECT_EQ(r.already_seen, 3u);
  const std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].key, Key(1, 1));
  EXPECT_EQ(out[1].key, Key(1, 2));
  EXPECT_EQ(out[2].key, Key(1, 3));
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_enqueued"), 3u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_already_seen"), 4u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_commits"), 3u);
}

TYPED_TEST(LedgerContract, KeysRepeatedInOneCallCountOnce) {
  const CommitResult r = this->Commit({Key(1, 1), Key(1, 1), Key(2, 1), Key(1, 1)});
  EXPECT_EQ(r.enqueued, 2u);
  EXPECT_EQ(r.already_seen, 2u);
  EXPECT_EQ(PeekAll(this->ledger()).size(), 2u);
}

TYPED_TEST(LedgerContract, KeysAreTraceIdAndSpanIdExactly) {
  // Same span id under another trace id, binary trace ids, an empty trace id: all distinct.
  const CommitResult r = this->Commit({{"a", 1},
                                       {"b", 1},
                                       {std::string("a\0", 2), 1},
                                       {"", 1},
                                       {std::string("\xff\xfe", 2), 1},
                                       {"a", 0xFFFFFFFFFFFFFFFFull}});
  EXPECT_EQ(r.enqueued, 6u);
  const std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[2].key.trace_id, std::string("a\0", 2));
  EXPECT_EQ(out[4].key.trace_id, std::string("\xff\xfe", 2));
  EXPECT_EQ(out[5].key.span_id, 0xFFFFFFFFFFFFFFFFull);
}

TYPED_TEST(LedgerContract, SeenAfterCommit) {
  EXPECT_FALSE(*this->ledger().Seen(Key(1, 1)));
  this->Commit({Key(1, 1)});
  EXPECT_TRUE(*this->ledger().Seen(Key(1, 1)));
  EXPECT_FALSE(*this->ledger().Seen(Key(1, 2)));
  EXPECT_FALSE(*this->ledger().Seen(Key(2, 1)));
}

TYPED_TEST(LedgerContract, EmptyCommitChangesNothing) {
  absl::StatusOr<CommitResult> r = this->ledger().Commit({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->enqueued + r->already_seen, 0u);
  EXPECT_EQ(this->ledger().GetStats().outbox_records, 0u);
}

TYPED_TEST(LedgerContract, OutboxIsOldestFirstAndPeekHonoursLimits) {
  for (int i = 0; i < 5; ++i) this->Commit({Key(i, 1)}, /*pad=*/100);
  const size_t one = Json(Key(0, 1), 100).size();

  absl::StatusOr<std::vector<OutboxRecord>> p = this->ledger().PeekOutbox(3, ~size_t{0});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*p)[i].key, Key(i, 1));
  EXPECT_LT((*p)[0].seq, (*p)[1].seq);
  EXPECT_LT((*p)[1].seq, (*p)[2].seq);
  EXPECT_EQ((*p)[0].event_json, Json(Key(0, 1), 100));
  EXPECT_EQ((*p)[0].attempts, 0u);
  EXPECT_EQ((*p)[0].enqueued_unix_ms, absl::ToUnixMillis(this->h_.clock.Now()));

  // Bytes: event_json sizes; exactly two fit, and two and a half still only two.
  p = this->ledger().PeekOutbox(10, 2 * one);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->size(), 2u);
  p = this->ledger().PeekOutbox(10, 2 * one + one / 2);
  EXPECT_EQ(p->size(), 2u);
  // A first record larger than max_bytes is still returned (alone) so it cannot stall the queue.
  p = this->ledger().PeekOutbox(10, 1);
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].key, Key(0, 1));
  p = this->ledger().PeekOutbox(0, ~size_t{0});
  EXPECT_TRUE(p->empty());
  // Peeking does not consume.
  EXPECT_EQ(PeekAll(this->ledger()).size(), 5u);
}

TYPED_TEST(LedgerContract, AckDeletesAndTheSeenMarkStays) {
  this->Commit({Key(1, 1), Key(1, 2), Key(1, 3)});
  std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 3u);
  const uint64_t bytes_before = this->ledger().GetStats().outbox_bytes;
  // Out of order, with a duplicate and an unknown seq.
  const std::vector<uint64_t> ack = {out[2].seq, out[0].seq, out[0].seq, 999'999};
  ASSERT_TRUE(this->ledger().Ack(ack).ok());
  out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, Key(1, 2));
  const Ledger::Stats stats = this->ledger().GetStats();
  EXPECT_EQ(stats.outbox_records, 1u);
  EXPECT_EQ(stats.outbox_bytes, bytes_before / 3);  // equal-sized records
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_acked"), 2u);
  EXPECT_TRUE(*this->ledger().Seen(Key(1, 1)));
  EXPECT_EQ(this->Commit({Key(1, 1)}).already_seen, 1u);  // delivered keys stay deduplicated
  ASSERT_TRUE(this->ledger().Ack(std::vector<uint64_t>{out[0].seq}).ok());
  EXPECT_EQ(this->ledger().GetStats().outbox_records, 0u);
  EXPECT_EQ(this->ledger().GetStats().outbox_bytes, 0u);
}

TYPED_TEST(LedgerContract, RecordAttemptIncrements) {
  this->Commit({Key(1, 1), Key(1, 2)});
  std::vector<OutboxRecord> out = PeekAll(this->ledger());
  const std::vector<uint64_t> first = {out[0].seq};
  ASSERT_TRUE(this->ledger().RecordAttempt(first).ok());
  ASSERT_TRUE(this->ledger().RecordAttempt(first).ok());
  ASSERT_TRUE(this->ledger().RecordAttempt(std::vector<uint64_t>{out[1].seq, 12345}).ok());
  out = PeekAll(this->ledger());
  EXPECT_EQ(out[0].attempts, 2u);
  EXPECT_EQ(out[1].attempts, 1u);
  EXPECT_EQ(out[0].event_json, Json(Key(1, 1)));
  EXPECT_EQ(this->ledger().GetStats().outbox_bytes,
            EncodedBytes(Key(1, 1), 0, 2) + EncodedBytes(Key(1, 2), 0, 1));
}

TYPED_TEST(LedgerContract, DeadLetterMovesRecordsOutOfTheOutbox) {
  this->Commit({Key(1, 1), Key(1, 2), Key(1, 3)});
  const std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_TRUE(this->ledger()
                  .DeadLetter(std::vector<uint64_t>{out[0].seq, out[2].seq, 777}, "intake 400")
                  .ok());
  const std::vector<OutboxRecord> left = PeekAll(this->ledger());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, Key(1, 2));
  const Ledger::Stats stats = this->ledger().GetStats();
  EXPECT_EQ(stats.outbox_records, 1u);
  EXPECT_EQ(stats.dead_letters, 2u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_dead_lettered"), 2u);
  EXPECT_EQ(GaugeValue(this->h_.registry, "llmobs_edge_ledger_dead_letters"), 2);
  // Dead-lettered keys stay seen: a tracer retry does not enqueue them again.
  EXPECT_EQ(this->Commit({Key(1, 1)}).already_seen, 1u);
}

TYPED_TEST(LedgerContract, DeadLettersAreBoundedOldestDropped) {
  // Room for about three dead letters of this size.
  OutboxRecord probe;
  probe.key = Key(0, 1);
  probe.event_json = Json(Key(0, 1), 200);
  probe.enqueued_unix_ms = absl::ToUnixMillis(this->h_.clock.Now());
  const uint64_t one = record::SeqEntryBytes(record::EncodeDeadLetter(probe, "gone", 0).size());
  this->h_.Open({.max_dead_letter_bytes = 3 * one + one / 2});
  for (int i = 0; i < 5; ++i) this->Commit({Key(i, 1)}, 200);
  const std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 5u);
  for (const OutboxRecord& r : out) {
    ASSERT_TRUE(this->ledger().DeadLetter(std::vector<uint64_t>{r.seq}, "gone").ok());
  }
  EXPECT_EQ(this->ledger().GetStats().dead_letters, 3u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_dead_letters_dropped"), 2u);
  // The newest three survive: requeue brings back keys 2, 3, 4 in order.
  absl::StatusOr<size_t> moved = this->ledger().RequeueDeadLetters();
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 3u);
  const std::vector<OutboxRecord> back = PeekAll(this->ledger());
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].key, Key(2, 1));
  EXPECT_EQ(back[2].key, Key(4, 1));
}

TYPED_TEST(LedgerContract, RequeueMovesDeadLettersToTheTail) {
  this->Commit({Key(1, 1), Key(1, 2)});
  std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_TRUE(this->ledger().RecordAttempt(std::vector<uint64_t>{out[0].seq}).ok());
  ASSERT_TRUE(this->ledger().DeadLetter(std::vector<uint64_t>{out[0].seq}, "intake 422").ok());
  this->Commit({Key(1, 3)});
  this->h_.clock.Advance(absl::Seconds(30));
  absl::StatusOr<size_t> moved = this->ledger().RequeueDeadLetters();
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 1u);
  out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].key, Key(1, 2));
  EXPECT_EQ(out[1].key, Key(1, 3));
  EXPECT_EQ(out[2].key, Key(1, 1));  // back at the tail, with a new seq, attempts reset
  EXPECT_GT(out[2].seq, out[1].seq);
  EXPECT_EQ(out[2].attempts, 0u);
  EXPECT_EQ(out[2].enqueued_unix_ms, absl::ToUnixMillis(this->h_.clock.Now()));
  EXPECT_EQ(out[2].event_json, Json(Key(1, 1)));
  EXPECT_EQ(this->ledger().GetStats().dead_letters, 0u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_requeued"), 1u);
  moved = this->ledger().RequeueDeadLetters();
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 0u);
}

TYPED_TEST(LedgerContract, SeenKeysExpireAfterTheTtl) {
  this->Commit({Key(1, 1)});
  this->h_.clock.Advance(absl::Hours(23));
  this->Commit({Key(1, 2)});
  EXPECT_TRUE(*this->ledger().Seen(Key(1, 1)));
  EXPECT_EQ(this->Commit({Key(1, 1)}).already_seen, 1u);
  this->h_.clock.Advance(absl::Hours(1));  // exactly 24 h after the first commit
  EXPECT_FALSE(*this->ledger().Seen(Key(1, 1)));
  EXPECT_TRUE(*this->ledger().Seen(Key(1, 2)));
  // An expired key counts as new again, even before anything purged it.
  EXPECT_EQ(this->Commit({Key(1, 1)}).enqueued, 1u);
  EXPECT_TRUE(*this->ledger().Seen(Key(1, 1)));
  EXPECT_EQ(PeekAll(this->ledger()).size(), 3u);
}

TYPED_TEST(LedgerContract, PurgeRemovesOnlyExpiredSeenMarks) {
  this->h_.Open({.ttl = std::chrono::hours(1)});
  this->Commit({Key(1, 1), Key(1, 2), Key(1, 3)});
  this->h_.clock.Advance(absl::Minutes(30));
  this->Commit({Key(2, 1)});
  EXPECT_EQ(this->h_.StoredSeen(), 4u);
  this->h_.clock.Advance(absl::Minutes(31));
  this->h_.PurgeExpired();  // RocksDB: a full compaction runs the TTL compaction filter
  EXPECT_EQ(this->h_.StoredSeen(), 1u);
  EXPECT_TRUE(*this->ledger().Seen(Key(2, 1)));
  EXPECT_FALSE(*this->ledger().Seen(Key(1, 1)));
  // The outbox is not touched by the seen-set TTL.
  EXPECT_EQ(PeekAll(this->ledger()).size(), 4u);
}

TYPED_TEST(LedgerContract, CorruptOutboxRecordIsSkippedCountedDeleted) {
  this->Commit({Key(1, 1), Key(1, 2), Key(1, 3)});
  std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 3u);
  // Bit rot in the middle record: garbage, then a record with one flipped payload byte.
  this->h_.CorruptOutbox(out[1].seq, "\x0a\x03garbage that is not a record");
  absl::StatusOr<std::vector<OutboxRecord>> p = this->ledger().PeekOutbox(2, ~size_t{0});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);  // the corrupt record does not count against max_records
  EXPECT_EQ((*p)[0].key, Key(1, 1));
  EXPECT_EQ((*p)[1].key, Key(1, 3));
  EXPECT_EQ(CorruptValue(this->h_.registry, "outbox"), 1u);
  EXPECT_EQ(this->ledger().GetStats().outbox_records, 2u);
  // Deleted: not counted again.
  EXPECT_EQ(PeekAll(this->ledger()).size(), 2u);
  EXPECT_EQ(CorruptValue(this->h_.registry, "outbox"), 1u);

  std::string flipped = record::EncodeOutbox(Key(1, 3), Json(Key(1, 3)), 1, 0);
  flipped[flipped.size() / 2] ^= 0x01;
  this->h_.CorruptOutbox(out[2].seq, flipped);
  out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, Key(1, 1));
  EXPECT_EQ(CorruptValue(this->h_.registry, "outbox"), 2u);
  ASSERT_TRUE(this->ledger().Ack(std::vector<uint64_t>{out[0].seq}).ok());
  PeekAll(this->ledger());
  const Ledger::Stats stats = this->ledger().GetStats();
  EXPECT_EQ(stats.outbox_records, 0u);
  EXPECT_EQ(stats.outbox_bytes, 0u);  // counters agree with the emptied outbox again
}

TYPED_TEST(LedgerContract, CorruptDeadLetterIsSkippedOnRequeue) {
  this->Commit({Key(1, 1), Key(1, 2)});
  const std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_TRUE(this->ledger().DeadLetter(Seqs(out), "intake 400").ok());
  this->h_.CorruptDeadLetter(1, "not a dead letter");  // the first dead-letter seq is 1
  absl::StatusOr<size_t> moved = this->ledger().RequeueDeadLetters();
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 1u);
  const std::vector<OutboxRecord> back = PeekAll(this->ledger());
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].key, Key(1, 2));
  EXPECT_EQ(CorruptValue(this->h_.registry, "dead_letters"), 1u);
  EXPECT_EQ(this->ledger().GetStats().dead_letters, 0u);
}

TYPED_TEST(LedgerContract, FullOutboxDropsTheOldestAndCounts) {
  const uint64_t one = EncodedBytes(Key(0, 1), 500);
  this->h_.Open({.max_outbox_bytes = 4 * one + one / 2});
  for (int i = 0; i < 4; ++i) this->Commit({Key(i, 1)}, 500);
  EXPECT_EQ(this->ledger().GetStats().outbox_records, 4u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_outbox_dropped"), 0u);
  // Two more: the two oldest go, in the same atomic write; Commit still succeeds.
  const CommitResult r = this->Commit({Key(4, 1), Key(5, 1)}, 500);
  EXPECT_EQ(r.enqueued, 2u);
  std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].key, Key(2, 1));
  EXPECT_EQ(out[3].key, Key(5, 1));
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_outbox_dropped"), 2u);
  const Ledger::Stats stats = this->ledger().GetStats();
  EXPECT_EQ(stats.outbox_bytes, 4 * one);
  EXPECT_EQ(GaugeValue(this->h_.registry, "llmobs_edge_ledger_outbox_bytes"),
            static_cast<int64_t>(4 * one));
  // Dropped keys stay seen (their loss is counted, not retried through the trace).
  EXPECT_TRUE(*this->ledger().Seen(Key(0, 1)));
  // A single commit larger than the whole bound keeps only its newest records.
  const CommitResult big =
      this->Commit({Key(10, 1), Key(11, 1), Key(12, 1), Key(13, 1), Key(14, 1), Key(15, 1)}, 500);
  EXPECT_EQ(big.enqueued, 6u);
  out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].key, Key(12, 1));
  EXPECT_EQ(out[3].key, Key(15, 1));
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_outbox_dropped"), 8u);
}

// Many writers against a full outbox: every record is either still there or counted as dropped,
// the bound holds once the writes end, and the counters match what is stored.
TYPED_TEST(LedgerContract, ConcurrentCommitsIntoAFullOutboxKeepTheBoundAndTheCounts) {
  const uint64_t one = EncodedBytes(Key(0, 1), 300);
  const uint64_t bound = 20 * one + one / 2;
  this->h_.Open({.max_outbox_bytes = bound});
  constexpr int kThreads = 6;
  constexpr int kCommits = 40;
  std::atomic<size_t> enqueued{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCommits; ++c) {
        Batch b({Key(t * 1000 + c * 3, 1), Key(t * 1000 + c * 3 + 1, 1),
                 Key(t * 1000 + c * 3 + 2, 1)},
                300);
        absl::StatusOr<CommitResult> r = this->ledger().Commit(b.span());
        if (r.ok()) {
          enqueued += r->enqueued;
        } else {
          ++errors;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(enqueued.load(), size_t{kThreads * kCommits * 3});
  const std::vector<OutboxRecord> out = PeekAll(this->ledger());
  const Ledger::Stats stats = this->ledger().GetStats();
  uint64_t stored_bytes = 0;
  for (const OutboxRecord& r : out) stored_bytes += EncodedBytes(r.key, 300);
  EXPECT_EQ(stats.outbox_records, out.size());
  EXPECT_EQ(stats.outbox_bytes, stored_bytes);
  EXPECT_LE(stats.outbox_bytes, bound);
  EXPECT_EQ(out.size() + this->Counter("llmobs_edge_ledger_outbox_dropped"), enqueued.load());
}

TYPED_TEST(LedgerContract, ConcurrentCommitsEnqueueEachKeyExactlyOnce) {
  constexpr int kKeys = 400;
  constexpr int kThreads = 4;
  std::atomic<size_t> enqueued{0}, seen{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<EventKey> keys;
      for (int k = 0; k < kKeys; ++k) keys.push_back(Key(k, 7));
      std::shuffle(keys.begin(), keys.end(), std::mt19937(t));
      for (size_t i = 0; i < keys.size(); i += 4) {
        Batch b({keys.begin() + i, keys.begin() + std::min(keys.size(), i + 4)});
        absl::StatusOr<CommitResult> r = this->ledger().Commit(b.span());
        if (!r.ok()) {
          ++errors;
          continue;
        }
        enqueued += r->enqueued;
        seen += r->already_seen;
        (void)this->ledger().Seen(keys[i]);  // readers run alongside the writers
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(enqueued.load(), size_t{kKeys});
  EXPECT_EQ(seen.load(), size_t{kKeys * (kThreads - 1)});
  const std::vector<OutboxRecord> out = PeekAll(this->ledger());
  ASSERT_EQ(out.size(), size_t{kKeys});
  std::set<std::string> distinct;
  for (const OutboxRecord& r : out) distinct.insert(r.key.trace_id);
  EXPECT_EQ(distinct.size(), size_t{kKeys});
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end(),
                             [](const auto& a, const auto& b) { return a.seq < b.seq; }));
}

// The sender's view while commits land concurrently (and, in RocksDB, may become visible out of
// sequence order): a sender peeking and acknowledging the whole time still sees every committed
// record exactly once, and the counters end at zero.
TYPED_TEST(LedgerContract, SenderRunningAlongsideCommitsSeesEveryRecordOnce) {
  constexpr int kThreads = 6;
  constexpr int kCommitsPerThread = 60;
  constexpr int kEventsPerCommit = 5;
  std::atomic<int> writers_left{kThreads};
  std::atomic<size_t> enqueued{0}, errors{0};
  std::atomic<bool> sender_acked{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCommitsPerThread; ++c) {
        // Halfway, let the sender catch up once, so it surely runs while commits land.
        while (c == kCommitsPerThread / 2 && !sender_acked.load()) std::this_thread::yield();
        std::vector<EventKey> keys;
        for (int e = 0; e < kEventsPerCommit; ++e) {
          keys.push_back(Key((t * kCommitsPerThread + c) * kEventsPerCommit + e, 3));
        }
        Batch b(keys, 200);
        absl::StatusOr<CommitResult> r = this->ledger().Commit(b.span());
        if (r.ok()) {
          enqueued += r->enqueued;
        } else {
          ++errors;
        }
      }
      --writers_left;
    });
  }
  std::map<std::string, int> delivered;
  size_t peeked_while_writing = 0;
  for (;;) {
    const bool writers_done = writers_left.load() == 0;
    absl::StatusOr<std::vector<OutboxRecord>> batch = this->ledger().PeekOutbox(37, ~size_t{0});
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (batch->empty() && writers_done) break;
    if (!writers_done) peeked_while_writing += batch->size();
    std::vector<uint64_t> seqs;
    for (const OutboxRecord& r : *batch) {
      ++delivered[r.key.trace_id];
      seqs.push_back(r.seq);
    }
    ASSERT_TRUE(this->ledger().Ack(seqs).ok());
    if (!seqs.empty()) sender_acked = true;
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(enqueued.load(), size_t{kThreads * kCommitsPerThread * kEventsPerCommit});
  EXPECT_EQ(delivered.size(), enqueued.load());
  for (const auto& [key, n] : delivered) EXPECT_EQ(n, 1) << key;
  EXPECT_GT(peeked_while_writing, 0u);  // the sender really ran alongside the writers
  EXPECT_TRUE(PeekAll(this->ledger()).empty());
  EXPECT_EQ(this->ledger().GetStats().outbox_records, 0u);
  EXPECT_EQ(this->ledger().GetStats().outbox_bytes, 0u);
}

TYPED_TEST(LedgerContract, FailedWriteMakesItUnhealthyUntilAWriteSucceeds) {
  this->Commit({Key(1, 1)});
  EXPECT_TRUE(this->ledger().healthy());
  this->h_.SetWriteFailure(true);
  Batch b({Key(2, 1), Key(2, 2)});
  absl::StatusOr<CommitResult> r = this->ledger().Commit(b.span());
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(this->ledger().healthy());
  EXPECT_EQ(GaugeValue(this->h_.registry, "llmobs_edge_ledger_healthy"), 0);
  EXPECT_GE(this->Counter("llmobs_edge_ledger_disk_errors"), 1u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_commit_errors"), 1u);
  EXPECT_EQ(this->Counter("llmobs_edge_ledger_commit_failed_events"), 2u);

  this->h_.SetWriteFailure(false);
  // Nothing of the failed commit was written: the same events are new now.
  r = this->ledger().Commit(b.span());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 2u);
  EXPECT_TRUE(this->ledger().healthy());
  EXPECT_EQ(GaugeValue(this->h_.registry, "llmobs_edge_ledger_healthy"), 1);
  EXPECT_TRUE(*this->ledger().Seen(Key(1, 1)));
  EXPECT_EQ(PeekAll(this->ledger()).size(), 3u);
}

TYPED_TEST(LedgerContract, StatsDescribeTheOutbox) {
  Ledger::Stats s = this->ledger().GetStats();
  EXPECT_EQ(s.outbox_records, 0u);
  EXPECT_EQ(s.oldest_enqueued_unix_ms, 0);
  const int64_t first = absl::ToUnixMillis(this->h_.clock.Now());
  this->Commit({Key(1, 1)}, 10);
  this->h_.clock.Advance(absl::Seconds(5));
  this->Commit({Key(1, 2)}, 20);
  s = this->ledger().GetStats();
  EXPECT_EQ(s.outbox_records, 2u);
  EXPECT_EQ(s.outbox_bytes,
            EncodedBytes(Key(1, 1), 10, 0, first) + EncodedBytes(Key(1, 2), 20, 0, first + 5000));
  EXPECT_EQ(s.oldest_enqueued_unix_ms, first);
  EXPECT_GE(s.seen_keys_estimate, 1u);
  EXPECT_EQ(GaugeValue(this->h_.registry, "llmobs_edge_ledger_outbox_records"), 2);
  EXPECT_EQ(GaugeValue(this->h_.registry, "llmobs_edge_ledger_outbox_bytes"),
            static_cast<int64_t>(s.outbox_bytes));
  const std::string text = this->h_.registry.RenderOpenMetrics();
  for (const char* name :
       {"llmobs_edge_ledger_commit_seconds_bucket", "llmobs_edge_ledger_commits_total",
        "llmobs_edge_ledger_enqueued_total", "llmobs_edge_ledger_already_seen_total",
        "llmobs_edge_ledger_corrupt_skipped_total{column_family=\"outbox\"}",
        "llmobs_edge_ledger_outbox_dropped_total", "llmobs_edge_ledger_dead_lettered_total",
        "llmobs_edge_ledger_disk_errors_total", "llmobs_edge_ledger_outbox_records",
        "llmobs_edge_ledger_outbox_bytes", "llmobs_edge_ledger_healthy"}) {
    EXPECT_TRUE(Contains(text, name)) << name;
  }
}

// --- RocksDB only ------------------------------------------------------------------------------

class RocksLedgerTest : public ::testing::Test {
 protected:
  RocksLedgerTest() : dir_(TempDir("rocks")) {}
  ~RocksLedgerTest() override {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  RocksLedgerOptions Options() {
    RocksLedgerOptions o;
    o.path = dir_;
    o.sync_interval = std::chrono::hours(1);
    return o;
  }
  void Open(RocksLedgerOptions o) {
    ledger_.reset();
    auto l = testing::OpenRocksLedgerWithEnv(o, &clock_, &registry_, env_.get());
    ASSERT_TRUE(l.ok()) << l.status();
    ledger_ = *std::move(l);
  }
  void Open() { Open(Options()); }
  CommitResult Commit(const std::vector<EventKey>& keys, size_t pad = 0) {
    Batch b(keys, pad);
    absl::StatusOr<CommitResult> r = ledger_->Commit(b.span());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(CommitResult{});
  }

  FakeClock clock_;
  Registry registry_;
  std::shared_ptr<FaultyFileSystem> fs_ = std::make_shared<FaultyFileSystem>();
  std::unique_ptr<rocksdb::Env> env_ = rocksdb::NewCompositeEnv(fs_);
  std::string dir_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(RocksLedgerTest, ReopenKeepsSeenSetOutboxSeqsAndByteAccounting) {
  Open();
  Commit({Key(1, 1), Key(1, 2), Key(1, 3)}, 50);
  std::vector<OutboxRecord> before = PeekAll(*ledger_);
  ASSERT_TRUE(ledger_->Ack(std::vector<uint64_t>{before[0].seq}).ok());
  ASSERT_TRUE(ledger_->DeadLetter(std::vector<uint64_t>{before[1].seq}, "intake 400").ok());
  const Ledger::Stats stats = ledger_->GetStats();

  Open();
  const Ledger::Stats after = ledger_->GetStats();
  EXPECT_EQ(after.outbox_records, stats.outbox_records);
  EXPECT_EQ(after.outbox_bytes, stats.outbox_bytes);
  EXPECT_EQ(after.dead_letters, 1u);
  EXPECT_EQ(after.oldest_enqueued_unix_ms, stats.oldest_enqueued_unix_ms);
  for (int s = 1; s <= 3; ++s) EXPECT_TRUE(*ledger_->Seen(Key(1, s)));
  EXPECT_EQ(Commit({Key(1, 1), Key(1, 2), Key(1, 3)}).already_seen, 3u);
  std::vector<OutboxRecord> out = PeekAll(*ledger_);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, before[2].seq);
  EXPECT_EQ(out[0].event_json, before[2].event_json);
  // Sequence numbers continue, even once the outbox has been emptied.
  ASSERT_TRUE(ledger_->Ack(std::vector<uint64_t>{out[0].seq}).ok());
  Open();
  Commit({Key(2, 1)});
  out = PeekAll(*ledger_);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_GT(out[0].seq, before[2].seq);
  absl::StatusOr<size_t> moved = ledger_->RequeueDeadLetters();
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 1u);
  EXPECT_EQ(PeekAll(*ledger_).back().key, Key(1, 2));
}

TEST_F(RocksLedgerTest, CountersAreRebuiltByAScanWhenTheirRecordIsCorrupt) {
  Open();
  Commit({Key(1, 1), Key(1, 2)}, 30);
  const Ledger::Stats stats = ledger_->GetStats();
  const uint64_t last_seq = PeekAll(*ledger_).back().seq;
  ASSERT_TRUE(testing::PutRaw(*ledger_, "default", record::kStateKey, "garbage").ok());
  Open();
  EXPECT_EQ(ledger_->GetStats().outbox_records, stats.outbox_records);
  EXPECT_EQ(ledger_->GetStats().outbox_bytes, stats.outbox_bytes);
  Commit({Key(1, 3)});
  EXPECT_GT(PeekAll(*ledger_).back().seq, last_seq);
}

TEST_F(RocksLedgerTest, NewerFormatIsRefusedNamingThePath) {
  Open();
  Commit({Key(1, 1)});
  // A state record of the next format version with a valid checksum.
  const uint32_t newer = record::kFormatVersion + 1;
  const std::string state =
      record::testing::EncodeStateAsVersion(newer, {.next_seq = 9, .next_dead_letter_seq = 1});
  ASSERT_TRUE(testing::PutRaw(*ledger_, "default", record::kStateKey, state).ok());
  ledger_.reset();
  RocksLedgerOptions o = Options();
  absl::StatusOr<std::unique_ptr<Ledger>> l = OpenRocksLedger(o, &clock_, nullptr);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(l.status().message(), "ledger.path = \"" + dir_ + "\"")) << l.status();
  EXPECT_TRUE(Contains(l.status().message(), absl::StrCat("format version ", newer)))
      << l.status();
}

TEST_F(RocksLedgerTest, CompactionFilterDropsExpiredSeenMarks) {
  RocksLedgerOptions o = Options();
  o.seen_ttl = std::chrono::hours(2);
  Open(o);
  std::vector<EventKey> old_keys, new_keys;
  for (int i = 0; i < 100; ++i) old_keys.push_back(Key(i, 1));
  for (int i = 0; i < 10; ++i) new_keys.push_back(Key(1000 + i, 1));
  Commit(old_keys);
  clock_.Advance(absl::Hours(1));
  Commit(new_keys);
  ASSERT_TRUE(testing::CompactAll(*ledger_).ok());
  EXPECT_EQ(*testing::CountRaw(*ledger_, "seen"), 110u);  // nothing expired yet
  clock_.Advance(absl::Hours(1));                         // old keys expire now
  ASSERT_TRUE(testing::CompactAll(*ledger_).ok());
  EXPECT_EQ(*testing::CountRaw(*ledger_, "seen"), 10u);
  EXPECT_TRUE(*ledger_->Seen(Key(1000, 1)));
  EXPECT_FALSE(*ledger_->Seen(Key(0, 1)));
  EXPECT_EQ(Commit({Key(0, 1)}).enqueued, 1u);
  // Survives a reopen too.
  Open(o);
  EXPECT_EQ(*testing::CountRaw(*ledger_, "seen"), 11u);
}

TEST_F(RocksLedgerTest, MalformedSeenValueCountsAsUnseen) {
  Open();
  ASSERT_TRUE(testing::PutRaw(*ledger_, "seen", record::SeenKey(Key(1, 1)), "bad").ok());
  EXPECT_FALSE(*ledger_->Seen(Key(1, 1)));
  EXPECT_EQ(CorruptValue(registry_, "seen"), 1u);
  EXPECT_EQ(Commit({Key(1, 1)}).enqueued, 1u);
  EXPECT_TRUE(*ledger_->Seen(Key(1, 1)));
}

TEST_F(RocksLedgerTest, OpenErrorsNameTheSettingAndThePath) {
  auto open = [&](const std::string& path) {
    RocksLedgerOptions o;
    o.path = path;
    return OpenRocksLedger(o, &clock_, nullptr);
  };
  // The path is a regular file.
  const std::string file = dir_ + "-file";
  std::ofstream(file) << "not a directory";
  absl::StatusOr<std::unique_ptr<Ledger>> l = open(file);
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(Contains(l.status().message(), "ledger.path")) << l.status();
  EXPECT_TRUE(Contains(l.status().message(), file)) << l.status();
  // Its parent is a regular file.
  l = open(file + "/ledger");
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(Contains(l.status().message(), "ledger.path")) << l.status();
  EXPECT_TRUE(Contains(l.status().message(), file + "/ledger")) << l.status();
  std::filesystem::remove(file);
  // A read-only location (procfs refuses directories even to root).
  l = open("/proc/llmobs-edge-ledger");
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(Contains(l.status().message(), "ledger.path = \"/proc/llmobs-edge-ledger\""))
      << l.status();
  // A read-only directory (only meaningful when not running as root).
  if (geteuid() != 0) {
    const std::string ro = dir_ + "-ro";
    std::filesystem::create_directories(ro);
    std::filesystem::permissions(
        ro, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    l = open(ro);
    ASSERT_FALSE(l.ok());
    EXPECT_TRUE(Contains(l.status().message(), ro)) << l.status();
    std::filesystem::permissions(ro, std::filesystem::perms::owner_all);
    std::filesystem::remove_all(ro);
  }
  // Empty path, bad bounds.
  l = open("");
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(Contains(l.status().message(), "ledger.path")) << l.status();
  RocksLedgerOptions o = Options();
  o.max_outbox_bytes = 0;
  EXPECT_TRUE(
      Contains(OpenRocksLedger(o, &clock_, nullptr).status().message(), "ledger.max_outbox_bytes"));
}

TEST_F(RocksLedgerTest, SecondOpenOfTheSameDirectoryFailsNamingThePath) {
  Open();
  RocksLedgerOptions o = Options();
  absl::StatusOr<std::unique_ptr<Ledger>> second = OpenRocksLedger(o, &clock_, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(Contains(second.status().message(), "ledger.path = \"" + dir_ + "\""))
      << second.status();
}

TEST_F(RocksLedgerTest, RecoversFromADiskErrorByReopening) {
  Open();
  Commit({Key(1, 1), Key(1, 2)});
  fs_->failing = true;
  Batch b({Key(2, 1)});
  absl::StatusOr<CommitResult> r = ledger_->Commit(b.span());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(Contains(r.status().message(), dir_)) << r.status();
  EXPECT_FALSE(ledger_->healthy());
  // The storage is still failing: the retry (Resume, then reopen) fails too; reads report it.
  r = ledger_->Commit(b.span());
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(ledger_->healthy());
  EXPECT_FALSE(ledger_->Ack(std::vector<uint64_t>{1}).ok());
  // Retries are rate-limited to one per sync_interval (1 h here).
  fs_->failing = false;
  r = ledger_->Commit(b.span());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "storage unavailable")) << r.status();
  clock_.Advance(absl::Hours(1));
  r = ledger_->Commit(b.span());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 1u);
  EXPECT_TRUE(ledger_->healthy());
  // Everything committed before the error is intact.
  EXPECT_TRUE(*ledger_->Seen(Key(1, 1)));
  const std::vector<OutboxRecord> out = PeekAll(*ledger_);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].key, Key(2, 1));
  EXPECT_EQ(ledger_->GetStats().outbox_records, 3u);
}

TEST_F(RocksLedgerTest, BackgroundProbeRestoresHealthWithoutTraffic) {
  RocksLedgerOptions o = Options();
  o.sync_interval = std::chrono::milliseconds(20);
  Open(o);
  Commit({Key(1, 1)});
  fs_->failing = true;
  Batch b({Key(2, 1)});
  ASSERT_FALSE(ledger_->Commit(b.span()).ok());
  EXPECT_FALSE(ledger_->healthy());
  fs_->failing = false;
  for (int i = 0; i < 500 && !ledger_->healthy(); ++i) {
    clock_.Advance(absl::Seconds(1));  // let the rate limit pass (the clock is fake)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ledger_->healthy());
  EXPECT_TRUE(*ledger_->Seen(Key(1, 1)));
}

TEST_F(RocksLedgerTest, EverySyncPolicySurvivesACleanReopen) {
  for (RocksLedgerOptions::Sync sync :
       {RocksLedgerOptions::Sync::kPerCommit, RocksLedgerOptions::Sync::kInterval,
        RocksLedgerOptions::Sync::kNone}) {
    RocksLedgerOptions o = Options();
    o.sync = sync;
    o.sync_interval = std::chrono::milliseconds(5);
    Open(o);
    const int trace = static_cast<int>(sync);
    EXPECT_EQ(Commit({Key(trace, 1), Key(trace, 2)}).enqueued, 2u);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // kInterval: a sync or two
    Open(o);
    EXPECT_TRUE(*ledger_->Seen(Key(trace, 2)));
  }
  EXPECT_EQ(PeekAll(*ledger_).size(), 6u);
}

// --- crash durability ----------------------------------------------------------------------------

// The child: re-executed test binary (fork + exec, so it starts without the parent's RocksDB
// threads), detected by this environment variable before any test runs.
constexpr const char* kCrashChildVar = "LLMOBS_EDGE_LEDGER_CRASH_CHILD";
constexpr int kEventsPerBatch = 5;

std::vector<EventKey> CrashBatchKeys(uint32_t i) {
  std::vector<EventKey> keys;
  for (int s = 1; s <= kEventsPerBatch; ++s) keys.push_back(Key(static_cast<int>(i), s));
  return keys;
}

// "<dir>|<fd>|<sync>|<batches>": commit `batches` batches (each also repeats a key of the
// previous batch, which must count as already seen), report each returned commit on the pipe,
// then _exit without closing anything (or get killed first).
[[noreturn]] void RunCrashChild(const std::string& spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t bar; (bar = spec.find('|', start)) != std::string::npos; start = bar + 1) {
    parts.push_back(spec.substr(start, bar - start));
  }
  parts.push_back(spec.substr(start));
  if (parts.size() != 4) _exit(10);
  const int fd = std::atoi(parts[1].c_str());
  RocksLedgerOptions o;
  o.path = parts[0];
  o.sync = static_cast<RocksLedgerOptions::Sync>(std::atoi(parts[2].c_str()));
  o.sync_interval = std::chrono::milliseconds(50);
  const uint32_t batches = static_cast<uint32_t>(std::atol(parts[3].c_str()));
  static const plugin::SystemClock clock;
  absl::StatusOr<std::unique_ptr<Ledger>> opened = OpenRocksLedger(o, &clock, nullptr);
  if (!opened.ok()) _exit(11);
  Ledger* ledger = opened->release();  // never destroyed: the process ends as if it crashed
  for (uint32_t i = 0; i < batches; ++i) {
    std::vector<EventKey> keys = CrashBatchKeys(i);
    if (i > 0) keys.push_back(Key(static_cast<int>(i - 1), 1));
    Batch b(keys, 64);
    absl::StatusOr<CommitResult> r = ledger->Commit(b.span());
    if (!r.ok() || r->enqueued != kEventsPerBatch || r->already_seen != (i > 0 ? 1u : 0u)) {
      _exit(12);
    }
    if (write(fd, &i, sizeof(i)) != static_cast<ssize_t>(sizeof(i))) _exit(13);
  }
  _exit(0);
}

class CrashChildEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (const char* spec = std::getenv(kCrashChildVar); spec != nullptr) {
      RunCrashChild(spec);
    }
  }
};
[[maybe_unused]] ::testing::Environment* const kCrashChild =
    ::testing::AddGlobalTestEnvironment(new CrashChildEnvironment);

struct CrashCase {
  RocksLedgerOptions::Sync sync;
  uint32_t batches;
  uint32_t kill_after;  // SIGKILL after this many reported commits; 0: let it _exit
  const char* name;
};

class RocksLedgerCrash : public ::testing::TestWithParam<CrashCase> {};

TEST_P(RocksLedgerCrash, EveryReturnedCommitSurvivesExactlyOnce) {
  const CrashCase c = GetParam();
  const std::string dir = TempDir(absl::StrCat("crash-", c.name));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(fcntl(fds[0], F_SETFD, FD_CLOEXEC), 0);

  // Everything the child needs is prepared before fork: it only calls execve.
  const std::string filter = absl::StrCat(
      "--gtest_filter=", ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name(),
      ".", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    // The child must not write the parent's test results or premature-exit marker.
    if (kv.starts_with("XML_OUTPUT_FILE=") || kv.starts_with("GTEST_OUTPUT=") ||
        kv.starts_with("TEST_PREMATURE_EXIT_FILE=") || kv.starts_with("TEST_SHARD_STATUS_FILE=") ||
        kv.starts_with("GTEST_SHARD_") || kv.starts_with("GTEST_TOTAL_SHARDS=") ||
        kv.starts_with(kCrashChildVar)) {
      continue;
    }
    env_strings.emplace_back(kv);
  }
  env_strings.push_back(absl::StrCat(kCrashChildVar, "=", dir, "|", fds[1], "|",
                                     static_cast<int>(c.sync), "|", c.batches));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe";
  std::vector<char*> argv = {self.data(), const_cast<char*>(filter.c_str()), nullptr};

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execve("/proc/self/exe", argv.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  int64_t last = -1;
  uint32_t reported = 0;
  bool killed = false;
  for (;;) {
    uint32_t i = 0;
    const ssize_t n = read(fds[0], &i, sizeof(i));
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof(i)));
    ASSERT_EQ(static_cast<int64_t>(i), last + 1);  // commits are reported in order
    last = i;
    ++reported;
    if (c.kill_after > 0 && reported == c.kill_after && !killed) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  if (c.kill_after > 0) {
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    ASSERT_GE(reported, c.kill_after);
  } else {
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    ASSERT_EQ(reported, c.batches);
  }

  // Reopen (wall clock: the child's seen marks expire 24 h after real time).
  const plugin::SystemClock clock;
  Registry registry;
  RocksLedgerOptions o;
  o.path = dir;
  absl::StatusOr<std::unique_ptr<Ledger>> opened = OpenRocksLedger(o, &clock, &registry);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Ledger& ledger = **opened;
  const std::vector<OutboxRecord> out = PeekAll(ledger);
  std::map<std::pair<std::string, uint64_t>, int> copies;
  for (const OutboxRecord& r : out) ++copies[{r.key.trace_id, r.key.span_id}];
  for (const auto& [key, n] : copies) EXPECT_EQ(n, 1) << key.first << "/" << key.second;
  // Every reported batch is there; at most the one in flight at the kill beyond them.
  for (uint32_t i = 0; i < reported; ++i) {
    for (const EventKey& k : CrashBatchKeys(i)) {
      EXPECT_EQ(copies.count({k.trace_id, k.span_id}), 1u) << k.trace_id << "/" << k.span_id;
      EXPECT_TRUE(*ledger.Seen(k));
    }
  }
  EXPECT_TRUE(out.size() == reported * kEventsPerBatch ||
              out.size() == (reported + 1) * kEventsPerBatch)
      << out.size() << " records, " << reported << " batches reported";
  const Ledger::Stats stats = ledger.GetStats();
  EXPECT_EQ(stats.outbox_records, out.size());
  uint64_t bytes = 0;
  for (const OutboxRecord& r : out) {
    bytes += record::SeqEntryBytes(
        record::EncodeOutbox(r.key, r.event_json, r.enqueued_unix_ms, r.attempts).size());
  }
  EXPECT_EQ(stats.outbox_bytes, bytes);
  // A tracer retry of everything after the restart enqueues nothing.
  std::vector<EventKey> all;
  for (uint32_t i = 0; i < reported; ++i) {
    for (const EventKey& k : CrashBatchKeys(i)) all.push_back(k);
  }
  Batch retry(all);
  absl::StatusOr<CommitResult> r = ledger.Commit(retry.span());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 0u);
  EXPECT_EQ(r->already_seen, all.size());
  opened->reset();
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Policies, RocksLedgerCrash,
    ::testing::Values(
        CrashCase{RocksLedgerOptions::Sync::kPerCommit, 1'000'000, 60, "kill_per_commit"},
        CrashCase{RocksLedgerOptions::Sync::kPerCommit, 40, 0, "exit_per_commit"},
        CrashCase{RocksLedgerOptions::Sync::kInterval, 1'000'000, 300, "kill_interval"},
        CrashCase{RocksLedgerOptions::Sync::kNone, 1'000'000, 300, "kill_none"}),
    [](const ::testing::TestParamInfo<CrashCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace llmobs_edge::dedup
