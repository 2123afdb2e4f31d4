// SARIF 2.1.0 validation against the SARIF 2.1.0 JSON schema (OASIS's, as SchemaStore
// publishes it: sarif-2.1.0-rtm.5.json, draft-04), shipped in the npm package
// @microsoft/jest-sarif, checked with ajv's draft-04 class (ajv-draft-04) and ajv-formats.
// Two departures from ajv's defaults, both for this schema's sake: its language pattern
// ("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$") is not a valid Unicode-mode regular
// expression (unicodeRegExp), and it lists "required" properties inside anyOf branches
// that it does not define there (strictRequired).
//
// As a module: validateSarif(log) -> "" when valid, else ajv's errors as text.
// As a program: node validate_sarif.cjs FILE -> prints "ok" and exits 0, or prints the
// errors and exits 1.
'use strict';
const Ajv4 = require('ajv-draft-04');
const addFormats = require('ajv-formats');

const ajv = new Ajv4({ allErrors: true, strict: true, strictRequired: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'));

function validateSarif(log) {
  return validate(log) ? '' : ajv.errorsText(validate.errors, { separator: '\n' });
}

if (require.main === module) {
  const errors = validateSarif(JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8')));
  console.log(errors || 'ok');
  process.exit(errors ? 1 : 0);
}

module.exports = { validateSarif };
