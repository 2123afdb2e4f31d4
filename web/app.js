// The app's shell: the hash router (#/documents, #/run, #/jobs/17, #/chat, ...), the
// navigation, and the API key dialog that opens whenever reamd answers 401.
import { apiKey, getJSON, onUnauthorized, setApiKey } from "./api.js";
import { clear } from "./ui.js";
import { documentsView } from "./documents.js";
import { runView } from "./run.js";
import { jobsView, jobView } from "./jobs.js";
import { chatView } from "./chat.js";
import { schedulesView } from "./schedules.js";
import { operatorsView } from "./operators.js";

const main = document.getElementById("main");
let current = null;  // the view's cleanup function

const routes = [
  [/^#\/documents$/, () => documentsView()],
  [/^#\/run(?:\/([\w.-]+))?$/, (m) => runView(m[1])],
  [/^#\/jobs$/, () => jobsView()],
  [/^#\/jobs\/(\d+)(?:\/findings\/(\d+))?$/, (m) => jobView(Number(m[1]), m[2] ? Number(m[2]) : null)],
  [/^#\/chat$/, () => chatView()],
  [/^#\/schedules$/, () => schedulesView()],
  [/^#\/operators$/, () => operatorsView()],
];

function route() {
  const hash = location.hash || "#/documents";
  if (typeof current === "function") current();
  current = null;
  clear(main);
  for (const [re, make] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    const view = make(m);
    main.append(view.node);
    current = view.dispose || null;
    const section = hash.split("/")[1];
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.view === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = `ream — ${view.title}`;
    return;
  }
  location.hash = "#/documents";
}

// The key dialog: opened by a 401 or the header's button; saving re-runs the view.
const dialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("key-input");
const keyError = document.getElementById("key-error");

function askKey(reason) {
  document.getElementById("key-reason").textContent = reason;
  keyError.textContent = "";
  keyInput.value = apiKey();
  if (!dialog.open) dialog.showModal();
  keyInput.focus();
}

onUnauthorized((err) => askKey(apiKey() ? `The key was refused: ${err.message}` : "This reamd needs an API key."));

document.getElementById("key-button").addEventListener("click", () => askKey("The key is sent with every call."));
document.getElementById("key-forget").addEventListener("click", () => {
  setApiKey("");
  keyInput.value = "";
  dialog.close();
  route();
});
document.getElementById("key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  setApiKey(key, document.getElementById("key-remember").checked);
  try {
    await getJSON("/v1/workflows");  // any read route checks the key
    dialog.close();
    route();
  } catch (err) {
    keyError.textContent = err.message;
  }
});

window.addEventListener("hashchange", route);
route();
