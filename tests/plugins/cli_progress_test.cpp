// `ream run`'s progress display on a real terminal: the command runs under a
// pseudo-terminal (forkpty), with the real engine and a tiny random-weight model, and
// draws its bar in place (carriage return + erase line) with the prefill and token
// numbers, then ends with a plain line of the final numbers. The plain-file case (no
// control characters, the final line matching the store) is in cli_e2e_test.
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <string>

#include "test_util.h"

namespace ream {
namespace {

const std::string kRream = REAM_BINARY_DIR "/cli/ream";

// Runs `cmd` with sh on a new pseudo-terminal of 200 columns; returns all it wrote there.
std::string run_in_pty(const std::string& cmd, int* status) {
  winsize size{};
  size.ws_row = 40;
  size.ws_col = 200;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string out;
  if (pid < 0) return out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;  // EIO once the child's side is closed
  }
  close(master);
  int st = 0;
  waitpid(pid, &st, 0);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return out;
}

TEST(CliProgress, RunDrawsABarOnATerminalAndEndsWithTheFinalNumbers) {
  test::TempDir dir;
  const std::string model = dir.path("tiny");
  int status = -1;
  const std::string made = run_in_pty(kRream + " init-model --shape tiny --out " + model, &status);
  ASSERT_EQ(status, 0) << made;
  std::string text;
  for (int i = 0; i < 900; ++i) text += i % 11 == 10 ? "notice.\n" : "the party shall pay ";
  const std::string doc = dir.write("memo.md", text);
  const std::string out = run_in_pty(kRream + " run summarize --model " + model + " --doc " + doc +
                                         " --input max_tokens=8 --input max_words=10 --db " + dir.path("r.db") +
                                         " --format json > " + dir.path("out.json"),
                                     &status);
  ASSERT_EQ(status, 0) << out;
  // The bar: redrawn in place, a prefill share or replies count, then the numbers.
  const std::regex bar("\r\033\\[K(prefill +\\d+%|replies \\d+/\\d+) \\[[#.]{20}\\] [\\d,]+/[\\d,]+ prompt tok .* ETA ");
  EXPECT_TRUE(std::regex_search(out, bar)) << out;
  // Event lines go above the bar, whole.
  EXPECT_NE(out.find("\r\033[Kream: step summarize"), std::string::npos) << out;
  // The last line: the final numbers, every prompt token prefilled, after erasing the bar.
  std::smatch m;
  const std::regex last("\r\033\\[Kream: progress: done in [\\dhms]+ \\| ([\\d,]+)/([\\d,]+) prompt tok .* \\| "
                        "prompts (\\d+)/(\\d+) ");
  ASSERT_TRUE(std::regex_search(out, m, last)) << out;
  EXPECT_EQ(m[1], m[2]);
  EXPECT_NE(m[1], "0");
  EXPECT_EQ(m[3], m[4]);
}

}  // namespace
}  // namespace ream
