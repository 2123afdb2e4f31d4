// A small Markdown renderer for model replies: headings, paragraphs, lists, block quotes,
// fenced code, tables' rows as text, **bold**, *italic*, `code` and links. It builds DOM
// nodes with textContent only, so a reply can never inject markup or script; links are
// kept only for http(s) and open in a new tab without a referrer.
import { el } from "./ui.js";

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\([^)\s]+\))/;

export function renderInline(text) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const m = rest.match(INLINE);
    if (!m) { out.push(rest); break; }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const tok = m[0];
    if (m[1]) out.push(el("code", {}, tok.slice(1, -1)));
    else if (m[2]) out.push(el("strong", {}, renderInline(tok.slice(2, -2))));
    else if (m[3]) out.push(el("em", {}, renderInline(tok.slice(1, -1))));
    else {
      const [, label, href] = tok.match(/^\[([^\]]+)\]\(([^)\s]+)\)$/);
      if (/^https?:\/\//i.test(href)) out.push(el("a", { href, target: "_blank", rel: "noopener noreferrer" }, label));
      else out.push(tok);
    }
    rest = rest.slice(m.index + tok.length);
  }
  return out;
}

export function renderMarkdown(src) {
  const root = el("div", { class: "md" });
  const lines = src.replace(/\r\n/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (/^\s*$/.test(line)) { i++; continue; }
    if ((m = line.match(/^```\s*(\S*)/))) {
      const code = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
      i++;
      root.append(el("pre", {}, el("code", { "data-lang": m[1] || null }, code.join("\n"))));
      continue;
    }
    if ((m = line.match(/^(#{1,6})\s+(.*)$/))) {
      root.append(el("h" + Math.min(6, m[1].length + 2), {}, renderInline(m[2])));
      i++;
      continue;
    }
    if (/^>\s?/.test(line)) {
      const quote = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quote.push(lines[i++].replace(/^>\s?/, ""));
      const q = el("blockquote");
      q.append(renderMarkdown(quote.join("\n")));
      root.append(q);
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d+[.)]/.test(line);
      const list = el(ordered ? "ol" : "ul");
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        list.append(el("li", {}, renderInline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""))));
        i++;
      }
      root.append(list);
      continue;
    }
    const para = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]) && !/^(```|#{1,6}\s|>)/.test(lines[i]) &&
           !/^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
      para.push(lines[i++]);
    }
    const p = el("p");
    para.forEach((l, k) => {
      if (k) p.append(el("br"));
      p.append(...renderInline(l));
    });
    root.append(p);
  }
  return root;
}
