// Plays dots, the docs' minimal game (crates/tickroom/examples/dots/), in a
// real headless Chromium on its own page (examples/dots/www/, built on the
// public tickroom-client package only): the proof that a game that is not the
// arena is played in the browser. Spawned by tests/e2e/browser.rs, which
// starts a server hosting dots (the default game of /ws rooms) with
// --assets-dir pointing at that page, and checks this script's exit status.
//
// Usage: node tests/browser/dots.mjs <base-url> <screenshot-path>
//
// Checks, in order: the page and its script are served (text/html,
// text/javascript) and join the room as dots; a second page joins the same
// room and both see two entities; page A holding the right arrow moves its
// own dot right (its newest frame, and page B's view of it), and the dot
// stops once the room has applied the last input (an idle page sends
// nothing); holding A (WASD) moves it left (first, should it have spawned
// too near the right wall to move right); one Space press on page A reaches
// page B as exactly one `waved` event from A (B flashes "waved by ada", A
// gets none of its own); three quick presses reach B as exactly three; no
// frame was refused and no checksum mismatched on either page; no page
// errors, console errors or warnings. Writes a screenshot of page B (both
// dots, the flash) to <screenshot-path>. Exits non-zero on the first failure.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { LAUNCH, failureScreenshots, script } from './harness.mjs';

const [baseUrl, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !screenshotPath) {
  console.error('usage: node tests/browser/dots.mjs <base-url> <screenshot-path>');
  process.exit(2);
}
const ROOM = 'dots-browser';
/** How far a held key must move a dot, in board units (15 units a second at dots' default speed). */
const MOVE = 5;
const WAIT = { timeout: 10_000, polling: 50 };
const { log, check } = script('dots.mjs', 60_000);

const userDataDir = mkdtempSync(join(tmpdir(), 'tickroom-chromium-dots-'));
const problems = [];
let context;

const state = (page) => page.evaluate(() => window.__dots);

async function openPage(name) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${name}: console ${m.type()}: ${m.text()}`);
  });
  const url = new URL(baseUrl);
  url.searchParams.set('room', ROOM);
  url.searchParams.set('name', name);
  const resp = await page.goto(url.href, { waitUntil: 'load' });
  check(resp?.ok() && resp.headers()['content-type']?.startsWith('text/html'), `${name}: ${url.href} serves the page as text/html`);
  await page
    .waitForFunction(() => window.__dots?.connected === true && window.__dots.own !== null, null, WAIT)
    .catch(async () => {
      throw new Error(`${name} did not join with a dot of its own within ${WAIT.timeout} ms: ${JSON.stringify(await state(page).catch(() => null))}`);
    });
  const s = await state(page);
  check(s.room === ROOM && s.game === 'dots' && Number.isInteger(s.playerId), `${name} joined ${ROOM} (game ${s.game}) as player ${s.playerId}, its dot at (${s.own.x}, ${s.own.y})`);
  return page;
}

/** Waits for `fn(arg)` (run in `page`, reading window.__dots) to hold, failing with `what` and the page's state. */
async function waitFor(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, WAIT);
  } catch {
    throw new Error(`timed out after ${WAIT.timeout} ms waiting for ${what}; state: ${JSON.stringify(await state(page).catch(() => null))}`);
  }
}

/** Player `playerId`'s dot's x in `viewer`'s newest frame. */
async function xOf(viewer, playerId) {
  const s = await state(viewer);
  return s.dots.find((d) => d.player === playerId)?.x ?? null;
}

/** Holds `key` on `page` until its own dot's x has moved `sign * MOVE` from `x0`; returns the x then. */
async function hold(page, name, key, x0, sign) {
  await page.locator('#board').focus();
  await page.keyboard.down(key);
  try {
    await waitFor(page, `${name}'s dot to move ${sign > 0 ? 'right' : 'left'} by ${MOVE} holding ${key}`, (a) => (window.__dots.own.x - a.x0) * a.sign >= a.move, { x0, sign, move: MOVE });
  } finally {
    await page.keyboard.up(key);
  }
  return (await state(page)).own.x;
}

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    ...LAUNCH,
    viewport: { width: 900, height: 700 },
    deviceScaleFactor: 1,
  });
  log('chromium', context.browser()?.version() ?? '(persistent context)');

  // --- two pages in the same room ---
  const a = await openPage('ada');
  const typeOf = await a.evaluate(async () => (await fetch('dots.js')).headers.get('content-type'));
  check(typeOf?.startsWith('text/javascript'), `dots.js is served as text/javascript (${typeOf})`);
  const b = await openPage('bob');
  let sa = await state(a);
  let sb = await state(b);
  const ada = sa.playerId;
  check(sb.playerId !== ada, `bob is another player (${sb.playerId})`);
  await waitFor(a, 'ada to see two entities', () => window.__dots.entities === 2);
  await waitFor(b, 'bob to see two entities', () => window.__dots.entities === 2);
  sb = await state(b);
  check(sb.dots.some((d) => d.player === ada && d.name === 'ada'), 'both pages see two entities; bob sees ada by name');

  // --- ada moves: right with the arrow key, left with WASD ---
  sa = await state(a);
  const size = sa.size;
  const y0 = sa.own.y;
  let leftFirst = false;
  if (sa.own.x > size - 2 * MOVE) {
    // Too near the right wall to move right by MOVE: make room first.
    leftFirst = true;
    const x = await hold(a, 'ada', 'KeyA', sa.own.x, -1);
    check(true, `holding A (WASD) moved ada's dot left from x=${sa.own.x} to x=${x}`);
  }
  const x0 = (await state(a)).own.x;
  const x1 = await hold(a, 'ada', 'ArrowRight', x0, 1);
  check(x1 >= x0 + MOVE, `holding ArrowRight moved ada's dot right from x=${x0} to x=${x1} (ada's newest frame)`);
  await waitFor(b, `bob to see ada's dot at x >= ${x0 + MOVE}`, (a) => window.__dots.dots.some((d) => d.player === a.ada && d.x >= a.x), { ada, x: x0 + MOVE });
  const seen = await xOf(b, ada);
  check(seen >= x0 + MOVE, `bob's view has ada's dot moved too (x=${seen})`);
  // Let go: the page sends nothing more, and once the room has applied the
  // last input it sent, the dot stays put.
  await waitFor(a, "the room to apply ada's last input", () => window.__dots.acked === window.__dots.inputs);
  const idle = await state(a);
  const rest = idle.own.x;
  await a.waitForTimeout(500);
  sa = await state(a);
  check(sa.inputs === idle.inputs, `let go, ada's page sends no input (${sa.inputs} sent in all, the room applied up to ${idle.acked}, none sent in 500 ms)`);
  check(sa.own.x === rest && sa.own.y === y0, `let go, ada's dot stays at (${sa.own.x}, ${sa.own.y}) and its y never changed`);
  if (!leftFirst) {
    const x = await hold(a, 'ada', 'KeyA', rest, -1);
    check(true, `holding A (WASD) moved ada's dot left from x=${rest} to x=${x}`);
  }

  // --- ada waves: bob gets exactly one wave, from ada ---
  const before = (await state(b)).wavesReceived;
  check(before === 0, `bob has no wave yet (${before})`);
  await a.locator('#board').focus();
  await a.keyboard.press('Space');
  await waitFor(b, "bob to get ada's wave", (n) => window.__dots.wavesReceived >= n, before + 1);
  sb = await state(b);
  check(sb.lastWaveBy === ada && sb.flash === 'waved by ada', `bob got the wave from ada and flashes "${sb.flash}"`);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await b.screenshot({ path: screenshotPath });
  log('screenshot written to', screenshotPath);
  await b.waitForTimeout(500);
  sb = await state(b);
  sa = await state(a);
  check(sb.wavesReceived === before + 1, `one press, exactly one wave at bob (${sb.wavesReceived - before})`);
  check(sa.wavesSent === 1 && sa.wavesReceived === 0, `ada sent 1 wave and got none of her own (${sa.wavesReceived})`);

  // --- every press reaches the game: three quick presses, three waves ---
  for (let i = 0; i < 3; i++) await a.keyboard.press('Space');
  await waitFor(b, 'bob to get three more waves', (n) => window.__dots.wavesReceived >= n, before + 4);
  await b.waitForTimeout(500);
  sb = await state(b);
  sa = await state(a);
  check(sb.wavesReceived === before + 4 && sa.wavesSent === 4 && sa.wavesReceived === 0, `three quick presses, three more waves at bob (${sb.wavesReceived - before} in all), none at ada`);

  // --- the pages' copies never diverged ---
  for (const [name, s] of [['ada', sa], ['bob', sb]]) {
    const f = s.frames;
    check(
      f.full >= 1 && f.delta > 0 && f.refused === 0 && f.mismatches === 0 && s.badEvents === 0,
      `${name}: ${f.full} full frames, ${f.delta} deltas, ${f.refused} refused, ${f.mismatches} checksum mismatches, ${s.badEvents} bad events`,
    );
  }
  check(problems.length === 0, `no page errors or console errors/warnings${problems.length ? `: ${problems.join('; ')}` : ''}`);
  log('all checks passed');
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`dots.mjs FAILED: ${e.stack ?? e}`);
  for (const p of problems) console.error('  ', p);
  if (context) await failureScreenshots(context.pages(), screenshotPath, state);
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
