// Where ream looks for plugins and workflows by default.
#pragma once

#include <string>
#include <vector>

#include "ream/engine/status.h"

namespace ream::flow {

// $REAM_PLUGIN_PATH (colon-separated) if set; else the build tree's plugins folder
// next to the running binary's build, and the install prefix's lib/ream/plugins.
std::vector<std::string> default_plugin_dirs();
// $REAM_WORKFLOW_PATH if set; else the source tree's workflows/ and share/ream/workflows.
std::vector<std::string> default_workflow_dirs();
// A path to an existing file is returned as is; a name ("long_qa") is looked up as
// NAME.yaml in the workflow dirs.
Result<std::string> resolve_workflow(const std::string& name_or_path,
                                     const std::vector<std::string>& dirs);
// The names resolve_workflow() finds in `dirs` (NAME of every NAME.yaml), sorted,
// each once; folders that do not exist are skipped.
std::vector<std::string> workflow_names(const std::vector<std::string>& dirs);

}  // namespace ream::flow
