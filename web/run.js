// Run a workflow: pick one, fill a form generated from its inputs (types, defaults,
// ranges, enum values; documents chosen from the uploads or given as server paths), submit.
// The job then opens in its live view (jobs.js). The schedules page builds its inputs
// with the same fields (inputFields, collectInputs).
import { getJSON, postJSON } from "./api.js";
import { clear, el, notice } from "./ui.js";

// One input's field; `prefix` keeps ids apart where two forms could share a page.
function field(input, docs, prefix) {
  const id = `${prefix}${input.name}`;
  const label = el("label", { for: id }, input.name, input.required ? el("span", { class: "req", "aria-hidden": "true" }, " *") : null);
  const help = el("small", { id: `${id}-help` }, input.description || "");
  const common = { id, name: input.name, "aria-describedby": `${id}-help`, required: input.required };
  const def = input.default;
  let control;
  switch (input.type) {
    case "boolean":
      control = el("input", { ...common, type: "checkbox", checked: def === true, required: false });
      return el("div", { class: "field check" }, control, label, help);
    case "integer":
    case "number":
      control = el("input", { ...common, type: "number", step: input.type === "integer" ? 1 : "any",
        min: input.minimum, max: input.maximum, value: def ?? "" });
      break;
    case "enum":
      control = el("select", common, (input.values || []).map((v) => el("option", { value: v, selected: v === def }, v)));
      break;
    case "list":
      control = el("textarea", { ...common, rows: 3, placeholder: "One per line" }, Array.isArray(def) ? def.join("\n") : "");
      break;
    case "document":
    case "documents": {
      const many = input.type === "documents";
      const box = el("fieldset", { class: "docs", id, dataset: { input: input.name, many: String(many) } },
        el("legend", {}, input.name, input.required ? " *" : ""), help);
      if (docs.length === 0) box.append(el("p", { class: "muted" }, "No uploads yet (see Documents); or give a server path below."));
      for (const d of docs) {
        box.append(el("label", { class: "check" },
          el("input", { type: many ? "checkbox" : "radio", name: `${input.name}-doc`, value: d.id }), ` ${d.name}`));
      }
      box.append(el("label", { for: `${id}-paths` }, many ? "Server paths (one per line, under an allowed root)" : "Or a server path"),
        el("textarea", { id: `${id}-paths`, rows: 1, class: "paths" }));
      return el("div", { class: "field" }, box);
    }
    default:
      control = el("input", { ...common, type: "text", value: def ?? "" });
  }
  return el("div", { class: "field" }, label, control, help);
}

// The fields of a workflow's inputs (ids `${prefix}<input>`), documents offered from `docs`.
export function inputFields(wf, docs, prefix = "in-") {
  return wf.inputs.map((i) => field(i, docs, prefix));
}

// The form's values as the job's inputs; unset optional inputs are left to their defaults.
export function collectInputs(form, inputs) {
  const out = {};
  for (const input of inputs) {
    if (input.type === "document" || input.type === "documents") {
      const box = form.querySelector(`fieldset[data-input="${input.name}"]`);
      const picked = [...box.querySelectorAll("input:checked")].map((c) => ({ document_id: c.value }));
      const paths = box.querySelector(".paths").value.split("\n").map((s) => s.trim()).filter(Boolean);
      const all = [...picked, ...paths];
      if (all.length === 0) continue;
      out[input.name] = input.type === "document" ? all[0] : all;
      continue;
    }
    const c = form.elements[input.name];
    if (input.type === "boolean") { out[input.name] = c.checked; continue; }
    if (c.value === "") continue;
    if (input.type === "integer" || input.type === "number") out[input.name] = Number(c.value);
    else if (input.type === "list") out[input.name] = c.value.split("\n").map((s) => s.trim()).filter(Boolean);
    else out[input.name] = c.value;
  }
  return out;
}

// The first required document input with nothing chosen, or null.
export function missingDocument(form, inputs) {
  for (const input of inputs) {
    const box = form.querySelector(`fieldset[data-input="${input.name}"]`);
    if (box && input.required && Object.keys(collectInputs(form, [input])).length === 0) return input.name;
  }
  return null;
}

export function runView(selected) {
  const status = el("p", { class: "status", role: "status" });
  const select = el("select", { id: "workflow-select" });
  const formSlot = el("div");
  const desc = el("p", { class: "muted" });
  let workflows = [], docs = [];

  function build(name) {
    clear(formSlot);
    const wf = workflows.find((w) => w.name === name);
    if (!wf) return;
    desc.textContent = wf.description;
    const priority = el("input", { id: "job-priority", type: "number", min: -1000, max: 1000, step: 1, value: 0 });
    const form = el("form", { id: "run-form", novalidate: false },
      inputFields(wf, docs),
      el("div", { class: "field" }, el("label", { for: "job-priority" }, "Priority (-1000..1000, higher runs sooner)"), priority),
      el("button", { type: "submit", class: "primary", id: "run-submit" }, `Run ${wf.name}`));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const missing = missingDocument(form, wf.inputs);
      if (missing) { notice(status, `Choose a document for '${missing}'.`, "error"); return; }
      try {
        const job = await postJSON("/v1/jobs", { workflow: wf.name, inputs: collectInputs(form, wf.inputs), priority: Number(priority.value) || 0 });
        location.hash = `#/jobs/${job.id}`;
      } catch (err) {
        notice(status, `${err.field ? err.field + ": " : ""}${err.message}`, "error");
        const bad = err.field && form.elements[err.field.replace(/^inputs\./, "").replace(/\[.*$/, "")];
        if (bad && bad.focus) bad.focus();
      }
    });
    formSlot.append(form);
  }

  (async () => {
    try {
      [{ workflows }, { documents: docs }] = await Promise.all([getJSON("/v1/workflows"), getJSON("/v1/documents")]);
      for (const w of workflows) select.append(el("option", { value: w.name, selected: w.name === selected }, w.name));
      build(select.value);
    } catch (err) {
      notice(status, `Could not load workflows: ${err.message}`, "error");
    }
  })();
  select.addEventListener("change", () => build(select.value));
  return {
    title: "Run a workflow",
    node: el("section", { class: "view", "aria-labelledby": "run-h" }, el("h2", { id: "run-h" }, "Run a workflow"),
      el("div", { class: "field" }, el("label", { for: "workflow-select" }, "Workflow"), select), desc, formSlot, status),
  };
}
