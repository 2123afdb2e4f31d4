// Resume after a real process death at every step boundary, with SCRIPTED model
// replies (flow_kill_helper): the helper process SIGKILLs itself after its Nth
// commit; a second process resumes the job; the rows must show every step run
// committed once and no finding written twice. The same with `ream run` and the
// real engine is in tests/plugins/cli_e2e_test.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

namespace ream::flow {
namespace {

using test::query_one;

// Runs the helper; returns the wait status.
int run_helper(const std::vector<std::string>& args, int kill_after) {
  pid_t pid = fork();
  if (pid == 0) {
    if (kill_after > 0) setenv("REAM_TEST_KILL_AFTER_STEP", std::to_string(kill_after).c_str(), 1);
    std::vector<char*> argv;
    std::string exe = REAM_KILL_HELPER;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(KillResumeScriptedReplies, ResumesAtEveryStepBoundaryWithoutDuplicates) {
  // a (1 run, 2 findings), each (3 runs, 1 finding each), b (1 run, 3), c (1 run, 1):
  // six commits, so boundaries 1..6.
  const int kCommits = 6;
  for (int n = 1; n <= kCommits; ++n) {
    SCOPED_TRACE("killed after commit " + std::to_string(n));
    test::TempDir dir;
    std::string db = dir.path("ream.db");
    std::string doc = dir.write("doc.txt", "Random document " + std::to_string(getpid() * 31 + n) + " with some text.");
    std::vector<std::string> args = {db, REAM_TEST_PLUGIN_DIR "/good", doc};
    int status = run_helper(args, n);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    EXPECT_EQ(query_one(db, "SELECT status FROM jobs WHERE id = 1"), "running");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), std::to_string(n));
    std::string findings_before = query_one(db, "SELECT COUNT(*) FROM findings");

    args.push_back("1");
    status = run_helper(args, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_EQ(query_one(db, "SELECT status FROM jobs WHERE id = 1"), "succeeded");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), std::to_string(kCommits));
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings"), "9");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM (SELECT step_run_id, seq FROM findings GROUP BY 1, 2 "
                            "HAVING COUNT(*) > 1)"),
              "0");
    // Runs committed before the kill were not run again: every succeeded run that
    // existed then still has attempt 1, and each run has exactly its own findings.
    EXPECT_EQ(query_one(db, "SELECT group_concat(step_id || ':' || n, ',') FROM (SELECT s.step_id, s.iteration, "
                            "COUNT(f.id) AS n FROM step_runs s LEFT JOIN findings f ON f.step_run_id = s.id "
                            "GROUP BY s.id ORDER BY s.step_id, s.iteration)"),
              "a:2,b:3,c:1,each:1,each:1,each:1");
    EXPECT_GE(std::stoi(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE attempt = 1")), n);
    EXPECT_LE(std::stoi(query_one(db, "SELECT MAX(attempt) FROM step_runs")), 2);
    EXPECT_GE(std::stoi(findings_before), 2);
  }
}

}  // namespace
}  // namespace ream::flow
