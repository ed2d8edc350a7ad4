// Who may hold a WebSocket and what it may do: origin and connection limits at the upgrade, credentials (query token or auth message), token expiry.
//
// AUTH=all: a connection must present a valid credential (`?token=` or a first
// `{"action":"auth","token":…}`) within WS_AUTH_TIMEOUT_MS, else it is closed with 4401.
// In every mode a credential may be presented, to act as its user. When a token expires the
// connection gets `token_expired` and WS_TOKEN_GRACE_MS to send a fresh one; then AUTH=all
// closes it (4408) and the other modes go on without the identity.

import type { Authenticator } from '../../auth/authenticator.js';
import { AuthError } from '../../auth/errors.js';
import { type Identity, hasScope } from '../../auth/identity.js';
import type { OriginPolicy } from '../../auth/origins.js';
import type { Config } from '../../config.js';
import { authenticatedFrame, errorFrame, tokenExpiredFrame } from '../../protocol/client-message.js';
import { CLOSE_TOKEN_EXPIRED, CLOSE_UNAUTHORIZED } from '../../protocol/close-codes.js';
import type { HttpReply } from '../../protocol/http.js';
import type { UpgradeDecision, UpgradeInfo } from './uws.js';

/** What a connection's access state holds (a part of its session). */
export interface AccessState {
  readonly remote: string;
  /** The connection closed: nothing may be sent on it (uWS aborts the process on a closed socket). */
  closed: boolean;
  identity: Identity | undefined;
  /** AUTH=all: when an unauthenticated connection is closed; 0 once authenticated. */
  authDeadlineMs: number;
  /** After `token_expired`: when the connection loses its identity; 0 otherwise. */
  graceUntilMs: number;
  /** A credential is being verified: the connection's messages wait (bounded) until it is. */
  verifying: boolean;
  /** An error frame owed at open (a bad `?token=`). */
  openError?: string;
  /** Set at open: the sweep's handle on the connection. */
  socket?: AccessSocket;
}

export interface AccessCounters {
  /** Upgrades refused, by reason: origin, per_ip, total. */
  wsRefused: Map<string, number>;
  /** Connections closed by access control, by reason: unauthorized, token_expired, flooding. */
  wsClosed: Map<string, number>;
  /** Credentials refused on WebSocket connections (error frames), by code. */
  wsAuthFailures: Map<string, number>;
}

export interface AccessSocket {
  send(message: string, isBinary?: boolean): number;
  end(code?: number, reason?: string): void;
}

const AUTHENTICATE_FIRST = 'authenticate first: {"action":"auth","token":"<API key or JWT>"} or ?token= (AUTH=all)';

const json = (status: number, code: string, message: string): HttpReply => ({ status, body: JSON.stringify({ error: { code, message } }) });

export class WsAccess {
  private readonly perAddress = new Map<string, number>();
  private total = 0;
  /** Connections with a deadline or an expiry to watch; the others cost the sweep nothing. */
  private readonly watched = new Set<AccessState>();

  constructor(
    private readonly cfg: Config,
    private readonly auth: Authenticator,
    private readonly origins: OriginPolicy,
    readonly counters: AccessCounters,
  ) {}

  get connections(): number {
    return this.total;
  }

  /**
   * Refuses a browser origin not allowed (403) and connections over the limits (429 per
   * address, 503 in all); else reserves the connection's place and verifies `?token=`.
   * The place is given back by release() (at close) or by an aborted upgrade.
   */
  upgrade<U>(info: UpgradeInfo, create: (state: AccessState) => U): UpgradeDecision<U> | Promise<UpgradeDecision<U>> {
    if (!this.origins.allows(info.origin, info.host)) {
      this.count(this.counters.wsRefused, 'origin');
      return { refuse: json(403, 'origin_not_allowed', 'this origin may not open WebSockets here (ALLOWED_ORIGINS)') };
    }
    if (this.total >= this.cfg.wsMaxConnections) {
      this.count(this.counters.wsRefused, 'total');
      return { refuse: { ...json(503, 'too_many_connections', `the server holds its maximum of ${this.cfg.wsMaxConnections} WebSocket connections (WS_MAX_CONNECTIONS); retry later`), headers: { 'retry-after': '5' } } };
    }
    const here = this.perAddress.get(info.remoteAddress) ?? 0;
    if (here >= this.cfg.wsMaxConnectionsPerIp) {
      this.count(this.counters.wsRefused, 'per_ip');
      return { refuse: { ...json(429, 'too_many_connections', `at most ${this.cfg.wsMaxConnectionsPerIp} WebSocket connections per address (WS_MAX_CONNECTIONS_PER_IP)`), headers: { 'retry-after': '5' } } };
    }
    this.perAddress.set(info.remoteAddress, here + 1);
    this.total++;
    const state: AccessState = { remote: info.remoteAddress, closed: false, identity: undefined, authDeadlineMs: 0, graceUntilMs: 0, verifying: false };
    const token = info.query.get('token');
    if (token === null) return { accept: create(state) };
    let verified: Identity | Promise<Identity>;
    try {
      verified = this.auth.verify(token);
    } catch (e) {
      this.refused(state, e);
      return { accept: create(state) };
    }
    if (!(verified instanceof Promise)) {
      state.identity = verified;
      return { accept: create(state) };
    }
    return verified.then(
      (identity) => {
        state.identity = identity;
        return { accept: create(state) };
      },
      (e: unknown) => {
        this.refused(state, e);
        return { accept: create(state) };
      },
    );
  }

  /** Gives back the place an upgrade reserved (at close, or when its client left mid-upgrade). */
  release(state: AccessState): void {
    const n = (this.perAddress.get(state.remote) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(state.remote);
    else this.perAddress.set(state.remote, n);
    this.total--;
    this.watched.delete(state);
  }

  /** At open: the owed error of a bad `?token=`, the AUTH=all deadline, the expiry watch. */
  opened(state: AccessState, ws: AccessSocket, nowMs = Date.now()): void {
    state.socket = ws;
    if (state.openError !== undefined) {
      ws.send(state.openError);
      state.openError = undefined;
      if (this.cfg.auth === 'all') {
        this.close(ws, CLOSE_UNAUTHORIZED, 'unauthorized', 'invalid credential');
        return;
      }
    }
    if (state.identity) {
      ws.send(authenticatedFrame(state.identity.user, state.identity.scopes, state.identity.expiresAtMs, state.identity.symbols));
      if (state.identity.expiresAtMs !== undefined) this.watched.add(state);
    } else if (this.cfg.auth === 'all') {
      state.authDeadlineMs = nowMs + this.cfg.wsAuthTimeoutMs;
      this.watched.add(state);
    }
  }

  /**
   * `{"action":"auth"}`: verifies the token and, once it is known, calls `done` (the session
   * then handles the messages that waited). A refused credential gets an error frame; with
   * AUTH=all the connection is then closed unless it already holds a valid identity.
   */
  authenticate(state: AccessState, ws: AccessSocket, token: string, done: () => void): void {
    // A JWT is verified asynchronously: the connection may have closed meanwhile.
    const accept = (identity: Identity) => {
      if (state.closed) return;
      state.identity = identity;
      state.authDeadlineMs = 0;
      state.graceUntilMs = 0;
      ws.send(authenticatedFrame(identity.user, identity.scopes, identity.expiresAtMs, identity.symbols));
      if (identity.expiresAtMs !== undefined) this.watched.add(state);
      else this.watched.delete(state);
    };
    // A connection that still holds a valid identity (or is in its grace period) keeps it.
    const reject = (e: unknown) => {
      if (state.closed) return;
      ws.send(this.refusal(e));
      if (this.cfg.auth === 'all' && state.identity === undefined) this.close(ws, CLOSE_UNAUTHORIZED, 'unauthorized', 'invalid credential');
    };
    let verified: Identity | Promise<Identity>;
    try {
      verified = this.auth.verify(token);
    } catch (e) {
      reject(e);
      done();
      return;
    }
    if (!(verified instanceof Promise)) {
      accept(verified);
      done();
      return;
    }
    state.verifying = true;
    verified.then(accept, reject).finally(() => {
      state.verifying = false;
      done();
    });
  }

  /** Why the connection may not subscribe to `symbol` (an error frame's code and message); undefined when it may. */
  mayRead(state: AccessState, symbol: string): { code: 'unauthorized' | 'forbidden'; message: string } | undefined {
    const id = state.identity;
    if (id === undefined) {
      return this.cfg.auth === 'all' ? { code: 'unauthorized', message: AUTHENTICATE_FIRST } : undefined;
    }
    if (this.cfg.auth !== 'off' && !hasScope(id, 'read')) return { code: 'forbidden', message: 'this credential lacks the read scope' };
    if (id.symbols !== undefined && !id.symbols.includes(symbol)) {
      return { code: 'forbidden', message: `this token does not allow ${symbol}: its symbols claim limits it to ${id.symbols.length} symbol(s)` };
    }
    return undefined;
  }

  /** AUTH=all, unauthenticated: what to do with a message other than auth or ping (close). */
  requireIdentity(state: AccessState, ws: AccessSocket): boolean {
    if (this.cfg.auth !== 'all' || state.identity !== undefined) return true;
    ws.send(errorFrame('unauthorized', AUTHENTICATE_FIRST));
    this.close(ws, CLOSE_UNAUTHORIZED, 'unauthorized', 'authentication required');
    return false;
  }

  /** Periodic: deadlines of unauthenticated connections, expiring tokens, ended grace periods. */
  sweep(nowMs = Date.now()): void {
    for (const state of this.watched) {
      const ws = state.socket!;
      if (state.authDeadlineMs !== 0) {
        if (nowMs >= state.authDeadlineMs) {
          ws.send(errorFrame('unauthorized', `no credential within ${this.cfg.wsAuthTimeoutMs} ms (WS_AUTH_TIMEOUT_MS; AUTH=all)`));
          this.close(ws, CLOSE_UNAUTHORIZED, 'unauthorized', 'authentication timeout');
          this.watched.delete(state);
        }
        continue;
      }
      const id = state.identity;
      if (id?.expiresAtMs === undefined) {
        this.watched.delete(state);
        continue;
      }
      if (state.graceUntilMs === 0 && nowMs >= id.expiresAtMs) {
        state.graceUntilMs = nowMs + this.cfg.wsTokenGraceMs;
        ws.send(tokenExpiredFrame(this.cfg.wsTokenGraceMs));
      } else if (state.graceUntilMs !== 0 && nowMs >= state.graceUntilMs) {
        this.watched.delete(state);
        state.graceUntilMs = 0;
        state.identity = undefined;
        if (this.cfg.auth === 'all') this.close(ws, CLOSE_TOKEN_EXPIRED, 'token_expired', 'token expired');
      }
    }
  }

  private refused(state: AccessState, e: unknown): void {
    state.openError = this.refusal(e);
  }

  /** The error frame of a refused credential (expired, unknown, malformed, or keys not loaded yet). */
  private refusal(e: unknown): string {
    const err = e instanceof AuthError ? e : new AuthError('unauthorized', 'credential could not be verified');
    this.count(this.counters.wsAuthFailures, err.code);
    return errorFrame(err.code === 'forbidden' ? 'forbidden' : 'unauthorized', err.message);
  }

  private close(ws: AccessSocket, code: number, reason: string, text: string): void {
    this.count(this.counters.wsClosed, reason);
    ws.end(code, text);
  }

  private count(m: Map<string, number>, key: string): void {
    m.set(key, (m.get(key) ?? 0) + 1);
  }
}
