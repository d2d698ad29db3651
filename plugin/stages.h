#pragma once
// The product's stages by name, for main() to build the configured chain from. Today none is
// registered (the chain is a pure pass-through); the rescue stage registers here as "rescue".

#include "plugin/chain.h"

namespace llmobs_edge::plugin {

const StageRegistry& ProductStages();

}  // namespace llmobs_edge::plugin
