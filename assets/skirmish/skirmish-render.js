// Draws skirmish on two canvases: the play field (a camera centred on the
// own ship: the map's grid and edge, walls, health packs, bullets, ships with
// their aim, health bar and name, bursts where bullets hit, and the ring of
// how far the server shows this player) and the minimap (the whole map, with
// exactly the entities of the newest frame: what the server sent). Knows
// nothing of the network: main.js hands it a scene in map units. The
// recordings viewer draws with it too (skirmish-replay.js): the field only,
// the whole map fitted to it.

import { SHIP_RADIUS, MAX_HEALTH } from './skirmish.js';

/** A player's colour: golden-angle hues, so ids spread evenly. */
export function playerColor(id, lightness = 62) {
  return `hsl(${((id * 137.508) % 360).toFixed(1)} 80% ${lightness}%)`;
}

/** Map units between two grid lines of the play field. */
const GRID = 250;
/** The share of the view radius the play field's shorter side shows on each side of the own ship. */
const VIEW_SHOWN = 0.6;
/** How far behind a bullet its streak reaches, in seconds of its flight. */
const STREAK_S = 0.04;
/** How long a hit's burst lasts, ms. */
export const BOOM_MS = 350;
/** A ship's hull is never drawn smaller than this many CSS pixels across its radius (a whole map seen at once). */
const MIN_SHIP_PX = 6;

/** Sizes `canvas`'s backing store to its CSS box times devicePixelRatio; returns [cssWidth, cssHeight, dpr]. */
function fit(canvas) {
  const dpr = devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  const bw = Math.max(1, Math.round(w * dpr));
  const bh = Math.max(1, Math.round(h * dpr));
  if (canvas.width !== bw || canvas.height !== bh) {
    canvas.width = bw;
    canvas.height = bh;
  }
  return [w, h, dpr];
}

export class SkirmishRenderer {
  /** `minimap`: its canvas, or null for the field alone (drawMinimap is then not to be called). */
  constructor(field, minimap = null) {
    this.field = field;
    this.minimap = minimap;
    this.ctx = field.getContext('2d', { alpha: false });
    this.mini = minimap?.getContext('2d') ?? null;
    /** CSS pixels per map unit of the play field (set by draw). */
    this.scale = 1;
    this.camera = { x: 0, y: 0 };
    this.w = 0;
    this.h = 0;
  }

  /** The map point under client position (x, y) of the play field. */
  toWorld(clientX, clientY) {
    const r = this.field.getBoundingClientRect();
    return {
      x: this.camera.x + (clientX - r.left - this.w / 2) / this.scale,
      y: this.camera.y + (clientY - r.top - this.h / 2) / this.scale,
    };
  }

  /**
   * Draws `scene`: `{ now, config, camera: { x, y }, eye, walls, pickups,
   * bullets: [{ x, y, vx, vy, owner }], ships: [{ owner, name, x, y, aim, health,
   * alive, own }], booms: [{ x, y, at }], dim, span }` (eye: the own ship's
   * position, or null before it is in a frame; dim: 0..1, fades the field
   * while not connected; span: the map units the field's shorter side
   * shows, by default the nearer part of the view radius).
   */
  draw(scene) {
    const [w, h, dpr] = fit(this.field);
    const ctx = this.ctx;
    const { config } = scene;
    this.w = w;
    this.h = h;
    // The shorter side shows the nearer part of the view radius, so ships
    // are big enough to aim at: the rest is on the minimap.
    this.scale = Math.min(w, h) / (scene.span ?? 2 * VIEW_SHOWN * config.view_radius);
    this.camera = scene.camera;
    const k = this.scale;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#04060c';
    ctx.fillRect(0, 0, w, h);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * (w / 2 - scene.camera.x * k), dpr * (h / 2 - scene.camera.y * k));

    // The map and its grid (only the lines on screen).
    const left = scene.camera.x - w / 2 / k;
    const top = scene.camera.y - h / 2 / k;
    const right = left + w / k;
    const bottom = top + h / k;
    ctx.fillStyle = '#0b1224';
    ctx.fillRect(0, 0, config.size, config.size);
    ctx.strokeStyle = 'rgba(110, 140, 220, 0.09)';
    ctx.lineWidth = 1 / k;
    ctx.beginPath();
    for (let x = Math.max(0, Math.ceil(left / GRID) * GRID); x <= Math.min(config.size, right); x += GRID) {
      ctx.moveTo(x, Math.max(0, top));
      ctx.lineTo(x, Math.min(config.size, bottom));
    }
    for (let y = Math.max(0, Math.ceil(top / GRID) * GRID); y <= Math.min(config.size, bottom); y += GRID) {
      ctx.moveTo(Math.max(0, left), y);
      ctx.lineTo(Math.min(config.size, right), y);
    }
    ctx.stroke();
    ctx.strokeStyle = 'rgba(120, 160, 255, 0.5)';
    ctx.lineWidth = 3 / k;
    ctx.strokeRect(0, 0, config.size, config.size);

    // How far the server shows this player: beyond the ring, nothing is sent.
    if (scene.eye) {
      ctx.strokeStyle = 'rgba(120, 160, 255, 0.16)';
      ctx.setLineDash([12 / k, 10 / k]);
      ctx.lineWidth = 2 / k;
      ctx.beginPath();
      ctx.arc(scene.eye.x, scene.eye.y, config.view_radius, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    ctx.fillStyle = '#26314f';
    ctx.strokeStyle = '#4a5a88';
    ctx.lineWidth = 2 / k;
    for (const wall of scene.walls) {
      ctx.fillRect(wall.x, wall.y, wall.w, wall.h);
      ctx.strokeRect(wall.x, wall.y, wall.w, wall.h);
    }

    for (const p of scene.pickups) drawPickup(ctx, p, scene.now);

    ctx.lineCap = 'round';
    for (const b of scene.bullets) {
      ctx.strokeStyle = playerColor(b.owner, 80);
      ctx.lineWidth = Math.max(5, 3 / k);
      ctx.beginPath();
      ctx.moveTo(b.x - b.vx * STREAK_S, b.y - b.vy * STREAK_S);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
    }

    // Others first, the own ship on top.
    const ships = [...scene.ships].sort((a, b) => Number(a.own) - Number(b.own));
    for (const s of ships) drawShip(ctx, s, k);

    for (const boom of scene.booms) {
      const t = (scene.now - boom.at) / BOOM_MS;
      if (t < 0 || t > 1) continue;
      ctx.strokeStyle = `rgba(255, 200, 120, ${1 - t})`;
      ctx.lineWidth = 3 / k;
      ctx.beginPath();
      ctx.arc(boom.x, boom.y, 6 + 26 * t, 0, 2 * Math.PI);
      ctx.stroke();
    }

    if (scene.dim > 0) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = `rgba(4, 6, 12, ${scene.dim})`;
      ctx.fillRect(0, 0, w, h);
    }
  }

  /**
   * Draws the minimap: the whole map, its walls, and the newest frame's
   * health packs, bullets and ships (`mini`: `{ config, walls, pickups,
   * bullets, ships: [{ owner, x, y, alive, own }], eye }`, eye the own
   * ship's position or null).
   */
  drawMinimap(mini) {
    const [w, h, dpr] = fit(this.minimap);
    const ctx = this.mini;
    const k = Math.min(w, h) / mini.config.size;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = 'rgba(11, 18, 36, 0.85)';
    ctx.fillRect(0, 0, w, h);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, 0, 0);
    ctx.fillStyle = '#4a5a88';
    for (const wall of mini.walls) ctx.fillRect(wall.x, wall.y, Math.max(wall.w, 1 / k), Math.max(wall.h, 1 / k));
    if (mini.eye) {
      ctx.fillStyle = 'rgba(120, 160, 255, 0.12)';
      ctx.beginPath();
      ctx.arc(mini.eye.x, mini.eye.y, mini.config.view_radius, 0, 2 * Math.PI);
      ctx.fill();
    }
    const dot = (x, y, r) => {
      ctx.beginPath();
      ctx.arc(x, y, r / k, 0, 2 * Math.PI);
      ctx.fill();
    };
    ctx.fillStyle = '#5fe39a';
    for (const p of mini.pickups) dot(p.x, p.y, 1.5);
    ctx.fillStyle = '#ffd9a0';
    for (const b of mini.bullets) dot(b.x, b.y, 1);
    for (const s of mini.ships) {
      ctx.fillStyle = s.own ? '#ffffff' : s.alive ? playerColor(s.owner) : '#6b7390';
      dot(s.x, s.y, s.own ? 3.5 : 2.5);
    }
  }
}

function drawPickup(ctx, p, now) {
  const pulse = 1 + 0.12 * Math.sin(now / 250 + p.x);
  ctx.fillStyle = 'rgba(95, 227, 154, 0.18)';
  ctx.beginPath();
  ctx.arc(p.x, p.y, 16 * pulse, 0, 2 * Math.PI);
  ctx.fill();
  ctx.fillStyle = '#5fe39a';
  ctx.fillRect(p.x - 10, p.y - 3.5, 20, 7);
  ctx.fillRect(p.x - 3.5, p.y - 10, 7, 20);
}

/** A ship: a hull pointing along its aim, a health bar above, the name below; a wreck while destroyed. */
function drawShip(ctx, s, k) {
  const r = Math.max(SHIP_RADIUS, MIN_SHIP_PX / k);
  ctx.save();
  ctx.translate(s.x, s.y);
  if (!s.alive) {
    ctx.strokeStyle = '#6b7390';
    ctx.lineWidth = 4;
    ctx.beginPath();
    ctx.moveTo(-r * 0.7, -r * 0.7);
    ctx.lineTo(r * 0.7, r * 0.7);
    ctx.moveTo(r * 0.7, -r * 0.7);
    ctx.lineTo(-r * 0.7, r * 0.7);
    ctx.stroke();
  } else {
    ctx.rotate(s.aim);
    ctx.fillStyle = playerColor(s.owner);
    ctx.strokeStyle = s.own ? '#ffffff' : 'rgba(0, 0, 0, 0.5)';
    ctx.lineWidth = s.own ? 3 : 2;
    ctx.beginPath();
    ctx.moveTo(r * 1.25, 0);
    ctx.lineTo(-r * 0.8, r * 0.85);
    ctx.lineTo(-r * 0.45, 0);
    ctx.lineTo(-r * 0.8, -r * 0.85);
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
  }
  ctx.restore();

  // Health bar (not on a wreck) and name stay upright and the same size on screen.
  if (s.alive) {
    const barW = 44 / k;
    const barH = 5 / k;
    const y = s.y - r - 12 / k;
    ctx.fillStyle = 'rgba(0, 0, 0, 0.6)';
    ctx.fillRect(s.x - barW / 2, y, barW, barH);
    const share = Math.max(0, Math.min(1, s.health / MAX_HEALTH));
    ctx.fillStyle = share > 0.5 ? '#5fe39a' : share > 0.25 ? '#ffd166' : '#ff5d73';
    ctx.fillRect(s.x - barW / 2, y, barW * share, barH);
  }
  ctx.font = `${12 / k}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillStyle = s.own ? '#ffffff' : '#aab4d0';
  ctx.fillText(`${s.name}${s.own ? ' (you)' : ''}`, s.x, s.y + r + 6 / k);
}
