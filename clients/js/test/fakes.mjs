// Test doubles shared by the session and client tests: timers on a manual
// clock, a WebSocket class whose sockets the test plays the server of (it
// encodes and decodes with the real codec), and a sessionStorage stand-in.

import { decodeClient, encodeServer } from '../src/protocol.js';

/** Timers that run only when the test advances the fake clock. */
export class FakeTime {
  constructor() {
    this.t = 0;
    this.next = 1;
    this.jobs = new Map(); // id -> { at, fn, every }
  }
  setTimeout(fn, ms) {
    const id = this.next++;
    this.jobs.set(id, { at: this.t + ms, fn, every: null });
    return id;
  }
  setInterval(fn, ms) {
    const id = this.next++;
    this.jobs.set(id, { at: this.t + ms, fn, every: ms });
    return id;
  }
  clearTimeout(id) { this.jobs.delete(id); }
  clearInterval(id) { this.jobs.delete(id); }
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let id = null;
      let job = null;
      for (const [i, j] of this.jobs) if (j.at <= end && (!job || j.at < job.at)) [id, job] = [i, j];
      if (!job) break;
      this.t = job.at;
      if (job.every === null) this.jobs.delete(id);
      else job.at += job.every;
      job.fn();
    }
    this.t = end;
  }
}

/** Records every socket the session opens; the test plays the server. */
export function fakeSockets() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }
    send(bytes) { this.sent.push(decodeClient(bytes)); }
    close(code, reason) { this.closedWith = { code, reason }; this.readyState = 3; }
    // Server side:
    open() { this.readyState = 1; this.onopen?.(); }
    deliver(msg) { this.onmessage?.({ data: encodeServer(msg).buffer }); }
    serverClose(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
  }
  return { sockets, FakeWebSocket };
}

/** A sessionStorage stand-in (getItem/setItem/removeItem), optionally failing like a blocked one. */
export class FakeStorage {
  constructor({ broken = false } = {}) {
    this.items = new Map();
    this.broken = broken;
  }
  getItem(k) {
    if (this.broken) throw new Error('SecurityError');
    return this.items.has(k) ? this.items.get(k) : null;
  }
  setItem(k, v) {
    if (this.broken) throw new Error('QuotaExceededError');
    this.items.set(k, String(v));
  }
  removeItem(k) {
    if (this.broken) throw new Error('SecurityError');
    this.items.delete(k);
  }
}
