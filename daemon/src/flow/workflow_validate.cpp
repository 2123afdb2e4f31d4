// Workflow validation across fields: plugins exist, `needs` names steps and forms
// a DAG, expressions reference what exists and is ordered before them, and `with:`
// parameters match the plugin's schema.
#include <functional>
#include <set>

#include "flow/params_schema.h"
#include "flow/workflow.h"
#include "flow/yaml_util.h"

namespace ream::flow {

using nlohmann::json;

namespace {

struct RefScope {
  const Step* step = nullptr;             // null: workflow outputs or engine
  const std::set<std::string>* ancestors = nullptr;
  bool allow_steps = true;
  bool allow_item = false;
};

std::string ref_text(const RefPath& p) {
  std::string s;
  for (const std::string& part : p) s += (s.empty() ? "" : ".") + part;
  return s;
}

void check_ref(const Workflow& wf, const PluginCatalog& catalog, const RefPath& p,
               const RefScope& scope, const SourcePos& pos, const std::string& where,
               YamlErrors& errors) {
  const std::string& root = p[0];
  if (root == "inputs") {
    if (p.size() < 2) return errors.add(pos, where + ": 'inputs' needs an input name, as in inputs.document");
    if (!wf.find_input(p[1])) {
      std::vector<std::string> names;
      for (const InputSpec& i : wf.inputs) names.push_back(i.name);
      errors.add(pos, where + ": unknown input '" + p[1] + "' in '" + ref_text(p) + "' (declared inputs: " +
                          (names.empty() ? "none" : join_names(names)) + ")");
    }
    return;
  }
  if (root == "steps") {
    if (!scope.allow_steps) return errors.add(pos, where + ": cannot reference steps here");
    if (p.size() < 2) return errors.add(pos, where + ": 'steps' needs a step id, as in steps.<id>.outputs.<name>");
    const Step* target = wf.find_step(p[1]);
    if (!target) return errors.add(pos, where + ": unknown step '" + p[1] + "' in '" + ref_text(p) + "'");
    if (scope.step && (target == scope.step || !scope.ancestors->count(target->id))) {
      return errors.add(pos, where + ": references steps." + p[1] + " but '" + p[1] + "' is not in its needs");
    }
    if (p.size() < 3) return;
    if (p[2] == "status" || p[2] == "findings") return;
    if (p[2] != "outputs") {
      return errors.add(pos, where + ": unknown property '" + p[2] + "' of step '" + p[1] +
                                 "' (expected outputs, status or findings)");
    }
    if (p.size() < 4) return;
    const plugins::Manifest* m = catalog.find(target->plugin);
    if (!m) return;  // reported at the step itself
    json outs = json::parse(m->outputs_schema, nullptr, false);
    if (outs.is_object() && !outs.contains(p[3])) {
      std::vector<std::string> names;
      for (const auto& [k, v] : outs.items()) names.push_back(k);
      errors.add(pos, where + ": plugin '" + target->plugin + "' of step '" + p[1] +
                          "' declares no output '" + p[3] + "' (declared: " +
                          (names.empty() ? "none" : join_names(names)) + ")");
    }
    return;
  }
  if (root == "item") {
    if (!scope.allow_item) errors.add(pos, where + ": 'item' is only defined in a step with 'foreach'");
    return;
  }
  if (root == "job") {
    if (p.size() >= 2 && p[1] != "id") errors.add(pos, where + ": unknown property 'job." + p[1] + "' (expected job.id)");
    return;
  }
  errors.add(pos, where + ": unknown name '" + root + "' (expected inputs, steps, item or job)");
}

void check_template(const Workflow& wf, const PluginCatalog& catalog, const Template& t,
                    const RefScope& scope, const SourcePos& pos, const std::string& where,
                    YamlErrors& errors) {
  for (const RefPath& p : t.references()) check_ref(wf, catalog, p, scope, pos, where, errors);
}

// A documents source must be exactly one reference to a document(s) input.
void check_documents_source(const Workflow& wf, const Template& t, const SourcePos& pos,
                            const std::string& where, YamlErrors& errors) {
  auto refs = t.references();
  bool ok = refs.size() == 1 && refs[0].size() == 2 && refs[0][0] == "inputs";
  if (ok) {
    const InputSpec* in = wf.find_input(refs[0][1]);
    ok = in && (in->type == InputType::kDocument || in->type == InputType::kDocuments);
  }
  if (!ok) errors.add(pos, where + " must be a document or documents input, as in ${{ inputs.document }}");
}

void check_params(const Step& step, const plugins::Manifest& m, const Workflow& wf,
                  const PluginCatalog& catalog, const RefScope& scope, YamlErrors& errors) {
  json schema = json::parse(m.params_schema, nullptr, false);
  std::vector<std::string> props = schema_properties(schema);
  std::string where = "step '" + step.id + "'";
  for (const auto& [name, value] : step.with.items()) {
    SourcePos pos = step.with_pos.count(name) ? step.with_pos.at(name) : step.pos;
    bool known = false;
    for (const std::string& p : props) known = known || p == name;
    if (!known && !schema_allows_extra(schema)) {
      errors.add(pos, where + ": unknown parameter '" + name + "' for plugin '" + m.name +
                          "' (expected one of: " + join_names(props) + ")");
      continue;
    }
    // A named copy: lambdas may capture structured bindings only from C++20 compilers
    // newer than Debian's clang 14, which builds the sanitizer and fuzzing targets.
    const std::string& param = name;
    std::function<void(const json&)> visit = [&](const json& v) {
      if (v.is_string()) {
        auto t = Template::parse(v.get<std::string>());
        if (!t.ok()) return errors.add(pos, where + ": parameter '" + param + "': " + t.status().message());
        check_template(wf, catalog, t.value(), scope, pos, where, errors);
      } else if (v.is_array() || v.is_object()) {
        for (const json& x : v) visit(x);
      }
    };
    visit(value);
    bool has_expr = value.dump().find("${{") != std::string::npos;
    if (known && !has_expr) {
      std::string e = check_value(schema["properties"][name], value);
      if (!e.empty()) errors.add(pos, where + ": parameter '" + name + "' " + e);
    }
  }
  for (const std::string& r : schema_required(schema)) {
    bool has_default = schema["properties"].contains(r) && schema["properties"][r].contains("default");
    if (!step.with.contains(r) && !has_default) {
      errors.add(step.pos, where + ": missing required parameter '" + r + "' for plugin '" + m.name + "'");
    }
  }
}

// Orders steps so that each comes after its needs; reports the first cycle found.
void order_steps(Workflow& wf, YamlErrors& errors) {
  std::vector<int> state(wf.steps.size(), 0);  // 0 new, 1 on the stack, 2 done
  std::vector<size_t> stack;
  std::function<bool(size_t)> visit = [&](size_t i) {
    if (state[i] == 2) return true;
    if (state[i] == 1) {
      std::string cycle;
      size_t k = 0;
      while (stack[k] != i) ++k;
      for (; k < stack.size(); ++k) cycle += wf.steps[stack[k]].id + " -> ";
      errors.add(wf.steps[i].pos, "cycle in needs: " + cycle + wf.steps[i].id);
      return false;
    }
    state[i] = 1;
    stack.push_back(i);
    for (const std::string& n : wf.steps[i].needs) {
      for (size_t j = 0; j < wf.steps.size(); ++j) {
        if (wf.steps[j].id == n && !visit(j)) return false;
      }
    }
    stack.pop_back();
    state[i] = 2;
    wf.order.push_back(i);
    return true;
  };
  for (size_t i = 0; i < wf.steps.size(); ++i) {
    if (!visit(i)) return;
  }
}

std::set<std::string> ancestors_of(const Workflow& wf, const Step& step) {
  std::set<std::string> out;
  std::vector<std::string> todo = step.needs;
  while (!todo.empty()) {
    std::string id = todo.back();
    todo.pop_back();
    if (!out.insert(id).second) continue;
    if (const Step* s = wf.find_step(id)) todo.insert(todo.end(), s->needs.begin(), s->needs.end());
  }
  return out;
}

void check_engine(const Workflow& wf, const PluginCatalog& catalog, const json& engine,
                  const SourcePos& pos, const std::string& where, YamlErrors& errors) {
  RefScope scope;
  scope.allow_steps = false;
  for (const auto& [key, v] : engine.items()) {
    if (v.is_string()) {
      auto t = Template::parse(v.get<std::string>());
      if (!t.ok()) {
        errors.add(pos, where + " '" + key + "': " + t.status().message());
      } else {
        check_template(wf, catalog, t.value(), scope, pos, where + " '" + key + "'", errors);
      }
    }
  }
}

}  // namespace

void validate_workflow(Workflow& wf, const PluginCatalog& catalog, YamlErrors& errors) {
  for (const Step& step : wf.steps) {
    for (const std::string& n : step.needs) {
      if (n == step.id) {
        errors.add(step.pos, "step '" + step.id + "' needs itself");
      } else if (!wf.find_step(n)) {
        errors.add(step.pos, "step '" + step.id + "': needs unknown step '" + n + "'");
      }
    }
  }
  if (!errors.empty()) return;
  order_steps(wf, errors);
  if (!errors.empty()) return;
  check_engine(wf, catalog, wf.engine, wf.engine_pos, "engine", errors);
  for (const Step& step : wf.steps) {
    std::string where = "step '" + step.id + "'";
    const plugins::Manifest* m = catalog.find(step.plugin);
    if (!m) {
      std::vector<std::string> names = catalog.names ? catalog.names() : std::vector<std::string>{};
      errors.add(step.pos, where + ": unknown plugin '" + step.plugin + "' (loaded plugins: " +
                               (names.empty() ? "none" : join_names(names)) + ")");
    }
    std::set<std::string> ancestors = ancestors_of(wf, step);
    RefScope scope{&step, &ancestors, true, step.foreach.kind != ForeachKind::kNone};
    if (m) check_params(step, *m, wf, catalog, scope, errors);
    if (step.documents) {
      check_documents_source(wf, *step.documents, step.pos, where + ": 'documents'", errors);
    }
    if (step.foreach.kind == ForeachKind::kItems) {
      RefScope outer{&step, &ancestors, true, false};
      check_template(wf, catalog, step.foreach.source, outer, step.foreach.pos, where + ": 'foreach'", errors);
    } else if (step.foreach.kind != ForeachKind::kNone) {
      check_documents_source(wf, step.foreach.source, step.foreach.pos, where + ": 'foreach' source", errors);
    }
    if (step.when) {
      RefScope outer{&step, &ancestors, true, false};
      check_template(wf, catalog, *step.when, outer, step.pos, where + ": 'when'", errors);
    }
    check_engine(wf, catalog, step.engine, step.pos, where + ": engine", errors);
  }
  RefScope out_scope;
  for (size_t i = 0; i < wf.outputs.size(); ++i) {
    const auto& [name, t] = wf.outputs[i];
    check_template(wf, catalog, t, out_scope, wf.output_pos[i], "output '" + name + "'", errors);
  }
}

}  // namespace ream::flow
