// skirmish's rules on the browser side (the game is crates/skirmish, its
// rules the crate's docs in src/lib.rs): the room's
// config defaults, the input the page sends (`skirmish_input`), the ship's
// movement rule as a prediction model for tickroom-client's Predictor, and
// where a bullet is at any step. No DOM, no network: main.js wires it to the
// page, skirmish-render.js draws. Arithmetic is rounded to f32 with
// Math.fround in the Rust code's order, so the prediction lands where the
// server's ship does.

const f = Math.fround;

/** A ship's radius (crates/skirmish SHIP_RADIUS): walls, the map's edge, hits. */
export const SHIP_RADIUS = 20;
/** A ship's health when it spawns (MAX_HEALTH). */
export const MAX_HEALTH = 100;
/** Full deflection of the input's movement axes. */
const AXIS = 127;

/** The room's settings until its Welcome says otherwise (SkirmishConfig's defaults). */
export const DEFAULT_CONFIG = {
  size: 6000,
  view_radius: 900,
  ship_speed: 300,
  bullet_speed: 900,
  bullet_range: 1200,
  fire_cooldown_steps: 4,
  respawn_s: 3,
  pickups: 40,
  pickup_respawn_s: 10,
  walls: 12,
};

/** `a` wrapped into [-π, π]. */
function wrapAngle(a) {
  return Math.atan2(Math.sin(a), Math.cos(a));
}

/**
 * The game's input: movement `dx, dy` in -1..1 (each scaled to ±127), `aim`
 * in radians (0 = +x, y downward), and whether this input fires one shot.
 */
export function skirmishInput(dx, dy, aim, fire = false) {
  const axis = (d) => Math.max(-AXIS, Math.min(AXIS, Math.round(d * AXIS)));
  return { mx: axis(dx), my: axis(dy), aim: wrapAngle(aim), fire };
}

/** An input's movement direction: (mx, my) / 127 with its length clamped to 1. */
function direction(input) {
  if (!input) return [0, 0];
  let x = f(input.mx / AXIS);
  let y = f(input.my / AXIS);
  const len = f(Math.sqrt(f(f(x * x) + f(y * y))));
  if (len > 1) {
    x = f(x / len);
    y = f(y / len);
  }
  return [x, y];
}

/** Whether point (x, y) is inside `wall` grown by `r` on every side. */
function insideWall(wall, x, y, r) {
  return x > wall.x - r && x < wall.x + wall.w + r && y > wall.y - r && y < wall.y + wall.h + r;
}

/**
 * The prediction model of the own ship (the `ship` component of its entity),
 * for a Predictor: one step of the spec's movement rule. `walls()` answers
 * the room's walls (`{ x, y, w, h }`, from the frames): they are static, but
 * arrive with the first frame, after the model is made. A destroyed ship
 * does not move; health and life are the server's (the next frame says).
 */
export function shipModel(walls) {
  return {
    step(state, input, dt, config) {
      const ship = state.ship;
      if (!ship?.alive) return state;
      const dt32 = f(dt);
      const speed = f(config.ship_speed ?? DEFAULT_CONFIG.ship_speed);
      const size = f(config.size ?? DEFAULT_CONFIG.size);
      const lo = SHIP_RADIUS;
      const hi = f(size - SHIP_RADIUS);
      const [dx, dy] = direction(input);
      const vx = f(dx * speed);
      const vy = f(dy * speed);
      const blocked = (x, y) => walls().some((w) => insideWall(w, x, y, SHIP_RADIUS));
      // Each axis moves, stays on the map, and is pushed back if that puts
      // the centre inside a wall: x first, then y.
      let x = Math.min(hi, Math.max(lo, f(ship.x + f(vx * dt32))));
      if (blocked(x, ship.y)) x = ship.x;
      let y = Math.min(hi, Math.max(lo, f(ship.y + f(vy * dt32))));
      if (blocked(x, y)) y = ship.y;
      const aim = input ? input.aim : ship.aim;
      return { ...state, ship: { ...ship, x, y, vx, vy, aim } };
    },
  };
}

/**
 * Where `bullet` (its constant `x0, y0, vx, vy, born`) is at simulation step
 * `step` (fractional: between two steps) with `stepRate` steps a second:
 * `(x0, y0) + (vx, vy) · (step − born) / stepRate`, never before its start
 * nor past `range` from it.
 */
export function bulletAt(bullet, step, stepRate, range) {
  const speed = Math.hypot(bullet.vx, bullet.vy);
  const life = speed > 0 ? range / speed : 0;
  const t = Math.min(Math.max(0, (step - bullet.born) / stepRate), life);
  return { x: bullet.x0 + bullet.vx * t, y: bullet.y0 + bullet.vy * t };
}

/**
 * The newest frame sorted by kind: `players` (id → { name, connected, kills,
 * deaths }), `ships` (by entity id: the `ship` component), `bullets`,
 * `pickups`, `walls`.
 */
export function worldOf(frame) {
  const world = { players: new Map(), ships: new Map(), bullets: new Map(), pickups: new Map(), walls: [] };
  for (const { id, components: c } of frame?.entities ?? []) {
    if (c.player) {
      world.players.set(c.player.id, {
        name: c.player.name,
        connected: c.player.connected,
        kills: c.score?.kills ?? 0,
        deaths: c.score?.deaths ?? 0,
      });
    } else if (c.ship) world.ships.set(id, c.ship);
    else if (c.bullet) world.bullets.set(id, c.bullet);
    else if (c.pickup) world.pickups.set(id, c.pickup);
    else if (c.wall) world.walls.push(c.wall);
  }
  return world;
}
