// The msgpack-c and Python peers of peers.h. msgpack-c is header-only (msgpack-cxx, API v3);
// the Python peer is tests/bench/python_peer.py run by Debian's /usr/bin/python3, which prints
// one JSON document with its timings.

#include "tests/bench/peers.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "msgpack.hpp"
#include "nlohmann/json.hpp"

namespace llmobs_edge::bench {
namespace {

bool CopyEverything(msgpack::type::object_type, std::size_t, void*) { return false; }
bool ReferenceEverything(msgpack::type::object_type, std::size_t, void*) { return true; }

// Visits every object of the tree: sums string / bin sizes, integer bits and container sizes, so
// every node is read once (bin bodies are not parsed: a generic unpacker cannot know that the
// meta_struct values are msgpack documents, and our reader does not parse them either).
uint64_t Walk(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::STR:
      return o.via.str.size;
    case msgpack::type::BIN:
      return o.via.bin.size;
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return o.via.u64 & 0xff;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return o.via.f64 > 0 ? 1 : 0;
    case msgpack::type::ARRAY: {
      uint64_t sum = o.via.array.size;
      for (uint32_t i = 0; i < o.via.array.size; ++i) sum += Walk(o.via.array.ptr[i]);
      return sum;
    }
    case msgpack::type::MAP: {
      uint64_t sum = o.via.map.size;
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        sum += Walk(o.via.map.ptr[i].key);
        sum += Walk(o.via.map.ptr[i].val);
      }
      return sum;
    }
    default:
      return 1;
  }
}

}  // namespace

struct MsgpackCPeer::State {
  explicit State(size_t chunk) : zone(chunk) {}
  msgpack::zone zone;
  msgpack::sbuffer sbuf{1 << 20};
};

MsgpackCPeer::MsgpackCPeer(size_t max_payload_bytes)
    // One chunk big enough for the whole tree (about 48 bytes per map pair, plus copied strings):
    // zone::clear keeps the first chunk, so steady-state unpacking never calls malloc.
    : state_(std::make_unique<State>(8 * max_payload_bytes + (1 << 20))) {}

MsgpackCPeer::~MsgpackCPeer() = default;

uint64_t MsgpackCPeer::UnpackCopyWalk(std::string_view payload) {
  state_->zone.clear();
  const msgpack::object obj =
      msgpack::unpack(state_->zone, payload.data(), payload.size(), CopyEverything, nullptr,
                      msgpack::unpack_limit());
  return Walk(obj);
}

uint64_t MsgpackCPeer::UnpackRefWalk(std::string_view payload) {
  state_->zone.clear();
  const msgpack::object obj =
      msgpack::unpack(state_->zone, payload.data(), payload.size(), ReferenceEverything, nullptr,
                      msgpack::unpack_limit());
  return Walk(obj);
}

uint64_t MsgpackCPeer::UnpackRefWalkPack(std::string_view payload) {
  state_->zone.clear();
  const msgpack::object obj =
      msgpack::unpack(state_->zone, payload.data(), payload.size(), ReferenceEverything, nullptr,
                      msgpack::unpack_limit());
  const uint64_t sum = Walk(obj);
  state_->sbuf.clear();
  msgpack::pack(state_->sbuf, obj);
  return sum + state_->sbuf.size();
}

PythonResults RunPythonPeer(const std::string& python, const std::string& script,
                            const std::vector<std::pair<std::string, std::string_view>>& files,
                            double run_seconds, int runs) {
  PythonResults r;
  char dir_template[] = "/tmp/llmobs-bench-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    r.error = "mkdtemp failed";
    return r;
  }
  std::vector<std::string> paths;
  std::string cmd = python + " " + script + " --run-seconds " + std::to_string(run_seconds) +
                    " --runs " + std::to_string(runs);
  for (const auto& [name, bytes] : files) {
    const std::string path = std::string(dir) + "/" + name + ".msgpack";
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
    paths.push_back(path);
    cmd += " '" + name + "=" + path + "'";
  }
  cmd += " 2>&1";

  std::string output;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output.append(buf, n);
    const int status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      r.error = "python peer failed: " + output;
    }
  } else {
    r.error = "popen failed";
  }
  for (const std::string& path : paths) std::remove(path.c_str());
  rmdir(dir);
  if (!r.error.empty()) return r;

  const nlohmann::json doc = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("results")) {
    r.error = "unparsable python peer output: " + output;
    return r;
  }
  r.version = doc.value("version", "");
  for (const auto& [name, res] : doc["results"].items()) {
    PythonFileResult f;
    f.unpack = {res["unpack"]["best"].get<double>(), res["unpack"]["median"].get<double>()};
    f.unpack_pack = {res["unpack_pack"]["best"].get<double>(),
                     res["unpack_pack"]["median"].get<double>()};
    r.files[name] = f;
  }
  r.ok = true;
  return r;
}

}  // namespace llmobs_edge::bench
