// Plays skirmish, the bundled top-down shooter (crates/skirmish), on its own
// page (assets/skirmish/, built on the public tickroom-client package only)
// in a real headless Chromium, three players in one room: the proof that the
// page plays the game, and that a player far away is sent nothing of a fight
// it cannot see (interest management). Spawned by tests/e2e/browser.rs,
// which starts a server hosting skirmish and checks this script's exit
// status.
//
// Usage: node tests/browser/skirmish.mjs <base-url> <screenshot-path>
//
// The script creates its room through the room API (`POST /rooms`) with
// fixed spawn points (`spawn_points`, taken in join order): ada and bob 100
// units apart either side of the map's centre (walls keep clear of the
// centre and of spawn points, so none can stand between them), cyd in a
// corner, far out of their view radius; a long respawn, so bob's wreck
// stays where it died for the rest of the script. Checks, in order: ada and bob open the page
// (text/html, its modules text/javascript) and join as skirmish players at
// their spawn points; cyd joins from the games menu at / (Skirmish chosen,
// name and room typed), which opens the skirmish page with both; the page
// links back to /; ada sees bob's ship and bob sees ada's; cyd, holding a
// movement key (D, else A, S or W: the first way no wall blocks), moves its
// ship that way, drawn where the server has it once let go, and the
// prediction never snaps and rarely corrects;
// ada aims at bob and presses Space (one shot a press) until bob's own page
// shows its health dropping, then until bob's ship is destroyed; ada's and
// bob's kill feeds show "ada ✕ bob", everyone's scoreboard (cyd's too: scores
// are global) ada 1 kill and bob 1 death, bob's page counts down to its
// respawn; no frame failed its checksum on any page; no page errors or
// console errors/warnings. Last, cyd: its client never had ada's or bob's
// ship nor any bullet, and its newest frame has nothing but the players,
// the walls, its own ship and the health packs near it (this needs the
// server to send each player only its view). Writes a screenshot of ada's
// page (bob's wreck, a bullet in flight, the kill feed) to
// <screenshot-path>. Exits non-zero on the first failure.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { LAUNCH, failureScreenshots, script } from './harness.mjs';

const [baseUrl, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !screenshotPath) {
  console.error('usage: node tests/browser/skirmish.mjs <base-url> <screenshot-path>');
  process.exit(2);
}
const ROOM = 'skirmish-browser';
/** Where each player spawns, in join order: ada and bob face to face around the centre, cyd in a corner. */
const SPAWN = { ada: [2950, 3000], bob: [3050, 3000], cyd: [700, 700] };
/** A ship's radius (crates/skirmish SHIP_RADIUS). */
const SHIP_RADIUS = 20;
/**
 * The room: the spawn points, and a respawn long enough that bob's wreck
 * stays where it died until the script ends (a respawn may land anywhere,
 * cyd's corner too).
 */
const CONFIG = { spawn_points: [SPAWN.ada, SPAWN.bob, SPAWN.cyd], respawn_s: 30 };
/** How far cyd's held key must move its ship, map units. */
const MOVE = 150;
/** cyd's movement keys, in the order tried, with their directions. */
const MOVES = [['KeyD', 1, 0, 'right'], ['KeyA', -1, 0, 'left'], ['KeyS', 0, 1, 'down'], ['KeyW', 0, -1, 'up']];
/** Between two of ada's shots: more than the gun's cooldown (4 steps, 200 ms at 20 Hz). */
const SHOT_GAP_MS = 300;
/** Shots ada may take: a hit takes 20 of 100 health, so 5 hits destroy bob; the rest is slack. */
const MAX_SHOTS = 25;
/**
 * The share of cyd's frames whose reconciliation may correct its
 * prediction by more than half a unit (and at least MIN_CORRECTIONS): a
 * key press or release lands a step off now and then; a model with the
 * wrong speed is corrected on every frame it moves.
 */
const MAX_CORRECTED_SHARE = 1 / 2;
const MIN_CORRECTIONS = 5;
const WAIT = { timeout: 10_000, polling: 50 };
const { log, check } = script('skirmish.mjs', 75_000);

const userDataDir = mkdtempSync(join(tmpdir(), 'tickroom-chromium-skirmish-'));
const problems = [];
let context;

/** What `page`'s window.skirmish says, for checks and failure reports. */
const state = (page) =>
  page.evaluate(() => {
    const s = window.skirmish;
    if (!s) return null;
    return {
      status: s.status(),
      entityCount: s.entityCount(),
      players: s.players(),
      ships: s.ships(),
      bullets: s.bullets(),
      pickups: s.pickups().length,
      me: s.me(),
      health: s.health(),
      killFeed: s.killFeed(),
      seen: s.seen(),
      prediction: s.prediction(),
      checksumMismatches: s.checksumMismatches(),
    };
  });

/** Waits for `fn(arg)` (run in `page`) to hold, failing with `what` and the page's state. */
async function waitFor(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, WAIT);
  } catch {
    throw new Error(`timed out after ${WAIT.timeout} ms waiting for ${what}; state: ${JSON.stringify(await state(page).catch(() => null))}`);
  }
}

async function newPage(name) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${name}: console ${m.type()}: ${m.text()}`);
  });
  return page;
}

/** Waits until `page` (player `name`) is connected to ROOM with its ship at its spawn point; returns its state. */
async function joined(page, name) {
  const [x, y] = SPAWN[name];
  await waitFor(page, `${name} to join ${ROOM} with its ship`, () => window.skirmish?.status().state === 'connected' && window.skirmish.me() !== null);
  const s = await state(page);
  check(
    s.status.room === ROOM && s.status.game === 'skirmish' && Number.isInteger(s.status.playerId),
    `${name} joined ${ROOM} (game ${s.status.game}) as player ${s.status.playerId}`,
  );
  check(
    Math.abs(s.me.x - x) < 1 && Math.abs(s.me.y - y) < 1 && s.me.health === 100 && s.me.alive,
    `${name}'s ship spawned at its spawn point (${x}, ${y}): at (${s.me.x}, ${s.me.y}), health ${s.me.health}`,
  );
  return s;
}

/** Opens the skirmish page for `name` in ROOM straight from its URL. */
async function openSkirmish(name) {
  const page = await newPage(name);
  const url = new URL('skirmish/', baseUrl);
  url.searchParams.set('room', ROOM);
  url.searchParams.set('name', name);
  const resp = await page.goto(url.href, { waitUntil: 'load' });
  check(resp?.ok() && resp.headers()['content-type']?.startsWith('text/html'), `${name}: ${url.pathname} serves the skirmish page as text/html`);
  return page;
}

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    ...LAUNCH,
    viewport: { width: 1000, height: 700 },
    deviceScaleFactor: 1,
  });
  log('chromium', context.browser()?.version() ?? '(persistent context)');

  // --- the room, through the room API ---
  const created = await fetch(new URL('rooms', baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: ROOM, game: 'skirmish', config: CONFIG }),
  });
  const room = await created.json();
  check(created.status === 201 && room.game === 'skirmish', `POST /rooms created ${ROOM} running ${room.game} (${created.status}: ${JSON.stringify(room)})`);

  // --- ada and bob open the page; cyd comes through the games menu ---
  const a = await openSkirmish('ada');
  for (const file of ['main.js', 'skirmish.js', 'skirmish-render.js']) {
    const type = await a.evaluate(async (f) => (await fetch(f)).headers.get('content-type'), file);
    check(type?.startsWith('text/javascript'), `skirmish/${file} is served as text/javascript (${type})`);
  }
  const ada = (await joined(a, 'ada')).status.playerId;
  const b = await openSkirmish('bob');
  const bob = (await joined(b, 'bob')).status.playerId;

  const c = await newPage('cyd');
  await c.goto(baseUrl, { waitUntil: 'load' });
  await waitFor(c, 'the games menu at /', () => window.__tickroom?.menuShown === true);
  await c.locator('#games label', { hasText: 'Skirmish' }).click();
  check(await c.isChecked('#games input[value="skirmish"]'), 'the games menu at / has Skirmish chosen');
  await c.fill('#name', 'cyd');
  await c.fill('#room', ROOM);
  await Promise.all([c.waitForURL(/\/skirmish\/\?/, { timeout: WAIT.timeout }), c.click('#join')]);
  const cydUrl = new URL(c.url());
  check(
    cydUrl.pathname === '/skirmish/' && cydUrl.searchParams.get('room') === ROOM && cydUrl.searchParams.get('name') === 'cyd',
    `choosing Skirmish in the menu at / and joining opens ${cydUrl.pathname}${cydUrl.search}`,
  );
  const cyd = (await joined(c, 'cyd')).status.playerId;
  const back = await c.evaluate(() => document.getElementById('back')?.href ?? null);
  check(back === new URL('/', baseUrl).href, `the skirmish page links back to the games menu (${back})`);

  // --- ada and bob see each other ---
  await waitFor(a, "ada to see bob's ship", (id) => window.skirmish.ships().some((s) => s.owner === id), bob);
  await waitFor(b, "bob to see ada's ship", (id) => window.skirmish.ships().some((s) => s.owner === id), ada);
  check(true, "ada sees bob's ship and bob sees ada's");

  // --- cyd moves: a held key, predicted ---
  let sc = await state(c);
  const start = sc.me;
  const walls = await c.evaluate(() => window.skirmish.walls());
  // Whether a way is clear of walls for MOVE and a bit (cyd's corner is far from the map's edges).
  const clear = ([, dx, dy]) => {
    for (let d = 0; d <= MOVE + SHIP_RADIUS; d += 5) {
      const x = start.x + dx * d;
      const y = start.y + dy * d;
      if (walls.some((w) => x > w.x - SHIP_RADIUS && x < w.x + w.w + SHIP_RADIUS && y > w.y - SHIP_RADIUS && y < w.y + w.h + SHIP_RADIUS)) return false;
    }
    return true;
  };
  const move = MOVES.find(clear);
  check(move !== undefined, `cyd has a way out of (${start.x}, ${start.y}) that no wall blocks (${walls.length} walls)`);
  const [key, dx, dy, way] = move;
  await c.locator('#field').focus();
  await c.keyboard.down(key);
  try {
    await waitFor(
      c,
      `cyd's ship to move ${MOVE} ${way} holding ${key}`,
      (a) => (window.skirmish.me().x - a.x) * a.dx + (window.skirmish.me().y - a.y) * a.dy >= a.move,
      { x: start.x, y: start.y, dx, dy, move: MOVE },
    );
  } finally {
    await c.keyboard.up(key);
  }
  // Let go: once the room has the release, the drawn ship rests where the server's is.
  await c.waitForTimeout(500);
  sc = await state(c);
  const off = Math.hypot(sc.me.predicted.x - sc.me.x, sc.me.predicted.y - sc.me.y);
  check(
    (sc.me.x - start.x) * dx + (sc.me.y - start.y) * dy >= MOVE && off < 0.5,
    `holding ${key} moved cyd's ship ${way} from (${start.x}, ${start.y}) to (${sc.me.x}, ${sc.me.y}); let go, it is drawn there (${off.toFixed(2)} units off)`,
  );
  const p = sc.prediction;
  const most = Math.max(MIN_CORRECTIONS, Math.floor(MAX_CORRECTED_SHARE * p.frames));
  check(
    p.snaps === 0 && p.corrections <= most,
    `cyd's prediction never snapped and corrected ${p.corrections} of ${p.frames} frames (at most ${most}; the largest by ${p.worstCorrection.toFixed(1)} units)`,
  );

  // --- ada shoots bob: his health drops, then his ship is destroyed ---
  const bobsShip = async () => (await state(a)).ships.find((s) => s.owner === bob);
  let shots = 0;
  /** ada aims at bob's ship (where her page has it) and presses Space, until `done` (run in bob's page) holds. */
  async function shootUntil(what, done) {
    while (shots < MAX_SHOTS) {
      const target = await bobsShip();
      await a.evaluate(([x, y]) => window.skirmish.aimAt(x, y), [target.x, target.y]);
      await a.keyboard.press('Space');
      shots++;
      await a.waitForTimeout(SHOT_GAP_MS);
      if (await b.evaluate(done)) return;
    }
    throw new Error(`${what}: not after ${shots} shots; bob: ${JSON.stringify(await state(b))}; ada: ${JSON.stringify(await state(a))}`);
  }
  await shootUntil("bob's health to drop", () => window.skirmish.health() < 100);
  let sb = await state(b);
  check(sb.health < 100, `after ${shots} shots, bob's page shows his health dropped to ${sb.health}`);
  await shootUntil("bob's ship to be destroyed", () => window.skirmish.me().alive === false);
  sb = await state(b);
  check(sb.me.alive === false && sb.health === 0, `after ${shots} shots, bob's ship is destroyed (health ${sb.health})`);

  // --- the kill, everywhere it belongs ---
  for (const [name, page] of [['ada', a], ['bob', b]]) {
    await waitFor(page, `${name}'s kill feed to show ada ✕ bob`, (ids) => window.skirmish.killFeed().some((k) => k.killer === ids.ada && k.victim === ids.bob), { ada, bob });
    const feed = (await state(page)).killFeed;
    check(
      feed.length === 1 && feed[0].killer === ada && feed[0].victim === bob && feed[0].killerName === 'ada' && feed[0].victimName === 'bob',
      `${name}'s kill feed: ${feed.map((k) => `${k.killerName} ✕ ${k.victimName}`).join(', ')}`,
    );
    const text = await page.evaluate(() => document.getElementById('killfeed').textContent);
    check(text.includes('ada ✕ bob'), `${name}'s page shows "${text}"`);
  }
  for (const [name, page] of [['ada', a], ['bob', b], ['cyd', c]]) {
    await waitFor(
      page,
      `${name}'s scoreboard to count the kill`,
      (ids) => {
        const players = window.skirmish.players();
        const of = (id) => players.find((p) => p.id === id);
        return of(ids.ada)?.kills === 1 && of(ids.bob)?.deaths === 1;
      },
      { ada, bob },
    );
    check(true, `${name}'s scoreboard: ada 1 kill, bob 1 death`);
  }
  await waitFor(b, "bob's respawn countdown", () => window.skirmish.me().respawnIn !== null && !document.getElementById('respawn').hidden);
  sb = await state(b);
  check(sb.me.respawnIn > 0 && sb.me.respawnIn <= CONFIG.respawn_s, `bob's page counts down to his respawn (${sb.me.respawnIn} s)`);

  // --- the screenshot: one more shot in flight over bob's wreck ---
  await a.keyboard.press('Space');
  await waitFor(a, 'a bullet in flight on ada\'s page', () => window.skirmish.bullets().length > 0);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await a.screenshot({ path: screenshotPath });
  log('screenshot written to', screenshotPath);

  // --- no page's copy diverged, nothing went wrong ---
  for (const [name, page] of [['ada', a], ['bob', b], ['cyd', c]]) {
    const mismatches = (await state(page)).checksumMismatches;
    check(mismatches === 0, `${name}: ${mismatches} checksum mismatches`);
  }
  check(problems.length === 0, `no page errors or console errors/warnings${problems.length ? `: ${problems.join('; ')}` : ''}`);

  // --- cyd, far away, was sent nothing of the fight ---
  sc = await state(c);
  check(
    !sc.seen.ships.includes(ada) && !sc.seen.ships.includes(bob) && sc.seen.bullets === 0,
    `cyd's client never had ada's or bob's ship nor any bullet (ships seen: ${JSON.stringify(sc.seen.ships)}, bullets seen: ${sc.seen.bullets}; needs the server to send each player only its view)`,
  );
  const expected = sc.players.length + walls.length + 1 + sc.pickups; // walls are global: everyone has them all
  check(
    sc.ships.length === 1 && sc.ships[0].owner === cyd && sc.bullets.length === 0 && sc.entityCount === expected,
    `cyd's newest frame has ${sc.entityCount} entities: the ${sc.players.length} players, the ${walls.length} walls, its own ship and the ${sc.pickups} health packs near it (expected ${expected}), nothing else`,
  );
  log('all checks passed');
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`skirmish.mjs FAILED: ${e.stack ?? e}`);
  for (const p of problems) console.error('  ', p);
  if (context) await failureScreenshots(context.pages(), screenshotPath, state);
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
