// Watches a room's recording in the demo client's viewer (`/?replay=<file>`,
// assets/replay.js) in a real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) against a running tickroom server with
// --record-dir and --api-token. Spawned by tests/e2e/browser.rs, which
// records a room played by two test players, starts the server that serves
// the file and checks this script's exit status.
//
// Usage: node tests/browser/replay.mjs <base-url> <file> <token> <junk-file> <screenshot-path>
//
// Checks, in order (frames in pages of 40 ticks, so playback crosses pages;
// the token in the URL fragment as pasted, not %-encoded: its `+` must stay
// a `+`, not turn into a space): the page loads with no console
// errors, no join menu and no WebSocket, and takes the token out of the
// address bar; it shows the room and plays: the tick and the frames drawn
// advance; pause stops the tick; both players are drawn and on the
// scoreboard, the canvas has many colours (read back); seeking with the
// range input shows the frame near the target; 4× is accepted and
// playback runs on to the last tick and ends; Space plays again from the
// start. Then, in fresh contexts: without the token (the prompt dismissed)
// the page shows "operator token needed" with a form, a wrong token entered
// there is refused, the right one plays; a missing recording shows "no such
// recording" and an unreadable one the server's message. Writes screenshots
// of the viewer and of the token form (`<screenshot>-token.png`). Every wait is bounded; exits non-zero on the first
// failure.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';
import { LAUNCH, failureScreenshots, script } from './harness.mjs';

const [baseUrl, file, token, junkFile, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !file || !token || !junkFile || !screenshotPath) {
  console.error('usage: node tests/browser/replay.mjs <base-url> <file> <token> <junk-file> <screenshot-path>');
  process.exit(2);
}

const PAGE_TICKS = 40;
const WAIT = { timeout: 10_000, polling: 50 };
const { log, check } = script('replay.mjs', 60_000);

const problems = [];
let browser;
const pages = [];

const viewerUrl = (name, extra = '') => `${baseUrl}?replay=${encodeURIComponent(name)}${extra}`;
const replay = (page) => page.evaluate(() => window.__tickroom?.replay ?? null);

/** Waits for `fn(window.__tickroom.replay, arg)`; on a timeout, fails with `what` and the state. */
async function waitReplay(page, what, fn, arg) {
  try {
    await page.waitForFunction(
      ([src, arg]) => {
        const r = window.__tickroom?.replay;
        return r ? new Function('r', 'arg', `return (${src})(r, arg);`)(r, arg) : false;
      },
      [fn.toString(), arg],
      WAIT,
    );
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: replay state ${JSON.stringify(await replay(page).catch(() => null))} (${e.message.split('\n')[0]})`);
  }
  return replay(page);
}

/**
 * A page in a fresh context (its own sessionStorage). `strict`: console
 * errors count as problems (else only page errors do: the refused requests
 * of the error-state checks log "Failed to load resource").
 */
async function openViewer(name, url, { strict, dialogs = [] } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = 0;
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets++;
      }
    };
  });
  const page = await context.newPage();
  pages.push(page);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && (strict || !/Failed to load resource/.test(m.text()))) problems.push(`${name}: console error: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  const resp = await page.goto(url, { waitUntil: 'load' });
  check(resp?.ok() && resp.headers()['content-type']?.startsWith('text/html'), `${name}: the viewer page loads`);
  return page;
}

/** Distinct colours among the canvas's pixels (every 7th pixel), read back from the page. */
const canvasColours = (page) =>
  page.evaluate(() => {
    const c = document.getElementById('arena');
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    return seen.size;
  });

async function main() {
  browser = await chromium.launch(LAUNCH);
  log('chromium', browser.version());

  // --- the recording, with the token in the fragment ---
  const dialogs = [];
  const page = await openViewer('viewer', viewerUrl(file, `&page=${PAGE_TICKS}#token=${token}`), { strict: true, dialogs });
  let r = await waitReplay(page, 'the summary and the first frame', (r) => r.firstTick !== null && r.framesDrawn > 0);
  const first = r.firstTick;
  const last = r.lastTick;
  check(last - first >= 79 && r.error === null, `the recording of room "${r.room}" has ticks ${first}..${last}`);
  const dom = await page.evaluate(() => ({
    menuShown: window.__tickroom.menuShown,
    menuVisible: getComputedStyle(document.getElementById('menu')).display !== 'none',
    hudVisible: !document.getElementById('hud').hidden,
    replayVisible: !document.getElementById('replay').hidden,
    room: document.getElementById('replay-room').textContent,
    sockets: window.__sockets,
    hash: location.hash,
    search: location.search,
  }));
  check(!dom.menuShown && !dom.menuVisible && !dom.hudVisible && dom.replayVisible, 'no join menu and no game HUD: the replay panel');
  check(dom.sockets === 0, 'the viewer opened no WebSocket');
  check(dom.hash === '' && dom.search.includes('replay='), `the token was taken out of the address bar (now ${dom.search}${dom.hash})`);
  check(dom.room === r.room && r.room === 'replayed', `the panel names the room (${dom.room})`);
  check(dialogs.length === 0, 'no prompt with the token in the fragment');

  // --- playing: the tick and the frames drawn advance ---
  r = await waitReplay(page, 'playback to start', (r) => r.playing && r.tick !== null);
  const t0 = r.tick;
  const drawn0 = r.framesDrawn;
  r = await waitReplay(page, 'the tick to advance by 5', (r, [t, d]) => r.tick >= t + 5 && r.framesDrawn > d + 5, [t0, drawn0]);
  check(true, `playing: tick ${t0} → ${r.tick}, frames drawn ${drawn0} → ${r.framesDrawn}`);

  // --- pause stops the tick ---
  await page.click('#replay-play');
  r = await waitReplay(page, 'pause', (r) => !r.playing);
  const paused = r;
  check(!paused.ended, `paused at tick ${paused.tick}, before the end`);
  await page.waitForTimeout(600);
  r = await replay(page);
  check(r.tick === paused.tick && r.position === paused.position && !r.playing, `paused: the tick stays at ${r.tick} for 600 ms`);
  const label = await page.getAttribute('#replay-play', 'aria-label');
  check(label === 'Play', `the play button is labelled "${label}" when paused`);

  // --- what is drawn ---
  r = await waitReplay(page, 'both players in the frame', (r) => r.players.length === 2);
  check(Object.values(r.names).sort().join(',') === 'ada,bob', `both players are shown (${JSON.stringify(r.names)})`);
  const colours = await canvasColours(page);
  check(colours > 50, `the canvas is drawn (${colours} distinct colours sampled)`);
  const scores = await page.evaluate(() => [...document.querySelectorAll('#scores .who')].map((e) => e.textContent).sort());
  check(scores.join(',') === 'ada,bob', `the scoreboard lists ${scores}`);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath });
  log('screenshot written to', screenshotPath);

  // --- seeking with the range input ---
  const target = Math.min(first + 60, last - 5);
  await page.evaluate((t) => {
    const seek = document.getElementById('replay-seek');
    seek.value = String(t);
    seek.dispatchEvent(new Event('input', { bubbles: true }));
    seek.dispatchEvent(new Event('change', { bubbles: true }));
  }, target);
  r = await waitReplay(page, `the frame near tick ${target}`, (r, t) => r.tick !== null && Math.abs(r.tick - t) <= 1, target);
  check(!r.playing && r.position === target, `seeking to ${target} shows tick ${r.tick} (still paused)`);
  const pageOfTarget = Math.floor((target - first) / PAGE_TICKS);
  check(r.pagesLoaded.includes(pageOfTarget), `the page around the target (${pageOfTarget}) was fetched (loaded: ${r.pagesLoaded})`);
  const readout = await page.textContent('#replay-time');
  check(readout.includes(`tick ${Math.floor(r.position)}`), `the readout says "${readout}"`);

  // --- 4×, on to the end ---
  await page.selectOption('#replay-speed', '4');
  r = await waitReplay(page, 'speed 4', (r) => r.speed === 4);
  check(true, 'speed 4× is accepted');
  await page.click('#replay-play');
  r = await waitReplay(page, 'playback to reach the last tick', (r) => r.ended && !r.playing && r.tick === r.lastTick);
  check(true, `at 4× playback ran on to tick ${r.tick} and ended`);
  check(r.fetches >= Math.ceil((last - first + 1) / PAGE_TICKS), `frames came in pages of ${PAGE_TICKS} ticks (${r.fetches} requests)`);
  const status = await page.textContent('#replay-status');
  check(status === 'ended', `the status says "${status}"`);

  // --- Space plays again from the start ---
  await page.locator('#arena').focus();
  await page.keyboard.press('Space');
  r = await waitReplay(page, 'playing again from the start', (r, t) => r.playing && r.tick !== null && r.tick < t, target);
  check(true, `Space plays again from the start (tick ${r.tick})`);
  check(problems.length === 0, `no page errors or console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);

  // --- no token: the prompt is dismissed, the page asks for it ---
  const noTokenDialogs = [];
  const bare = await openViewer('no token', viewerUrl(file), { strict: false, dialogs: noTokenDialogs });
  r = await waitReplay(bare, 'the token error', (r) => r.error !== null);
  check(r.error.kind === 'token-needed' && r.errorShown && r.framesDrawn === 0, `without a token: ${JSON.stringify(r.error)}`);
  check(noTokenDialogs.some((d) => d.startsWith('prompt')), `the page prompted for the token (${noTokenDialogs})`);
  const card = await bare.evaluate(() => ({
    title: document.getElementById('replay-error-title').textContent,
    form: !document.getElementById('replay-token-row').hidden && getComputedStyle(document.getElementById('replay-error')).display !== 'none',
  }));
  check(/token needed/i.test(card.title) && card.form, `the page says "${card.title}" with a token form`);
  const tokenShot = screenshotPath.replace(/\.png$/, '-token.png');
  await bare.screenshot({ path: tokenShot });
  log('screenshot written to', tokenShot);
  await bare.fill('#replay-token', 'not-the-token');
  await bare.click('#replay-token-use');
  r = await waitReplay(bare, 'the refusal', (r) => r.error?.kind === 'token-refused');
  const refused = await bare.textContent('#replay-error-title');
  check(/refused/i.test(refused), `a wrong token: "${refused}"`);
  await bare.fill('#replay-token', token);
  await bare.click('#replay-token-use');
  r = await waitReplay(bare, 'playback with the right token', (r) => r.error === null && r.framesDrawn > 0 && r.tick !== null);
  check(!r.errorShown, `the right token plays (tick ${r.tick})`);

  // --- a missing and an unreadable recording ---
  const missing = await openViewer('missing', viewerUrl('nope@1-1.tickrec', `#token=${encodeURIComponent(token)}`), { strict: false });
  r = await waitReplay(missing, 'the not-found error', (r) => r.error !== null);
  const missingTitle = await missing.textContent('#replay-error-title');
  check(r.error.kind === 'not-found' && r.error.status === 404 && /no such recording/i.test(missingTitle), `a missing file: "${missingTitle}"`);
  const junk = await openViewer('unreadable', viewerUrl(junkFile, `#token=${encodeURIComponent(token)}`), { strict: false });
  r = await waitReplay(junk, 'the unreadable error', (r) => r.error !== null);
  const junkText = await junk.textContent('#replay-error-text');
  check(r.error.kind === 'unreadable' && r.error.status === 422 && junkText.length > 5, `an unreadable file: "${junkText}"`);

  check(problems.length === 0, `no page errors${problems.length ? `: ${problems.join('; ')}` : ''}`);
  log('all checks passed');
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`replay.mjs FAILED: ${e.stack ?? e}`);
  for (const p of problems) console.error('  ', p);
  await failureScreenshots(pages, screenshotPath, replay);
} finally {
  await browser?.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
