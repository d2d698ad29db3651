#pragma once
// The product's stages by name, for the service to build the configured chain from: "rescue"
// (rescue/rescue_stage.h), which needs the ledger in StageDeps.

#include "plugin/chain.h"

namespace llmobs_edge::plugin {

const StageRegistry& ProductStages();

}  // namespace llmobs_edge::plugin
