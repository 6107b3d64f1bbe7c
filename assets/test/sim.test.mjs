// Checks that the browser's port of the movement rules (assets/sim.js) agrees
// with the Rust simulation: sim_vectors.json is written by the Rust test in
// crates/server/src/assets.rs from tickroom_sim::movement_step on recorded
// steering sequences; here the JS step function replays the same inputs from
// the same start, chaining its own results, and must stay within 1e-3.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { kinematics, sanitizeSteer, step } from '../sim.js';

const fixture = JSON.parse(readFileSync(new URL('./sim_vectors.json', import.meta.url), 'utf8'));
const TOLERANCE = 1e-3;

const num = (v) => (v === 'NaN' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);

for (const c of fixture.cases) {
  test(`JS movement matches tickroom_sim::movement_step: ${c.name} (${c.steps.length} steps)`, () => {
    const kin = kinematics(c.arena, c.tick_rate_hz);
    let s = { x: c.start.pos[0], y: c.start.pos[1], vx: c.start.vel[0], vy: c.start.vel[1] };
    let worst = 0;
    c.steps.forEach((row, i) => {
      const [sx, sy, px, py, vx, vy] = row.map(num);
      s = step(kin, s, sx, sy);
      for (const [got, want, what] of [[s.x, px, 'pos.x'], [s.y, py, 'pos.y'], [s.vx, vx, 'vel.x'], [s.vy, vy, 'vel.y']]) {
        const err = Math.abs(got - want);
        worst = Math.max(worst, err);
        assert.ok(err <= TOLERANCE, `step ${i}: ${what} = ${got}, Rust says ${want}`);
      }
    });
    assert.ok(worst <= TOLERANCE);
  });
}

test('the fixture exercises walls, clamping and non-finite steering', () => {
  const rows = fixture.cases.flatMap((c) => c.steps.map((r) => ({ r: r.map(num), c })));
  const R = (c) => c.arena.player_radius;
  assert.ok(rows.some(({ r, c }) => r[2] === c.arena.width - R(c)), 'right wall');
  assert.ok(rows.some(({ r, c }) => r[2] === R(c)), 'left wall');
  assert.ok(rows.some(({ r, c }) => r[3] === R(c)), 'top wall');
  assert.ok(rows.some(({ r, c }) => r[3] === c.arena.height - R(c)), 'bottom wall');
  assert.ok(rows.some(({ r }) => Math.hypot(r[0], r[1]) > 1), 'steer longer than 1');
  assert.ok(rows.some(({ r }) => !Number.isFinite(r[0])), 'non-finite steer');
});

test('sanitizeSteer follows rule 1', () => {
  assert.deepEqual(sanitizeSteer(0.3, -0.4), [Math.fround(0.3), Math.fround(-0.4)]);
  const [x, y] = sanitizeSteer(30, 40);
  assert.ok(Math.abs(x - 0.6) < 1e-6 && Math.abs(y - 0.8) < 1e-6);
  assert.deepEqual(sanitizeSteer(NaN, 0.5), [0, 0.5]);
  assert.deepEqual(sanitizeSteer(Infinity, -Infinity), [0, 0]);
  for (const [rx, ry] of [[3.4e38, 3.4e38], [1e20, -1e20], [0, 3e30]]) {
    const [ux, uy] = sanitizeSteer(rx, ry);
    assert.ok(Math.abs(Math.hypot(ux, uy) - 1) < 1e-6, `${rx},${ry}`);
    assert.equal(Math.sign(ux), Math.sign(rx));
    assert.equal(Math.sign(uy), Math.sign(ry));
  }
});

test('a step from rest matches the documented formula', () => {
  const arena = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05 };
  const kin = kinematics(arena, 20);
  const s = step(kin, { x: 800, y: 500, vx: 0, vy: 0 }, 1, 0);
  const v = 1400 * 0.05 * 0.05 ** 0.05;
  assert.ok(Math.abs(s.vx - v) < 1e-3);
  assert.equal(s.vy, 0);
  assert.ok(Math.abs(s.x - (800 + v * 0.05)) < 1e-3);
});
