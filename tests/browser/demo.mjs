// Plays the demo client in a real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core, which never downloads a browser) against a
// running tickroom server. Spawned by tests/e2e/browser.rs, which starts the
// server (room capacity 2) and checks this script's exit status.
//
// Usage: node tests/browser/demo.mjs <base-url> <screenshot-path>
//
// Checks, in order: the page loads and joins from the menu; holding a key
// moves the own player (predicted and server positions); the canvas keeps the
// arena's aspect ratio at devicePixelRatio; HUD figures (RTT, tick, snapshot
// rate) are live; state arrives as a full snapshot then deltas (protocol v2),
// none refused; a second page in the same room and the first see each other
// with names (and the first gets a full snapshot for the join); steering
// toward a held mouse button moves the player; a third
// page gets "room full" (1013) and the menu, and Quick play then joins the
// lobby; leaving with Esc removes the player from the others' view. Writes a
// screenshot of the first page mid-game. Exits non-zero on the first failure.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !screenshotPath) {
  console.error('usage: node tests/browser/demo.mjs <base-url> <screenshot-path>');
  process.exit(2);
}

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ROOM = 'browser-test';
const WAIT = { timeout: 10_000, polling: 50 };
const started = Date.now();
const log = (...args) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

// A hard stop well inside the Rust side's patience, so a hang still reports.
setTimeout(() => {
  console.error('demo.mjs: gave up after 60 s');
  process.exit(3);
}, 60_000).unref();

const userDataDir = mkdtempSync(join(tmpdir(), 'tickroom-chromium-'));
const problems = [];
let context;

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  log('ok -', what);
}

async function openPage(name) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
  });
  const resp = await page.goto(baseUrl, { waitUntil: 'load' });
  check(resp?.ok() && resp.headers()['content-type']?.startsWith('text/html'), `${name}: ${baseUrl} serves the page as text/html`);
  await page.waitForFunction(() => window.__tickroom?.menuShown === true, null, WAIT);
  return page;
}

async function joinFromMenu(page, name, room) {
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join');
  await page.waitForFunction(
    () => window.__tickroom.state === 'connected' && window.__tickroom.predicted !== null,
    null,
    WAIT,
  );
  return state(page);
}

const state = (page) => page.evaluate(() => window.__tickroom);

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
  });
  log('chromium', context.browser()?.version() ?? '(persistent context)');

  // --- page A joins from the menu ---
  const a = await openPage('alice');
  const typeOf = await a.evaluate(async () => (await fetch('main.js')).headers.get('content-type'));
  check(typeOf?.startsWith('text/javascript'), 'ES modules are served as text/javascript');
  let sa = await joinFromMenu(a, 'alice', ROOM);
  check(sa.room === ROOM && Number.isInteger(sa.ownId), `alice joined ${ROOM} as player ${sa.ownId}`);
  const c = sa.canvas;
  check(Math.abs(c.cssWidth / c.cssHeight - sa.arena.width / sa.arena.height) < 0.01, `canvas keeps the arena aspect ratio (${c.cssWidth}x${c.cssHeight} css px)`);
  check(Math.abs(c.width - c.cssWidth * c.dpr) <= 1, `canvas backing store follows devicePixelRatio (${c.width} = ${c.cssWidth} x ${c.dpr})`);

  // --- holding a key moves the own player ---
  const towardCentre = sa.server.x < sa.arena.width / 2 ? 'KeyD' : 'KeyA';
  const sign = towardCentre === 'KeyD' ? 1 : -1;
  const x0 = sa.server.x;
  await a.locator('#arena').focus();
  await a.keyboard.down(towardCentre);
  await a.waitForFunction(
    ([x0, sign]) => (window.__tickroom.server.x - x0) * sign > 60 && (window.__tickroom.predicted.x - x0) * sign > 60,
    [x0, sign],
    WAIT,
  );
  await a.keyboard.up(towardCentre);
  sa = await state(a);
  check((sa.server.x - x0) * sign > 60, `holding ${towardCentre} moved alice from x=${x0.toFixed(1)} to server x=${sa.server.x.toFixed(1)}, predicted x=${sa.predicted.x.toFixed(1)}`);
  check(sa.seq > 5, `inputs were sent (seq ${sa.seq})`);
  // The prediction agrees with the server's state (on loopback it runs at most a tick ahead).
  await a.waitForFunction(() => {
    const t = window.__tickroom;
    return Math.hypot(t.predicted.x - t.server.x, t.predicted.y - t.server.y) < 1;
  }, null, WAIT);
  sa = await state(a);
  check(sa.snaps === 0, `prediction agrees with the server, never snapped (${sa.corrections} corrections > 0.5 units, all smoothed)`);
  await a.waitForFunction(() => window.__tickroom.rtt !== null && window.__tickroom.snapshotRate >= 15, null, WAIT);
  sa = await state(a);
  check(sa.rtt >= 0 && sa.rtt < 1000, `ping measured: ${sa.rtt.toFixed(1)} ms`);
  check(sa.snapshotRate >= 15, `snapshots arrive at ~20/s (${sa.snapshotRate}/s)`);
  check(sa.pellets > 0, `pellets are known (${sa.pellets})`);
  check(
    sa.fullSnapshots >= 1 && sa.deltas > sa.fullSnapshots && sa.refusedDeltas === 0,
    `state arrives as full snapshots and deltas (${sa.fullSnapshots} full, ${sa.deltas} deltas, ${sa.refusedDeltas} refused)`,
  );
  const hud = await a.evaluate(() => ({
    conn: document.getElementById('conn-text').textContent,
    tick: document.getElementById('hud-tick').textContent,
    ping: document.getElementById('hud-ping').textContent,
  }));
  check(hud.conn === 'connected' && /^\d+$/.test(hud.tick) && /ms$/.test(hud.ping), `HUD shows ${JSON.stringify(hud)}`);

  // --- a second page in the same room; each sees the other ---
  const b = await openPage('bob');
  let sb = await joinFromMenu(b, 'bob', ROOM);
  check(sb.ownId !== sa.ownId, `bob joined as player ${sb.ownId}`);
  await a.waitForFunction((id) => window.__tickroom.playersSeen.includes(id) && window.__tickroom.names[id] === 'bob', sb.ownId, WAIT);
  await b.waitForFunction((id) => window.__tickroom.playersSeen.includes(id) && window.__tickroom.names[id] === 'alice', sa.ownId, WAIT);
  check(true, 'alice sees bob and bob sees alice, with names');
  const fullsBefore = sa.fullSnapshots;
  await a.waitForFunction((n) => window.__tickroom.fullSnapshots > n && window.__tickroom.deltas > 0, fullsBefore, WAIT);
  sa = await state(a);
  check(sa.refusedDeltas === 0, `alice got a full snapshot when bob joined (${sa.fullSnapshots} full, ${sa.deltas} deltas, none refused)`);

  // --- pointer steering: hold the mouse button and the player heads for it ---
  sb = await state(b);
  const box = await b.locator('#arena').boundingBox();
  const target = { x: sb.arena.width / 2, y: sb.arena.height / 2 };
  const start = sb.server;
  const d0 = Math.hypot(target.x - start.x, target.y - start.y);
  await b.mouse.move(box.x + (target.x / sb.arena.width) * box.width, box.y + (target.y / sb.arena.height) * box.height);
  await b.mouse.down();
  await b.waitForFunction(
    ([tx, ty, d0]) => {
      const s = window.__tickroom.server;
      return Math.hypot(tx - s.x, ty - s.y) < d0 - 40 || Math.hypot(tx - s.x, ty - s.y) < 30;
    },
    [target.x, target.y, d0],
    WAIT,
  );
  check(true, 'holding the mouse button steers bob toward the pointer');

  // --- a screenshot mid-game: bob still steering, alice moving ---
  await a.keyboard.down('KeyW');
  await a.waitForTimeout(450);
  await a.keyboard.down(towardCentre);
  await a.waitForTimeout(350);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await a.screenshot({ path: screenshotPath });
  await a.keyboard.up('KeyW');
  await a.keyboard.up(towardCentre);
  await b.mouse.up();
  log('screenshot written to', screenshotPath);

  // --- a third page finds the room full (capacity 2), then quick-plays ---
  const c3 = await openPage('carol');
  await c3.fill('#name', 'carol');
  await c3.fill('#room', ROOM);
  await c3.click('#join');
  await c3.waitForFunction(() => window.__tickroom.menuShown && /full/.test(window.__tickroom.menuError), null, WAIT);
  check(true, `carol is told: "${(await state(c3)).menuError}"`);
  await c3.click('#quick');
  await c3.waitForFunction(() => window.__tickroom.state === 'connected' && window.__tickroom.room === 'lobby', null, WAIT);
  check(true, 'Quick play then joins the lobby');

  // --- alice leaves with Esc; bob stops seeing her ---
  await a.keyboard.press('Escape');
  await a.waitForFunction(() => window.__tickroom.menuShown && window.__tickroom.state === 'menu', null, WAIT);
  await b.waitForFunction((id) => !window.__tickroom.players.includes(id), sa.ownId, WAIT);
  check(true, 'Esc leaves the room and bob no longer sees alice');

  for (const [name, page] of [['bob', b], ['carol', c3]]) {
    await page.waitForFunction(() => window.__tickroom.deltas > 0, null, WAIT);
    const s = await state(page);
    check(s.refusedDeltas === 0 && s.deltas > 0, `${name}: ${s.fullSnapshots} full snapshots, ${s.deltas} deltas, none refused`);
  }
  check(problems.length === 0, `no page errors or console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);
  log(`all checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`demo.mjs FAILED: ${e.stack ?? e}`);
  for (const p of problems) console.error('  ', p);
  if (context) {
    for (const [i, page] of context.pages().entries()) {
      try {
        const path = screenshotPath.replace(/\.png$/, `-failure-${i}.png`);
        await page.screenshot({ path });
        console.error(`failure screenshot: ${path}`);
        console.error(`  state: ${JSON.stringify(await state(page))}`);
      } catch {
        // the page may be gone
      }
    }
  }
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
