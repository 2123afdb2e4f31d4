// `ream`: the command-line entry point. Dispatches to the subcommands in commands.h.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "commands.h"

namespace {

// The whole usage: every command with all its options (each command's own --help text).
void usage(FILE* to) {
  std::string text = "usage: ream <command> [options]\n\n";
  for (const std::string& u : {ream::cli::usage_tokenize(), ream::cli::usage_generate(), ream::cli::usage_init_model()
#ifndef REAM_CLI_WITHOUT_WORKFLOWS
                               , ream::cli::usage_run(), ream::cli::usage_plugin()
#endif
       }) {
    text += u + "\n";
  }
  text += "`ream <command> --help` prints one command's usage.\n";
  std::fputs(text.c_str(), to);
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr so that --json output on stdout stays clean.
  spdlog::set_default_logger(spdlog::stderr_color_mt("ream"));
  if (const char* level = std::getenv("REAM_LOG_LEVEL")) spdlog::set_level(spdlog::level::from_str(level));
  else spdlog::set_level(spdlog::level::warn);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);  // asked for: stdout, exit 0; no command: stderr, exit 2
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  ream::cli::Args args(argv + 2, argv + argc);
  if (cmd == "tokenize") return ream::cli::cmd_tokenize(args);
  if (cmd == "generate") return ream::cli::cmd_generate(args);
  if (cmd == "init-model") return ream::cli::cmd_init_model(args);
#ifndef REAM_CLI_WITHOUT_WORKFLOWS
  if (cmd == "run") return ream::cli::cmd_run(args);
  if (cmd == "plugin") return ream::cli::cmd_plugin(args);
#else
  if (cmd == "run" || cmd == "plugin") {
    std::fprintf(stderr, "ream: this build has no workflow libraries (configured with REAM_BUILD_DAEMON=OFF)\n");
    return 1;
  }
#endif
  std::fprintf(stderr, "ream: unknown command '%s'\n", cmd.c_str());
  usage(stderr);
  return 2;
}
