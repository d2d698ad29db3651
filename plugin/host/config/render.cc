// Printing a configuration as YAML: what `--check-config` shows and the source of the example in
// deploy/config/. It follows the protobuf descriptor like yaml.cc, so a field added to
// proto/config.proto prints with no change here; secrets are redacted, and ApplyYaml() reads the
// output back to the same configuration.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "plugin/host/config/config.h"

namespace llmobs_edge::config {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

constexpr absl::string_view kRedacted = "<redacted>";

// Decodes the UTF-8 sequence at s[i]: its length, or 0 when it is not valid UTF-8.
size_t DecodeUtf8(absl::string_view s, size_t i, char32_t* cp) {
  const unsigned char c = s[i];
  if (c < 0x80) {
    *cp = c;
    return 1;
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
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

// Whether `s` must be quoted to read back as this string, in a block (`key: s`) or a flow
// (`[a, s]`) context. Errs on the side of quoting: anything a YAML 1.1 or 1.2 reader could take
// for null, a bool or a number is quoted, so are non-ASCII text and indicator characters.
bool NeedsQuotes(absl::string_view s, bool flow) {
  if (s.empty()) return true;
  const char first = s.front();
  const char last = s.back();
  if (absl::string_view("-?:,[]{}#&*!|>'\"%@`~+.").find(first) != absl::string_view::npos) {
    return true;
  }
  if (absl::ascii_isdigit(static_cast<unsigned char>(first))) return true;  // a number?
  if (first == ' ' || last == ' ' || last == ':') return true;
  if (absl::StrContains(s, ": ") || absl::StrContains(s, " #")) return true;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F) return true;
    if (flow && absl::string_view(",[]{}").find(ch) != absl::string_view::npos) return true;
  }
  const std::string lower = absl::AsciiStrToLower(s);
  for (absl::string_view word :
       {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "="}) {
    if (lower == word) return true;
  }
  return false;
}

// A double-quoted YAML scalar. Bytes that are not UTF-8 print as \xNN, which reads back as the
// code point U+00NN: such a string (only possible in a `bytes` field, or from the environment)
// does not round-trip.
std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      absl::StrAppendFormat(&out, "\\x%02X", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      absl::StrAppendFormat(&out, "\\x%02X", static_cast<uint32_t>(cp));
    } else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF) {
      absl::StrAppendFormat(&out, "\\u%04X", static_cast<uint32_t>(cp));
    } else {
      out.append(s.data() + i, n);
    }
    i += n;
  }
  out += '"';
  return out;
}

// `scheme://user:password@host...` -> `scheme://user:<redacted>@host...`; anything else as is.
std::string RedactUrlPassword(absl::string_view s) {
  const size_t scheme_end = s.find("://");
  if (scheme_end == absl::string_view::npos || scheme_end == 0 ||
      !absl::ascii_isalpha(static_cast<unsigned char>(s[0]))) {
    return std::string(s);
  }
  for (const char c : s.substr(0, scheme_end)) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return std::string(s);
    }
  }
  const size_t begin = scheme_end + 3;
  const absl::string_view authority = s.substr(begin, s.find_first_of("/?#", begin) - begin);
  const size_t at = authority.rfind('@');
  if (at == absl::string_view::npos) return std::string(s);
  const size_t colon = authority.find(':');
  if (colon == absl::string_view::npos || colon > at || colon + 1 == at) return std::string(s);
  return absl::StrCat(s.substr(0, begin + colon + 1), kRedacted, s.substr(begin + at));
}

// Shortest text that reads back as the same value (the digits std::to_chars picks).
template <typename Float>
std::string Number(Float v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v < 0 ? "-.inf" : ".inf";
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string s(buffer, ec == std::errc() ? end : buffer);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// One scalar value: field `f` of `m`, element `index` when repeated.
std::string Scalar(const pb::Message& m, const FD* f, int index, bool flow) {
  const pb::Reflection* r = m.GetReflection();
  const bool repeated = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_STRING: {
      const std::string v = repeated ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (!v.empty() && IsSecretField(f->name())) return Quote(kRedacted);
      const std::string shown = RedactUrlPassword(v);
      return NeedsQuotes(shown, flow) ? Quote(shown) : shown;
    }
    case FD::CPPTYPE_BOOL:
      return (repeated ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FD::CPPTYPE_INT32:
      return absl::StrCat(repeated ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FD::CPPTYPE_INT64:
      return absl::StrCat(repeated ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FD::CPPTYPE_UINT32:
      return absl::StrCat(repeated ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FD::CPPTYPE_UINT64:
      return absl::StrCat(repeated ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FD::CPPTYPE_DOUBLE:
      return Number(repeated ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FD::CPPTYPE_FLOAT:
      return Number(repeated ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FD::CPPTYPE_ENUM: {
      const int number = repeated ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const pb::EnumValueDescriptor* v = f->enum_type()->FindValueByNumber(number);
      return v != nullptr ? v->name() : absl::StrCat(number);
    }
    case FD::CPPTYPE_MESSAGE:
      break;
  }
  return "~";
}

// Orders map entries by key, so the output does not depend on hashing.
bool KeyLess(const pb::Message* a, const pb::Message* b) {
  const FD* key = a->GetDescriptor()->map_key();
  const pb::Reflection* r = a->GetReflection();
  switch (key->cpp_type()) {
    case FD::CPPTYPE_INT32:
      return r->GetInt32(*a, key) < r->GetInt32(*b, key);
    case FD::CPPTYPE_INT64:
      return r->GetInt64(*a, key) < r->GetInt64(*b, key);
    case FD::CPPTYPE_UINT32:
      return r->GetUInt32(*a, key) < r->GetUInt32(*b, key);
    case FD::CPPTYPE_UINT64:
      return r->GetUInt64(*a, key) < r->GetUInt64(*b, key);
    case FD::CPPTYPE_BOOL:
      return r->GetBool(*a, key) < r->GetBool(*b, key);
    default:
      return r->GetString(*a, key) < r->GetString(*b, key);
  }
}

// Writes the fields of a message, one per line, indented by `indent` spaces.
class Printer {
 public:
  // What becomes of a field that is not set (proto3 `optional`, a message, a proto2 field).
  enum class Unset {
    kComment,  // printed with its default value, commented out: reads back as still unset
    kSkip,     // left out: inside sequences and maps, where comments would only be noise
    kPrint,    // printed: inside a section that is commented out as a whole
  };

  void Body(const pb::Message& m, int indent, Unset unset, std::string* out) {
    const pb::Descriptor* d = m.GetDescriptor();
    const pb::Reflection* r = m.GetReflection();
    stack_.push_back(d);
    for (int i = 0; i < d->field_count(); ++i) {
      const FD* f = d->field(i);
      if (f->is_map()) {
        MapField(m, f, indent, out);
      } else if (f->is_repeated()) {
        RepeatedField(m, f, indent, out);
      } else if (!f->has_presence() || r->HasField(m, f)) {
        Singular(m, f, indent, unset, out);
      } else if (f->real_containing_oneof() != nullptr || unset == Unset::kSkip ||
                 (f->cpp_type() == FD::CPPTYPE_MESSAGE &&
                  std::find(stack_.begin(), stack_.end(), f->message_type()) != stack_.end())) {
        // Not printed: another member of the oneof (or none) is set, or the message recurses.
      } else if (unset == Unset::kPrint) {
        Singular(m, f, indent, Unset::kPrint, out);
      } else {
        // "# port: 0", or a whole section commented out line by line.
        std::string text;
        Singular(m, f, indent, Unset::kPrint, &text);
        for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
          absl::StrAppend(out, line.substr(0, indent), "# ", line.substr(indent), "\n");
        }
      }
    }
    stack_.pop_back();
  }

 private:
  // `name: value`, or for a message `name:` with its fields below it.
  void Singular(const pb::Message& m, const FD* f, int indent, Unset unset, std::string* out) {
    const std::string pad(indent, ' ');
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      Section(pad, f->name(), m.GetReflection()->GetMessage(m, f), indent, unset, out);
    } else {
      absl::StrAppend(out, pad, f->name(), ": ", Scalar(m, f, -1, /*flow=*/false), "\n");
    }
  }

  // `name:` and the message's fields below it, or `name: {}` when there are none.
  void Section(absl::string_view pad, absl::string_view name, const pb::Message& m, int indent,
               Unset unset, std::string* out) {
    std::string body;
    Body(m, indent + 2, unset, &body);
    if (body.empty()) {
      absl::StrAppend(out, pad, name, ": {}\n");
    } else {
      absl::StrAppend(out, pad, name, ":\n", body);
    }
  }

  // Scalars as a flow sequence (`[a, b]`), messages as a block sequence of mappings.
  void RepeatedField(const pb::Message& m, const FD* f, int indent, std::string* out) {
    const pb::Reflection* r = m.GetReflection();
    const std::string pad(indent, ' ');
    const int n = r->FieldSize(m, f);
    if (f->cpp_type() != FD::CPPTYPE_MESSAGE || n == 0) {
      std::vector<std::string> items;
      for (int k = 0; k < n; ++k) items.push_back(Scalar(m, f, k, /*flow=*/true));
      absl::StrAppend(out, pad, f->name(), ": [", absl::StrJoin(items, ", "), "]\n");
      return;
    }
    absl::StrAppend(out, pad, f->name(), ":\n");
    const std::string item_pad(indent + 2, ' ');
    for (int k = 0; k < n; ++k) {
      std::string body;
      Body(r->GetRepeatedMessage(m, f, k), indent + 4, Unset::kSkip, &body);
      if (body.empty()) {
        absl::StrAppend(out, item_pad, "- {}\n");
      } else {
        // The first line of the body takes the dash: "  - a: 1\n    b: 2\n".
        absl::StrAppend(out, item_pad, "- ", absl::string_view(body).substr(indent + 4));
      }
    }
  }

  // A YAML mapping from the keys to the values, in key order.
  void MapField(const pb::Message& m, const FD* f, int indent, std::string* out) {
    const pb::Reflection* r = m.GetReflection();
    const std::string pad(indent, ' ');
    const int n = r->FieldSize(m, f);
    if (n == 0) {
      absl::StrAppend(out, pad, f->name(), ": {}\n");
      return;
    }
    std::vector<const pb::Message*> entries;
    for (int k = 0; k < n; ++k) entries.push_back(&r->GetRepeatedMessage(m, f, k));
    std::stable_sort(entries.begin(), entries.end(), KeyLess);
    const FD* key = f->message_type()->map_key();
    const FD* value = f->message_type()->map_value();
    const std::string entry_pad(indent + 2, ' ');
    absl::StrAppend(out, pad, f->name(), ":\n");
    for (const pb::Message* entry : entries) {
      const std::string key_text = Scalar(*entry, key, -1, /*flow=*/false);
      if (value->cpp_type() == FD::CPPTYPE_MESSAGE) {
        Section(entry_pad, key_text, entry->GetReflection()->GetMessage(*entry, value), indent + 2,
                Unset::kSkip, out);
      } else {
        absl::StrAppend(out, entry_pad, key_text, ": ", Scalar(*entry, value, -1, false), "\n");
      }
    }
  }

  std::vector<const pb::Descriptor*> stack_;  // the messages being printed, for recursion
};

}  // namespace

bool IsSecretField(std::string_view field_name) {
  const std::string name =
      absl::AsciiStrToLower(absl::string_view(field_name.data(), field_name.size()));
  for (absl::string_view secret : {"api_key", "app_key", "token", "password", "secret"}) {
    if (absl::EndsWith(name, secret)) return true;
  }
  return false;
}

std::string RenderMessageYaml(const pb::Message& message) {
  std::string out;
  Printer().Body(message, 0, Printer::Unset::kComment, &out);
  return out;
}

std::string RenderConfigYaml(const Config& config) { return RenderMessageYaml(config); }

}  // namespace llmobs_edge::config
