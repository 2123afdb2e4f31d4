// Jobs: the list (status and workflow filters, paging by cursor), and one job: its live
// progress over the SSE stream (steps, prompts, tokens/s, ETA), cancel, and its result:
// findings with filters, each opening its document at the cited passage, and downloads.
import { call, getJSON, getText, readEvents } from "./api.js";
import { clear, download, el, notice, num, time } from "./ui.js";
import { openViewer } from "./viewer.js";

const STATUSES = ["", "queued", "running", "succeeded", "failed", "cancelled"];

export function jobsView() {
  const status = el("p", { class: "status", role: "status" });
  const filter = el("select", { id: "jobs-status" }, STATUSES.map((s) => el("option", { value: s }, s || "any")));
  const wfFilter = el("input", { id: "jobs-workflow", type: "text", placeholder: "any" });
  const tbody = el("tbody");
  const more = el("button", { type: "button", id: "jobs-more", hidden: true }, "Older jobs");
  let cursor = null;

  async function load(reset) {
    if (reset) { clear(tbody); cursor = null; }
    const q = new URLSearchParams({ limit: "25" });
    if (filter.value) q.set("status", filter.value);
    if (wfFilter.value.trim()) q.set("workflow", wfFilter.value.trim());
    if (cursor) q.set("cursor", cursor);
    try {
      const r = await getJSON(`/v1/jobs?${q}`);
      for (const j of r.jobs) {
        tbody.append(el("tr", {},
          el("td", {}, el("a", { href: `#/jobs/${j.id}` }, `#${j.id}`)),
          el("td", {}, j.workflow), el("td", {}, el("span", { class: `badge ${j.status}` }, j.status)),
          el("td", {}, time(j.created_at)), el("td", {}, time(j.finished_at)),
          el("td", { class: "n" }, num(j.usage ? j.usage.prompt_tokens : null)),
          el("td", { class: "n" }, num(j.usage ? j.usage.completion_tokens : null))));
      }
      if (!tbody.firstChild) tbody.append(el("tr", {}, el("td", { colspan: 7 }, "No jobs.")));
      cursor = r.next_cursor || null;
      more.hidden = !cursor;
    } catch (err) {
      notice(status, `Could not list jobs: ${err.message}`, "error");
    }
  }
  filter.addEventListener("change", () => load(true));
  wfFilter.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  load(true);
  return {
    title: "Jobs",
    node: el("section", { class: "view", "aria-labelledby": "jobs-h" }, el("h2", { id: "jobs-h" }, "Jobs"),
      el("div", { class: "row filters" },
        el("label", { for: "jobs-status" }, "Status"), filter, el("label", { for: "jobs-workflow" }, "Workflow"), wfFilter),
      el("table", { class: "grid", id: "jobs-table" },
        el("thead", {}, el("tr", {}, ["Job", "Workflow", "Status", "Created", "Finished", "Prompt tokens", "Reply tokens"].map((h) => el("th", { scope: "col" }, h)))),
        tbody),
      more, status),
  };
}

function progressLine(p) {
  if (!p) return "";
  const parts = [`steps ${p.steps_done}/${p.steps_total}`, `runs ${p.runs_done}/${p.runs_total}`];
  if (p.prompts_total !== undefined) {
    parts.push(`prompts ${p.prompts_done}/${p.prompts_total}`,
      `prefill ${num(p.prompt_tokens_prefilled)}/${num(p.prompt_tokens_total)} tokens`,
      `${num(p.tokens_generated)} generated`,
      `${num(p.prefill_tokens_per_s, 1)} prefill tok/s`, `${num(p.decode_tokens_per_s, 1)} decode tok/s`);
    if (p.eta_s !== null && p.eta_s !== undefined) parts.push(`ETA ${num(p.eta_s, 1)} s`);
  }
  return parts.join(" · ");
}

export function jobView(id, focusFinding) {
  const ctrl = new AbortController();
  const head = el("p", { class: "job-head", id: "job-status" }, "Loading…");
  const bar = el("progress", { max: 1, value: 0, id: "job-progress", "aria-label": "Prefill progress" });
  const live = el("p", { id: "job-live", "aria-live": "polite" });
  const events = el("ol", { class: "events", id: "job-events", "aria-label": "Job events" });
  const cancel = el("button", { type: "button", class: "danger", id: "job-cancel", hidden: true }, "Cancel job");
  const status = el("p", { class: "status", role: "status" });
  const resultSlot = el("div", { id: "job-result" });
  let ended = false;

  function showJob(j) {
    head.textContent = `Job #${j.id} · ${j.workflow} · ${j.status}`;
    head.dataset.status = j.status;
    cancel.hidden = !["queued", "running"].includes(j.status);
    if (j.progress) {
      live.textContent = progressLine(j.progress);
      const p = j.progress;
      if (p.prompt_tokens_total) bar.value = p.prompt_tokens_prefilled / p.prompt_tokens_total;
    }
  }

  cancel.addEventListener("click", async () => {
    try {
      const r = await (await call("DELETE", `/v1/jobs/${id}`)).json();
      notice(status, `Job ${r.status}.`);
    } catch (err) {
      notice(status, `Could not cancel: ${err.message}`, "error");
    }
  });

  async function follow() {
    try {
      showJob(await getJSON(`/v1/jobs/${id}`, { signal: ctrl.signal }));
      const r = await call("GET", `/v1/jobs/${id}/events`, { signal: ctrl.signal, extraHeaders: { Accept: "text/event-stream" } });
      await readEvents(r, (ev) => {
        let data = {};
        try { data = JSON.parse(ev.data); } catch { /* keep {} */ }
        if (ev.event === "progress") {
          live.textContent = progressLine(data);
          if (data.prompt_tokens_total) bar.value = data.prompt_tokens_prefilled / data.prompt_tokens_total;
          return;
        }
        const what = [ev.event, data.step ? `step ${data.step}${data.iteration >= 0 ? `[${data.iteration}]` : ""}` : "",
          data.error || data.message || ""].filter(Boolean).join(" · ");
        events.append(el("li", {}, el("time", {}, time(data.time)), " ", what));
        if (/^job_(succeeded|failed|cancelled)$/.test(ev.event)) ended = true;
      });
      const j = await getJSON(`/v1/jobs/${id}`, { signal: ctrl.signal });
      showJob(j);
      if (["succeeded", "failed", "cancelled"].includes(j.status)) { bar.value = 1; await showResult(); }
    } catch (err) {
      if (err.name !== "AbortError") notice(status, `Lost the job's stream: ${err.message}`, "error");
    }
  }

  async function showResult() {
    const r = await getJSON(`/v1/jobs/${id}/result`, { signal: ctrl.signal });
    clear(resultSlot).append(resultPanel(id, r, focusFinding));
  }

  follow();
  return {
    title: `Job ${id}`,
    dispose: () => ctrl.abort(),
    node: el("section", { class: "view", "aria-labelledby": "job-status" },
      el("h2", {}, el("a", { href: "#/jobs" }, "Jobs"), ` › #${id}`), head,
      el("div", { class: "row" }, bar, cancel), live,
      el("details", { open: !ended }, el("summary", {}, "Events"), events), status, resultSlot),
  };
}

const SEVERITIES = ["critical", "high", "medium", "low", "info"];

function resultPanel(jobId, r, focusFinding) {
  const docs = new Map(r.documents.map((d) => [d.id, d]));
  const findings = r.findings;
  const viewer = el("div", { class: "viewer-slot", id: "finding-viewer" });
  const detail = el("div", { class: "finding-detail", id: "finding-detail", "aria-live": "polite" });
  const cats = [...new Set(findings.map((f) => f.category))].sort();
  const fCat = el("select", { id: "f-category" }, el("option", { value: "" }, "any"), cats.map((c) => el("option", { value: c }, c)));
  const fSev = el("select", { id: "f-severity" }, el("option", { value: "" }, "any"), SEVERITIES.map((s) => el("option", { value: s }, s)));
  const fVer = el("select", { id: "f-verified" }, ["", "verified", "unverified", "no quote"].map((v) => el("option", { value: v }, v || "any")));
  const fText = el("input", { id: "f-text", type: "search", placeholder: "title or text" });
  const tbody = el("tbody");
  const count = el("p", { class: "muted", "aria-live": "polite" });

  // "page 3", "src/a.c:12:5": the place as reamd located it, the file named as it was sent
  // (an upload's stored path is the server's business), as the Markdown report names it.
  function where(e) {
    if (!e.location) return "";
    const d = docs.get(e.document);
    const text = e.location.text || "";
    return d && d.path && e.location.source === d.path && text.startsWith(d.path) ? d.name + text.slice(d.path.length) : text;
  }
  const quoteState = (f) => f.evidence.length === 0 ? "no quote" : f.evidence.some((e) => e.verified) ? "verified" : "unverified";
  function render() {
    clear(tbody);
    const q = fText.value.trim().toLowerCase();
    const shown = findings.filter((f) => (!fCat.value || f.category === fCat.value) && (!fSev.value || f.severity === fSev.value) &&
      (!fVer.value || quoteState(f) === fVer.value) && (!q || `${f.title} ${f.text}`.toLowerCase().includes(q)));
    for (const f of shown) {
      const state = quoteState(f);
      tbody.append(el("tr", { dataset: { finding: String(f.id) } },
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => open(f) }, f.title || f.category || `finding ${f.id}`)),
        el("td", {}, f.category), el("td", {}, el("span", { class: `sev ${f.severity}` }, f.severity)),
        el("td", {}, f.kind), el("td", {}, el("span", { class: `quote-state ${state.replace(" ", "-")}` }, state))));
    }
    count.textContent = `${shown.length} of ${findings.length} findings`;
  }
  [fCat, fSev, fVer].forEach((s) => s.addEventListener("change", render));
  fText.addEventListener("input", render);

  async function open(f) {
    history.replaceState(null, "", `#/jobs/${jobId}/findings/${f.id}`);
    clear(detail).append(el("h3", {}, f.title || f.category),
      el("p", { class: "muted" }, [f.category, f.severity, f.confidence != null ? `confidence ${f.confidence}` : null].filter(Boolean).join(" · ")),
      el("p", {}, f.text),
      el("ul", { class: "evidence" }, f.evidence.map((e) => el("li", { class: e.verified ? "verified" : "unverified" },
        el("q", {}, e.quote), " ",
        e.verified ? el("span", { class: "where" }, where(e)) : el("strong", { class: "unverified-tag" }, "unverified: not found in the document")))));
    const ev = f.evidence.find((e) => e.verified) || f.evidence[0];
    const key = ev ? ev.document : (r.documents[0] && r.documents[0].id);
    if (!key) { clear(viewer); return; }
    try {
      const doc = await getJSON(`/v1/jobs/${jobId}/documents/${encodeURIComponent(key)}`);
      const marks = f.evidence.filter((e) => e.document === key && e.verified)
        .map((e) => ({ start: e.start, end: e.end, verified: true, label: where(e) || e.quote }));
      openViewer(viewer, { ...doc, name: (docs.get(key) || doc).name }, marks, 0,
        `/v1/jobs/${jobId}/documents/${encodeURIComponent(key)}/original`);
    } catch (err) {
      clear(viewer).append(el("p", { class: "error" }, `Could not open ${key}: ${err.message}`));
    }
  }

  async function get(format, name, type) {
    try {
      download(name, await getText(`/v1/jobs/${jobId}/result?format=${format}`), type);
    } catch (err) {
      count.textContent = `Download failed: ${err.message}`;
    }
  }

  render();
  const s = r.summary || {};
  const panel = el("section", { class: "result", "aria-labelledby": "result-h" },
    el("h3", { id: "result-h" }, "Result"),
    el("p", {}, `${num(s.findings)} findings · ${num(s.verified_quotes)} verified quotes · ${num(s.unverified_quotes)} unverified · ${num(s.unusable_replies)} unusable replies · ${num(s.warnings)} warnings`),
    r.job.error ? el("p", { class: "error" }, r.job.error) : null,
    el("div", { class: "row" },
      el("button", { type: "button", id: "dl-md", onclick: () => get("md", `job-${jobId}.md`, "text/markdown") }, "Download Markdown"),
      el("button", { type: "button", id: "dl-json", onclick: () => get("json", `job-${jobId}.json`, "application/json") }, "Download JSON"),
      el("button", { type: "button", id: "dl-sarif", onclick: () => get("sarif", `job-${jobId}.sarif`, "application/sarif+json") }, "Download SARIF")),
    el("div", { class: "row filters" },
      el("label", { for: "f-category" }, "Category"), fCat, el("label", { for: "f-severity" }, "Severity"), fSev,
      el("label", { for: "f-verified" }, "Quotes"), fVer, el("label", { for: "f-text" }, "Search"), fText),
    count,
    el("table", { class: "grid", id: "findings-table" },
      el("thead", {}, el("tr", {}, ["Finding", "Category", "Severity", "Kind", "Quotes"].map((h) => el("th", { scope: "col" }, h)))), tbody),
    el("div", { class: "split" }, detail, viewer));
  if (focusFinding) {
    const f = findings.find((x) => x.id === focusFinding);
    if (f) setTimeout(() => open(f), 0);
  }
  return panel;
}
