#include "tests/bench/machine_stats.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>

namespace llmobs_edge::bench {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FirstLineWith(const std::string& path, const std::string& prefix) {
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string LoadAverage() {
  std::string s = ReadFile("/proc/loadavg");
  const size_t cut = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);
  return cut == std::string::npos ? s : s.substr(0, cut);
}

MachineTicks ReadMachineTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t v[8] = {};  // user nice system idle iowait irq softirq steal
  in >> cpu;
  for (uint64_t& x : v) in >> x;
  MachineTicks t;
  for (uint64_t x : v) t.all += x;
  t.busy = t.all - v[3] - v[4];
  t.iowait = v[4];
  t.steal = v[7];
  return t;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void PrintReportHeader(std::ostream& out, const std::string& title, bool quick) {
  utsname uts{};
  uname(&uts);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  out << "# llmobs-edge " << title << (quick ? " (--quick: smoke run only)" : "") << "\n\n";
  out << "- date: " << date << "\n";
  out << "- machine: " << sysconf(_SC_NPROCESSORS_ONLN) << " online CPUs (nproc), CPU `"
      << FirstLineWith("/proc/cpuinfo", "model name") << "`, kernel " << uts.sysname << " "
      << uts.release << "\n";
  out << "- build: "
#if defined(__OPTIMIZE__) && defined(NDEBUG)
      << "optimized build with NDEBUG (bazel -c opt)"
#elif defined(__OPTIMIZE__)
      << "optimized build WITHOUT NDEBUG"
#else
      << "UNOPTIMIZED build: run with `bazel run -c opt`"
#endif
      << "\n";
}

}  // namespace llmobs_edge::bench
