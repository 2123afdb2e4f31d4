// `ream`: the command-line entry point. Dispatches to the subcommands in commands.h.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "commands.h"

namespace {

void usage() {
  std::fputs(
      "usage: ream <command> [options]\n"
      "\n"
      "commands:\n"
      "  tokenize     --model DIR (--text T | --text-file F | --chat-file F) [--json]\n"
      "  generate     --model DIR (--prompt T | --prompt-ids 1,2,3 | --chat-file F) [--max-tokens N]\n"
      "               [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--seed S]\n"
      "               [--top-logprobs K] [--device cpu|cuda] [--json]\n"
      "  init-model   --shape tiny|qwen3-0.6b|qwen3-4b --out DIR [--seed S]\n"
      "  run          WORKFLOW --model DIR [--input k=v ...] [--doc PATH ...] [--db PATH]\n"
      "  plugin check PATH\n"
      "\n"
      "Run `ream <command> --help` for a command's options.\n",
      stderr);
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr so that --json output on stdout stays clean.
  spdlog::set_default_logger(spdlog::stderr_color_mt("ream"));
  if (const char* level = std::getenv("REAM_LOG_LEVEL")) spdlog::set_level(spdlog::level::from_str(level));
  else spdlog::set_level(spdlog::level::warn);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
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
  usage();
  return 2;
}
