#pragma once
// The peers our codec is compared with: msgpack-c (msgpack-cxx, the generic C++ unpacker that
// builds a tree of msgpack::object in a zone) and the Python msgpack C extension from Debian run
// as a subprocess. Each peer does the generic equivalent of one of our operations: unpack + walk
// for the scan, unpack + walk + pack for the scan + splice.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmobs_edge::bench {

// msgpack-c driven the way a tuned C++ service would: one zone per worker, sized so a payload's
// objects fit in its first chunk and reused (zone::clear) between payloads, and one sbuffer
// reused for packing. That is msgpack-c's best steady state, so our ratios are conservative.
class MsgpackCPeer {
 public:
  explicit MsgpackCPeer(size_t max_payload_bytes);
  ~MsgpackCPeer();

  // msgpack::unpack with a reference function that returns false: every str / bin body is
  // copied into the zone. Then a recursive walk over every object. Returns a checksum.
  uint64_t UnpackCopyWalk(std::string_view payload);
  // The same with zero-copy: str / bin objects point into `payload`.
  uint64_t UnpackRefWalk(std::string_view payload);
  // Zero-copy unpack + walk, then msgpack::pack of the whole tree into the reused sbuffer.
  // Returns the packed size.
  uint64_t UnpackRefWalkPack(std::string_view payload);

 private:
  struct State;  // the zone and the sbuffer (keeps msgpack.hpp out of this header)
  std::unique_ptr<State> state_;
};

// Timings from the Python peer, in seconds per call.
struct PythonTiming {
  double best = 0;
  double median = 0;
};
struct PythonFileResult {
  PythonTiming unpack;       // msgpack.unpackb(b, raw=True, strict_map_key=False)
  PythonTiming unpack_pack;  // the same + msgpack.packb(obj, use_bin_type=True)
};
struct PythonResults {
  bool ok = false;
  std::string error;                              // why ok is false
  std::string version;                            // "Python 3.11.2, msgpack 1.0.3 (C extension)"
  std::map<std::string, PythonFileResult> files;  // by corpus file name
};

// Writes each (name, bytes) to a temp file, runs `python` on `script` over them, parses its JSON.
PythonResults RunPythonPeer(const std::string& python, const std::string& script,
                            const std::vector<std::pair<std::string, std::string_view>>& files,
                            double run_seconds, int runs);

}  // namespace llmobs_edge::bench
