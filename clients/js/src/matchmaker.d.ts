// Hand-written declarations of matchmaker.js: keep them in step with it
// (test/types/ checks them against a typed example).

/** A seat in one room: the room API's answer to `POST /matchmake` and `POST /rooms/{id}/join`. */
export interface Ticket {
  /** The room the ticket admits to. */
  room: string;
  /** `<base>/ws?room=<room>&ticket=<ticket>`; `<base>` names the node that runs the room (may be empty: relative). */
  ws_url: string;
  /** The single-use credential itself: do not log it. */
  ticket: string;
  /** Seconds it stays valid. */
  expires_in: number;
}

/** Options of the room API calls. */
export interface RoomApiOptions {
  /** The server's `--api-token`, sent as `Authorization: Bearer`; keep it in a backend, never in a page. */
  token?: string;
  /** `fetch` to use (default: the global one). */
  fetchImpl?: (url: string, init: RequestInit) => Promise<Pick<Response, 'ok' | 'status' | 'json'>>;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** A refused room API call: the HTTP status (0: unreachable) and the server's `{ code, message }`. */
export class RoomApiError extends Error {
  constructor(status: number, code: string, message: string);
  readonly name: 'RoomApiError';
  /** HTTP status; 0 when the server could not be reached. */
  status: number;
  /** The server's error code (e.g. `too_many_rooms`), or `unreachable`, `http_error`, `bad_response`. */
  code: string;
  /** The server's message (or ours for the codes above). */
  serverMessage: string;
}

/**
 * A seat in the fullest public room with one free (or a new room) from
 * `POST /matchmake`; `metadata` restricts the match to rooms whose metadata
 * has each given key with an equal value. Rejects with RoomApiError, or
 * TypeError for a server URL that is not http(s).
 */
export function matchmake(server: string, options?: RoomApiOptions & { metadata?: Record<string, unknown> }): Promise<Ticket>;

/** A seat in room `room` (public or private) from `POST /rooms/{room}/join`. */
export function joinTicket(server: string, room: string, options?: RoomApiOptions): Promise<Ticket>;

/** Where a Ticket sends a client: its room, the credential, and the owner's WebSocket URL without the ticket. */
export function ticketUrls(ticket: Ticket, server: string): { room: string; ticket: string; target: string };
