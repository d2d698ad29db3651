#include "plugin/stages.h"

namespace llmobs_edge::plugin {

const StageRegistry& ProductStages() {
  static const StageRegistry* registry = [] {
    auto* r = new StageRegistry();
    return r;
  }();
  return *registry;
}

}  // namespace llmobs_edge::plugin
