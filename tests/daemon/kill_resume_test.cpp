// Resume after a real process death at every step boundary, with SCRIPTED model
// replies (flow_kill_helper): the test lets N replies through, waits until the store
// shows N step runs committed and the next one running, and SIGKILLs the helper from
// here; a second process resumes the job; the rows must show every step run committed
// once and no finding written twice. The same with `ream run` and the real engine is
// in tests/plugins/cli_e2e_test.cpp.
//
// The one boundary a kill from outside cannot aim at (after the last step's commit,
// before the job's final state, two transactions a moment apart) is made on disk
// instead: a finished job's final-state transaction is taken back, which leaves the
// rows exactly as such a kill would, and a second process resumes the job.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "test_util.h"

namespace ream::flow {
namespace {

using test::exec_sql;
using test::query_one;

pid_t start_helper(const std::vector<std::string>& args, bool gated, int* gate_fd) {
  int fds[2] = {-1, -1};
  if (gated && pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    if (gated) {
      setenv("FLOW_KILL_HELPER_GATED", "1", 1);
      dup2(fds[0], 0);
      close(fds[0]);
      close(fds[1]);
    }
    std::vector<char*> argv;
    std::string exe = REAM_KILL_HELPER;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  if (gated) {
    close(fds[0]);
    *gate_fd = fds[1];
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// Runs the helper ungated to its end; returns the wait status.
int run_helper(const std::vector<std::string>& args) {
  return wait_status(start_helper(args, false, nullptr));
}

// Runs the helper gated, lets `replies` replies through, and SIGKILLs it once the store
// shows that many step runs committed and another one running. Returns the wait status.
int run_and_kill(const std::vector<std::string>& args, const std::string& db, int replies) {
  int gate = -1;
  pid_t pid = start_helper(args, true, &gate);
  if (pid <= 0) return -1;
  const std::string bytes(static_cast<size_t>(replies), 'r');
  EXPECT_EQ(write(gate, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    seen = query_one(db, "SELECT (SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded') = " +
                             std::to_string(replies) +
                             " AND EXISTS (SELECT 1 FROM step_runs WHERE status = 'running')") == "1";
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(seen) << "the store never showed " << replies << " runs committed and one running";
  kill(pid, SIGKILL);
  close(gate);
  return wait_status(pid);
}

TEST(KillResumeScriptedReplies, ResumesAtEveryStepBoundaryWithoutDuplicates) {
  // a (1 run, 2 findings), each (3 runs, 1 finding each), b (1 run, 3), c (1 run, 1):
  // six commits; a kill while the next run waits for its reply is possible after each
  // of the first five.
  const int kCommits = 6;
  for (int n = 1; n < kCommits; ++n) {
    SCOPED_TRACE("killed after commit " + std::to_string(n));
    test::TempDir dir;
    std::string db = dir.path("ream.db");
    std::string doc = dir.write("doc.txt", "Random document " + std::to_string(getpid() * 31 + n) + " with some text.");
    std::vector<std::string> args = {db, REAM_TEST_PLUGIN_DIR "/good", doc};
    int status = run_and_kill(args, db, n);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    EXPECT_EQ(query_one(db, "SELECT status FROM jobs WHERE id = 1"), "running");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), std::to_string(n));
    std::string findings_before = query_one(db, "SELECT COUNT(*) FROM findings");

    args.push_back("1");
    status = run_helper(args);
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

TEST(KillResumeScriptedReplies, AKillAfterTheLastCommitBeforeTheFinalStateFinishesWithoutRerunning) {
  test::TempDir dir;
  std::string db = dir.path("ream.db");
  std::string doc = dir.write("doc.txt", "Random document " + std::to_string(getpid()) + " with some text.");
  std::vector<std::string> args = {db, REAM_TEST_PLUGIN_DIR "/good", doc};
  int status = run_helper(args);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
  ASSERT_EQ(query_one(db, "SELECT status FROM jobs WHERE id = 1"), "succeeded");
  const std::string outputs = query_one(db, "SELECT outputs_json FROM jobs WHERE id = 1");
  ASSERT_NE(outputs, "{}");
  const std::string last_event = query_one(db, "SELECT MAX(id) FROM job_events");

  // The final state taken back: Store::finish_job's one transaction (status, outputs,
  // finish time, the lease, the job_succeeded event) undone; every step run stays
  // committed. This is what the disk holds when the process dies between the two.
  ASSERT_EQ(exec_sql(db, "BEGIN; UPDATE jobs SET status = 'running', outputs_json = '{}', "
                         "finished_at = 0, lease_owner = 'dead:1:1', lease_expires_at = 1 "
                         "WHERE id = 1; DELETE FROM job_events WHERE type = 'job_succeeded'; "
                         "COMMIT;"),
            "");
  ASSERT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), "6");

  args.push_back("1");
  status = run_helper(args);
  ASSERT_TRUE(WIFEXITED(status)) << "exit status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(query_one(db, "SELECT status FROM jobs WHERE id = 1"), "succeeded");
  // The outputs are computed again from the committed runs, the same as before (a step
  // run again would show its new reply: this process numbers its replies from 0).
  EXPECT_EQ(query_one(db, "SELECT outputs_json FROM jobs WHERE id = 1"), outputs);
  // No step ran again: no step event after the resume, every run still at attempt 1,
  // each with its own findings; the job ended once.
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM job_events WHERE id > " + last_event +
                              " AND type LIKE 'step_%'"),
            "0");
  EXPECT_EQ(query_one(db, "SELECT MAX(attempt) FROM step_runs"), "1");
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings"), "9");
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM job_events WHERE type = 'job_succeeded'"), "1");
}

}  // namespace
}  // namespace ream::flow
