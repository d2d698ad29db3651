// The pieces of the YAML reader's error messages: how a node is described, values quoted back,
// setting paths, the "did you mean" search, and the file and line added to a Validate() error
// about a setting the file wrote. Used by yaml.cc (yaml_internal.h).

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/message_differencer.h"
#include "plugin/host/config/yaml_internal.h"

namespace llmobs_edge::config::yaml_internal {

absl::string_view Kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "null";
}

// A value quoted back in a message: escaped, and cut when long.
std::string Echo(absl::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return absl::CHexEscape(value);
  return absl::StrCat(absl::CHexEscape(value.substr(0, kMax)), "...");
}

std::string Join(absl::string_view path, absl::string_view name) {
  return path.empty() ? std::string(name) : absl::StrCat(path, ".", name);
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Settings named `name` anywhere under `d` (a key written at the wrong level).
void FindByName(const pb::Descriptor* d, absl::string_view name, const std::string& prefix,
                int depth, std::vector<std::string>* out) {
  for (int i = 0; i < d->field_count() && out->size() < 3; ++i) {
    const FD* f = d->field(i);
    const std::string path = Join(prefix, f->name());
    if (f->name() == name) out->push_back(path);
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE && !f->is_map() && depth < 6) {
      FindByName(f->message_type(), name, path, depth + 1, out);
    }
  }
}

absl::Status NameTheLine(const absl::Status& st, absl::string_view source, const Lines& lines,
                         const Config& from_file, const Config& effective) {
  const absl::string_view text = st.message();
  const absl::string_view setting = text.substr(0, text.find_first_of(" :"));
  const auto line = lines.find(setting);
  if (line == lines.end()) return st;
  const pb::Message* a = &from_file;
  const pb::Message* b = &effective;
  const FD* f = nullptr;
  for (absl::string_view part : absl::StrSplit(setting, '.')) {
    if (f != nullptr) {
      if (f->cpp_type() != FD::CPPTYPE_MESSAGE || f->is_repeated()) return st;
      a = &a->GetReflection()->GetMessage(*a, f);
      b = &b->GetReflection()->GetMessage(*b, f);
    }
    f = a->GetDescriptor()->FindFieldByName(std::string(part));
    if (f == nullptr) return st;
  }
  if (f->cpp_type() == FD::CPPTYPE_MESSAGE && !f->is_repeated()) return st;  // a section
  pb::util::MessageDifferencer differencer;
  if (!differencer.CompareWithFields(*a, *b, {f}, {f})) return st;  // the environment set it
  return absl::Status(st.code(), absl::StrCat(source, ":", line->second, ": ", text));
}

}  // namespace llmobs_edge::config::yaml_internal
