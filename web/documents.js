// Documents: upload (drop zone or file picker, several at once, each with its progress),
// the list of uploads with size, pages, tokens and media type, viewing and removing one.
import { del, getJSON, upload } from "./api.js";
import { bytes, clear, el, notice, num, time } from "./ui.js";
import { openViewer } from "./viewer.js";

export function documentsView() {
  const status = el("p", { class: "status", role: "status" });
  const progress = el("ul", { class: "uploads", "aria-label": "Uploads in progress" });
  // The picker itself is hidden and out of the tab order; the visible button opens it.
  const input = el("input", { type: "file", id: "doc-files", multiple: true, class: "visually-hidden", tabindex: -1,
    "aria-hidden": "true",
    accept: ".txt,.md,.markdown,.html,.htm,.pdf,.csv,.json,.yaml,.xml,text/*,application/pdf" });
  const tbody = el("tbody");
  const table = el("table", { class: "grid", id: "documents-table" },
    el("caption", { class: "visually-hidden" }, "Uploaded documents"),
    el("thead", {}, el("tr", {}, ["Name", "Type", "Size", "Pages", "Tokens", "Uploaded", ""].map((h) => el("th", { scope: "col" }, h)))),
    tbody);
  const viewer = el("div", { class: "viewer-slot" });

  async function refresh() {
    try {
      const { documents } = await getJSON("/v1/documents");
      clear(tbody);
      if (documents.length === 0) tbody.append(el("tr", {}, el("td", { colspan: 7 }, "No documents yet: drop some above.")));
      for (const d of documents) {
        tbody.append(el("tr", { dataset: { id: d.id } },
          el("td", {}, el("button", { type: "button", class: "link", onclick: () => show(d) }, d.name)),
          el("td", {}, d.media_type || d.error || "—"),
          el("td", { class: "n" }, bytes(d.size_bytes)),
          el("td", { class: "n" }, d.pages ? num(d.pages) : "—"),
          el("td", { class: "n" }, num(d.tokens)),
          el("td", {}, time(d.uploaded_at)),
          el("td", {}, el("button", { type: "button", class: "danger", "aria-label": `Remove ${d.name}`, onclick: () => remove(d) }, "Remove"))));
      }
    } catch (err) {
      notice(status, `Could not list documents: ${err.message}`, "error");
    }
  }

  async function show(d) {
    try {
      const doc = await getJSON(`/v1/documents/${d.id}`);
      openViewer(viewer, doc, [], 0, `/v1/documents/${d.id}/original`);
    } catch (err) {
      notice(status, `Could not open ${d.name}: ${err.message}`, "error");
    }
  }

  async function remove(d) {
    if (!confirm(`Remove ${d.name}? Jobs that used it keep their copy.`)) return;
    try {
      await del(`/v1/documents/${d.id}`);
      notice(status, `Removed ${d.name}.`);
      clear(viewer);
      refresh();
    } catch (err) {
      notice(status, `Could not remove ${d.name}: ${err.message}`, "error");
    }
  }

  async function send(files) {
    const jobs = [...files].map(async (file) => {
      const bar = el("progress", { max: 1, value: 0, "aria-label": `Uploading ${file.name}` });
      const label = el("span", {}, `${file.name} (${bytes(file.size)})`);
      const item = el("li", {}, label, bar);
      progress.append(item);
      try {
        const r = await upload(file, (f) => (bar.value = f));
        bar.value = 1;
        label.textContent = `${file.name}: ${r.deduplicated ? "already stored" : "stored"}`;
        return true;
      } catch (err) {
        item.classList.add("error");
        label.textContent = `${file.name}: ${err.message}`;
        return false;
      }
    });
    const ok = (await Promise.all(jobs)).filter(Boolean).length;
    notice(status, `${ok} of ${files.length} uploaded.`, ok === files.length ? "info" : "error");
    refresh();
  }

  input.addEventListener("change", () => input.files.length && send(input.files));
  const zone = el("div", { class: "dropzone", id: "dropzone" },
    el("p", {}, "Drop documents here (text, Markdown, HTML, PDF), or "),
    el("button", { type: "button", id: "choose-files", onclick: () => input.click() }, "choose files"),
    input);
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) send(e.dataTransfer.files);
  });

  refresh();
  return {
    title: "Documents",
    node: el("section", { class: "view", "aria-labelledby": "documents-h" },
      el("h2", { id: "documents-h" }, "Documents"), zone, progress, status, table, viewer),
  };
}
