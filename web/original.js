// A document's original beside its text: a PDF's pages drawn by pdf.js (npm pdfjs-dist,
// compiled into reamd and served from /app/pdfjs/), an HTML filing written into a frame
// that runs no script (sandboxed without allow-scripts, and its page's CSP has
// script-src 'none'). The passage a finding cites is highlighted there too: found by its
// text (the part of reamd's normalised text the finding's offsets index), compared with
// whitespace left out, since the original lays the same words out differently.
import { call } from "./api.js";
import { clear, el } from "./ui.js";

const PDFJS = "/app/pdfjs/pdf.min.mjs";
const PDFJS_WORKER = "/app/pdfjs/pdf.worker.min.mjs";
let pdfjs = null;  // the module, loaded on the first PDF
let shownPdf = null;  // the PDF shown last: destroyed (its worker ended) when another comes

// Finds `passage` in the text nodes `nodes`, whitespace ignored. A word said many times
// is told apart by the text around it (`before`, `after`: reamd's text on either side):
// the passage is looked for with as much of that context as matches (40 characters each
// side, then 20, 8, none), exactly and then case folded. Returns [{node, from, to}]
// (UTF-16 indexes into each node's text) or null.
export function findPassage(nodes, passage, before = "", after = "") {
  const squeeze = (t) => t.replace(/\s+/g, "");
  const want = squeeze(passage);
  if (!want) return null;
  let flat = "";
  const at = [];  // flat index -> [node index, offset]
  nodes.forEach((n, i) => {
    const t = n.data;
    for (let k = 0; k < t.length; k++) {
      if (/\s/.test(t[k])) continue;
      flat += t[k];
      at.push([i, k]);
    }
  });
  const b = squeeze(before), a = squeeze(after);
  let hit = -1, len = want.length;
  for (const n of [40, 20, 8, 0]) {
    const pre = n ? b.slice(-n) : "", post = a.slice(0, n);
    const needle = pre + want + post;
    let k = flat.indexOf(needle);
    if (k < 0) k = flat.toLowerCase().indexOf(needle.toLowerCase());
    if (k >= 0) { hit = k + pre.length; break; }
  }
  if (hit < 0) return null;
  const pieces = [];
  for (let j = hit; j < hit + len; j++) {
    const [i, k] = at[j];
    const last = pieces[pieces.length - 1];
    if (last && last.node === nodes[i]) last.to = k + 1;
    else pieces.push({ node: nodes[i], from: k, to: k + 1 });
  }
  return pieces;
}

// Wraps each piece in a <mark> made in `doc`; returns the marks.
function markPieces(doc, pieces) {
  return pieces.map(({ node, from, to }) => {
    const range = doc.createRange();
    range.setStart(node, from);
    range.setEnd(node, to);
    const mark = doc.createElement("mark");
    range.surroundContents(mark);
    return mark;
  });
}

function textNodes(root) {
  const walker = root.ownerDocument.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) out.push(n);
  return out;
}

// Shows the original of a document in `slot`. `url`: the API route of its bytes;
// `page`: the PDF page to open (1-based); `passage`: the text to highlight ("" for none),
// `before`/`after` the text around it. Returns a promise for what was shown: {kind, page?, found}.
export async function showOriginal(slot, { url, mediaType, name, page = 1, passage = "", before = "", after = "" }) {
  clear(slot);
  const status = el("p", { class: "muted original-status", role: "status" }, "Loading the original…");
  slot.append(status);
  try {
    const r = await call("GET", url);
    if (mediaType === "application/pdf") return await showPdf(slot, status, new Uint8Array(await r.arrayBuffer()), name, page, [passage, before, after]);
    return await showHtml(slot, status, await r.text(), name, [passage, before, after]);
  } catch (err) {
    status.textContent = `The original cannot be shown: ${err.message}`;
    status.dataset.kind = "error";
    return { kind: "error", found: false };
  }
}

async function showPdf(slot, status, data, name, page, passage) {
  if (!pdfjs) {
    try {
      pdfjs = await import(PDFJS);
    } catch {
      throw new Error("this reamd was built without pdf.js (scripts/setup.sh fetches it); the text is beside");
    }
    pdfjs.GlobalWorkerOptions.workerSrc = PDFJS_WORKER;
  }
  // No eval (the app's CSP refuses it), nothing fetched beyond the bytes given.
  if (shownPdf) shownPdf.destroy();
  const task = pdfjs.getDocument({ data, isEvalSupported: false, useWorkerFetch: false, stopAtErrors: false });
  shownPdf = task;
  const pdf = await task.promise;
  const label = el("span", { class: "muted", "aria-live": "polite" });
  const prev = el("button", { type: "button", class: "quiet", "aria-label": "Previous page" }, "‹");
  const next = el("button", { type: "button", class: "quiet", "aria-label": "Next page" }, "›");
  const holder = el("div", { class: "pdf-pages", tabindex: 0, role: "region", "aria-label": `Original of ${name}` });
  clear(slot).append(el("div", { class: "row original-bar" }, prev, label, next), status, holder);
  status.textContent = "";
  // The page asked for last: set when a turn begins, not when its drawing ends, so a click
  // on "Next" while page 1 is still being drawn goes to page 2. A drawing overtaken by a
  // later turn stops at its next await and leaves the holder to the later one.
  let shown = page;
  let turns = 0;

  async function render(n, find) {
    n = Math.min(Math.max(1, n), pdf.numPages);
    shown = n;
    const mine = ++turns;
    const overtaken = () => mine !== turns;
    label.textContent = `page ${n} of ${pdf.numPages}`;
    prev.disabled = n <= 1;
    next.disabled = n >= pdf.numPages;
    const p = await pdf.getPage(n);
    if (overtaken()) return { kind: "pdf", page: n, found: false };
    const width = Math.max(240, holder.clientWidth - 4);
    const viewport = p.getViewport({ scale: width / p.getViewport({ scale: 1 }).width });
    const ratio = window.devicePixelRatio || 1;
    const canvas = el("canvas", { width: Math.floor(viewport.width * ratio), height: Math.floor(viewport.height * ratio),
      "aria-hidden": "true" });
    canvas.style.width = `${Math.floor(viewport.width)}px`;
    const text = el("div", { class: "pdf-text" });
    const box = el("div", { class: "pdf-page", dataset: { page: String(n) } }, canvas, text);
    box.style.setProperty("--total-scale-factor", String(viewport.scale));
    box.style.width = `${Math.floor(viewport.width)}px`;
    box.style.height = `${Math.floor(viewport.height)}px`;
    clear(holder).append(box);
    await p.render({ canvasContext: canvas.getContext("2d"), viewport,
      transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null }).promise;
    await new pdfjs.TextLayer({ textContentSource: p.streamTextContent(), container: text, viewport }).render();
    if (overtaken() || !find) return { kind: "pdf", page: n, found: false };
    const pieces = findPassage(textNodes(text), ...find);
    if (!pieces) {
      status.textContent = `The passage was not found in page ${n}'s text as pdf.js reads it; the page is shown.`;
      return { kind: "pdf", page: n, found: false };
    }
    const marks = markPieces(document, pieces);
    marks.forEach((m) => m.classList.add("hit"));
    holder.scrollTop = Math.max(0, marks[0].getBoundingClientRect().top - holder.getBoundingClientRect().top + holder.scrollTop - holder.clientHeight / 3);
    return { kind: "pdf", page: n, found: true };
  }
  const turn = (n) => render(n, "").catch((err) => { status.textContent = `Page ${n} cannot be shown: ${err.message}`; });
  prev.addEventListener("click", () => turn(shown - 1));
  next.addEventListener("click", () => turn(shown + 1));
  return render(page, passage[0] ? passage : null);
}

// An HTML document is written into original-frame.html (served by reamd with a CSP that
// runs no script and loads nothing but data: images), in a frame sandboxed without
// allow-scripts. allow-same-origin lets the app (not the document) reach into it to
// highlight the passage. Images and style sheets that name other files are not fetched:
// their links are taken away before the document is written (the CSP would refuse them
// anyway), as are its scripts and any <meta http-equiv> (a refresh would navigate the frame).
async function showHtml(slot, status, html, name, passage) {
  const frame = el("iframe", { class: "original-frame", sandbox: "allow-same-origin", src: "/app/original-frame.html",
    title: `Original of ${name}` });
  const loaded = new Promise((resolve) => frame.addEventListener("load", resolve, { once: true }));
  slot.append(frame);
  await loaded;
  const doc = frame.contentDocument;
  const inert = html.replace(/<script\b[\s\S]*?<\/script\s*>/gi, "")
    .replace(/<(?:link|meta\s+http-equiv)\b[^>]*>/gi, "")
    .replace(/(<(?:img|image|source|input)\b[^>]*?\s)(src|srcset|href)(\s*=)/gi, "$1data-original-$2$3");
  doc.open();
  doc.write(inert);
  doc.close();
  status.textContent = "";
  if (!passage[0] || !doc.body) return { kind: "html", found: false };
  const pieces = findPassage(textNodes(doc.body), ...passage);
  if (!pieces) {
    status.textContent = "The passage was not found in the original's text; the text beside shows it.";
    return { kind: "html", found: false };
  }
  const marks = markPieces(doc, pieces);
  for (const m of marks) {
    m.className = "ream-hit";
    m.style.background = "#ffe58a";
    m.style.color = "#1d1f21";
    m.style.outline = "2px solid #9a6700";
  }
  // Scroll the frame only (scrollIntoView would scroll the app's page as well).
  const win = frame.contentWindow;
  const top = marks[0].getBoundingClientRect().top + win.scrollY;
  win.scrollTo(0, Math.max(0, top - win.innerHeight / 3));
  return { kind: "html", found: true };
}
