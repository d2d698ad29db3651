#pragma once
// The YAML reader's shared declarations, private to plugin/host/config/yaml*.cc: converting a
// scalar to a protobuf field (yaml_scalar.cc) and the pieces of its error messages (yaml_errors.cc)
// that the document walker in yaml.cc uses. Everyone else calls config.h (ApplyYaml, LoadConfig).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "plugin/host/config/config.h"
#include "yaml-cpp/yaml.h"

namespace llmobs_edge::config::yaml_internal {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

// Where each setting was written: setting path -> 1-based line in the file.
using Lines = std::map<std::string, int, std::less<>>;

// --- yaml_scalar.cc: YAML 1.2 core schema spellings, converted to the field's type ---

// What a scalar field accepts, for error messages.
std::string Expected(const FD* f);

// Converts `text` to the type of `f` and sets it in `m` (appends it when `add`). False when the
// text is not a value of that type.
bool SetScalar(absl::string_view text, const FD* f, bool add, pb::Message* m);

// The key of a map entry as text, to find duplicates after conversion ("01" and "1").
std::string MapKeyText(const pb::Message& entry, const FD* key);

// --- yaml_errors.cc: the pieces of error messages ---

// "a mapping", "a sequence", "a scalar" or "null".
absl::string_view Kind(const YAML::Node& node);

// A value quoted back in a message: escaped, and cut when long.
std::string Echo(absl::string_view value);

// "path.name" (just "name" at the top).
std::string Join(absl::string_view path, absl::string_view name);

// Levenshtein distance, for "did you mean" on a typo.
size_t EditDistance(absl::string_view a, absl::string_view b);

// Settings named `name` anywhere under `d` (a key written at the wrong level).
void FindByName(const pb::Descriptor* d, absl::string_view name, const std::string& prefix,
                int depth, std::vector<std::string>* out);

// When Validate() rejects a setting that was written in the file (and the environment did not
// change it afterwards), adds the file and line: "config.yaml:3: ingest.port = "70000": ...".
absl::Status NameTheLine(const absl::Status& st, absl::string_view source, const Lines& lines,
                         const Config& from_file, const Config& effective);

}  // namespace llmobs_edge::config::yaml_internal
