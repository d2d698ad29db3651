// The YAML reader's scalars: YAML 1.2 core schema spellings of integers, floats, booleans and enum
// names, range-checked and set into a protobuf field of the matching type, plus what each field
// type accepts (for error messages). Used by the document walker in yaml.cc (yaml_internal.h).

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "plugin/host/config/yaml_internal.h"

namespace llmobs_edge::config::yaml_internal {
namespace {

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

}  // namespace

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

}  // namespace llmobs_edge::config::yaml_internal
