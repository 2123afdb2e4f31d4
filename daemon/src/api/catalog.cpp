// load_catalog: plugins, workflows and their schedules, as one snapshot.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "api/app.h"
#include "flow/paths.h"
#include "store/store.h"

namespace ream::api {

namespace fs = std::filesystem;

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
  auto workflow_dirs =
      config.workflow_dirs.empty() ? flow::default_workflow_dirs() : config.workflow_dirs;
  auto plugin_catalog = flow::catalog_of(*cat->plugins);
  for (const std::string& dir : workflow_dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
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
        std::string msg = "workflow '" + name + "' is already defined by " +
                          cat->workflows[name]->path + "; this file is ignored";
        spdlog::warn("workflow {}: {}", f.string(), msg);
        cat->errors.emplace_back(f.string(), msg);
        continue;
      }
      auto schedules = cron::parse_schedules(name, wf->schedule, config.zoneinfo_dir);
      if (!schedules.ok()) {
        spdlog::error("workflow {}: {}", f.string(), schedules.status().message());
        cat->errors.emplace_back(f.string(), schedules.status().message());
      } else {
        for (auto& s : schedules.value()) cat->schedules.push_back(std::move(s));
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
