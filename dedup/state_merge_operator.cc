#include "dedup/state_merge_operator.h"

#include <deque>
#include <string>
#include <string_view>

#include "dedup/record.h"

namespace llmobs_edge::dedup {
namespace {

// Not a protobuf (field 31 with wire type 7 does not exist), so DecodeState refuses it.
constexpr std::string_view kUnreadableState = "\xff unreadable: a merge operand was corrupt";

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

class StateMergeOperator final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    record::State base;
    if (in.existing_value != nullptr) {
      absl::StatusOr<record::State> decoded = record::DecodeState(View(*in.existing_value));
      if (!decoded.ok()) {
        if (decoded.status().code() == absl::StatusCode::kFailedPrecondition) return false;
        out->new_value.assign(kUnreadableState);
        return true;
      }
      base = *decoded;
    }
    record::StateDelta sum;
    for (const rocksdb::Slice& operand : in.operand_list) {
      absl::StatusOr<record::StateDelta> delta = record::DecodeStateDelta(View(operand));
      if (!delta.ok()) {
        out->new_value.assign(kUnreadableState);
        return true;
      }
      sum += *delta;
    }
    out->new_value = record::EncodeState(record::Apply(base, sum));
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& /*key*/, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    record::StateDelta sum;
    for (const rocksdb::Slice& operand : operands) {
      absl::StatusOr<record::StateDelta> delta = record::DecodeStateDelta(View(operand));
      if (!delta.ok()) return false;  // keep the operands as they are; the full merge decides
      sum += *delta;
    }
    *new_value = record::EncodeStateDelta(sum);
    return true;
  }

  const char* Name() const override { return "llmobs_edge.LedgerStateMerge"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> NewStateMergeOperator() {
  return std::make_shared<StateMergeOperator>();
}

}  // namespace llmobs_edge::dedup
