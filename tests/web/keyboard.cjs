// Keyboard helpers shared by the browser tests (web_app_test, web_app_firefox_test).
"use strict";

// Presses Tab until the focused element satisfies `is` (a predicate run in the page with `arg`).
async function tabTo(page, what, is, arg) {
  for (let i = 0; i < 120; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(is, arg)) return;
  }
  throw new Error(`Tab never reached ${what}`);
}

module.exports = { tabTo };
