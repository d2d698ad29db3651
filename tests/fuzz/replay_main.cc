// main() for the Bazel replay tests of tests/fuzz (built with gcc, no libFuzzer): feeds every file
// of the directories (or files) given as arguments, or listed colon-separated in
// $FUZZ_REPLAY_DIRS, to LLVMFuzzerTestOneInput, once each, in name order. A failed check in the
// target aborts the process, which fails the test. Fails too when no input was found, so an empty
// glob cannot make the test pass vacuously. Dot files and README* are not inputs.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool IsInput(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] != '.' && name.rfind("README", 0) != 0;
}

void Collect(const fs::path& root, std::vector<fs::path>* out) {
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    out->push_back(root);
    return;
  }
  if (!fs::is_directory(root, ec)) {
    std::fprintf(stderr, "replay: %s: not a file or directory\n", root.c_str());
    return;
  }
  for (fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink,
                                           ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (fs::is_regular_file(it->path(), ec) && IsInput(it->path())) out->push_back(it->path());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> roots(argv + 1, argv + argc);
  if (const char* env = std::getenv("FUZZ_REPLAY_DIRS"); env != nullptr) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      const size_t colon = std::min(list.find(':', start), list.size());
      if (colon > start) roots.push_back(list.substr(start, colon - start));
      start = colon + 1;
    }
  }
  std::vector<fs::path> files;
  for (const std::string& r : roots) Collect(r, &files);
  std::sort(files.begin(), files.end());

  size_t bytes = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
      return 1;
    }
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // A copy in its own allocation, exactly `size` bytes, as libFuzzer passes it.
    auto* copy = static_cast<uint8_t*>(std::malloc(data.size() ? data.size() : 1));
    std::copy(data.begin(), data.end(), copy);
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", f.c_str(), data.size());
    LLVMFuzzerTestOneInput(copy, data.size());
    std::free(copy);
    bytes += data.size();
  }
  std::printf("replay: ran %zu inputs (%zu bytes) from %zu roots\n", files.size(), bytes,
              roots.size());
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs found; give corpus directories as arguments\n");
    return 1;
  }
  return 0;
}
