// Checks that the arena's browser port of its movement rules (assets/arena.js,
// the demo page's prediction model: the arena's, not this package's) agrees
// with the Rust simulation bit for bit: sim_vectors.json is written by the
// Rust test in crates/sim/tests/js_vectors.rs from tickroom_sim::movement_step on
// recorded steering sequences at 20, 30, 40 and 60 steps a second (a
// --sim-rate server steps at 60); here the JS step function replays the same
// inputs from the same start, chaining its own results, and must compute the
// same f32 values. The fixture also lists Kinematics' per-step constants (dt,
// friction^dt) at every step rate up to 240, which kinematics() must match.
// Also the arena's input (steerInput, as SteerInput::from_direction) and its
// model on an entity's named components.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { arenaModel, kinematics, sanitizeSteer, steerDirection, steerInput, step } from '../../../assets/arena.js';

const fixture = JSON.parse(readFileSync(new URL('./sim_vectors.json', import.meta.url), 'utf8'));

const num = (v) => (v === 'NaN' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);
/** The fixture prints f32 values in their shortest form: back to the same f32. */
const f32 = (v) => Math.fround(num(v));

for (const c of fixture.cases) {
  test(`JS movement matches tickroom_sim::movement_step bit for bit: ${c.name} (${c.steps.length} steps)`, () => {
    const kin = kinematics(c.arena, c.tick_rate_hz);
    assert.equal(kin.dt, f32(c.dt), 'dt');
    assert.equal(kin.frictionFactor, f32(c.friction_factor), 'friction^dt');
    let s = { x: c.start.pos[0], y: c.start.pos[1], vx: c.start.vel[0], vy: c.start.vel[1] };
    c.steps.forEach((row, i) => {
      const [sx, sy] = row.map(num);
      const [px, py, vx, vy] = row.slice(2).map(f32);
      s = step(kin, s, sx, sy);
      for (const [got, want, what] of [[s.x, px, 'pos.x'], [s.y, py, 'pos.y'], [s.vx, vx, 'vel.x'], [s.vy, vy, 'vel.y']]) {
        assert.ok(Object.is(got, want), `step ${i}: ${what} = ${got}, Rust says ${want}`);
      }
    });
  });
}

test('the fixture covers the step rates a --sim-rate server runs at', () => {
  const rates = new Set(fixture.cases.map((c) => c.tick_rate_hz));
  for (const r of [20, 30, 40, 60]) assert.ok(rates.has(r), `a case at ${r} Hz`);
  assert.equal(fixture.rates.length, 240);
});

// Rust computes friction^dt with the platform's f32 powf (glibc's is not
// correctly rounded everywhere), JS with a double pow rounded to f32: they can
// differ by one unit in the last place where the exact power lies next to a
// rounding midpoint. At the default friction, the only one a tickroom server
// runs (its SimConfig keeps the defaults), they agree at every rate; the
// other friction is allowed a rare one-ulp difference (0.2 at 149 Hz with
// glibc 2.36).
test('kinematics() has Rust\'s per-step constants at every step rate up to 240 Hz', (t) => {
  const arena = (friction) => ({ width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction });
  const [fa, fb] = fixture.rates_friction;
  const ulp = (v) => Math.abs(Math.fround(v * (1 + 2 ** -23)) - v);
  const off = [];
  for (const [rate, dt, ffa, ffb] of fixture.rates) {
    const a = kinematics(arena(fa), rate);
    assert.equal(a.dt, f32(dt), `dt at ${rate} Hz`);
    assert.equal(a.dtMs, 1000 / rate);
    assert.equal(a.frictionFactor, f32(ffa), `friction ${fa}^dt at ${rate} Hz (the server's friction)`);
    const b = kinematics(arena(fb), rate).frictionFactor;
    if (b !== f32(ffb)) {
      assert.ok(Math.abs(b - f32(ffb)) <= ulp(f32(ffb)), `friction ${fb}^dt at ${rate} Hz: ${b}, Rust says ${ffb}`);
      off.push(rate);
    }
  }
  if (off.length) t.diagnostic(`friction ${fb}^dt one ulp off Rust's powf at ${off.join(', ')} Hz`);
  assert.ok(off.length <= 3, `friction ${fb}^dt differs from Rust's at ${off.length} rates: ${off}`);
});

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

test('steerInput quantizes a direction as SteerInput::from_direction, steerDirection reads it back', () => {
  assert.deepEqual(steerInput(1, 0), { x: 127, y: 0 });
  assert.deepEqual(steerInput(-3, 0), { x: -127, y: 0 });
  assert.deepEqual(steerInput(0, 0), { x: 0, y: 0 });
  assert.deepEqual(steerInput(NaN, 0.5), { x: 0, y: 64 }); // 63.5 rounds half away from zero
  assert.deepEqual(steerInput(-0.5, 0.5), { x: -64, y: 64 });
  assert.ok(Object.is(steerInput(-0.001, 0).x, 0), 'no negative zero');
  const { x, y } = steerInput(1, 1);
  assert.equal(x, y);
  assert.ok(Math.abs(x - 127 / Math.SQRT2) <= 1);
  assert.deepEqual(steerDirection({ x: -128, y: 127 }), [-1, 1]);
  assert.deepEqual(steerDirection({ x: 0, y: 0 }), [0, 0]);
  assert.deepEqual(steerDirection(null), [0, 0], 'no input: no steering');
});

test('arenaModel steps the own orb\'s components with the rules, keeping the rest', () => {
  const config = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6, accel: 1400, max_speed: 320, friction: 0.05 };
  const state = { player: { id: 1, name: 'ada', connected: true }, pos: { x: 800, y: 500 }, vel: { x: 0, y: 0 }, score: { points: 3 } };
  const kin = kinematics(config, 60);
  const want = step(kin, { x: 800, y: 500, vx: 0, vy: 0 }, ...steerDirection({ x: 127, y: -64 }));
  const next = arenaModel.step(state, { x: 127, y: -64 }, 1 / 60, config);
  assert.deepEqual(next, { ...state, pos: { x: want.x, y: want.y }, vel: { x: want.vx, y: want.vy } });
  assert.equal(next.player, state.player);
  assert.deepEqual(state.pos, { x: 800, y: 500 }, 'the state given is not changed');
  const coast = arenaModel.step({ ...state, vel: { x: 100, y: 0 } }, null, 1 / 20, config);
  assert.ok(coast.vel.x < 100 && coast.pos.x > 800, 'no input: it coasts, slowing down');
});
