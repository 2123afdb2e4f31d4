// The `ream` subcommands. Each takes the arguments after its name and returns the
// process exit status (0 ok, 1 runtime error, 2 usage error); errors go to stderr.
#pragma once

#include <string>
#include <vector>

namespace ream::cli {

using Args = std::vector<std::string>;

// Each command's usage text, as its `--help` prints it; `ream --help` prints them all.
std::string usage_tokenize();
std::string usage_generate();
std::string usage_init_model();
std::string usage_run();     // names the workflows found in the workflow folders
std::string usage_plugin();

int cmd_tokenize(const Args& args);
int cmd_generate(const Args& args);
int cmd_init_model(const Args& args);
int cmd_run(const Args& args);     // cli/cmd_run.cpp: run a workflow locally
int cmd_plugin(const Args& args);  // cli/cmd_plugin.cpp: `ream plugin check PATH`

}  // namespace ream::cli
