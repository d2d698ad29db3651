#include "plugin/host/http/headers.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace llmobs_edge::http {
namespace beast = boost::beast;
namespace h = boost::beast::http;

namespace {

bool IsStaticHopByHop(std::string_view name) {
  static constexpr std::string_view kHop[] = {
      "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",    "transfer-encoding", "upgrade"};
  for (std::string_view h : kHop) {
    if (absl::EqualsIgnoreCase(absl::string_view(h.data(), h.size()),
                               absl::string_view(name.data(), name.size()))) {
      return true;
    }
  }
  return false;
}

bool NamedByConnection(const h::fields& message, std::string_view name) {
  for (auto it = message.find(h::field::connection); it != message.end() &&
                                                     it->name() == h::field::connection;
       ++it) {
    const beast::string_view v = it->value();
    for (absl::string_view token :
         absl::StrSplit(absl::string_view(v.data(), v.size()), ',', absl::SkipWhitespace())) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(token),
                                 absl::string_view(name.data(), name.size()))) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool IsHopByHop(const h::fields& message, std::string_view name) {
  return IsStaticHopByHop(name) || NamedByConnection(message, name);
}

void CopyEndToEndHeaders(const h::fields& from, h::fields* to, bool drop_content_length) {
  const bool has_connection = from.find(h::field::connection) != from.end();
  for (const auto& f : from) {
    const beast::string_view n = f.name_string();
    const std::string_view name(n.data(), n.size());
    if (IsStaticHopByHop(name) || f.name() == h::field::expect) continue;
    if (drop_content_length && f.name() == h::field::content_length) continue;
    if (has_connection && NamedByConnection(from, name)) continue;
    if (f.name() == h::field::unknown) {
      to->insert(n, f.value());
    } else {
      to->insert(f.name(), n, f.value());
    }
  }
}

void StripHopByHop(h::fields* message) {
  std::vector<std::string> named;
  for (auto it = message->find(h::field::connection);
       it != message->end() && it->name() == h::field::connection; ++it) {
    const beast::string_view v = it->value();
    for (absl::string_view token :
         absl::StrSplit(absl::string_view(v.data(), v.size()), ',', absl::SkipWhitespace())) {
      named.emplace_back(absl::StripAsciiWhitespace(token));
    }
  }
  for (const std::string& n : named) {
    if (!absl::EqualsIgnoreCase(n, "transfer-encoding") && !absl::EqualsIgnoreCase(n, "content-length")) {
      message->erase(boost::beast::string_view(n.data(), n.size()));
    }
  }
  for (h::field f : {h::field::connection, h::field::keep_alive, h::field::proxy_connection,
                     h::field::proxy_authenticate, h::field::proxy_authorization, h::field::te,
                     h::field::trailer, h::field::upgrade, h::field::expect}) {
    message->erase(f);
  }
}

}  // namespace llmobs_edge::http
