// freePort(): a TCP port on 127.0.0.1 that nothing listens on right now, for a reamd the
// node tests start (`--listen 127.0.0.1:<port>`). The kernel picks it (listen on port 0),
// and the probe closes before the port is returned. Shared by tests/web/reamd.cjs and
// tests/openai/openai_client_test.cjs.
"use strict";
const net = require("node:net");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

module.exports = { freePort };
