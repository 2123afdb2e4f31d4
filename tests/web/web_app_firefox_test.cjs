// reamd's web app in Firefox: Debian's firefox-esr, headless, driven by puppeteer-core over
// WebDriver BiDi (tests/node, pinned; no browser download), against a real reamd on the tiny
// random-weight model. The Chromium test (web_app_test.cjs) covers every page; this one runs
// the main paths again in the other engine:
//   - a contract uploaded through the file picker and listed;
//   - the example keyword_spotting workflow run from the generated form and followed live to
//     its end; a verified finding clicked: its passage highlighted, focused, at reamd's offset;
//   - axe-core's accessibility rules on the findings view;
//   - a streamed chat reply with its token counts.
// Any script error or CSP violation fails it. Run by CTest (tests/web/CMakeLists.txt).
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const puppeteer = require("puppeteer-core");
const { CONTRACT, makeWorkDir, startDaemon } = require("./reamd.cjs");

const env = process.env;
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
let dir, daemon, browser;

before(async () => {
  assert.ok(fs.existsSync(env.FIREFOX), `firefox-esr not found at ${env.FIREFOX} (scripts/setup.sh installs Debian's firefox-esr)`);
  dir = makeWorkDir();
  daemon = await startDaemon(dir, "firefox");
  browser = await puppeteer.launch({ browser: "firefox", executablePath: env.FIREFOX, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (daemon) daemon.proc.kill("SIGKILL");
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// A page that records script errors and CSP violations (the page reports each one as a
// securitypolicyviolation event; the listener is installed before the app's scripts run).
async function newPage() {
  const page = await browser.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") page.problems.push(m.text()); });
  await page.evaluateOnNewDocument(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(daemon.base + "/");
  return page;
}

async function assertClean(page) {
  assert.deepEqual(await page.evaluate(() => window.cspViolations), [], "CSP violations");
  assert.deepEqual(page.problems, []);
}

const hasText = (page, text) => page.waitForFunction((t) => document.body.textContent.includes(t), {}, text);

test("Firefox: upload, run keyword_spotting from the form, a finding highlighted at its offset", async () => {
  const page = await newPage();
  await page.waitForSelector("#documents-table");
  await (await page.$("#doc-files")).uploadFile(CONTRACT);
  await hasText(page, "1 of 1 uploaded.");
  await page.waitForFunction(() => document.querySelectorAll("#documents-table tbody tr[data-id]").length === 1);
  assert.equal(await page.$eval("#documents-table tbody tr td", (td) => td.textContent), path.basename(CONTRACT));

  await page.goto(daemon.base + "/#/run");
  await page.waitForSelector("#workflow-select option");
  await page.select("#workflow-select", "keyword_spotting");
  await page.waitForSelector('fieldset[data-input="documents"] input[type="checkbox"]');
  await page.click('fieldset[data-input="documents"] input[type="checkbox"]');
  await page.type("#in-keyword", "Consultant");
  await page.click("#run-submit");
  await page.waitForSelector("#findings-table", { timeout: 120000 });
  assert.equal(await page.$eval("#job-status", (h) => h.dataset.status), "succeeded");
  assert.match(await page.$eval("#job-events", (e) => e.textContent), /job_succeeded/);

  await page.select("#f-verified", "verified");
  assert.ok((await page.$$("#findings-table tbody tr")).length >= 3);
  await page.click("#findings-table tbody tr:nth-child(3) button.link");
  await page.waitForSelector("#finding-viewer mark.hit");
  const mark = await page.$eval("#finding-viewer mark.hit", (m) => {
    const before = document.createRange();
    before.setStart(m.closest("pre"), 0);
    before.setEndBefore(m);
    return { text: m.textContent, offset: [...before.toString()].length, focused: document.activeElement === m };
  });
  const jobId = Number(page.url().match(/#\/jobs\/(\d+)/)[1]);
  const fid = Number(page.url().match(/findings\/(\d+)/)[1]);
  const result = await (await fetch(`${daemon.base}/v1/jobs/${jobId}/result`)).json();
  const ev = result.findings.find((f) => f.id === fid).evidence[0];
  assert.deepEqual(mark, { text: "Consultant", offset: ev.start, focused: true });

  await page.evaluate(AXE);
  const a11y = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`));
  assert.deepEqual(a11y, [], "axe-core in Firefox, the findings view");
  await assertClean(page);
  await page.close();
});

test("Firefox: a streamed chat reply with its token counts", async () => {
  const page = await newPage();
  await page.goto(daemon.base + "/#/chat");
  await page.waitForSelector("#chat-docs input");
  await page.click("#chat-docs input");
  await page.$eval("#chat-max-tokens", (i) => { i.value = ""; });
  await page.type("#chat-max-tokens", "16");
  await page.type("#chat-input", "Who are the parties?");
  await page.click("#chat-send");
  await page.waitForFunction(() => !document.querySelector(".msg.streaming") && document.querySelectorAll(".msg.assistant").length === 1);
  assert.match(await page.$eval("#chat-stats", (s) => s.textContent),
    /^[\d,]+ prompt tokens \([\d,]+ cached\) · \d+ reply tokens · [\d.,]+ tok\/s · first token [\d.]+ s · (length|stop)$/);
  assert.ok((await page.$eval(".msg.assistant .md", (m) => m.textContent)).length > 0);
  await assertClean(page);
  await page.close();
});
