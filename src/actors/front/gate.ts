// What every HTTP request passes before a route: browser origin, CORS preflight, credential, scope; and the headers every answer carries.
//
// The front is the only door: it verifies the credential once and forwards the request with
// its identity (and without the credential's headers). Routes that act on a user's own
// resources check ownership themselves, with that identity.

import { type Authenticator, credentialOf } from '../../auth/authenticator.js';
import { AuthError } from '../../auth/errors.js';
import type { Identity } from '../../auth/identity.js';
import type { OriginPolicy } from '../../auth/origins.js';
import { type Access, type AuthMode, authorize } from '../../auth/policy.js';
import { API_PREFIX, isApiPath } from '../../cache/api/api.js';
import { cacheRoutes } from '../../cache/api/routes.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import { errorReply } from './http.js';

/** On every HTTP answer: no sniffing, no framing, no referrer, nothing loaded by a JSON answer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
});

const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS';
const ALLOWED_HEADERS = 'authorization, content-type, x-api-key, if-none-match';
/** Headers a cross-origin page may read: caching and rate-limit state. */
const EXPOSED_HEADERS = 'etag, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset';
const PREFLIGHT_MAX_AGE_S = '600';

/** Access of the front's own routes: /health is for probes in every mode, the WebSocket paths check at the upgrade. */
function frontAccess(url: string): Access {
  if (url === '/health' || url === '/openapi.json' || url === '/ws' || url.startsWith('/ws/')) return 'public';
  return 'read';
}

/** A route's access level; a path with no route is public (its 404 or 405 says nothing). */
export function accessOf(method: string, url: string): Access {
  if (!isApiPath(url)) return frontAccess(url);
  const m = cacheRoutes.match(method, url.slice(API_PREFIX.length) || '/');
  return 'status' in m ? 'public' : m.access;
}

export interface GateCounters {
  /** HTTP requests refused before their route, by reason: unauthorized, forbidden, origin, auth_unavailable, timeout. */
  httpRefused: Map<string, number>;
  corsPreflights: number;
}

export class HttpGate {
  constructor(
    private readonly mode: AuthMode,
    private readonly auth: Authenticator,
    private readonly origins: OriginPolicy,
    readonly counters: GateCounters,
    /** Requests for the chart page (page.ts): public in every mode, as a browser opening it has no credential yet. */
    private readonly isPage: (req: HttpRequest) => boolean = () => false,
  ) {}

  /** Runs `route` for `req` if it may, with `req.identity` set; the answer gets the CORS headers of its origin. */
  serve(req: HttpRequest, route: (req: HttpRequest) => HttpReply | Promise<HttpReply>): HttpReply | Promise<HttpReply> {
    const origin = req.header('origin');
    if (!this.origins.allows(origin, req.header('host'))) {
      return this.refuse(req.url, 'origin', 403, 'origin_not_allowed', 'this origin may not call this server (ALLOWED_ORIGINS)');
    }
    const cors = this.origins.isCrossOriginAllowed(origin);
    if (req.method === 'OPTIONS') return this.preflight(origin, cors);
    const credential = this.mode === 'off' ? undefined : credentialOf(req);
    // The credential stops here: routes see the identity only.
    (req.headers as Map<string, string>).delete('authorization');
    (req.headers as Map<string, string>).delete('x-api-key');
    const run = (identity: Identity | undefined): HttpReply | Promise<HttpReply> => {
      const who = authorize(this.mode, this.isPage(req) ? 'public' : accessOf(req.method, req.url), identity);
      if (who instanceof AuthError) return this.refused(req.url, who);
      req.identity = who;
      const reply = route(req);
      return cors ? (reply instanceof Promise ? reply.then((r) => withCors(r, origin)) : withCors(reply, origin)) : reply;
    };
    if (credential === undefined) return run(undefined);
    let verified: Identity | Promise<Identity>;
    try {
      verified = this.auth.verify(credential);
    } catch (e) {
      return this.refused(req.url, e);
    }
    return verified instanceof Promise ? verified.then(run, (e: unknown) => this.refused(req.url, e)) : run(verified);
  }

  private preflight(origin: string, cors: boolean): HttpReply {
    this.counters.corsPreflights++;
    const headers: Record<string, string> = { allow: ALLOWED_METHODS };
    if (cors) {
      Object.assign(headers, {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': ALLOWED_METHODS,
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': PREFLIGHT_MAX_AGE_S,
        vary: 'origin',
      });
    }
    return { status: 204, body: '', headers };
  }

  private refused(url: string, e: unknown): HttpReply {
    const err = e instanceof AuthError ? e : new AuthError('unauthorized', 'credential could not be verified');
    const reason = err.code === 'token_expired' ? 'unauthorized' : err.code;
    const reply = this.refuse(url, reason, err.status, err.code, err.message);
    if (err.status === 401) reply.headers = { ...reply.headers, 'www-authenticate': 'Bearer realm="tickplant"' };
    if (err.status === 503) reply.headers = { ...reply.headers, 'retry-after': '2' };
    return reply;
  }

  private refuse(url: string, reason: string, status: number, code: string, message: string): HttpReply {
    this.counters.httpRefused.set(reason, (this.counters.httpRefused.get(reason) ?? 0) + 1);
    return errorReply(url, status, code, message);
  }
}

function withCors(r: HttpReply, origin: string): HttpReply {
  r.headers = { ...r.headers, 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS, vary: 'origin' };
  return r;
}
