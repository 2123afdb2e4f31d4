// Operators: the engine and the queue at a glance, read from /metrics (Prometheus text)
// every 2 seconds: tokens/s, KV cache use, prefix-cache hit rate, queue depth, jobs, streams.
import { getText } from "./api.js";
import { clear, el, num } from "./ui.js";

// {name: [{labels: {...}, value}]}
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const kv of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    (out[m[1]] ||= []).push({ labels, value: Number(m[4]) });
  }
  return out;
}

const one = (ms, name) => (ms[name] && ms[name].length ? ms[name][0].value : null);
const sum = (ms, name) => (ms[name] ? ms[name].reduce((a, s) => a + s.value, 0) : null);

export function operatorsView() {
  const grid = el("dl", { class: "tiles", id: "ops-tiles" });
  const jobs = el("p", { id: "ops-jobs" });
  const status = el("p", { class: "status", role: "status" });
  async function refresh() {
    try {
      const ms = parseMetrics(await getText("/metrics"));
      const pct = (v) => (v === null ? "—" : `${num(v * 100, 1)} %`);
      const tiles = [
        ["Tokens/s", num(one(ms, "reamd_engine_tokens_per_second"), 1)],
        ["KV cache used", `${pct(one(ms, "reamd_engine_kv_usage_ratio"))} (${num(one(ms, "reamd_engine_kv_blocks_used"))} of ${num(one(ms, "reamd_engine_kv_blocks_total"))} blocks)`],
        ["Prefix-cache hit rate", pct(one(ms, "reamd_engine_prefix_cache_hit_ratio"))],
        ["Queue depth", `${num(one(ms, "reamd_queue_depth"))} of ${num(one(ms, "reamd_queue_capacity"))}`],
        ["Jobs running", num(one(ms, "reamd_jobs_running"))],
        ["Engine requests", `${num(one(ms, "reamd_engine_requests_running"))} running, ${num(one(ms, "reamd_engine_requests_waiting"))} waiting`],
        ["Prompt tokens pending", num(one(ms, "reamd_jobs_prompt_tokens_pending"))],
        ["Generated tokens", num(one(ms, "reamd_engine_generated_tokens_total"))],
        ["Prefilled tokens", num(one(ms, "reamd_engine_prefilled_tokens_total"))],
        ["Preemptions", num(one(ms, "reamd_engine_preemptions_total"))],
        ["HTTP connections / streams", `${num(one(ms, "reamd_http_connections"))} / ${num(one(ms, "reamd_http_streams"))}`],
        ["Ready", one(ms, "reamd_ready") === 1 ? "yes" : "no"],
      ];
      clear(grid);
      for (const [k, v] of tiles) grid.append(el("div", { class: "tile" }, el("dt", {}, k), el("dd", {}, v)));
      const byStatus = (ms.reamd_jobs || []).map((s) => `${s.labels.status} ${num(s.value)}`).join(" · ");
      jobs.textContent = `Jobs: ${byStatus || "none"} · finished in total ${num(sum(ms, "reamd_jobs_finished_total"))}`;
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      status.textContent = `Could not read /metrics: ${err.message}`;
    }
  }
  refresh();
  const timer = setInterval(refresh, 2000);
  return {
    title: "Operators",
    dispose: () => clearInterval(timer),
    node: el("section", { class: "view", "aria-labelledby": "ops-h" }, el("h2", { id: "ops-h" }, "Operators"), grid, jobs, status),
  };
}
