// Reading the YAML configuration file given with --config. The document is walked alongside the
// protobuf descriptor of the target message, so every field of proto/config.proto is a setting
// without a hand-written list. main() calls LoadConfig(): defaults, file, environment, checks.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "plugin/host/config/config.h"
#include "yaml-cpp/yaml.h"

namespace llmobs_edge::config {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

// Debian's Abseil has its own string_view type; the API takes std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Where each setting was written: setting path -> 1-based line in the file.
using Lines = std::map<std::string, int, std::less<>>;

// --- Scalars: YAML 1.2 core schema spellings, converted to the field's type -----------------

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
bool ParseInteger(absl::string_view s, bool* negative, uint64_t* magnitude) {
  *negative = false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    base = s[1] == 'x' ? 16 : 8;
    s.remove_prefix(2);
  } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    *negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || !absl::ascii_isxdigit(static_cast<unsigned char>(s[0]))) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *magnitude, base);
  return ec == std::errc() && end == s.data() + s.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.inf | \.nan (and their case forms),
// read straight into the field's type (double or float) so the rounding is done once.
template <typename Float>
bool ParseNumber(absl::string_view s, Float* out) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    *out = std::numeric_limits<Float>::quiet_NaN();
    return true;
  }
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF") {
    *out =
        negative ? -std::numeric_limits<Float>::infinity() : std::numeric_limits<Float>::infinity();
    return true;
  }
  // Digits, one point, an exponent: from_chars would also take "inf", "nan" and hex forms. It
  // reports a value outside the type's range (1e39 for a float) as an error.
  if (s.empty() || s[0] == '+' || s[0] == '-' ||
      s.find_first_not_of("0123456789.eE+-") != absl::string_view::npos) {
    return false;
  }
  Float v;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  *out = negative ? -v : v;
  return true;
}

// Structurally valid UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool ValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    char32_t v, min;
    if ((c & 0xE0) == 0xC0) {
      n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4, v = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < n) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      v = (v << 6) | (cc & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// What a scalar field accepts, for error messages.
std::string Expected(const FD* f) {
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      return absl::StrCat("an integer from ", std::numeric_limits<int32_t>::min(), " to ",
                          std::numeric_limits<int32_t>::max());
    case FD::CPPTYPE_INT64:
      return absl::StrCat("an integer from ", std::numeric_limits<int64_t>::min(), " to ",
                          std::numeric_limits<int64_t>::max());
    case FD::CPPTYPE_UINT32:
      return absl::StrCat("an integer from 0 to ", std::numeric_limits<uint32_t>::max());
    case FD::CPPTYPE_UINT64:
      return absl::StrCat("an integer from 0 to ", std::numeric_limits<uint64_t>::max());
    case FD::CPPTYPE_DOUBLE:
      return "a number";
    case FD::CPPTYPE_FLOAT:
      return "a number in the range of a 32-bit float";
    case FD::CPPTYPE_BOOL:
      return "true or false";
    case FD::CPPTYPE_ENUM: {
      std::vector<absl::string_view> names;
      const pb::EnumDescriptor* e = f->enum_type();
      for (int i = 0; i < e->value_count(); ++i) names.push_back(e->value(i)->name());
      return absl::StrCat("one of ", absl::StrJoin(names, ", "));
    }
    case FD::CPPTYPE_STRING:
      return f->type() == FD::TYPE_STRING ? "UTF-8 text" : "a string";
    case FD::CPPTYPE_MESSAGE:
      return "a mapping of settings";
  }
  return "a value";
}

// Converts `text` to the type of `f` and sets it in `m` (appends it when `add`). False when the
// text is not a value of that type.
bool SetScalar(absl::string_view text, const FD* f, bool add, pb::Message* m) {
  const pb::Reflection* r = m->GetReflection();
  bool negative = false;
  uint64_t magnitude = 0;
  // Range checks for the integer types; the value is in `magnitude` and `negative`.
  auto signed_fits = [&](uint64_t max) {
    return negative ? magnitude <= max + 1 : magnitude <= max;
  };
  auto signed_value = [&] {
    return negative ? static_cast<int64_t>(uint64_t{0} - magnitude)
                    : static_cast<int64_t>(magnitude);
  };
  switch (f->cpp_type()) {
    case FD::CPPTYPE_STRING:
      if (f->type() == FD::TYPE_STRING && !ValidUtf8(text)) return false;
      add ? r->AddString(m, f, std::string(text)) : r->SetString(m, f, std::string(text));
      return true;
    case FD::CPPTYPE_BOOL: {
      bool v;
      if (text == "true" || text == "True" || text == "TRUE") {
        v = true;
      } else if (text == "false" || text == "False" || text == "FALSE") {
        v = false;
      } else {
        return false;
      }
      add ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
      return true;
    }
    case FD::CPPTYPE_INT32: {
      if (!ParseInteger(text, &negative, &magnitude) ||
          !signed_fits(std::numeric_limits<int32_t>::max())) {
        return false;
      }
      const auto v = static_cast<int32_t>(signed_value());
      add ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return true;
    }
    case FD::CPPTYPE_INT64: {
      if (!ParseInteger(text, &negative, &magnitude) ||
          !signed_fits(std::numeric_limits<int64_t>::max())) {
        return false;
      }
      const int64_t v = signed_value();
      add ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return true;
    }
    case FD::CPPTYPE_UINT32: {
      if (!ParseInteger(text, &negative, &magnitude) || (negative && magnitude != 0) ||
          magnitude > std::numeric_limits<uint32_t>::max()) {
        return false;
      }
      const auto v = static_cast<uint32_t>(magnitude);
      add ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
      return true;
    }
    case FD::CPPTYPE_UINT64: {
      if (!ParseInteger(text, &negative, &magnitude) || (negative && magnitude != 0)) return false;
      add ? r->AddUInt64(m, f, magnitude) : r->SetUInt64(m, f, magnitude);
      return true;
    }
    case FD::CPPTYPE_DOUBLE: {
      double v;
      if (!ParseNumber(text, &v)) return false;
      add ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      return true;
    }
    case FD::CPPTYPE_FLOAT: {
      float v;
      if (!ParseNumber(text, &v)) return false;
      add ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
      return true;
    }
    case FD::CPPTYPE_ENUM: {
      const pb::EnumDescriptor* e = f->enum_type();
      int number;
      if (const pb::EnumValueDescriptor* v = e->FindValueByName(std::string(text))) {
        number = v->number();
      } else if (ParseInteger(text, &negative, &magnitude) &&
                 signed_fits(std::numeric_limits<int32_t>::max())) {
        // A number: any int32 for an open (proto3) enum, a declared one for a closed enum.
        number = static_cast<int32_t>(signed_value());
        if (e->FindValueByNumber(number) == nullptr &&
            e->file()->syntax() != pb::FileDescriptor::SYNTAX_PROTO3) {
          return false;
        }
      } else {
        return false;
      }
      add ? r->AddEnumValue(m, f, number) : r->SetEnumValue(m, f, number);
      return true;
    }
    case FD::CPPTYPE_MESSAGE:
      return false;
  }
  return false;
}

// The key of a map entry as text, to find duplicates after conversion ("01" and "1").
std::string MapKeyText(const pb::Message& entry, const FD* key) {
  const pb::Reflection* r = entry.GetReflection();
  switch (key->cpp_type()) {
    case FD::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(entry, key));
    case FD::CPPTYPE_INT64:
      return absl::StrCat(r->GetInt64(entry, key));
    case FD::CPPTYPE_UINT32:
      return absl::StrCat(r->GetUInt32(entry, key));
    case FD::CPPTYPE_UINT64:
      return absl::StrCat(r->GetUInt64(entry, key));
    case FD::CPPTYPE_BOOL:
      return r->GetBool(entry, key) ? "true" : "false";
    default:
      return r->GetString(entry, key);
  }
}

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

// When Validate() rejects a setting that was written in the file (and the environment did not
// change it afterwards), adds the file and line: "config.yaml:3: ingest.port = "70000": ...".
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
