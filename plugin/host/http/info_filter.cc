#include "plugin/host/http/info_filter.h"

#include <cstddef>
#include <utility>

namespace llmobs_edge::http {
namespace {

// A forward-only scanner over JSON text: just enough to find the top-level keys and the byte
// ranges of values, never recursing (nesting is tracked with a counter).
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  // A string token including its quotes.
  bool String(std::string_view* token) {
    SkipSpace();
    if (peek() != '"') return false;
    const size_t begin = pos_++;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ >= s_.size()) return false;
        ++pos_;
      } else if (c == '"') {
        *token = s_.substr(begin, pos_ - begin);
        return true;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
    }
    return false;
  }
  // Any value; its token range.
  bool Value(std::string_view* token) {
    SkipSpace();
    const size_t begin = pos_;
    const char c = peek();
    if (c == '"') return String(token);
    if (c == '{' || c == '[') {
      int depth = 0;
      while (pos_ < s_.size()) {
        const char d = s_[pos_];
        if (d == '"') {
          std::string_view ignored;
          if (!String(&ignored)) return false;
          continue;
        }
        ++pos_;
        if (d == '{' || d == '[') {
          ++depth;
        } else if (d == '}' || d == ']') {
          if (--depth == 0) {
            *token = s_.substr(begin, pos_ - begin);
            return true;
          }
        }
      }
      return false;
    }
    // number, true, false, null
    while (pos_ < s_.size()) {
      const char d = s_[pos_];
      if (d == ',' || d == '}' || d == ']' || d == ' ' || d == '\t' || d == '\n' || d == '\r') {
        break;
      }
      ++pos_;
    }
    if (pos_ == begin) return false;
    *token = s_.substr(begin, pos_ - begin);
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

bool IsHidden(std::string_view quoted) {
  if (quoted.size() < 2) return false;
  const std::string_view v = quoted.substr(1, quoted.size() - 2);
  for (std::string_view h : HiddenInfoEndpoints()) {
    if (v == h) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string_view>& HiddenInfoEndpoints() {
  static const std::vector<std::string_view> kHidden = {"/v0.7/traces", "/v1.0/traces"};
  return kHidden;
}

bool FilterInfoEndpoints(std::string_view body, std::string* out) {
  Scanner sc(body);
  if (!sc.Consume('{')) return false;
  sc.SkipSpace();
  if (sc.peek() == '}') return false;
  for (;;) {
    std::string_view key;
    if (!sc.String(&key) || !sc.Consume(':')) return false;
    sc.SkipSpace();
    if (key == "\"endpoints\"" && sc.peek() == '[') {
      const size_t open = sc.pos();
      sc.Consume('[');
      // Elements and the separator text before each (for the first: the text after '[').
      struct Element {
        size_t sep_begin;
        size_t begin;
        size_t end;
        bool hidden;
      };
      std::vector<Element> elements;
      size_t sep_begin = open + 1;
      sc.SkipSpace();
      if (sc.peek() != ']') {
        for (;;) {
          sc.SkipSpace();
          const size_t begin = sc.pos();
          std::string_view token;
          if (!sc.Value(&token)) return false;
          elements.push_back({sep_begin, begin, sc.pos(), token.front() == '"' && IsHidden(token)});
          sep_begin = sc.pos();
          if (sc.Consume(',')) continue;
          break;
        }
      }
      const size_t tail_begin = sep_begin;  // whitespace before ']'
      if (!sc.Consume(']')) return false;
      const size_t close = sc.pos() - 1;
      bool any_hidden = false;
      for (const Element& e : elements) any_hidden |= e.hidden;
      if (!any_hidden) return false;
      // The rest of the document must still be a well-formed object for us to edit it.
      {
        Scanner rest(body.substr(sc.pos()));
        for (;;) {
          if (rest.Consume('}')) break;
          std::string_view k, v;
          if (!rest.Consume(',') || !rest.String(&k) || !rest.Consume(':') || !rest.Value(&v)) {
            return false;
          }
        }
        rest.SkipSpace();
        if (!rest.at_end()) return false;
      }
      out->clear();
      out->reserve(body.size());
      out->append(body.substr(0, open + 1));
      bool first = true;
      for (const Element& e : elements) {
        if (e.hidden) continue;
        if (first) {
          // The first kept element takes the original first element's leading whitespace.
          out->append(body.substr(elements.front().sep_begin,
                                  elements.front().begin - elements.front().sep_begin));
          first = false;
        } else {
          out->append(body.substr(e.sep_begin, e.begin - e.sep_begin));
        }
        out->append(body.substr(e.begin, e.end - e.begin));
      }
      if (first) {
        // Everything was removed: keep the array empty, as compact as it was.
        out->append(body.substr(close, body.size() - close));
      } else {
        out->append(body.substr(tail_begin, body.size() - tail_begin));
      }
      return true;
    }
    std::string_view value;
    if (!sc.Value(&value)) return false;
    if (sc.Consume(',')) continue;
    return false;  // '}' reached without an endpoints array to edit
  }
}

}  // namespace llmobs_edge::http
