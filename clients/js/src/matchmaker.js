// The room API's calls a client makes (crates/server/src/http/api.rs,
// docs/api.md): `POST /matchmake` and `POST /rooms/{id}/join`, each
// answering a Ticket — a short-lived, single-use credential for one room and
// the WebSocket URL of the node that runs it. Errors come back as the
// server's JSON `{ code, message }`, thrown as a RoomApiError. It exists so a
// game (or its backend, with the API token) gets a seat without hand-written
// fetch code, and so the client turns a Ticket into the URLs its session
// connects to.

/** A refused room API call: the HTTP status and the server's `{ code, message }`. */
export class RoomApiError extends Error {
  constructor(status, code, message) {
    super(`${message} (${status} ${code})`);
    this.name = 'RoomApiError';
    this.status = status;
    this.code = code;
    this.serverMessage = message;
  }
}

/** `server` (an http(s) URL of any node) with `path` appended to its path. */
function apiUrl(server, path) {
  const u = new URL(server);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`not an http(s) server URL: ${server}`);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`;
  u.search = '';
  u.hash = '';
  return u.toString();
}

async function post(server, path, body, { token = '', fetchImpl = globalThis.fetch?.bind(globalThis), signal } = {}) {
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: pass `fetchImpl`');
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const url = apiUrl(server, path);
  let res;
  try {
    res = await fetchImpl(url, { method: 'POST', headers, body: JSON.stringify(body ?? {}), signal });
  } catch (e) {
    throw new RoomApiError(0, 'unreachable', `could not reach ${server}: ${e?.message ?? e}`);
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok) {
    const code = typeof json?.code === 'string' ? json.code : 'http_error';
    const message = typeof json?.message === 'string' ? json.message : `HTTP ${res.status}`;
    throw new RoomApiError(res.status, code, message);
  }
  if (!json || typeof json.room !== 'string' || typeof json.ticket !== 'string' || typeof json.ws_url !== 'string') {
    throw new RoomApiError(res.status, 'bad_response', 'the server did not answer a Ticket');
  }
  return json;
}

/**
 * A seat in the fullest public room with one free (or a new room), from
 * `POST /matchmake` on `server`. `metadata` restricts the match to rooms
 * whose metadata has each given key with an equal value. `token`: the API
 * token, for servers with `--api-token` (keep it in the game's backend, never
 * in a page). Resolves to a Ticket `{ room, ws_url, ticket, expires_in }`.
 */
export function matchmake(server, { metadata, ...opts } = {}) {
  return post(server, '/matchmake', metadata === undefined ? {} : { metadata }, opts);
}

/** A seat in room `room` (public or private), from `POST /rooms/{room}/join`. */
export function joinTicket(server, room, opts = {}) {
  return post(server, `/rooms/${encodeURIComponent(room)}/join`, {}, opts);
}

/**
 * Where a Ticket sends the client: its room, the credential, and `target`,
 * the WebSocket URL of the node that runs the room (the Ticket's `ws_url`
 * without the ticket; a relative one is resolved against `server`).
 */
export function ticketUrls(ticket, server) {
  if (!ticket || typeof ticket.room !== 'string' || typeof ticket.ws_url !== 'string') {
    throw new TypeError('not a Ticket: expected { room, ws_url, ticket }');
  }
  const base = new URL(server);
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  const u = new URL(ticket.ws_url, base);
  const credential = typeof ticket.ticket === 'string' && ticket.ticket ? ticket.ticket : (u.searchParams.get('ticket') ?? '');
  u.searchParams.delete('ticket');
  return { room: ticket.room, ticket: credential, target: u.toString() };
}
