// Decodes byte strings as WHATWG's TextDecoder (Node's built-in) does, for the C++ tests
// of ream/common/utf8.h: one U+FFFD per maximal ill-formed subsequence, as Unicode
// recommends (and Python's errors="replace" does).
//
// usage: node utf8_decode.cjs CASES.json
//   CASES: ["<hex bytes>", ...]
// prints [{"valid": bool, "repaired": "<hex bytes of the replaced text, UTF-8>"}, ...]
'use strict';
const fs = require('fs');

const lossy = new TextDecoder('utf-8', { ignoreBOM: true });
const strict = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });
const out = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')).map((hex) => {
  const bytes = Buffer.from(hex, 'hex');
  let valid = true;
  try {
    strict.decode(bytes);
  } catch (e) {
    valid = false;
  }
  return { valid, repaired: Buffer.from(lossy.decode(bytes), 'utf8').toString('hex') };
});
process.stdout.write(JSON.stringify(out));
