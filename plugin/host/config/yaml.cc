// Reading the YAML configuration file given with --config. The document is walked alongside the
// protobuf descriptor of the target message, so every field of proto/config.proto is a setting
// without a hand-written list. main() calls LoadConfig(): defaults, file, environment, checks.
// The scalar conversions are in yaml_scalar.cc, the error messages' pieces in yaml_errors.cc.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "plugin/host/config/config.h"
#include "plugin/host/config/yaml_internal.h"
#include "yaml-cpp/yaml.h"

namespace llmobs_edge::config {
namespace {

using yaml_internal::EditDistance;
using yaml_internal::Echo;
using yaml_internal::Expected;
using yaml_internal::FD;
using yaml_internal::FindByName;
using yaml_internal::Join;
using yaml_internal::Kind;
using yaml_internal::Lines;
using yaml_internal::MapKeyText;
using yaml_internal::NameTheLine;
using yaml_internal::SetScalar;
namespace pb = google::protobuf;

// Debian's Abseil has its own string_view type; the API takes std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Walks one YAML document into a message, recording where each setting was written.
class Overlay {
 public:
  Overlay(absl::string_view source, Lines* lines) : source_(source), lines_(lines) {}

  absl::Status Document(absl::string_view text, pb::Message* root) {
    root_ = root->GetDescriptor();
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
      std::string where = source_.empty() ? std::string() : absl::StrCat(source_, ":");
      if (!e.mark.is_null()) {
        absl::StrAppend(&where, e.mark.line + 1, ":", e.mark.column + 1, ":");
      }
      return absl::InvalidArgumentError(
          absl::StrCat(where, where.empty() ? "" : " ", "invalid YAML: ", e.msg));
    }
    if (docs.size() > 1) {
      return Error(docs[1].Mark(), absl::StrCat("expected one YAML document, found ", docs.size()));
    }
    if (docs.empty() || docs[0].IsNull()) return absl::OkStatus();
    if (!docs[0].IsMap()) {
      return Error(docs[0].Mark(),
                   absl::StrCat("expected a mapping of settings, found ", Kind(docs[0])));
    }
    return Fields(docs[0], "", root);
  }

 private:
  // "config.yaml:3: text"; the line is left out when yaml-cpp has none.
  absl::Status Error(const YAML::Mark& mark, absl::string_view text) const {
    std::string where = source_;
    if (!mark.is_null()) {
      absl::StrAppend(&where, where.empty() ? "line " : ":", mark.line + 1);
    }
    return absl::InvalidArgumentError(where.empty() ? std::string(text)
                                                    : absl::StrCat(where, ": ", text));
  }

  // A value of the wrong shape: `path = "text": expected X` for a scalar, else `path: expected X,
  // found a mapping`. The value of a secret (IsSecretField()) is not repeated.
  absl::Status WrongType(const YAML::Mark& mark, const std::string& path, const YAML::Node& value,
                         absl::string_view expected, bool secret = false) const {
    if (value.IsScalar()) {
      return Error(mark, absl::StrCat(path, " = \"", secret ? "<redacted>" : Echo(value.Scalar()),
                                      "\": expected ", expected));
    }
    return Error(mark, absl::StrCat(path, ": expected ", expected, ", found ", Kind(value)));
  }

  static YAML::Mark MarkOf(const YAML::Node& value, const YAML::Mark& fallback) {
    // A null value (`key:` with nothing after it) is marked at the next token: use the key's.
    if (value.IsNull() || value.Mark().is_null()) return fallback;
    return value.Mark();
  }

  absl::Status Fields(const YAML::Node& node, const std::string& path, pb::Message* m) {
    const pb::Descriptor* d = m->GetDescriptor();
    std::map<std::string, int, std::less<>> seen;  // field name -> line
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;  // a copy: `it->` returns a temporary
      const YAML::Node value = it->second;
      const YAML::Mark key_mark = MarkOf(key, node.Mark());
      if (!key.IsScalar()) {
        return Error(key_mark, absl::StrCat("expected a setting name", path.empty() ? "" : " in ",
                                            path, ", found ", Kind(key)));
      }
      const std::string& name = key.Scalar();
      const std::string setting = Join(path, name);
      const FD* f = d->FindFieldByName(name);
      if (f == nullptr) {
        return Error(key_mark, absl::StrCat("unknown setting \"", Echo(setting), "\"",
                                            Suggestion(d, name, path)));
      }
      const int line = key_mark.line + 1;
      if (auto [prev, inserted] = seen.emplace(name, line); !inserted) {
        return Error(key_mark, absl::StrCat("setting \"", setting,
                                            "\" appears twice (also on line ", prev->second, ")"));
      }
      if (lines_ != nullptr) (*lines_)[setting] = line;
      if (absl::Status st = Field(value, key_mark, setting, f, m); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status Field(const YAML::Node& value, const YAML::Mark& key_mark, const std::string& path,
                     const FD* f, pb::Message* m) {
    const YAML::Mark mark = MarkOf(value, key_mark);
    if (f->is_map()) return Map(value, mark, path, f, m);
    if (f->is_repeated()) return Repeated(value, mark, path, f, m);
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      // `ingest:` with nothing after it is an empty mapping.
      pb::Message* sub = m->GetReflection()->MutableMessage(m, f);
      if (value.IsNull()) return absl::OkStatus();
      if (!value.IsMap()) return WrongType(mark, path, value, "a mapping of settings");
      return Fields(value, path, sub);
    }
    return Scalar(value, mark, path, f, /*add=*/false, m);
  }

  absl::Status Scalar(const YAML::Node& value, const YAML::Mark& mark, const std::string& path,
                      const FD* f, bool add, pb::Message* m) {
    if (!value.IsScalar()) {
      std::string expected = Expected(f);
      if (value.IsNull() && f->cpp_type() == FD::CPPTYPE_STRING) {
        return Error(mark, absl::StrCat(path, ": expected ", expected,
                                        ", found null (write \"\" for an empty string)"));
      }
      return WrongType(mark, path, value, expected);
    }
    if (!SetScalar(value.Scalar(), f, add, m)) {
      return WrongType(mark, path, value, Expected(f), IsSecretField(f->name()));
    }
    return absl::OkStatus();
  }

  // A sequence replaces the whole list.
  absl::Status Repeated(const YAML::Node& value, const YAML::Mark& mark, const std::string& path,
                        const FD* f, pb::Message* m) {
    if (value.IsNull()) {
      return Error(mark,
                   absl::StrCat(path, ": expected a sequence, found null (write [] for none)"));
    }
    if (!value.IsSequence()) {
      return WrongType(mark, path, value,
                       value.IsScalar()
                           ? absl::StrCat("a sequence such as [", Echo(value.Scalar()), "]")
                           : "a sequence");
    }
    const pb::Reflection* r = m->GetReflection();
    r->ClearField(m, f);
    size_t index = 0;
    for (auto it = value.begin(); it != value.end(); ++it, ++index) {
      const YAML::Node item = *it;
      const std::string item_path = absl::StrCat(path, "[", index, "]");
      const YAML::Mark item_mark = MarkOf(item, mark);
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        pb::Message* sub = r->AddMessage(m, f);
        if (item.IsNull()) continue;
        if (!item.IsMap()) return WrongType(item_mark, item_path, item, "a mapping of settings");
        if (absl::Status st = Fields(item, item_path, sub); !st.ok()) return st;
      } else if (absl::Status st = Scalar(item, item_mark, item_path, f, /*add=*/true, m);
                 !st.ok()) {
        return st;
      }
    }
    return absl::OkStatus();
  }

  // A protobuf map is a YAML mapping; it too replaces the whole field.
  absl::Status Map(const YAML::Node& value, const YAML::Mark& mark, const std::string& path,
                   const FD* f, pb::Message* m) {
    if (value.IsNull()) {
      return Error(mark,
                   absl::StrCat(path, ": expected a mapping, found null (write {} for none)"));
    }
    if (!value.IsMap()) return WrongType(mark, path, value, "a mapping");
    const pb::Reflection* r = m->GetReflection();
    const FD* key_field = f->message_type()->map_key();
    const FD* value_field = f->message_type()->map_value();
    r->ClearField(m, f);
    std::map<std::string, int, std::less<>> seen;  // key -> line
    for (auto it = value.begin(); it != value.end(); ++it) {
      const YAML::Node key = it->first;  // a copy: `it->` returns a temporary
      const YAML::Mark key_mark = MarkOf(key, mark);
      if (!key.IsScalar()) {
        return Error(key_mark, absl::StrCat(path, ": expected ", Expected(key_field),
                                            " as a key, found ", Kind(key)));
      }
      pb::Message* entry = r->AddMessage(m, f);
      if (!SetScalar(key.Scalar(), key_field, /*add=*/false, entry)) {
        return Error(key_mark, absl::StrCat(path, ": key \"", Echo(key.Scalar()), "\": expected ",
                                            Expected(key_field)));
      }
      const std::string key_text = MapKeyText(*entry, key_field);
      const std::string entry_path = absl::StrCat(path, "[\"", Echo(key_text), "\"]");
      if (auto [prev, inserted] = seen.emplace(key_text, key_mark.line + 1); !inserted) {
        return Error(key_mark,
                     absl::StrCat(entry_path, " appears twice (also on line ", prev->second, ")"));
      }
      const YAML::Node entry_value = it->second;
      if (absl::Status st = Field(entry_value, key_mark, entry_path, value_field, entry);
          !st.ok()) {
        return st;
      }
    }
    return absl::OkStatus();
  }

  // "; did you mean "ingest.port"?" for an unknown key, or "".
  std::string Suggestion(const pb::Descriptor* d, absl::string_view key,
                         const std::string& path) const {
    auto hint = [](const std::vector<std::string>& paths) {
      return absl::StrCat("; did you mean \"", absl::StrJoin(paths, "\" or \""), "\"?");
    };
    // The same name spelt differently: camelCase (the JSON name), other case, dashes.
    std::string normal = absl::AsciiStrToLower(key);
    for (char& c : normal) c = c == '-' ? '_' : c;
    for (int i = 0; i < d->field_count(); ++i) {
      const FD* f = d->field(i);
      if (f->name() == normal || absl::AsciiStrToLower(f->json_name()) == normal) {
        return hint({Join(path, f->name())});
      }
    }
    // A typo.
    const FD* best = nullptr;
    size_t best_distance = 3;
    for (int i = 0; i < d->field_count(); ++i) {
      const size_t distance = EditDistance(normal, d->field(i)->name());
      if (distance < best_distance) best = d->field(i), best_distance = distance;
    }
    if (best != nullptr) return hint({Join(path, best->name())});
    // A setting of another section.
    std::vector<std::string> elsewhere;
    FindByName(root_, normal, "", 0, &elsewhere);
    return elsewhere.empty() ? std::string() : hint(elsewhere);
  }

  std::string source_;
  Lines* lines_;
  const pb::Descriptor* root_ = nullptr;
};

// Applies the document to a copy, so that `m` is unchanged on error.
absl::Status Apply(absl::string_view text, absl::string_view source, pb::Message* m, Lines* lines) {
  try {
    std::unique_ptr<pb::Message> work(m->New());
    work->CopyFrom(*m);
    Overlay overlay(source, lines);
    if (absl::Status st = overlay.Document(text, work.get()); !st.ok()) return st;
    m->GetReflection()->Swap(m, work.get());
    return absl::OkStatus();
  } catch (const std::exception& e) {
    // yaml-cpp's node accessors can throw; nothing is expected to, but nothing escapes either.
    return absl::InternalError(absl::StrCat(source, ": reading the YAML failed: ", e.what()));
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  auto fail = [&](int err) {
    const std::string text =
        absl::StrCat("cannot read config file \"", path, "\": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(text);
    if (err == EACCES) return absl::PermissionDeniedError(text);
    return absl::InvalidArgumentError(text);
  };
  errno = 0;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return fail(errno != 0 ? errno : EIO);
  std::string text;
  char buffer[1 << 14];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  const int err = std::ferror(file) ? (errno != 0 ? errno : EIO) : 0;
  std::fclose(file);
  if (err != 0) return fail(err);
  return text;
}

}  // namespace

absl::Status ApplyYamlToMessage(std::string_view yaml_text, std::string_view source_name,
                                pb::Message* message) {
  return Apply(Absl(yaml_text), Absl(source_name), message, nullptr);
}

absl::Status ApplyYaml(std::string_view yaml_text, std::string_view source_name, Config* config) {
  return ApplyYamlToMessage(yaml_text, source_name, config);
}

absl::StatusOr<Config> LoadConfig(const std::string& yaml_path, const EnvLookup& env) {
  Config config = DefaultConfig();
  Lines lines;
  if (!yaml_path.empty()) {
    absl::StatusOr<std::string> text = ReadFile(yaml_path);
    if (!text.ok()) return text.status();
    if (absl::Status st = Apply(*text, yaml_path, &config, &lines); !st.ok()) return st;
  }
  const Config from_file = config;
  if (absl::Status st = ApplyEnvironment(env, &config); !st.ok()) return st;
  if (absl::Status st = Validate(config); !st.ok()) {
    return NameTheLine(st, yaml_path, lines, from_file, config);
  }
  return config;
}

}  // namespace llmobs_edge::config
