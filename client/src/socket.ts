// The platform the client runs on, behind the few members it uses: a WebSocket (the browser's, Node's, or the ws package's) and timers.
//
// Nothing here names a DOM or Node type, so the package builds without either library and the
// same code runs in browsers and in Node 20+ (which has no global WebSocket before 22: pass one).

/**
 * The members of a WebSocket the client uses. The event handlers' parameters are `any` on
 * purpose: each implementation has its own event classes, and the client reads only `data`
 * (a string: the server sends text frames), `code` and `reason`.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** readyState of an open socket (the same in every implementation). */
export const OPEN = 1;

interface Platform {
  WebSocket?: WebSocketConstructor;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  TextDecoder?: new () => { decode(data: unknown): string };
}

const platform = globalThis as unknown as Platform;

export function defaultWebSocket(): WebSocketConstructor | undefined {
  return platform.WebSocket;
}

export type Timer = unknown;

export function setTimer(fn: () => void, ms: number): Timer {
  return platform.setTimeout(fn, ms);
}

export function clearTimer(t: Timer | undefined): void {
  if (t !== undefined) platform.clearTimeout(t);
}

/** A message event's data as text: a string already from browsers and ws; bytes decoded as UTF-8 otherwise. */
export function textOf(data: unknown): string {
  if (typeof data === 'string') return data;
  const Decoder = platform.TextDecoder;
  return Decoder ? new Decoder().decode(data) : String(data);
}
