#include "tests/integration/edge_binary.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace llmobs_edge::testing {
namespace {

constexpr const char* kRunfilesPath = "llmobs_edge/llmobs-edge";

}  // namespace

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string FindEdgeBinary(const std::string& argv0) {
  std::vector<std::string> roots;
  if (const char* d = std::getenv("RUNFILES_DIR")) roots.emplace_back(d);
  if (const char* d = std::getenv("TEST_SRCDIR")) roots.emplace_back(d);
  if (!argv0.empty()) roots.push_back(argv0 + ".runfiles");
  for (const std::string& root : roots) {
    const std::string p = root + "/" + kRunfilesPath;
    if (IsExecutableFile(p)) return p;
  }
  const std::string p = std::string("../") + kRunfilesPath;
  return IsExecutableFile(p) ? p : "";
}

uint16_t PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint16_t port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace llmobs_edge::testing
