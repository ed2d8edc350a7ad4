// The front's end of its link to the cache actor: /api/ requests forwarded and answered, the cache's metrics and health asked for.
//
// Per request the front only copies what uWS parsed into a message and writes the reply it
// gets back; the cache's work runs on its own thread. In flight at most MAX_IN_FLIGHT requests
// (a busy or restarting cache actor is answered 503 at once, never queued without bound), each
// given up after REQUEST_TIMEOUT_MS (504).

import type { MessagePort } from 'node:worker_threads';
import type { CacheHealth } from '../../cache/types.js';
import type { Logger } from '../../log.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import type { LinkReply, LinkRequest } from '../cache/messages.js';
import { errorReply } from './http.js';

const MAX_IN_FLIGHT = 1024;
const REQUEST_TIMEOUT_MS = 30_000;
/** Expired requests are swept this often: one timer for all, not one per request. */
const SWEEP_MS = 1000;

interface Pending {
  deadline: number;
  settle(r: LinkReply | undefined, why?: string): void;
}

/**
 * The body as bytes that can be moved to the other thread: a body of its own ArrayBuffer (any
 * large one) as it is, a small one copied out of the Buffer pool it is a view into (moving
 * that would take the pool away from every other Buffer of this thread).
 */
function movable(body: Buffer): Uint8Array {
  if (body.byteLength === 0) return new Uint8Array(0);
  return body.byteOffset === 0 && body.buffer.byteLength === body.byteLength ? body : new Uint8Array(body);
}

export class CacheLink {
  private port?: MessagePort;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly sweeper: NodeJS.Timeout;

  /** Delivers an alert frame the cache actor sends to a user's connections. */
  onAlert: (user: string, frame: string) => void = () => {};

  /** `inbox`: where the supervisor posts a fresh link each time the cache actor (re)starts. */
  constructor(private readonly inbox: MessagePort, private readonly log: Logger) {
    inbox.on('message', (port: MessagePort) => this.attach(port));
    this.sweeper = setInterval(() => this.expire(), SWEEP_MS);
    this.sweeper.unref();
  }

  private attach(port: MessagePort): void {
    this.detach('the cache actor restarted');
    this.port = port;
    port.on('message', (r: LinkReply) => {
      if (r.kind === 'alert') return this.onAlert(r.user, r.frame);
      const p = this.pending.get(r.id);
      if (!p) return; // timed out already
      this.pending.delete(r.id);
      p.settle(r);
    });
    // The cache actor's thread ended (crash or stop): nothing sent on this link will be answered.
    port.on('close', () => {
      if (this.port === port) this.detach('the cache actor stopped');
    });
  }

  private detach(why: string): void {
    const old = this.port;
    this.port = undefined;
    old?.close();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.settle(undefined, why);
    }
  }

  /** The cache actor's reply to an /api/ request (503 without a link or when too busy, 504 after the timeout). */
  forward(req: HttpRequest): Promise<HttpReply> {
    return new Promise((resolve) => {
      const sent = this.send(
        (id) => ({ id, kind: 'http', req: {
          method: req.method, url: req.url, query: req.query.toString(), headers: [...req.headers], remoteAddress: req.remoteAddress, body: movable(req.body), identity: req.identity,
        } }),
        (r, why) => resolve(r?.kind === 'http' ? r.reply : errorReply(req.url, why === 'timeout' ? 504 : 503, why === 'timeout' ? 'cache_timeout' : 'cache_unavailable', `the cache service did not answer: ${why}`)),
      );
      if (sent !== undefined) resolve(errorReply(req.url, 503, 'cache_unavailable', sent));
    });
  }

  /** The cache's Prometheus metrics text, or undefined when the cache actor cannot answer. */
  metrics(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const sent = this.send((id) => ({ id, kind: 'metrics' }), (r) => resolve(r?.kind === 'metrics' ? r.text : undefined));
      if (sent !== undefined) resolve(undefined);
    });
  }

  /** The cache service's health (it pings Redis and PostgreSQL), or why there is none. */
  health(): Promise<{ health?: CacheHealth; error?: string }> {
    return new Promise((resolve) => {
      const sent = this.send((id) => ({ id, kind: 'health' }), (r, why) => resolve(r?.kind === 'health' ? r : { error: why }));
      if (sent !== undefined) resolve({ error: sent });
    });
  }

  /** Sends a request (its body moved, not copied); returns why it could not be sent (the callback is then never called). */
  private send(build: (id: number) => LinkRequest, settle: Pending['settle']): string | undefined {
    if (!this.port) return 'the cache actor is not running';
    if (this.pending.size >= MAX_IN_FLIGHT) return `${MAX_IN_FLIGHT} requests already wait for the cache actor`;
    const id = this.nextId++;
    this.pending.set(id, { deadline: Date.now() + REQUEST_TIMEOUT_MS, settle });
    try {
      const m = build(id);
      this.port.postMessage(m, m.kind === 'http' && m.req.body.byteLength > 0 ? [m.req.body.buffer as ArrayBuffer] : []);
    } catch (e) {
      this.pending.delete(id);
      this.log.error('cannot forward to the cache actor', { error: (e as Error).message });
      return 'the request could not be forwarded';
    }
    return undefined;
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.settle(undefined, 'timeout');
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.detach('the server is stopping');
    this.inbox.close();
  }
}
