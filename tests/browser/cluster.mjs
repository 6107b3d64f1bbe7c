// The demo client in a real headless Chromium against a two-node cluster:
// the page is served by one node and joins a room that lives on the other.
// The node it asks closes the socket with 4001 "node=<owner>"; the page
// resolves the owner with GET /cluster and plays there. Spawned by
// tests/e2e/browser.rs, which picks the room (owned by the second node),
// starts both nodes and checks, from the owner's side, that the player
// arrived there.
//
// Usage: node tests/browser/cluster.mjs <base-url> <room>
// Exits non-zero on the first failure.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { LAUNCH, script } from './harness.mjs';

const [baseUrl, room] = process.argv.slice(2);
if (!baseUrl || !room) {
  console.error('usage: node tests/browser/cluster.mjs <base-url> <room>');
  process.exit(2);
}
const WAIT = { timeout: 10_000, polling: 50 };
const { check } = script('cluster.mjs', 45_000);

const userDataDir = mkdtempSync(join(tmpdir(), 'tickroom-chromium-cluster-'));
const problems = [];
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, LAUNCH);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(baseUrl, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__tickroom?.menuShown === true, null, WAIT);
  await page.fill('#name', 'roamer');
  await page.fill('#room', room);
  await page.click('#join');
  await page.waitForFunction(
    () => window.__tickroom.state === 'connected' && window.__tickroom.predicted !== null,
    null,
    WAIT,
  );
  const base = new URL(baseUrl);
  check(sockets.length >= 2, `opened a socket at the page's node, then another (${sockets.join(' , ')})`);
  check(new URL(sockets[0]).host === base.host, 'the first socket went to the node that served the page');
  check(new URL(sockets.at(-1)).host !== base.host, 'the socket that joined went to the other node');
  check(problems.length === 0, `no page errors (${problems.join('; ')})`);
  // Stay a moment so the owner's API sees the player.
  await page.waitForTimeout(300);
  console.log(`JOINED_AT ${new URL(sockets.at(-1)).host}`);
} catch (e) {
  console.error(String(e?.stack ?? e));
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
