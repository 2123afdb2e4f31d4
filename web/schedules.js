// Schedules: the list (file and API schedules, next and last runs), create one from a cron
// expression and an IANA time zone (its next fire times shown before and after), pause or
// resume, run now, delete. The schedule's inputs come from a form made from the chosen
// workflow's inputs, as on the run page (run.js).
import { call, del, getJSON, postJSON } from "./api.js";
import { collectInputs, inputFields, missingDocument } from "./run.js";
import { append, clear, el, notice, time } from "./ui.js";

export function schedulesView() {
  const status = el("p", { class: "status", role: "status" });
  const tbody = el("tbody");
  const wf = el("select", { id: "sch-workflow", required: true });
  const cron = el("input", { id: "sch-cron", type: "text", required: true, value: "0 7 * * mon", "aria-describedby": "sch-cron-help" });
  const tz = el("input", { id: "sch-tz", type: "text", required: true, value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const sid = el("input", { id: "sch-id", type: "text", placeholder: "default: <workflow>-<hex>" });
  const inputsSlot = el("div", { id: "sch-inputs" });
  let workflows = [], docs = [];
  const upcoming = el("ul", { id: "sch-upcoming", "aria-label": "Next fire times" });

  async function refresh() {
    try {
      const { schedules } = await getJSON("/v1/schedules");
      clear(tbody);
      if (!schedules.length) tbody.append(el("tr", {}, el("td", { colspan: 8 }, "No schedules.")));
      for (const s of schedules) {
        const path = `/v1/schedules/${s.id.split("/").map(encodeURIComponent).join("/")}`;
        const next = el("td", {}, s.paused ? "paused" : time(s.next_run));
        const actions = el("td", { class: "row" });
        if (s.source === "api") {
          actions.append(
            el("button", { type: "button", onclick: () => patch(path, { paused: !s.paused }) }, s.paused ? "Resume" : "Pause"),
            el("button", { type: "button", class: "danger", "aria-label": `Delete ${s.id}`, onclick: () => remove(path, s.id) }, "Delete"));
        } else {
          actions.append(el("span", { class: "muted" }, `from ${s.file || "a workflow file"}`));
        }
        actions.append(el("button", { type: "button", onclick: () => trigger(path) }, "Run now"));
        tbody.append(el("tr", { dataset: { schedule: s.id } }, el("td", {}, s.id), el("td", {}, s.workflow), el("td", {}, el("code", {}, s.cron)),
          el("td", {}, s.timezone), next, el("td", {}, s.last_job_id ? el("a", { href: `#/jobs/${s.last_job_id}` }, `#${s.last_job_id}`) : "—"),
          el("td", {}, s.source), actions));
      }
    } catch (err) {
      notice(status, `Could not list schedules: ${err.message}`, "error");
    }
  }
  async function patch(path, body) {
    try { await (await call("PATCH", path, { json: body })).json(); refresh(); } catch (err) { notice(status, err.message, "error"); }
  }
  async function remove(path, id) {
    if (!confirm(`Delete schedule ${id}? Its jobs stay.`)) return;
    try { await del(path); notice(status, `Deleted ${id}.`); refresh(); } catch (err) { notice(status, err.message, "error"); }
  }
  async function trigger(path) {
    try { const j = await postJSON(`${path}/trigger`, undefined); notice(status, `Job #${j.id} queued.`); refresh(); } catch (err) { notice(status, err.message, "error"); }
  }

  const form = el("form", { id: "schedule-form" },
    el("div", { class: "field" }, el("label", { for: "sch-workflow" }, "Workflow"), wf),
    el("div", { class: "field" }, el("label", { for: "sch-cron" }, "Cron expression"), cron,
      el("small", { id: "sch-cron-help" }, "minute hour day-of-month month day-of-week, e.g. 0 7 * * mon")),
    el("div", { class: "field" }, el("label", { for: "sch-tz" }, "Time zone (IANA)"), tz),
    el("div", { class: "field" }, el("label", { for: "sch-id" }, "Id"), sid),
    el("fieldset", { class: "inputs" }, el("legend", {}, "The workflow's inputs"),
      el("small", {}, "Every run gets these. Documents: uploads, or server paths under an allowed root (read again at each run)."),
      inputsSlot),
    el("button", { type: "submit", class: "primary", id: "sch-create" }, "Create schedule"), upcoming);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const w = workflows.find((x) => x.name === wf.value);
    if (!w) return;
    const missing = missingDocument(form, w.inputs);
    if (missing) { notice(status, `Choose a document for '${missing}'.`, "error"); return; }
    const body = { workflow: w.name, cron: cron.value.trim(), timezone: tz.value.trim(), inputs: collectInputs(form, w.inputs) };
    if (sid.value.trim()) body.id = sid.value.trim();
    try {
      const s = await postJSON("/v1/schedules", body);
      const up = await getJSON(`/v1/schedules/${s.id.split("/").map(encodeURIComponent).join("/")}/upcoming?count=5`);
      append(clear(upcoming), [el("li", {}, `Next runs of ${s.id}:`), up.fire_times.map((t) => el("li", {}, `${time(t)} (${t})`))]);
      notice(status, `Created ${s.id}.`);
      refresh();
    } catch (err) {
      notice(status, `${err.field ? err.field + ": " : ""}${err.message}`, "error");
      const bad = err.field && (err.field.startsWith("inputs.") ? form.elements[err.field.slice(7).replace(/\[.*$/, "")]
        : { cron, timezone: tz, id: sid, workflow: wf }[err.field]);
      if (bad && bad.focus) bad.focus();
    }
  });
  function buildInputs() {
    const w = workflows.find((x) => x.name === wf.value);
    clear(inputsSlot).append(...(w ? inputFields(w, docs, "sch-in-") : []));
  }
  wf.addEventListener("change", buildInputs);
  Promise.all([getJSON("/v1/workflows"), getJSON("/v1/documents")]).then(([w, d]) => {
    workflows = w.workflows;
    docs = d.documents;
    workflows.forEach((x) => wf.append(el("option", { value: x.name }, x.name)));
    buildInputs();
  }).catch((err) => notice(status, err.message, "error"));
  refresh();
  return {
    title: "Schedules",
    node: el("section", { class: "view", "aria-labelledby": "sch-h" }, el("h2", { id: "sch-h" }, "Schedules"),
      el("table", { class: "grid", id: "schedules-table" },
        el("thead", {}, el("tr", {}, ["Id", "Workflow", "Cron", "Time zone", "Next run", "Last job", "Source", ""].map((h) => el("th", { scope: "col" }, h)))), tbody),
      el("h3", {}, "New schedule"), form, status),
  };
}
