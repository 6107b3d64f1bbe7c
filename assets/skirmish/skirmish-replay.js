// skirmish's replay renderer: how the recordings viewer (../replay.js) draws a
// skirmish recording, with the game's own model (skirmish.js) and renderer
// (skirmish-render.js). It exists so a recorded fight can be watched the way
// it was played, and the viewer itself knows no game: replay.js picks this
// module by the summary's game name. The viewer is an observer: the server
// replays the room whole (no interest management), so every ship, bullet,
// health pack and wall is drawn, with the whole map fitted to the canvas.
// Ships are interpolated between the two recorded frames around the
// playhead (a ship appearing, vanishing, destroyed or respawned switches
// halfway instead of sliding), bullets are placed from their constant
// `x0, y0, vx, vy, born` at the playhead's fractional step, and the
// scoreboard is the player entities' kills and deaths.

import { DEFAULT_CONFIG, bulletAt, worldOf } from './skirmish.js';
import { SkirmishRenderer, playerColor } from './skirmish-render.js';

/** The map units the canvas's side shows: the map and a thin margin around it. */
const MARGIN = 1.04;

/** Ships between frames `a` and `b` at tick `t` (b may be null), by entity id. */
function sampleShips(a, b, t) {
  const out = [];
  if (!b || b.tick <= a.tick) return [...a.world.ships.values()];
  const f = Math.min(1, Math.max(0, (t - a.tick) / (b.tick - a.tick)));
  for (const [id, sb] of b.world.ships) {
    const sa = a.world.ships.get(id);
    if (sa && sa.alive === sb.alive) out.push({ ...sa, x: sa.x + (sb.x - sa.x) * f, y: sa.y + (sb.y - sa.y) * f });
    else if (f >= 0.5) out.push(sb);
    else if (sa) out.push(sa);
  }
  if (f < 0.5) for (const [id, sa] of a.world.ships) if (!b.world.ships.has(id)) out.push(sa);
  return out;
}

export class SkirmishReplay {
  /**
   * `renderer`: main.js's arena Renderer, which sizes the page's canvas to
   * the window (and keeps it so on resize) for a map's width and height:
   * here the square map. The field is drawn on that canvas.
   */
  constructor(renderer) {
    this.page = renderer;
    this.field = new SkirmishRenderer(renderer.canvas);
    this.config = DEFAULT_CONFIG;
    this.stepsPerTick = 1;
    this.stepRate = 20;
    this.names = new Map(); // from the summary: everyone who joined
    this.page.setArena(this.config.size, this.config.size);
  }

  /** The recorded room's config, its rates and who joined, from the summary. */
  configure(summary) {
    this.config = { ...DEFAULT_CONFIG, ...summary.config };
    const tickRate = summary.tick_rate_hz > 0 ? summary.tick_rate_hz : 20;
    this.stepRate = summary.sim_rate_hz > 0 ? summary.sim_rate_hz : tickRate;
    this.stepsPerTick = this.stepRate / tickRate;
    for (const p of summary.players ?? []) this.names.set(p.id, p.name);
    this.page.setArena(this.config.size, this.config.size);
  }

  /** A recorded frame (entities with named components), sorted by kind (skirmish.js worldOf). */
  prepare(frame) {
    return { tick: frame.tick, world: worldOf(frame) };
  }

  nameOf(frame, playerId) {
    return frame.world.players.get(playerId)?.name || this.names.get(playerId) || `player ${playerId}`;
  }

  /** Draws a scene of replay.js (see its top comment). */
  draw({ now, frame, next, at, dim }) {
    const ships = [];
    const bullets = [];
    if (frame) {
      for (const s of sampleShips(frame, next, at)) ships.push({ ...s, name: this.nameOf(frame, s.owner), own: false });
      const step = at * this.stepsPerTick;
      for (const b of frame.world.bullets.values()) {
        bullets.push({ ...bulletAt(b, step, this.stepRate, this.config.bullet_range), vx: b.vx, vy: b.vy, owner: b.owner });
      }
    }
    const size = this.config.size;
    this.field.draw({
      now,
      config: this.config,
      camera: { x: size / 2, y: size / 2 },
      span: size * MARGIN,
      eye: null,
      walls: frame?.world.walls ?? [],
      pickups: frame ? [...frame.world.pickups.values()] : [],
      bullets,
      ships,
      booms: [],
      dim,
    });
  }

  /** The scoreboard of `frame`: kills / deaths of every player, most kills first. */
  scoreboard(frame) {
    const rows = [...frame.world.players]
      .sort(([ia, a], [ib, b]) => b.kills - a.kills || a.deaths - b.deaths || ia - ib)
      .map(([id, p]) => ({ id, name: p.name || this.names.get(id) || `player ${id}`, score: `${p.kills} / ${p.deaths}`, color: playerColor(id) }));
    return { title: 'Kills / deaths', rows };
  }

  /** What `window.__tickroom.replay` says of `frame`: its players and ships. */
  describe(frame) {
    const w = frame.world;
    return {
      players: [...w.players.keys()],
      names: Object.fromEntries([...w.players].map(([id, p]) => [id, p.name])),
      ships: [...w.ships.values()].map((s) => ({ owner: s.owner, name: this.nameOf(frame, s.owner), x: s.x, y: s.y, health: s.health, alive: s.alive })),
      bullets: w.bullets.size,
      pickups: w.pickups.size,
      walls: w.walls.length,
    };
  }
}
