// The document viewer: a document's normalised text (what reamd reviews and what findings'
// offsets index), in its parts (a PDF's pages, a source tree's files), with passages
// highlighted. Offsets are Unicode code points, as reamd sends them. A PDF's or an HTML
// document's original is shown beside the text (original.js), at the same passage.
import { clear, codePointIndex, el } from "./ui.js";
import { showOriginal } from "./original.js";

const HAS_ORIGINAL = new Set(["application/pdf", "text/html"]);

// marks: [{start, end, label, verified}] in code points. Shows the first mark (or `focus`).
// originalUrl: the API route of the document's original bytes; with it, a PDF or HTML
// document is shown beside its text. Returns {body, original}: the text's region and a
// promise for what the original pane showed (null when there is none).
export function openViewer(container, doc, marks, focus = 0, originalUrl = null) {
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
  const withOriginal = originalUrl && HAS_ORIGINAL.has(doc.media_type);
  const pane = withOriginal ? el("div", { class: "original", id: "doc-original" }) : null;
  container.append(el("article", { class: "viewer", "aria-label": `Document ${doc.name}` },
    el("header", { class: "row" }, el("h3", {}, doc.name), el("span", { class: "muted" }, meta), close),
    withOriginal ? el("div", { class: "viewer-panes" }, body, pane) : body));
  if (first) {
    first.scrollIntoView({ block: "center" });
    first.focus({ preventScroll: true });
  } else {
    container.scrollIntoView({ block: "start" });
  }
  let original = null;
  if (withOriginal) {
    // The page of the shown mark (parts are a PDF's pages, in order) and its passage.
    const m = spans.find((s) => s.i === focus);
    const pageAt = m ? parts.findIndex((p) => m.from >= p.from && m.from < p.to) : -1;
    original = showOriginal(pane, { url: originalUrl, mediaType: doc.media_type, name: doc.name,
      page: pageAt >= 0 ? pageAt + 1 : 1, passage: m ? text.slice(m.from, m.to) : "",
      before: m ? text.slice(Math.max(m.from - 200, pageAt >= 0 ? parts[pageAt].from : 0), m.from) : "",
      after: m ? text.slice(m.to, Math.min(m.to + 200, pageAt >= 0 ? parts[pageAt].to : text.length)) : "" });
  }
  return { body, original };
}
