// load_catalog: plugins, workflows and their schedules, as one snapshot.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "api/app.h"
#include "flow/paths.h"
#include "store/store.h"

namespace ream::api {

namespace fs = std::filesystem;

namespace {

// The configured workflow folders (config `workflows`, --workflows, REAM_WORKFLOW_PATH),
// all of them; without any, the first built-in folder that exists (next to the
// binary, the source tree, the install prefix), since those are alternatives holding
// the same shipped workflows, and reading two would declare each name twice.
std::vector<std::string> workflow_dirs_of(const config::Config& config) {
  if (!config.workflow_dirs.empty()) return config.workflow_dirs;
  std::vector<std::string> dirs = flow::default_workflow_dirs();
  if (std::getenv("REAM_WORKFLOW_PATH")) return dirs;
  for (const std::string& d : dirs) {
    std::error_code ec;
    if (fs::is_directory(d, ec)) return {d};
  }
  return {};
}

}  // namespace

std::shared_ptr<const Catalog> load_catalog(const config::Config& config) {
  auto cat = std::make_shared<Catalog>();
  cat->loaded_at_ms = store::now_ms();
  cat->plugins = std::make_shared<plugins::PluginHost>();
  auto plugin_dirs = config.plugin_dirs.empty() ? flow::default_plugin_dirs() : config.plugin_dirs;
  cat->plugins->load_dirs(plugin_dirs);
  for (const auto& e : cat->plugins->errors()) {
    spdlog::error("plugin {}: {}", e.path, e.message);
    cat->errors.emplace_back(e.path, e.message);
  }
  auto plugin_catalog = flow::catalog_of(*cat->plugins);
  std::vector<std::string> seen_dirs;  // canonical: one folder named twice is read once
  for (const std::string& dir : workflow_dirs_of(config)) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    const std::string canonical = fs::canonical(dir, ec).string();
    if (std::find(seen_dirs.begin(), seen_dirs.end(), canonical) != seen_dirs.end()) continue;
    seen_dirs.push_back(canonical);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto wf = flow::load_workflow(f.string(), plugin_catalog);
      if (!wf.ok()) {
        spdlog::error("workflow {}: {}", f.string(), wf.status().message());
        cat->errors.emplace_back(f.string(), wf.status().message());
        continue;
      }
      const std::string name = wf->name;
      if (cat->workflows.count(name)) {
        std::string msg = "workflow '" + name + "' is defined twice, in " + cat->workflows[name]->path +
                          " and in " + f.string() + " (names must be unique across workflow_dirs; "
                          "rename or remove one)";
        spdlog::error("workflow {}: {}", f.string(), msg);
        cat->errors.emplace_back(f.string(), msg);
        cat->conflicts.push_back(msg);
        continue;
      }
      auto schedules = cron::parse_schedules(name, wf->schedule, config.zoneinfo_dir);
      if (!schedules.ok()) {
        spdlog::error("workflow {}: {}", f.string(), schedules.status().message());
        cat->errors.emplace_back(f.string(), schedules.status().message());
      } else {
        for (auto& s : schedules.value()) {
          s.file = f.string();
          cat->schedules.push_back(std::move(s));
        }
      }
      cat->workflows[name] = std::make_shared<const flow::Workflow>(std::move(wf).value());
    }
  }
  spdlog::info("catalog: {} plugins, {} workflows, {} schedules, {} errors",
               cat->plugins->plugins().size(), cat->workflows.size(), cat->schedules.size(),
               cat->errors.size());
  return cat;
}

}  // namespace ream::api
