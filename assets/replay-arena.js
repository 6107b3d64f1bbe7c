// The arena's replay renderer: how the recordings viewer (replay.js) draws an
// arena recording with the arena's own renderer (render.js). It exists so the
// viewer itself knows no game: replay.js picks this module by the summary's
// game name. Players are the entities with `player` and `pos`, pellets those
// with `pellet` (or any other with `pos`); players are interpolated between
// the two recorded frames around the playhead (players joining or leaving
// switch halfway, as in tickroom-client's Interpolator), and eaten pellets
// burst as in the game when playback moves on by a step.

import { playerColor } from './render.js';

/** Until the summary names the recorded room's config: tickroom_sim::SimConfig::default(). */
const DEFAULT_ARENA = { width: 1600, height: 1000, player_radius: 18, pellet_radius: 6 };

/** Player positions between frames `a` and `b` at tick `t` (b may be null). */
function sample(a, b, t) {
  const out = [];
  if (!b || b.tick <= a.tick) {
    for (const [id, p] of a.players) out.push({ id, x: p.x, y: p.y });
    return out;
  }
  const f = Math.min(1, Math.max(0, (t - a.tick) / (b.tick - a.tick)));
  for (const [id, pb] of b.players) {
    const pa = a.players.get(id);
    if (pa) out.push({ id, x: pa.x + (pb.x - pa.x) * f, y: pa.y + (pb.y - pa.y) * f });
    else if (f >= 0.5) out.push({ id, x: pb.x, y: pb.y });
  }
  if (f < 0.5) for (const [id, pa] of a.players) if (!b.players.has(id)) out.push({ id, x: pa.x, y: pa.y });
  return out;
}

export class ArenaReplay {
  /** `renderer`: main.js's arena Renderer (render.js), on the page's canvas. */
  constructor(renderer) {
    this.renderer = renderer;
    this.arena = DEFAULT_ARENA;
    this.names = new Map(); // from the summary: everyone who joined
    renderer.setArena(this.arena.width, this.arena.height);
  }

  /** The recorded room's size and radii (its config) and who joined, from the summary. */
  configure(summary) {
    const config = summary.config;
    if (config?.width > 0 && config?.height > 0) {
      this.arena = { ...DEFAULT_ARENA, ...config };
      this.renderer.setArena(this.arena.width, this.arena.height);
    }
    for (const p of summary.players ?? []) this.names.set(p.id, p.name);
  }

  /**
   * A recorded frame (entities with named components) as drawn: players by
   * player id, their names, and pellets by entity id.
   */
  prepare(frame) {
    const players = new Map();
    const names = new Map();
    const pellets = new Map();
    for (const { id, components: c } of frame.entities) {
      if (!c?.pos) continue;
      if (c.player) {
        players.set(c.player.id, { x: c.pos.x, y: c.pos.y, score: c.score?.points ?? 0 });
        names.set(c.player.id, c.player.name);
      } else {
        pellets.set(id, { id: c.pellet?.slot ?? id, x: c.pos.x, y: c.pos.y });
      }
    }
    return { tick: frame.tick, players, pellets, names };
  }

  /** Draws a scene of replay.js (see its top comment). */
  draw({ now, frame, next, at, shown, live, jumped, speed, dim }) {
    const view = {
      now,
      pellets: [],
      pelletRadius: this.arena.pellet_radius,
      playerRadius: this.arena.player_radius,
      players: [],
      dim,
    };
    if (jumped) this.renderer.trails.clear(); // no streak across a seek
    if (frame) {
      if (live && shown && frame !== shown && !jumped && frame.tick > shown.tick && frame.tick - shown.tick <= 4 * speed + 2) {
        for (const [id, old] of shown.pellets) {
          const cur = frame.pellets.get(id);
          if (!cur || cur.x !== old.x || cur.y !== old.y) this.renderer.pop(old.x, old.y, now);
        }
      }
      view.pellets = frame.pellets.values();
      for (const p of sample(frame, next, at)) {
        view.players.push({ id: p.id, x: p.x, y: p.y, name: frame.names.get(p.id) ?? this.names.get(p.id), own: false });
      }
    }
    this.renderer.draw(view);
  }

  /** The scoreboard of `frame`: the ten best scores. */
  scoreboard(frame) {
    const rows = [...frame.players]
      .map(([id, p]) => ({ id, name: frame.names.get(id) || this.names.get(id) || `player-${id}`, score: String(p.score), points: p.score, color: playerColor(id) }))
      .sort((x, y) => y.points - x.points || x.id - y.id)
      .slice(0, 10);
    return { title: 'Scores', rows };
  }

  /** What `window.__tickroom.replay` says of `frame`: its player ids and names. */
  describe(frame) {
    return { players: [...frame.players.keys()], names: Object.fromEntries(frame.names) };
  }
}
