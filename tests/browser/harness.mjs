// What every browser script in tests/browser shares: the Chromium to drive
// and its flags, a log with elapsed seconds, `check` (log a passed check,
// throw on a failed one), a hard stop that still reports a hang inside the
// Rust side's patience, the init script that records a page's WebSockets
// (so a check can close one under the client), and failure screenshots.
// Each script is spawned by a test in tests/e2e/ that checks its exit status.

/** Debian's Chromium unless `$CHROMIUM` says otherwise (playwright-core never downloads one). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Headless, no sandbox (CI runs as root), nothing in the background. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launch options every script starts from (add a viewport where it matters). */
export const LAUNCH = { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS };

/**
 * Starts script `name`'s clock: returns `log(...)` (prefixed with the
 * elapsed seconds) and `check(cond, what)`, and exits with status 3 after
 * `limitMs` should the script hang.
 */
export function script(name, limitMs) {
  const started = Date.now();
  const log = (...args) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);
  setTimeout(() => {
    console.error(`${name}: gave up after ${limitMs / 1000} s`);
    process.exit(3);
  }, limitMs).unref();
  const check = (cond, what) => {
    if (!cond) throw new Error(`check failed: ${what}`);
    log('ok -', what);
  };
  return { log, check };
}

/** Makes every page of `context` record its WebSockets in `window.__sockets`. */
export function recordSockets(context) {
  return context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.__closes = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
        this.addEventListener('close', (e) => window.__closes.push({ url: this.url, code: e.code, reason: e.reason }));
      }
    };
  });
}

/**
 * After a failure: a screenshot of every page next to `screenshotPath`
 * (`…-failure-<i>.png`) and what `stateOf(page)` says of it, for the log.
 */
export async function failureScreenshots(pages, screenshotPath, stateOf) {
  for (const [i, page] of pages.entries()) {
    try {
      const path = screenshotPath.replace(/\.png$/, `-failure-${i}.png`);
      await page.screenshot({ path });
      console.error(`failure screenshot: ${path}`);
      console.error(`  state: ${JSON.stringify(await stateOf(page))}`);
    } catch {
      // the page may be gone
    }
  }
}
