// The RocksDB ledger's recovery side: opening and closing the database, loading the persisted
// counters (refusing a newer format, rebuilding unreadable ones by a scan), applying every write's
// counter delta, and the health state with its storage retry. Part of RocksLedger
// (rocks_ledger_internal.h); called by every other rocks_ledger_*.cc file.

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "dedup/rocks_ledger_internal.h"
#include "plugin/api/thread_name.h"

namespace llmobs_edge::dedup::internal {

absl::Status RocksLedger::OpenDbLocked() {
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("ledger.path = \"", options_.path,
                     "\": cannot create the ledger directory: ", ec.message()));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) descriptors.emplace_back(kCfNames[i], cf_options_[i]);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options_, options_.path, descriptors, &handles, &raw);
  if (!s.ok()) {
    return absl::Status(CodeOf(s), absl::StrCat("ledger.path = \"", options_.path,
                                                "\": cannot open the ledger: ", s.ToString()));
  }
  db_.reset(raw);
  cfs_ = std::move(handles);
  return absl::OkStatus();
}

void RocksLedger::CloseDbLocked() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* h : cfs_) {
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  cfs_.clear();
  // After a background error Close() reports it again; there is nothing more to do about it.
  db_->Close().PermitUncheckedError();
  db_.reset();
}

absl::Status RocksLedger::Start() {
  {
    std::lock_guard prepare_lock(prepare_mu_);
    std::lock_guard delete_lock(delete_mu_);
    std::unique_lock db_lock(db_mu_);
    if (absl::Status s = OpenDbLocked(); !s.ok()) return s;
    if (absl::Status s = LoadStateLocked(); !s.ok()) {
      CloseDbLocked();
      return absl::Status(s.code(), absl::StrCat("ledger.path = \"", options_.path,
                                                 "\": cannot open the ledger: ", s.message()));
    }
  }
  maintenance_ = std::thread([this] {
    plugin::SetCurrentThreadName("ledger-maint");
    MaintenanceLoop();
  });
  return absl::OkStatus();
}

// Reads the persisted counters (RocksDB folds the base and its merge operands); rebuilds them by
// a scan if they are missing (new database) or unreadable. Either way the sequence numbers are
// moved past the last stored keys. Runs with every lock held exclusively, so nothing is in
// flight.
absl::Status RocksLedger::LoadStateLocked() {
  record::State state;
  bool rebuild = false;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), record::kStateKey, &value);
  if (s.ok()) {
    absl::StatusOr<record::State> decoded = record::DecodeState(value);
    if (decoded.ok()) {
      state = *decoded;
    } else if (decoded.status().code() == absl::StatusCode::kFailedPrecondition) {
      return decoded.status();
    } else {
      rebuild = true;
    }
  } else if (s.IsNotFound()) {
    rebuild = true;
  } else if (s.IsCorruption()) {
    // The merge operator refuses only a base of a newer format (corrupt operands fold into an
    // unreadable value, rebuilt above); otherwise the column family itself is damaged.
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the ledger state (", s.ToString(),
        "): written in a newer format than this binary's version ", record::kFormatVersion,
        ", or damaged"));
  } else {
    return FromRocks(s, "reading the ledger state");
  }

  struct Scan {
    uint64_t first = 0, last = 0, records = 0, bytes = 0;
    bool any = false;
  };
  auto scan = [&](Cf c, bool full, Scan* out) -> absl::Status {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(c)));
    it->SeekToLast();
    if (it->Valid()) record::ParseSeqKey(View(it->key()), &out->last);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      uint64_t seq = 0;
      if (!out->any) {
        record::ParseSeqKey(View(it->key()), &seq);
        out->first = seq;
        out->any = true;
        if (!full) break;
      }
      ++out->records;
      out->bytes += record::SeqEntryBytes(it->value().size());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scanning the ledger");
    return absl::OkStatus();
  };
  Scan outbox, dead;
  if (absl::Status st = scan(kOutbox, rebuild, &outbox); !st.ok()) return st;
  if (absl::Status st = scan(kDeadLetters, rebuild, &dead); !st.ok()) return st;
  if (rebuild) {
    state.outbox_records = outbox.records;
    state.outbox_bytes = outbox.bytes;
    state.dead_letter_records = dead.records;
    state.dead_letter_bytes = dead.bytes;
  }
  if (outbox.any) state.next_seq = std::max(state.next_seq, outbox.last + 1);
  if (dead.any) state.next_dead_letter_seq = std::max(state.next_dead_letter_seq, dead.last + 1);
  state.next_seq = std::max<uint64_t>(state.next_seq, 1);
  state.next_dead_letter_seq = std::max<uint64_t>(state.next_dead_letter_seq, 1);
  if (rebuild) {
    // A new base: the operands before it no longer count.
    rocksdb::WriteBatch batch;
    rocksdb::Status w = batch.Put(cf(kMeta), record::kStateKey, record::EncodeState(state));
    if (w.ok()) w = db_->Write(write_options_, &batch);
    if (!w.ok()) return FromRocks(w, "writing the ledger state");
  }
  std::lock_guard mem_lock(mem_mu_);
  counters_.outbox_records = static_cast<int64_t>(state.outbox_records);
  counters_.outbox_bytes = static_cast<int64_t>(state.outbox_bytes);
  counters_.dead_letter_records = static_cast<int64_t>(state.dead_letter_records);
  counters_.dead_letter_bytes = static_cast<int64_t>(state.dead_letter_bytes);
  next_seq_ = state.next_seq;
  next_dead_letter_seq_ = state.next_dead_letter_seq;
  inflight_keys_.clear();
  inflight_seqs_.clear();
  inflight_bytes_ = 0;
  outbox_head_.store(outbox.any ? outbox.first : state.next_seq);
  dead_letter_head_.store(dead.any ? dead.first : state.next_dead_letter_seq);
  PublishLocked();
  return absl::OkStatus();
}

void RocksLedger::PublishLocked() {
  stat_outbox_records_.store(Clamped(counters_.outbox_records));
  stat_outbox_bytes_.store(Clamped(counters_.outbox_bytes));
  stat_dead_letters_.store(Clamped(counters_.dead_letter_records));
  metrics_.outbox_records.Set(static_cast<int64_t>(Clamped(counters_.outbox_records)));
  metrics_.outbox_bytes.Set(static_cast<int64_t>(Clamped(counters_.outbox_bytes)));
  metrics_.dead_letters.Set(static_cast<int64_t>(Clamped(counters_.dead_letter_records)));
  metrics_.dead_letter_bytes.Set(static_cast<int64_t>(Clamped(counters_.dead_letter_bytes)));
}

void RocksLedger::ApplyLocked(const record::StateDelta& d) {
  counters_.outbox_records += d.outbox_records;
  counters_.outbox_bytes += d.outbox_bytes;
  counters_.dead_letter_records += d.dead_letter_records;
  counters_.dead_letter_bytes += d.dead_letter_bytes;
  PublishLocked();
}

absl::Status RocksLedger::Failure(const rocksdb::Status& s, absl::string_view what) {
  metrics_.disk_errors.Inc();
  MarkUnhealthy();
  return absl::Status(CodeOf(s), absl::StrCat(Prefix(), what, ": ", s.ToString()));
}

void RocksLedger::MarkHealthy() {
  healthy_.store(true);
  metrics_.healthy.Set(1);
}

void RocksLedger::MarkUnhealthy() {
  healthy_.store(false);
  metrics_.healthy.Set(0);
}

absl::Status RocksLedger::Unavailable() const {
  return absl::UnavailableError(absl::StrCat(Prefix(), "storage unavailable, retried every ",
                                             options_.sync_interval.count(),
                                             " ms; last error: ", last_open_error_));
}

void RocksLedger::RecoverIfUnhealthy() {
  if (healthy_.load()) return;
  std::lock_guard prepare_lock(prepare_mu_);
  std::lock_guard delete_lock(delete_mu_);
  if (!healthy_.load()) MaybeRecoverLocked();
}

// At most once per sync_interval, ask RocksDB to resume; if it cannot (a failed log write is
// fatal to a RocksDB instance), close and reopen the database, which replays the log. The
// ledger turns healthy only when a write then succeeds.
void RocksLedger::MaybeRecoverLocked() {
  const auto now = clock_->Steady();
  if (recovery_attempted_.load() && now - last_recovery_ < options_.sync_interval) return;
  recovery_attempted_.store(true);
  last_recovery_ = now;
  if (db_ != nullptr) {
    rocksdb::Status s = db_->Resume();
    if (s.ok() || s.IsBusy()) return;  // Busy: RocksDB's own recovery is under way
  }
  std::unique_lock db_lock(db_mu_);  // waits for the writes in flight to finish
  CloseDbLocked();
  absl::Status s = OpenDbLocked();
  if (s.ok()) {
    s = LoadStateLocked();
    if (!s.ok()) CloseDbLocked();
  }
  if (!s.ok()) {
    metrics_.disk_errors.Inc();
    last_open_error_ = std::string(s.message());
  }
}

absl::Status RocksLedger::WriteWithDelta(rocksdb::WriteBatch* batch,
                                         const record::StateDelta& delta, absl::string_view what,
                                         Durability durability) {
  rocksdb::Status s =
      batch->Merge(cf(kMeta), record::kStateKey, record::EncodeStateDelta(delta));
  if (s.ok()) {
    s = db_->Write(durability == Durability::kPolicy ? write_options_ : rocksdb::WriteOptions(),
                   batch);
  }
  if (!s.ok()) return Failure(s, what);
  {
    std::lock_guard mem_lock(mem_mu_);
    next_seq_ = std::max(next_seq_, delta.next_seq);
    next_dead_letter_seq_ = std::max(next_dead_letter_seq_, delta.next_dead_letter_seq);
    ApplyLocked(delta);
  }
  recovery_attempted_.store(false);
  MarkHealthy();
  return absl::OkStatus();
}

}  // namespace llmobs_edge::dedup::internal
