// Plays clients/js/README.md's example page — copied verbatim into a scratch
// project that installed the packed tickroom-client — in headless Chromium
// against a real tickroom server serving that project. Spawned by
// tests/e2e/client_package.rs, which checks this script's exit status.
//
// Usage: node tests/browser/client_example.mjs <base-url> <protocol.js> <screenshot-path> [<owner host:port>]
//
// `protocol.js` is the installed package's codec: the script decodes what the
// page's WebSocket receives with it (so it sees Welcomes without any hook in
// the page). The page is only observed from outside: its WebSockets (the
// init script below records them, so one can be closed under the client),
// the messages on them, and the pixels of its canvas (the example draws the
// own player #ffd700 and the others #4682b4, in world units).
//
// With an owner (a cluster: the page comes from one node, the matchmaker
// puts the room on the owner), the checks after the first join are instead:
// the ticket's socket went straight to the owner; closed under the client,
// the reconnect goes through the page's node (the entry), which answers
// 4001 "room lives on node …", and the client follows to the owner and the
// Welcome takes back the same player, still drawn and still steerable.
//
// Checks, in order: the page matchmakes and joins with the ticket (a
// WebSocket URL carrying `ticket=`, a Welcome); it draws its own player;
// holding an arrow key (toward the middle) moves that player along x; a second page matchmakes into
// the same room and each page draws the other's player; the first page's
// socket closed under it (no Leave) reconnects without the spent ticket and
// the Welcome takes back the same player (`resumed`), still drawn and still
// steerable; no page error or console error throughout.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { LAUNCH, recordSockets, script } from './harness.mjs';

const [baseUrl, protocolPath, screenshotPath, ownerHost] = process.argv.slice(2);
if (!baseUrl || !protocolPath || !screenshotPath) {
  console.error('usage: node tests/browser/client_example.mjs <base-url> <protocol.js> <screenshot-path>');
  process.exit(2);
}
const { decodeServer } = await import(pathToFileURL(protocolPath).href);

const WAIT_MS = 10_000;
const { log, check } = script('client_example.mjs', 60_000);

const userDataDir = mkdtempSync(join(tmpdir(), 'tickroom-chromium-'));
const problems = [];
let context;

/** Polls `probe` every 50 ms until it returns a truthy value; fails after WAIT_MS naming `what`. */
async function until(what, probe) {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens the example page; records its sockets' URLs and the server messages they carry. */
async function openPage(name) {
  const page = await context.newPage();
  const seen = { sockets: [], welcomes: [], frames: 0 };
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    // A failed load is reported with its URL below (the browser's own
    // favicon.ico request aside: the example page has no icon).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`${name}: console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') problems.push(`${name}: ${r.status()} for ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`${name}: request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('websocket', (ws) => {
    seen.sockets.push(ws.url());
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string') return;
      let msg;
      try {
        msg = decodeServer(new Uint8Array(payload));
      } catch (e) {
        problems.push(`${name}: undecodable server message: ${e.message}`);
        return;
      }
      if (msg.type === 'Welcome') seen.welcomes.push(msg);
      else if (msg.type === 'State') seen.frames++;
    });
  });
  const resp = await page.goto(baseUrl, { waitUntil: 'load' });
  check(resp?.ok(), `${name}: ${baseUrl} serves the example page`);
  return { page, seen, name };
}

/** The centroid (world units) of the canvas pixels drawn in `rgb`, and how many there are. */
function blob(page, rgb) {
  return page.evaluate(([r, g, b]) => {
    const canvas = document.getElementById('arena');
    const { data, width, height } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    let sx = 0;
    let sy = 0;
    for (let y = 0; y < height; y += 2) {
      for (let x = 0; x < width; x += 2) {
        const i = (y * width + x) * 4;
        if (data[i] === r && data[i + 1] === g && data[i + 2] === b) {
          n++;
          sx += x;
          sy += y;
        }
      }
    }
    return n ? { n, x: sx / n, y: sy / n } : null;
  }, rgb);
}
const OWN = [0xff, 0xd7, 0x00];
const OTHER = [0x46, 0x82, 0xb4];

/** Steers the own player (at `from`) 60 units toward the arena's middle with an arrow key; returns the new spot and the key. */
async function steerTowardMiddle(p, from) {
  const right = from.x < 800;
  const key = right ? 'ArrowRight' : 'ArrowLeft';
  return { key, spot: await holdUntilMoved(p, key, from, right ? 60 : -60) };
}

/** Holds `key` until the own player moved `dx` (signed) or the wait ends; returns the new spot. */
async function holdUntilMoved(p, key, from, dx) {
  await p.page.keyboard.down(key);
  try {
    return await until(`${p.name}'s player to move ${dx} units with ${key}`, async () => {
      const now = await blob(p.page, OWN);
      return now && (dx > 0 ? now.x - from.x > dx : from.x - now.x > -dx) ? now : null;
    });
  } finally {
    await p.page.keyboard.up(key);
  }
}

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    ...LAUNCH,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
  });
  await recordSockets(context);

  // --- matchmake, join with the ticket, draw the own player ---
  const a = await openPage('a');
  const welcome = await until('a Welcome on page a', () => a.seen.welcomes[0]);
  const first = new URL(a.seen.sockets[0]);
  check(first.searchParams.get('ticket') && first.searchParams.get('room') === welcome.room, `page a joined room ${welcome.room} as player ${welcome.player_id} with the matchmaker's ticket`);
  await until('frames on page a', () => a.seen.frames >= 5);
  let spot = await until("page a's own player on the canvas", () => blob(a.page, OWN));
  check(spot.n > 50, `page a draws its own player at (${spot.x.toFixed(0)}, ${spot.y.toFixed(0)})`);
  if (ownerHost) {
    await roomMoved(a, welcome, first);
    return;
  }

  // --- the arrow keys steer it ---
  await a.page.click('#arena');
  const { key, spot: moved } = await steerTowardMiddle(a, spot);
  check(Math.abs(moved.y - spot.y) < 30, `${key} moved it ${(moved.x - spot.x).toFixed(0)} units along x (y within ${Math.abs(moved.y - spot.y).toFixed(0)})`);

  // --- a second player in the same room: each draws the other ---
  const b = await openPage('b');
  const welcomeB = await until('a Welcome on page b', () => b.seen.welcomes[0]);
  check(welcomeB.room === welcome.room && welcomeB.player_id !== welcome.player_id, `page b matchmade into the same room ${welcomeB.room} as player ${welcomeB.player_id}`);
  await until("b's player drawn on page a", () => blob(a.page, OTHER));
  await until("a's player drawn on page b", () => blob(b.page, OTHER));
  check(true, 'each page draws the other player');

  // --- the socket dropped under page a: the same player comes back ---
  const socketsBefore = a.seen.sockets.length;
  await a.page.evaluate(() => window.__sockets.at(-1).close()); // a close frame, no Leave: the server keeps the player
  const again = await until('a second Welcome on page a', () => a.seen.welcomes[1]);
  const second = new URL(a.seen.sockets[socketsBefore]);
  check(!second.searchParams.has('ticket'), 'the reconnect carries no ticket (spent by the first Welcome)');
  check(again.resumed === true && again.player_id === welcome.player_id, `the Welcome took back player ${again.player_id} (resumed)`);
  spot = await until("page a's own player on the canvas after the resume", () => blob(a.page, OWN));
  await a.page.click('#arena');
  const after = await steerTowardMiddle(a, spot);
  check(true, `the resumed player still steers (${after.key})`);

  mkdirSync(dirname(screenshotPath), { recursive: true });
  await a.page.screenshot({ path: screenshotPath });
  check(problems.length === 0, `no page errors or console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);
}

/** The cluster checks: the room lives on `ownerHost`, the page's own node is the entry. */
async function roomMoved(a, welcome, first) {
  const entryHost = new URL(baseUrl).host;
  check(first.host === ownerHost && ownerHost !== entryHost, `the ticket sent the page from its node ${entryHost} straight to the room's node ${ownerHost}`);
  const socketsBefore = a.seen.sockets.length;
  await a.page.evaluate(() => window.__sockets.at(-1).close()); // no Leave: the owner keeps the player
  const again = await until('a second Welcome on page a', () => a.seen.welcomes[1]);
  const retries = a.seen.sockets.slice(socketsBefore).map((u) => new URL(u));
  // Each socket's close (code, host), in order: the entry's last answer must
  // be the 4001 that names the owner. An entry attempt before it may fail
  // on a loaded machine (the client retries the entry); at most two do.
  const closes = (await a.page.evaluate(() => window.__closes)).map((c) => ({ ...c, host: new URL(c.url).host }));
  const trail = `${retries.map((u) => u.host).join(' -> ')}; closes ${closes.map((c) => `${c.host} ${c.code} ${c.reason}`).join(', ')}`;
  const viaEntry = retries.slice(0, -1);
  const redirect = closes.filter((c) => c.host === entryHost).at(-1);
  check(
    retries.length >= 2 && retries.length <= 4 && viaEntry.every((u) => u.host === entryHost) && retries.at(-1).host === ownerHost,
    `reconnected through the entry, then went to the owner (${trail})`,
  );
  check(redirect?.code === 4001 && redirect.reason.startsWith('node='), `the entry's last answer was 4001 naming the owner's node (${trail})`);
  check(retries.every((u) => !u.searchParams.has('ticket') && u.searchParams.get('room') === welcome.room), 'no attempt carries the spent ticket; every one names the room');
  check(again.resumed === true && again.player_id === welcome.player_id, `the owner took back player ${again.player_id} (resumed)`);
  const spot = await until("page a's own player on the canvas after the move", () => blob(a.page, OWN));
  await a.page.click('#arena');
  const after = await steerTowardMiddle(a, spot);
  check(true, `the player still steers after following the room (${after.key})`);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await a.page.screenshot({ path: screenshotPath });
  check(problems.length === 0, `no page errors or console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);
}

let failed = false;
try {
  await main();
  log('all checks passed');
} catch (e) {
  failed = true;
  console.error(e?.stack ?? String(e));
  if (problems.length) console.error('page problems:', problems.join('\n'));
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
