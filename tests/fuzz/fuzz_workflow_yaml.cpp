// Workflow YAML: a workflow file as reamd's catalog loads it (api/catalog.cpp).
//
// Each input is the text of a workflow file in the shipped workflows' folder (so a relative
// reply_schema resolves as theirs do), parsed and validated against the shipped plugins'
// manifests (built into the build's plugins/ folder), then its `schedule:` read as the
// catalog reads it, and its inputs checked with none given (defaults applied, the required
// ones named). A refusal is fine; an escaping exception, a crash or unbounded memory is not.
#include "cron/scheduler.h"
#include "flow/job.h"
#include "flow/workflow.h"
#include "fuzz_util.h"
#include "plugins/plugin_host.h"

namespace {

using namespace ream;

const flow::PluginCatalog& catalog() {
  static const flow::PluginCatalog* cat = [] {
    fuzz::quiet_logs();
    auto* host = new plugins::PluginHost();
    host->load_dirs({REAM_BUILD_PLUGIN_DIR});
    fuzz::check(host->plugins().size() >= 5, "the shipped plugins are not built in " REAM_BUILD_PLUGIN_DIR);
    return new flow::PluginCatalog(flow::catalog_of(*host));
  }();
  return *cat;
}

}  // namespace

// The slow set-up (loading the tokenizer, a catalog, an App, a server) happens here, before
// libFuzzer starts timing inputs.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)catalog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(fuzz::bytes(data, size));
  auto wf = flow::parse_workflow(source, REAM_SOURCE_DIR "/workflows/fuzz.yaml", catalog());
  if (!wf.ok()) {
    fuzz::check(!wf.status().message().empty(), "a refusal without a message");
    return 0;
  }
  fuzz::check(wf->order.size() == wf->steps.size(), "the step order does not hold every step once");
  (void)cron::parse_schedules(wf->name, wf->schedule, "/usr/share/zoneinfo");
  (void)flow::check_inputs(wf.value(), nlohmann::json::object());
  return 0;
}
