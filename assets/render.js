// Draws the arena on a <canvas>: a dark grid-lined field with a glowing rim,
// pulsing pellets, players as shaded discs with short motion trails and name
// tags, and the own player ringed. The canvas element is sized to the largest
// box with the arena's aspect ratio that fits the window, and its backing
// store to that size times devicePixelRatio, so lines stay crisp on HiDPI.
// Knows nothing about the network: main.js hands it a view of the world.

/** A player's colour, derived from the id (golden-angle hues spread evenly). */
export function playerHue(id) {
  return (id * 137.508) % 360;
}

export function playerColor(id, lightness = 60) {
  return `hsl(${playerHue(id).toFixed(1)} 80% ${lightness}%)`;
}

const MARGIN_CSS_PX = 12;
const TRAIL_POINTS = 18;
const TRAIL_SAMPLE_MS = 20;

export class Renderer {
  constructor(canvas, win = window) {
    this.canvas = canvas;
    this.win = win;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.arena = { width: 1600, height: 1000 };
    this.scale = 1; // CSS pixels per world unit
    this.dpr = 1;
    this.trails = new Map(); // id -> { pts: [{x, y}], last: ms }
    this.pops = []; // pellet-eaten bursts: { x, y, born }
    this.pelletSprite = makeGlowSprite(64, ['rgba(255,247,214,1)', 'rgba(255,205,80,0.85)', 'rgba(255,170,40,0.25)', 'rgba(255,150,30,0)']);
    this.grid = null; // cached arena background (grid + rim), rebuilt on resize
    this.resize();
  }

  setArena(width, height) {
    if (width !== this.arena.width || height !== this.arena.height) {
      this.arena = { width, height };
      this.resize();
    }
  }

  /** Fits the canvas to the window; call on resize and devicePixelRatio changes. */
  resize() {
    const { width: W, height: H } = this.arena;
    const availW = Math.max(100, this.win.innerWidth - 2 * MARGIN_CSS_PX);
    const availH = Math.max(100, this.win.innerHeight - 2 * MARGIN_CSS_PX);
    this.scale = Math.min(availW / W, availH / H);
    this.dpr = this.win.devicePixelRatio || 1;
    const cssW = Math.floor(W * this.scale);
    const cssH = Math.floor(H * this.scale);
    this.canvas.style.width = `${cssW}px`;
    this.canvas.style.height = `${cssH}px`;
    this.canvas.width = Math.max(1, Math.round(cssW * this.dpr));
    this.canvas.height = Math.max(1, Math.round(cssH * this.dpr));
    this.grid = null;
  }

  /** World coordinates of a pointer event's client position. */
  toWorld(clientX, clientY) {
    const r = this.canvas.getBoundingClientRect();
    return {
      x: ((clientX - r.left) / r.width) * this.arena.width,
      y: ((clientY - r.top) / r.height) * this.arena.height,
    };
  }

  /** A pellet vanished at (x, y): draw a short burst there. */
  pop(x, y, now) {
    this.pops.push({ x, y, born: now });
    if (this.pops.length > 64) this.pops.shift();
  }

  /**
   * Draws one frame. `view`: { now, pellets: [{ id, x, y }], pelletRadius,
   * playerRadius, players: [{ id, x, y, name, own }], dim (0..1: darken, e.g. behind the menu) }.
   */
  draw(view) {
    const ctx = this.ctx;
    const k = this.scale * this.dpr; // device pixels per world unit
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.background(), 0, 0);
    ctx.setTransform(k, 0, 0, k, 0, 0);
    const px = 1 / this.scale; // one CSS pixel in world units

    this.drawPellets(ctx, view);
    this.drawPops(ctx, view.now, view.pelletRadius);
    const players = [...view.players].sort((a, b) => (a.own ? 1 : 0) - (b.own ? 1 : 0));
    this.updateTrails(players, view.now);
    for (const p of players) this.drawTrail(ctx, p, view.playerRadius);
    for (const p of players) this.drawPlayer(ctx, p, view.playerRadius, view.now, px);
    for (const p of players) this.drawName(ctx, p, view.playerRadius, px);

    if (view.dim > 0) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = `rgba(4, 6, 14, ${view.dim})`;
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    }
  }

  /** The arena floor, grid and rim, rendered once per size into an offscreen canvas. */
  background() {
    if (this.grid) return this.grid;
    const c = document.createElement('canvas');
    c.width = this.canvas.width;
    c.height = this.canvas.height;
    const g = c.getContext('2d');
    const k = this.scale * this.dpr;
    const { width: W, height: H } = this.arena;
    const floor = g.createRadialGradient(c.width / 2, c.height / 2, 0, c.width / 2, c.height / 2, Math.hypot(c.width, c.height) / 2);
    floor.addColorStop(0, '#111a30');
    floor.addColorStop(1, '#070b17');
    g.fillStyle = floor;
    g.fillRect(0, 0, c.width, c.height);
    g.setTransform(k, 0, 0, k, 0, 0);
    const line = 1 / k; // one device pixel
    for (let x = 0; x <= W; x += 50) {
      g.strokeStyle = x % 250 === 0 ? 'rgba(120, 150, 255, 0.13)' : 'rgba(120, 150, 255, 0.055)';
      g.lineWidth = line;
      g.beginPath();
      g.moveTo(x, 0);
      g.lineTo(x, H);
      g.stroke();
    }
    for (let y = 0; y <= H; y += 50) {
      g.strokeStyle = y % 250 === 0 ? 'rgba(120, 150, 255, 0.13)' : 'rgba(120, 150, 255, 0.055)';
      g.lineWidth = line;
      g.beginPath();
      g.moveTo(0, y);
      g.lineTo(W, y);
      g.stroke();
    }
    // A soft inner glow along the rim.
    const rim = 3 / this.scale;
    g.shadowColor = 'rgba(90, 140, 255, 0.9)';
    g.shadowBlur = 14 * this.dpr;
    g.strokeStyle = 'rgba(120, 165, 255, 0.75)';
    g.lineWidth = rim;
    g.strokeRect(rim / 2, rim / 2, W - rim, H - rim);
    g.shadowBlur = 0;
    this.grid = c;
    return c;
  }

  drawPellets(ctx, view) {
    const r = view.pelletRadius;
    const t = view.now / 1000;
    for (const p of view.pellets) {
      const pulse = 1 + 0.14 * Math.sin(t * 3.1 + p.id * 1.7);
      const s = r * 3.6 * pulse;
      ctx.drawImage(this.pelletSprite, p.x - s, p.y - s, s * 2, s * 2);
      ctx.fillStyle = '#fff4cf';
      ctx.beginPath();
      ctx.arc(p.x, p.y, r * 0.55, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  drawPops(ctx, now, r) {
    const life = 350;
    this.pops = this.pops.filter((p) => now - p.born < life);
    for (const p of this.pops) {
      const t = (now - p.born) / life;
      ctx.strokeStyle = `rgba(255, 214, 102, ${(1 - t).toFixed(3)})`;
      ctx.lineWidth = r * 0.5 * (1 - t);
      ctx.beginPath();
      ctx.arc(p.x, p.y, r * (1 + 3 * t), 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  updateTrails(players, now) {
    const live = new Set();
    for (const p of players) {
      live.add(p.id);
      let tr = this.trails.get(p.id);
      if (!tr) {
        tr = { pts: [], last: 0 };
        this.trails.set(p.id, tr);
      }
      const lastPt = tr.pts[tr.pts.length - 1];
      if (lastPt && Math.hypot(p.x - lastPt.x, p.y - lastPt.y) > 200) tr.pts = []; // respawn: no streak
      if (now - tr.last >= TRAIL_SAMPLE_MS) {
        tr.pts.push({ x: p.x, y: p.y });
        tr.last = now;
        if (tr.pts.length > TRAIL_POINTS) tr.pts.shift();
      }
    }
    for (const id of this.trails.keys()) if (!live.has(id)) this.trails.delete(id);
  }

  /** A tapered comet tail: one filled ribbon, fading from the player backwards. */
  drawTrail(ctx, p, r) {
    const pts = this.trails.get(p.id)?.pts;
    if (!pts || pts.length < 2) return;
    const all = [...pts, { x: p.x, y: p.y }].filter(
      (q, i, a) => i === 0 || Math.hypot(q.x - a[i - 1].x, q.y - a[i - 1].y) > 0.5,
    );
    if (all.length < 2) return;
    const n = all.length;
    const left = [];
    const right = [];
    for (let i = 0; i < n; i++) {
      const a = all[Math.max(0, i - 1)];
      const b = all[Math.min(n - 1, i + 1)];
      const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
      const nx = -(b.y - a.y) / len;
      const ny = (b.x - a.x) / len;
      const w = r * 0.8 * (i / (n - 1));
      left.push([all[i].x + nx * w, all[i].y + ny * w]);
      right.push([all[i].x - nx * w, all[i].y - ny * w]);
    }
    const tail = all[0];
    const hue = playerHue(p.id).toFixed(1);
    const grad = ctx.createLinearGradient(tail.x, tail.y, p.x, p.y);
    grad.addColorStop(0, `hsla(${hue}, 85%, 60%, 0)`);
    grad.addColorStop(1, `hsla(${hue}, 85%, 62%, 0.38)`);
    ctx.fillStyle = grad;
    ctx.beginPath();
    ctx.moveTo(left[0][0], left[0][1]);
    for (const [x, y] of left.slice(1)) ctx.lineTo(x, y);
    for (const [x, y] of right.reverse()) ctx.lineTo(x, y);
    ctx.closePath();
    ctx.fill();
  }

  drawPlayer(ctx, p, r, now, px) {
    const hue = playerHue(p.id).toFixed(1);
    // Drop shadow.
    ctx.fillStyle = 'rgba(0, 0, 0, 0.35)';
    ctx.beginPath();
    ctx.ellipse(p.x + r * 0.15, p.y + r * 0.3, r * 1.02, r * 0.95, 0, 0, Math.PI * 2);
    ctx.fill();
    if (p.own) {
      const pulse = 0.5 + 0.5 * Math.sin(now / 260);
      ctx.strokeStyle = `rgba(255, 255, 255, ${(0.25 + 0.35 * pulse).toFixed(3)})`;
      ctx.lineWidth = 2.5 * px;
      ctx.beginPath();
      ctx.arc(p.x, p.y, r * 1.3 + (2 + pulse * 3) * px, 0, Math.PI * 2);
      ctx.stroke();
    }
    const body = ctx.createRadialGradient(p.x - r * 0.35, p.y - r * 0.4, r * 0.1, p.x, p.y, r);
    body.addColorStop(0, `hsl(${hue} 90% 78%)`);
    body.addColorStop(0.55, `hsl(${hue} 78% 58%)`);
    body.addColorStop(1, `hsl(${hue} 70% 40%)`);
    ctx.fillStyle = body;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
    ctx.fill();
    ctx.strokeStyle = p.own ? '#ffffff' : `hsl(${hue} 95% 80%)`;
    ctx.lineWidth = (p.own ? 2.5 : 1.5) * px;
    ctx.stroke();
  }

  drawName(ctx, p, r, px) {
    const label = p.name || `player-${p.id}`;
    // 12–13 CSS px on a desktop-sized arena, smaller when the arena is drawn small (phones).
    const cssSize = Math.max(9, Math.min(p.own ? 13 : 12, r / px));
    const size = cssSize * px;
    ctx.font = `${p.own ? 700 : 600} ${size.toFixed(2)}px system-ui, -apple-system, "Segoe UI", sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    // Keep the label inside the arena near the walls.
    const half = ctx.measureText(label).width / 2 + 2 * px;
    const x = Math.min(Math.max(p.x, half), this.arena.width - half);
    const y = Math.max(p.y - r * 1.3 - 4 * px, size + 2 * px);
    ctx.lineJoin = 'round';
    ctx.lineWidth = 3.5 * px;
    ctx.strokeStyle = 'rgba(3, 5, 12, 0.85)';
    ctx.strokeText(label, x, y);
    ctx.fillStyle = p.own ? '#ffffff' : `hsl(${playerHue(p.id).toFixed(1)} 90% 82%)`;
    ctx.fillText(label, x, y);
  }
}

/** Pellets scattered over the arena behind the menu, from a fixed seed. */
export function decorativePellets(width, height, count = 70) {
  let seed = 0x7157;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: count }, (_, id) => ({ id, x: 20 + rnd() * (width - 40), y: 20 + rnd() * (height - 40) }));
}

function makeGlowSprite(size, stops) {
  const c = document.createElement('canvas');
  c.width = c.height = size;
  const g = c.getContext('2d');
  const grad = g.createRadialGradient(size / 2, size / 2, 0, size / 2, size / 2, size / 2);
  stops.forEach((s, i) => grad.addColorStop(i / (stops.length - 1), s));
  g.fillStyle = grad;
  g.fillRect(0, 0, size, size);
  return c;
}
