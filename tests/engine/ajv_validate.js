// Validates texts against JSON Schemas with ajv 8 (draft 2020-12, + ajv-formats), the independent
// reference of the constrained-decoding tests. Input file (argv[2]):
// {"cases": [{"schema": ..., "texts": ["...", ...]}, ...]}. Prints one JSON array with,
// per case, {"schema_error": "..."} or an array of {"parsed", "valid", "errors"} per
// text. Each text goes through JSON.parse first. Run with NODE_PATH at
// tests/node/node_modules (set by the test from the source tree).
"use strict";
const fs = require("fs");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = input.cases.map((c) => {
  const ajv = new Ajv2020({ strict: false, validateFormats: true });
  addFormats(ajv);
  let validate;
  try {
    const schema = typeof c.schema === "object" && c.schema !== null ? { ...c.schema } : c.schema;
    if (schema && typeof schema === "object") delete schema.$schema;  // one meta-schema for all
    validate = ajv.compile(schema);
  } catch (e) {
    return { schema_error: String(e.message || e) };
  }
  return c.texts.map((t) => {
    let value;
    try {
      value = JSON.parse(t);
    } catch (e) {
      return { parsed: false, valid: false, errors: String(e.message) };
    }
    const ok = validate(value);
    return { parsed: true, valid: !!ok, errors: ok ? "" : ajv.errorsText(validate.errors) };
  });
});
console.log(JSON.stringify(out));
