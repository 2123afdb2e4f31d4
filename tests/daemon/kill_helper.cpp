// flow_kill_helper: runs a fixed four-step workflow with SCRIPTED model replies,
// for the kill-and-resume test, which SIGKILLs it from outside. With
// FLOW_KILL_HELPER_GATED=1 each reply waits for one byte on stdin, so the test
// decides how many step runs can finish before it kills the process.
//   flow_kill_helper DB PLUGIN_DIR DOC          creates job 1 and runs it
//   flow_kill_helper DB PLUGIN_DIR DOC JOB_ID   resumes JOB_ID
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "flow/executor.h"
#include "flow/job.h"
#include "flow/workflow.h"
#include "scripted_model.h"

int main(int argc, char** argv) {
  using namespace ream;
  if (argc < 4) return 2;
  const char* yaml = R"(name: killme
inputs:
  doc: {type: document}
steps:
  - {id: a, plugin: testkit, with: {findings: 2}}
  - id: each
    plugin: testkit
    needs: a
    foreach: {items: [x, y, z]}
    with: {tag: "${{ item }}"}
  - {id: b, plugin: testkit, needs: each, with: {findings: 3}}
  - {id: c, plugin: testkit, needs: b}
outputs:
  tags: ${{ steps.each.outputs.tag }}
  last_reply: ${{ steps.c.outputs.reply }}
)";
  plugins::PluginHost host;
  host.load_dirs({argv[2]});
  auto store = store::Store::open(argv[1]);
  if (!store.ok()) return 3;
  const bool gated = std::getenv("FLOW_KILL_HELPER_GATED") != nullptr;
  std::mutex gate;
  test::ScriptedModelClient model([&](const flow::ModelRequest&, int i) {
    if (gated) {  // one byte from the test per reply; EOF ends the gate
      std::lock_guard lock(gate);
      char c;
      (void)!read(0, &c, 1);
    }
    return test::ScriptedReply{"reply " + std::to_string(i)};
  });
  int64_t job = argc > 4 ? std::atoll(argv[4]) : 0;
  if (job == 0) {
    auto wf = flow::parse_workflow(yaml, "killme.yaml", flow::catalog_of(host));
    if (!wf.ok()) {
      std::fprintf(stderr, "%s\n", wf.status().message().c_str());
      return 4;
    }
    auto id = flow::create_job(**store, *wf, {{{"doc", argv[3]}}, 0, ""}, &model);
    if (!id.ok()) return 5;
    job = *id;
  }
  flow::RunOptions opt;
  opt.max_parallel = 2;
  flow::Executor ex(**store, host, model);
  auto out = ex.run(job, opt);
  if (!out.ok()) {
    std::fprintf(stderr, "%s\n", out.status().message().c_str());
    return 6;
  }
  return out->status == "succeeded" ? 0 : 1;
}
