// Watches a skirmish room's recording in the recordings viewer
// (`/?replay=<file>`, assets/replay.js, which draws it with skirmish's own
// renderer through assets/skirmish/skirmish-replay.js) in a real headless
// Chromium (driven by playwright-core) against a running tickroom server with
// --record-dir and --api-token. It exists so the viewer is known to draw a
// game that is not the arena. Spawned by tests/e2e/browser.rs, which records
// a room where hunter bots fight, starts the server that serves the file and
// checks this script's exit status.
//
// Usage: node tests/browser/replay_skirmish.mjs <base-url> <file> <token> <ships> <screenshot-path>
//
// Checks, in order: the page loads the summary (fetched here too, to compare)
// and names the game; it draws the recording's frames with every one of its
// <ships> ships, named as the summary's players, and the walls; it plays
// (the tick and the frames drawn advance) and pauses; seeking with the range
// input shows that tick, and there the canvas has each ship's colour at the
// ship's place on the whole map fitted to a square canvas (read back: not
// the map's floor); the scoreboard lists every player's kills / deaths; 4×
// runs on to the last tick. Then, with the summary's game rewritten to one
// the viewer has no renderer for, the page says there is no viewer for it
// and fetches and draws no frame. No console errors. Writes a screenshot of
// the viewer at the seek target. Every wait is bounded; exits non-zero on
// the first failure.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';
import { LAUNCH, failureScreenshots, script } from './harness.mjs';

const [baseUrl, file, token, shipsArg, screenshotPath] = process.argv.slice(2);
const SHIPS = Number(shipsArg);
if (!baseUrl || !file || !token || !Number.isInteger(SHIPS) || !screenshotPath) {
  console.error('usage: node tests/browser/replay_skirmish.mjs <base-url> <file> <token> <ships> <screenshot-path>');
  process.exit(2);
}

/** The share of the map's side the viewer shows (skirmish-replay.js MARGIN): the map and a thin margin. */
const MARGIN = 1.04;
/** The map's floor (skirmish-render.js), RGB. */
const FLOOR = [0x0b, 0x12, 0x24];
const WAIT = { timeout: 10_000, polling: 50 };
const { log, check } = script('replay_skirmish.mjs', 60_000);

const problems = [];
let browser;
const pages = [];

const viewerUrl = `${baseUrl}?replay=${encodeURIComponent(file)}&page=40#token=${encodeURIComponent(token)}`;
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

/** A viewer page in a fresh context; any page or console error is a problem. */
async function openViewer(name, setup = async () => {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  pages.push(page);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
  });
  await setup(page);
  const resp = await page.goto(viewerUrl, { waitUntil: 'load' });
  check(resp?.ok(), `${name}: the viewer page loads`);
  return page;
}

/**
 * For each ship of the frame drawn (`r.ships`), the canvas pixel at its
 * place on a `size` map fitted to the canvas, read back (of the 3×3 there,
 * the one furthest from the floor: a wreck is two thin lines): `{ name,
 * alive, at, rgb }`.
 */
const pixelsAtShips = (page, size) =>
  page.evaluate(
    ([size, margin, floor]) => {
      const c = document.getElementById('arena');
      const k = Math.min(c.width, c.height) / (size * margin);
      const g = c.getContext('2d');
      const off = (rgb) => Math.max(...rgb.map((v, i) => Math.abs(v - floor[i])));
      return window.__tickroom.replay.ships.map((s) => {
        const x = Math.round(c.width / 2 + (s.x - size / 2) * k);
        const y = Math.round(c.height / 2 + (s.y - size / 2) * k);
        const data = g.getImageData(x - 1, y - 1, 3, 3).data;
        let rgb = [...floor];
        for (let i = 0; i < data.length; i += 4) if (off([data[i], data[i + 1], data[i + 2]]) > off(rgb)) rgb = [data[i], data[i + 1], data[i + 2]];
        return { name: s.name, alive: s.alive, at: [x, y], rgb };
      });
    },
    [size, MARGIN, FLOOR],
  );

async function main() {
  browser = await chromium.launch(LAUNCH);
  log('chromium', browser.version());

  // The summary, as the page will read it.
  const resp = await fetch(new URL(`recordings/${encodeURIComponent(file)}`, baseUrl), { headers: { Authorization: `Bearer ${token}` } });
  const summary = await resp.json();
  check(resp.status === 200 && summary.game === 'skirmish', `the summary names game ${summary.game} (${resp.status})`);
  const size = summary.config?.size;
  const players = summary.players.map((p) => p.name).sort();
  check(size > 0 && players.length === SHIPS, `a ${size}-unit map, players ${players}`);

  // --- the summary, the game, the first frame ---
  const page = await openViewer('viewer');
  let r = await waitReplay(page, 'the summary and the first frame', (r) => r.firstTick !== null && r.framesDrawn > 0);
  check(r.error === null && r.game === 'skirmish', `the viewer loaded the summary of a ${r.game} room (ticks ${r.firstTick}..${r.lastTick})`);
  check(r.firstTick === summary.first_tick && r.lastTick === summary.last_tick, 'its ticks are the summary’s');
  const gameText = await page.textContent('#replay-game');
  check(gameText.startsWith('skirmish'), `the panel names the game: "${gameText}"`);

  // --- the ships of the recording ---
  r = await waitReplay(page, `all ${SHIPS} ships in the frame`, (r, n) => r.ships?.length === n, SHIPS);
  const shipNames = r.ships.map((s) => s.name).sort();
  check(shipNames.join(',') === players.join(','), `the ${SHIPS} ships are the players' (${shipNames})`);
  check(r.walls > 0, `the walls are in the frame (${r.walls} walls, ${r.pickups} health packs, ${r.bullets} bullets)`);

  // --- playing, then paused ---
  r = await waitReplay(page, 'playback to start', (r) => r.playing && r.tick !== null);
  const t0 = r.tick;
  const drawn0 = r.framesDrawn;
  r = await waitReplay(page, 'the tick to advance by 5', (r, [t, d]) => r.tick >= t + 5 && r.framesDrawn > d + 5, [t0, drawn0]);
  check(true, `playing: tick ${t0} → ${r.tick}, frames drawn ${drawn0} → ${r.framesDrawn}`);
  await page.click('#replay-play');
  r = await waitReplay(page, 'pause', (r) => !r.playing);
  check(!r.ended, `paused at tick ${r.tick}`);

  // --- seeking with the range input, and what is drawn there ---
  const target = Math.floor((r.firstTick + r.lastTick) / 2) + 7;
  await page.evaluate((t) => {
    const seek = document.getElementById('replay-seek');
    seek.value = String(t);
    seek.dispatchEvent(new Event('input', { bubbles: true }));
    seek.dispatchEvent(new Event('change', { bubbles: true }));
  }, target);
  r = await waitReplay(page, `the frame of tick ${target}`, (r, t) => r.tick === t && r.ships.length > 0, target);
  check(!r.playing && r.position === target, `seeking to ${target} shows tick ${r.tick} (still paused)`);
  const canvas = await page.evaluate(() => {
    const c = document.getElementById('arena');
    return { w: c.width, h: c.height };
  });
  check(canvas.w === canvas.h && canvas.w > 300, `the square map is fitted to a square canvas (${canvas.w}×${canvas.h})`);
  for (const s of await pixelsAtShips(page, size)) {
    const off = Math.max(...s.rgb.map((v, i) => Math.abs(v - FLOOR[i])));
    check(off > 40, `${s.name}'s ship (${s.alive ? 'alive' : 'destroyed'}) is drawn at its place ${s.at}: rgb(${s.rgb}), not the floor`);
  }
  const board = await page.evaluate(() => ({
    title: document.querySelector('#scoreboard h2').textContent,
    shown: !document.getElementById('scoreboard').hidden,
    rows: [...document.querySelectorAll('#scores li')].map((li) => [li.querySelector('.who').textContent, li.querySelector('.score').textContent]),
  }));
  check(board.shown && board.title === 'Kills / deaths', `the scoreboard is "${board.title}"`);
  check(
    board.rows.map(([who]) => who).sort().join(',') === players.join(',') && board.rows.every(([, score]) => /^\d+ \/ \d+$/.test(score)),
    `it lists every player's kills / deaths: ${JSON.stringify(board.rows)}`,
  );
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath });
  log('screenshot written to', screenshotPath);

  // --- 4×, on to the end ---
  await page.selectOption('#replay-speed', '4');
  await page.click('#replay-play');
  r = await waitReplay(page, 'playback to reach the last tick', (r) => r.ended && !r.playing && r.tick === r.lastTick);
  check(r.ships.length > 0, `at 4× playback ran on to tick ${r.tick} and ended, ${r.ships.length} ships drawn`);
  check(problems.length === 0, `no page errors or console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);

  // --- a game the viewer cannot draw ---
  const other = await openViewer('no viewer', (p) =>
    p.route(
      (url) => decodeURIComponent(url.pathname) === `/recordings/${file}`,
      async (route) => {
        const answer = await route.fetch();
        await route.fulfill({ response: answer, json: { ...(await answer.json()), game: 'nosuchgame' } });
      },
    ),
  );
  r = await waitReplay(other, 'the no-viewer message', (r) => r.error !== null);
  const card = await other.evaluate(() => ({
    title: document.getElementById('replay-error-title').textContent,
    text: document.getElementById('replay-error-text').textContent,
    game: document.getElementById('replay-game').textContent,
  }));
  check(r.error.kind === 'no-viewer' && r.errorShown && /no viewer/i.test(card.title), `an unknown game: "${card.title}"`);
  check(card.text.includes('"nosuchgame"') && card.text.includes(`tickroom replay ${file}`), `it says why and what to do: "${card.text}"`);
  await other.waitForTimeout(300);
  r = await replay(other);
  check(r.framesDrawn === 0 && r.fetches === 0 && r.firstTick === null, `and fetches and draws no frame (${r.fetches} requests, ${r.framesDrawn} drawn)`);

  check(problems.length === 0, `no page errors or console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);
  log('all checks passed');
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`replay_skirmish.mjs FAILED: ${e.stack ?? e}`);
  for (const p of problems) console.error('  ', p);
  await failureScreenshots(pages, screenshotPath, replay);
} finally {
  await browser?.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
