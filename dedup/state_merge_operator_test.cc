#include "dedup/state_merge_operator.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dedup/record.h"
#include "dedup/record_testing.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace llmobs_edge::dedup {
namespace {

using record::State;
using record::StateDelta;

// A real RocksDB in the test's temp dir with the operator on the default column family.
class StateMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* root = std::getenv("TEST_TMPDIR");
    dir_ = std::string(root != nullptr ? root : "/tmp") + "/state_merge_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    rocksdb::Options o;
    o.create_if_missing = true;
    o.merge_operator = NewStateMergeOperator();
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_, &raw).ok());
    db_.reset(raw);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Base(const State& s) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), "state", record::EncodeState(s)).ok());
  }
  void Merge(const StateDelta& d) {
    ASSERT_TRUE(db_->Merge(rocksdb::WriteOptions(), "state", record::EncodeStateDelta(d)).ok());
  }
  rocksdb::Status Get(std::string* value) {
    return db_->Get(rocksdb::ReadOptions(), "state", value);
  }
  void Compact() {
    rocksdb::CompactRangeOptions c;
    c.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    ASSERT_TRUE(db_->CompactRange(c, nullptr, nullptr).ok());
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

StateDelta Commit(uint64_t next_seq, int64_t records, int64_t bytes) {
  StateDelta d;
  d.next_seq = next_seq;
  d.outbox_records = records;
  d.outbox_bytes = bytes;
  return d;
}

TEST(StateDelta, RoundTripsAndDetectsEveryBitFlip) {
  StateDelta d{.next_seq = 77,
               .outbox_records = -3,
               .outbox_bytes = 4096,
               .next_dead_letter_seq = 9,
               .dead_letter_records = 2,
               .dead_letter_bytes = -50};
  const std::string encoded = record::EncodeStateDelta(d);
  absl::StatusOr<StateDelta> back = record::DecodeStateDelta(encoded);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, d);
  for (size_t i = 0; i < encoded.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = encoded;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      absl::StatusOr<StateDelta> f = record::DecodeStateDelta(flipped);
      EXPECT_TRUE(!f.ok() || *f == d) << "byte " << i << " bit " << bit;
      if (f.ok()) EXPECT_EQ(*f, d);
    }
  }
}

TEST(StateDelta, ApplyAddsCountsTakesMaximaAndClampsAtZero) {
  State base{.next_seq = 10,
             .outbox_records = 5,
             .outbox_bytes = 500,
             .next_dead_letter_seq = 3,
             .dead_letter_records = 1,
             .dead_letter_bytes = 100};
  State s =
      record::Apply(base, StateDelta{.next_seq = 8, .outbox_records = -2, .outbox_bytes = 40});
  EXPECT_EQ(s.next_seq, 10u);  // a smaller next_seq never moves it back
  EXPECT_EQ(s.outbox_records, 3u);
  EXPECT_EQ(s.outbox_bytes, 540u);
  s = record::Apply(base, StateDelta{.next_dead_letter_seq = 7, .dead_letter_records = -4,
                                     .dead_letter_bytes = INT64_MIN});
  EXPECT_EQ(s.next_dead_letter_seq, 7u);
  EXPECT_EQ(s.dead_letter_records, 0u);
  EXPECT_EQ(s.dead_letter_bytes, 0u);
}

TEST_F(StateMergeTest, FoldsBaseAndOperandsInAnyOrderToTheSameState) {
  State base{.next_seq = 1, .next_dead_letter_seq = 1};
  std::vector<StateDelta> deltas = {Commit(51, 50, 5000), Commit(101, 50, 5100),
                                    StateDelta{.outbox_records = -50, .outbox_bytes = -5000},
                                    Commit(151, 50, 4900)};
  State expected;
  std::string first;
  for (int order = 0; order < 2; ++order) {
    Base(base);
    if (order == 0) {
      for (const StateDelta& d : deltas) Merge(d);
    } else {
      for (auto it = deltas.rbegin(); it != deltas.rend(); ++it) Merge(*it);
    }
    std::string value;
    ASSERT_TRUE(Get(&value).ok());
    absl::StatusOr<State> folded = record::DecodeState(value);
    ASSERT_TRUE(folded.ok()) << folded.status();
    EXPECT_EQ(folded->next_seq, 151u);
    EXPECT_EQ(folded->outbox_records, 100u);
    EXPECT_EQ(folded->outbox_bytes, 10000u);
    if (order == 0) expected = *folded;
    EXPECT_EQ(*folded, expected);
  }
}

TEST_F(StateMergeTest, CompactionKeepsTheFoldedValue) {
  Base(State{.next_seq = 1, .next_dead_letter_seq = 1});
  for (int i = 0; i < 100; ++i) Merge(Commit(2 + i, 1, 10));
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  for (int i = 0; i < 50; ++i) Merge(StateDelta{.outbox_records = -1, .outbox_bytes = -10});
  Compact();
  std::string value;
  ASSERT_TRUE(Get(&value).ok());
  absl::StatusOr<State> folded = record::DecodeState(value);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(folded->next_seq, 101u);
  EXPECT_EQ(folded->outbox_records, 50u);
  EXPECT_EQ(folded->outbox_bytes, 500u);
}

TEST_F(StateMergeTest, OperandsWithoutABaseStartFromAnEmptyState) {
  Merge(Commit(4, 3, 30));
  std::string value;
  ASSERT_TRUE(Get(&value).ok());
  absl::StatusOr<State> folded = record::DecodeState(value);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(folded->next_seq, 4u);
  EXPECT_EQ(folded->outbox_records, 3u);
}

TEST_F(StateMergeTest, ACorruptOperandMakesTheStateUnreadableNotWrong) {
  Base(State{.next_seq = 1, .next_dead_letter_seq = 1});
  Merge(Commit(11, 10, 100));
  std::string bad = record::EncodeStateDelta(Commit(21, 10, 100));
  bad[2] = static_cast<char>(bad[2] ^ 0x01);
  ASSERT_TRUE(db_->Merge(rocksdb::WriteOptions(), "state", bad).ok());
  std::string value;
  ASSERT_TRUE(Get(&value).ok());
  EXPECT_EQ(record::DecodeState(value).status().code(), absl::StatusCode::kDataLoss);
  // Compaction goes through too (a failing merge would stop the database's compactions).
  Compact();
  ASSERT_TRUE(Get(&value).ok());
  EXPECT_EQ(record::DecodeState(value).status().code(), absl::StatusCode::kDataLoss);
  // A new base puts it right.
  Base(State{.next_seq = 30, .next_dead_letter_seq = 1});
  Merge(Commit(31, 1, 10));
  ASSERT_TRUE(Get(&value).ok());
  ASSERT_TRUE(record::DecodeState(value).ok());
  EXPECT_EQ(record::DecodeState(value)->next_seq, 31u);
}

TEST_F(StateMergeTest, ABaseOfANewerFormatFailsTheRead) {
  // A state of format version kFormatVersion + 1 with a valid checksum (framing in
  // proto/ledger.proto): folding operands into it would lose what the newer format means.
  const uint32_t newer = record::kFormatVersion + 1;
  const std::string state =
      record::testing::EncodeStateAsVersion(newer, {.next_seq = 9, .next_dead_letter_seq = 1});
  ASSERT_EQ(record::DecodeState(state).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), "state", state).ok());
  Merge(Commit(11, 1, 10));
  std::string value;
  EXPECT_TRUE(Get(&value).IsCorruption());
}

}  // namespace
}  // namespace llmobs_edge::dedup
