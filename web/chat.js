// Chat with the model over /v1/chat/completions, streamed: documents attached (their text
// goes first in the conversation and the questions after, so a follow-up question reuses the
// engine's cached prefix), replies rendered as Markdown (markdown.js builds DOM, never HTML),
// a stop button, prompt/reply token counts, time to first token and speed. The conversation
// is kept in this browser (localStorage) across reloads; documents are kept by id.
import { call, getJSON, readEvents } from "./api.js";
import { clear, el, notice, num } from "./ui.js";
import { renderMarkdown } from "./markdown.js";

const STORE = "ream.chat";

function load() {
  try { return JSON.parse(localStorage.getItem(STORE)) || { turns: [], docs: [] }; } catch { return { turns: [], docs: [] }; }
}
function save(state) { localStorage.setItem(STORE, JSON.stringify(state)); }

// The API messages: the attached documents' text first, then the turns.
async function apiMessages(state) {
  const texts = await Promise.all(state.docs.map((d) => getJSON(`/v1/documents/${d.id}`)));
  const preamble = texts.map((d) => `<document name="${d.name}">\n${d.text}\n</document>`).join("\n\n");
  const msgs = [{ role: "system", content: "You answer questions about the user's documents. Quote them where it helps." }];
  state.turns.forEach((t, i) => {
    const content = i === 0 && preamble ? `${preamble}\n\n${t.content}` : t.content;
    msgs.push({ role: t.role, content });
  });
  return msgs;
}

export function chatView() {
  const state = load();
  const ctrl = { abort: null };
  const log = el("div", { class: "chat-log", id: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const input = el("textarea", { id: "chat-input", rows: 3, placeholder: "Ask about the attached documents… (Ctrl+Enter sends)" });
  const send = el("button", { type: "submit", class: "primary", id: "chat-send" }, "Send");
  const stop = el("button", { type: "button", id: "chat-stop", disabled: true }, "Stop");
  const reset = el("button", { type: "button", id: "chat-clear", class: "quiet" }, "New conversation");
  const maxTokens = el("input", { id: "chat-max-tokens", type: "number", min: 1, value: 512 });
  const temperature = el("input", { id: "chat-temperature", type: "number", min: 0, max: 2, step: 0.1, value: 0.7 });
  const docsBox = el("fieldset", { class: "docs", id: "chat-docs" }, el("legend", {}, "Attached documents"));
  const stats = el("p", { class: "muted", id: "chat-stats" });
  const status = el("p", { class: "status", role: "status" });

  function bubble(turn) {
    const body = turn.role === "assistant" ? renderMarkdown(turn.content) : el("p", {}, turn.content);
    return el("div", { class: `msg ${turn.role}` }, el("span", { class: "who" }, turn.role === "user" ? "You" : "Model"), body,
      turn.stats ? el("small", { class: "muted" }, turn.stats) : null);
  }
  function renderLog() {
    clear(log);
    for (const t of state.turns) log.append(bubble(t));
    log.scrollTop = log.scrollHeight;
  }

  async function loadDocs() {
    try {
      const { documents } = await getJSON("/v1/documents");
      for (const d of documents) {
        const box = el("input", { type: "checkbox", value: d.id, checked: state.docs.some((x) => x.id === d.id) });
        box.addEventListener("change", () => {
          state.docs = state.docs.filter((x) => x.id !== d.id);
          if (box.checked) state.docs.push({ id: d.id, name: d.name });
          save(state);
        });
        docsBox.append(el("label", { class: "check" }, box, ` ${d.name}`, el("span", { class: "muted" }, d.tokens != null ? ` (${num(d.tokens)} tokens)` : "")));
      }
      if (!documents.length) docsBox.append(el("p", { class: "muted" }, "No uploads: add documents under Documents to ask about them."));
    } catch (err) {
      notice(status, `Could not list documents: ${err.message}`, "error");
    }
  }

  async function ask() {
    const q = input.value.trim();
    if (!q || ctrl.abort) return;
    input.value = "";
    state.turns.push({ role: "user", content: q });
    save(state);
    renderLog();
    const turn = { role: "assistant", content: "" };
    const body = el("div", { class: "md" });
    const node = el("div", { class: "msg assistant streaming" }, el("span", { class: "who" }, "Model"), body);
    log.append(node);
    const abort = new AbortController();
    ctrl.abort = abort;
    send.disabled = true;
    stop.disabled = false;
    const t0 = performance.now();
    let tFirst = null, usage = null, finish = null;
    try {
      const messages = await apiMessages({ ...state, turns: state.turns });
      const r = await call("POST", "/v1/chat/completions", {
        signal: abort.signal,
        json: { messages, stream: true, stream_options: { include_usage: true },
          max_tokens: Number(maxTokens.value) || 512, temperature: Number(temperature.value) },
      });
      await readEvents(r, (ev) => {
        if (ev.data === "[DONE]") return;
        const chunk = JSON.parse(ev.data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        for (const c of chunk.choices || []) {
          if (c.delta && c.delta.content) {
            if (tFirst === null) tFirst = performance.now();
            turn.content += c.delta.content;
            clear(body).append(...renderMarkdown(turn.content).childNodes);
            log.scrollTop = log.scrollHeight;
          }
          if (c.finish_reason) finish = c.finish_reason;
        }
      });
    } catch (err) {
      if (err.name === "AbortError") finish = "stopped";
      else notice(status, `The reply failed: ${err.message}`, "error");
    } finally {
      const t1 = performance.now();
      const parts = [];
      if (usage) {
        parts.push(`${num(usage.prompt_tokens)} prompt tokens (${num(usage.prompt_tokens_details ? usage.prompt_tokens_details.cached_tokens : 0)} cached)`,
          `${num(usage.completion_tokens)} reply tokens`);
        if (tFirst !== null && usage.completion_tokens > 1) parts.push(`${num((usage.completion_tokens - 1) / ((t1 - tFirst) / 1000), 1)} tok/s`);
      }
      if (tFirst !== null) parts.push(`first token ${num((tFirst - t0) / 1000, 2)} s`);
      if (finish) parts.push(finish);
      turn.stats = parts.join(" · ");
      stats.textContent = turn.stats;
      if (turn.content || finish === "stopped") {
        state.turns.push(turn);
        save(state);
      }
      node.classList.remove("streaming");
      node.append(el("small", { class: "muted" }, turn.stats));
      ctrl.abort = null;
      send.disabled = false;
      stop.disabled = true;
      input.focus();
    }
  }

  const form = el("form", { id: "chat-form", class: "chat-form" },
    el("label", { for: "chat-input" }, "Message"), input,
    el("div", { class: "row" }, send, stop, reset,
      el("label", { for: "chat-max-tokens" }, "Max tokens"), maxTokens,
      el("label", { for: "chat-temperature" }, "Temperature"), temperature));
  form.addEventListener("submit", (e) => { e.preventDefault(); ask(); });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); ask(); } });
  stop.addEventListener("click", () => ctrl.abort && ctrl.abort.abort());
  reset.addEventListener("click", () => { state.turns = []; save(state); renderLog(); stats.textContent = ""; });

  renderLog();
  loadDocs();
  return {
    title: "Chat",
    dispose: () => ctrl.abort && ctrl.abort.abort(),
    node: el("section", { class: "view chat", "aria-labelledby": "chat-h" }, el("h2", { id: "chat-h" }, "Chat"),
      docsBox, log, form, stats, status),
  };
}
