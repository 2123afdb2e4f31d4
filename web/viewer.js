// The document viewer: a document's normalised text (what reamd reviews and what findings'
// offsets index), in its parts (a PDF's pages, a source tree's files), with passages
// highlighted. Offsets are Unicode code points, as reamd sends them.
import { clear, codePointIndex, el } from "./ui.js";

// marks: [{start, end, label, verified}] in code points. Shows the first mark (or `focus`).
export function openViewer(container, doc, marks, focus = 0) {
  clear(container);
  const text = doc.text || "";
  const at = codePointIndex(text);
  const spans = marks.filter((m) => m.start >= 0 && m.end > m.start)
    .map((m, i) => ({ ...m, i, from: at(m.start), to: at(m.end) }))
    .sort((a, b) => a.from - b.from);
  const parts = doc.parts && doc.parts.length
    ? doc.parts.map((p) => ({ name: p.name, from: at(p.start), to: at(p.end) }))
    : [{ name: "", from: 0, to: text.length }];

  const body = el("div", { class: "doc-text", id: "doc-text", tabindex: 0, role: "region", "aria-label": `Text of ${doc.name}` });
  let first = null;
  for (const part of parts) {
    // A source tree's file starts with the header "==> path (language) <==" that the model
    // read; the part's heading names the file, so the text starts after it and its lines
    // are numbered as the file's (what a finding's file:line cites).
    const head = text.slice(part.from, part.to).match(/^==> [^\n]* <==\n/);
    const start = head ? part.from + head[0].length : part.from;
    const pre = el("pre", {});
    let pos = start;
    for (const s of spans) {
      const from = Math.max(s.from, part.from), to = Math.min(s.to, part.to);
      if (to <= from || from < pos) continue;
      pre.append(text.slice(pos, from));
      const mark = el("mark", { class: s.verified ? "hit" : "hit unverified", tabindex: -1,
        title: s.label, dataset: { mark: String(s.i) } }, text.slice(from, to));
      pre.append(mark);
      if (s.i === focus && !first) first = mark;
      pos = to;
    }
    pre.append(text.slice(pos, part.to));
    let shown = pre;
    if (head) {
      const lines = text.slice(start, part.to).replace(/\n$/, "").split("\n").length;
      const gutter = el("pre", { class: "gutter", "aria-hidden": "true" },
        Array.from({ length: lines }, (_, i) => String(i + 1)).join("\n"));
      shown = el("div", { class: "code" }, gutter, pre);
    }
    if (part.name) body.append(el("section", { class: "part" }, el("h4", { class: "part-name" }, part.name), shown));
    else body.append(shown);
  }

  const meta = [doc.media_type, doc.tokens != null ? `${doc.tokens} tokens` : null,
    doc.parts && doc.parts.length ? `${doc.parts.length} ${doc.media_type === "application/pdf" ? "pages" : "parts"}` : null]
    .filter(Boolean).join(" · ");
  const close = el("button", { type: "button", class: "quiet", onclick: () => clear(container) }, "Close");
  container.append(el("article", { class: "viewer", "aria-label": `Document ${doc.name}` },
    el("header", { class: "row" }, el("h3", {}, doc.name), el("span", { class: "muted" }, meta), close), body));
  if (first) {
    first.scrollIntoView({ block: "center" });
    first.focus({ preventScroll: true });
  } else {
    container.scrollIntoView({ block: "start" });
  }
  return body;
}
