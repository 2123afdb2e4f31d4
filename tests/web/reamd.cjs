// What both browser tests share: real reamd daemons on the tiny random-weight model
// (built by `ream init-model`), each with its own data folder, on a free port; a small
// source tree to audit.
"use strict";
const { spawn, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { freePort } = require("../node/free_port.cjs");

const env = process.env;
const CONTRACT = path.join(env.REAM_SOURCE_DIR, "tests/data/documents/cuad/contracts",
  "ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).txt");

// A folder for one test file's daemons, with the tiny model in it.
function makeWorkDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ream-web-"));
  execFileSync(env.REAM, ["init-model", "--shape", "tiny", "--out", path.join(dir, "tiny")], { stdio: "ignore" });
  return dir;
}

// A reamd on the tiny model in `dir`; with `key`, auth is on with that key (role submit).
// `roots`: server folders whose documents jobs may name, besides the CUAD contracts'.
// `maxModelLen`: engine.max_model_len (a plugin skips the model for a document longer).
async function startDaemon(dir, name, { key, roots = [], maxModelLen } = {}) {
  const data = path.join(dir, name);
  fs.mkdirSync(data);
  const port = await freePort();
  const lines = [
    `data_dir: ${data}/data`,
    "engine:",
    `  model: ${dir}/tiny`,
    "  threads: 1",
    ...(maxModelLen ? [`  max_model_len: ${maxModelLen}`] : []),
    `workflows: [${env.REAM_SOURCE_DIR}/workflows, ${env.REAM_SOURCE_DIR}/plugins/example]`,
    `plugins: [${env.REAM_PLUGIN_DIR}, ${env.WEB_TEST_PLUGIN_DIR}]`,
    "documents:",
    `  allowed_roots: [${[path.dirname(CONTRACT), ...roots].join(", ")}]`,
  ];
  if (key) {
    const digest = crypto.createHash("sha256").update(key).digest("hex");
    lines.push("auth:", "  keys:", "    - name: tester", `      sha256: "${digest}"`, "      role: submit");
  }
  fs.writeFileSync(path.join(data, "reamd.yaml"), lines.join("\n") + "\n");
  const proc = spawn(env.REAMD, ["--config", path.join(data, "reamd.yaml"), "--listen", `127.0.0.1:${port}`]);
  const d = { proc, base: `http://127.0.0.1:${port}`, log: "" };
  proc.stdout.on("data", (x) => (d.log += x));
  proc.stderr.on("data", (x) => (d.log += x));
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(d.base + "/readyz", { headers: key ? { Authorization: `Bearer ${key}` } : {} });
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (i > 900 || proc.exitCode !== null) {
      proc.kill("SIGKILL");
      throw new Error(`reamd did not come up:\n${d.log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return d;
}

// A small source tree (for code_audit, and for a keyword search over its files): the
// word "checksum" on known lines of two files. Returns its root.
const TREE_FILES = {
  "lib/strings.c": [
    "#include <stddef.h>",
    "",
    "/* A running checksum of a buffer. */",
    "unsigned sum_bytes(const unsigned char *p, size_t n) {",
    "  unsigned s = 0;",
    "  for (size_t i = 0; i < n; i++) s = s * 31 + p[i];",
    "  return s;",
    "}",
    "int same(unsigned a, unsigned b) { return a == b; }  /* compares a checksum */",
  ],
  "src/greet.py": [
    "import sys",
    "",
    "def greet(name):",
    "    print('hello', name)  # no checksum here",
    "",
    "if __name__ == '__main__':",
    "    greet(sys.argv[1])",
  ],
};
function makeTree(dir) {
  const root = path.join(dir, "tree");
  for (const [name, lines] of Object.entries(TREE_FILES)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), lines.join("\n") + "\n");
  }
  return root;
}

module.exports = { CONTRACT, TREE_FILES, makeTree, makeWorkDir, startDaemon };
