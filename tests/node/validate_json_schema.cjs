// Validates JSON instances against JSON Schemas with ajv (draft 2020-12, strict mode:
// unknown keywords and ill-typed values are compile errors), for the C++ tests.
//
// usage: node validate_json_schema.cjs CASES.json
//   CASES: {"schemas": {name: schema, ...}, "instances": [{"schema": name, "data": any}, ...]}
// prints one JSON object: {"schemas": {name: "ok" | compile error}, "instances": [{"ok", "errors"}, ...]}
'use strict';
const fs = require('fs');
const Ajv2020 = require('ajv/dist/2020');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = { schemas: {}, instances: [] };
const compiled = {};
for (const [name, schema] of Object.entries(cases.schemas)) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  try {
    compiled[name] = { ajv, validate: ajv.compile(schema) };
    out.schemas[name] = 'ok';
  } catch (e) {
    out.schemas[name] = String(e.message);
  }
}
for (const instance of cases.instances || []) {
  const c = compiled[instance.schema];
  if (!c) {
    out.instances.push({ ok: false, errors: 'schema "' + instance.schema + '" did not compile' });
    continue;
  }
  const ok = c.validate(instance.data);
  out.instances.push({ ok, errors: ok ? '' : c.ajv.errorsText(c.validate.errors) });
}
process.stdout.write(JSON.stringify(out) + '\n');
