// The agentless transport: libcurl's easy interface, one handle kept for connection reuse.

#include "plugin/host/intake/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace llmobs_edge::plugin::intake {
namespace {

// curl_global_init is not thread-safe and must run once per process, before any handle exists.
// curl_global_cleanup is deliberately never called: a sender thread may still be inside a request
// while the process exits, and cleaning up under it would crash the exit. The process's end
// releases everything; LeakSanitizer reports nothing for it (OpenSSL 3 frees its own state at
// exit; checked with --config=asan, see docs/intake.md).
CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return code;
}

// The intake answers with a small JSON object; keep its beginning for the error text only.
size_t KeepHead(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  constexpr size_t kMax = 512;
  if (out->size() < kMax) out->append(data, std::min(n, kMax - out->size()));
  return n;
}

class CurlTransport final : public IntakeTransport {
 public:
  CurlTransport(std::string url, std::string api_key, std::chrono::milliseconds timeout)
      : url_(std::move(url)), timeout_(timeout) {
    init_ = GlobalInit();
    if (init_ != CURLE_OK) return;
    handle_ = curl_easy_init();
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, absl::StrCat("DD-API-KEY: ", api_key).c_str());
    // libcurl sends "Expect: 100-continue" before bodies over 1 KiB and waits up to a second for
    // the interim answer; the intake does not need it.
    headers_ = curl_slist_append(headers_, "Expect:");
  }

  ~CurlTransport() override {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
    curl_slist_free_all(headers_);
  }

  IntakeResponse Post(const std::string& body) override {
    std::lock_guard<std::mutex> lock(mu_);
    IntakeResponse out;
    if (init_ != CURLE_OK) {
      out.error = absl::StrCat("curl_global_init failed: ", curl_easy_strerror(init_));
      return out;
    }
    if (handle_ == nullptr || headers_ == nullptr) {
      out.error = "curl_easy_init failed";
      return out;
    }
    CURL* c = handle_;
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string answer;
    // Options are set again on every request (cheap); the handle keeps its connection cache.
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "llmobs-edge");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &KeepHead);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);  // errbuf goes out of scope
    if (rc != CURLE_OK) {
      out.error = absl::StrCat(url_, ": ", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
      return out;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    out.status = static_cast<int>(status);
    if (status < 200 || status >= 300) out.error = answer;  // the intake's reason, for logs
    return out;
  }

  std::string_view name() const override { return "agentless"; }

 private:
  const std::string url_;
  const std::chrono::milliseconds timeout_;
  CURLcode init_ = CURLE_OK;
  CURL* handle_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::mutex mu_;
};

}  // namespace

std::string AgentlessUrl(const std::string& site) {
  return "https://llmobs-intake." + site + "/api/v2/llmobs";
}

std::unique_ptr<IntakeTransport> NewCurlTransport(std::string url, std::string api_key,
                                                  std::chrono::milliseconds timeout) {
  return std::make_unique<CurlTransport>(std::move(url), std::move(api_key), timeout);
}

}  // namespace llmobs_edge::plugin::intake
