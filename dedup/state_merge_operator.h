#pragma once
// The RocksDB merge operator of the ledger's counters (key "state" of the "default" column
// family, proto/ledger.proto LedgerState). Every ledger write adds a LedgerStateDelta operand
// instead of rewriting the whole state, so writes that run concurrently commute; RocksDB calls
// this operator to fold a base LedgerState and its operands when it reads or compacts the key.

#include <memory>

#include "rocksdb/merge_operator.h"

namespace llmobs_edge::dedup {

// A base or operand that fails its checksum makes the folded value unreadable on purpose
// (DecodeState then reports DataLoss, and the ledger rebuilds its counters by a scan at open);
// a base written by a newer format fails the merge, so an older binary refuses that database.
std::shared_ptr<rocksdb::MergeOperator> NewStateMergeOperator();

}  // namespace llmobs_edge::dedup
