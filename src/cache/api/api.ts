// The HTTP face of the cache service: /api/v1/cache routes behind the rate limiter.

import type { HttpReply, HttpRequest } from '../../actors/front/uws.js';
import { CacheKeyError, CachePatternError, CacheSourceError, UnknownNamespaceError } from '../errors.js';
import { ApiError, errorReply } from './replies.js';
import { type CacheApiDeps, cacheRoutes, dispatch } from './routes.js';
import type { Router } from './router.js';

export const API_PREFIX = '/api/v1/cache';

export const isApiPath = (url: string) => url === API_PREFIX || url.startsWith(`${API_PREFIX}/`);

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  retryAfterSeconds: number;
  resetSeconds: number;
}

export interface CacheHttpDeps extends CacheApiDeps {
  limiter?: { check(identity: string): Promise<RateDecision>; knows(apiKey: string): boolean };
}

export class CacheHttp {
  private readonly router: Router;

  constructor(private readonly d: CacheHttpDeps) {
    this.router = cacheRoutes(d);
  }

  /** The reply to a request under API_PREFIX. */
  handle(req: HttpRequest): Promise<HttpReply> {
    return this.api(req).catch((e: unknown) => errorReply(asApiError(e)));
  }

  private async api(req: HttpRequest): Promise<HttpReply> {
    let limitHeaders: Record<string, string> = {};
    if (this.d.limiter) {
      // A key configured in RATE_LIMIT_PER_KEY has its own budget; any other request counts
      // against its address (seed 002: X-API-Key for rate limiting). Keys are not checked, so an
      // unknown key must not buy a fresh budget: rotating keys would make the limit void.
      const key = req.header('x-api-key');
      const decision = await this.d.limiter.check(key !== '' && this.d.limiter.knows(key) ? key : `ip:${req.remoteAddress}`);
      limitHeaders = {
        'x-ratelimit-limit': String(decision.limit),
        'x-ratelimit-remaining': String(decision.remaining),
        'x-ratelimit-reset': String(Math.ceil(decision.resetSeconds)),
      };
      if (!decision.allowed) {
        const retry = String(Math.max(1, Math.ceil(decision.retryAfterSeconds)));
        throw new ApiError(429, 'rate_limited', `rate limit of ${decision.limit} requests exceeded; retry after ${retry} s`, undefined, { ...limitHeaders, 'retry-after': retry });
      }
    }
    const reply = await dispatch(this.router, req.method, req.url.slice(API_PREFIX.length) || '/', req);
    reply.headers = { ...limitHeaders, ...reply.headers };
    return reply;
  }
}

/** The cache's own errors as HTTP errors; anything else is a bug, rethrown for uws.ts's 500. */
function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof CacheKeyError) return new ApiError(400, e.code, e.message, `path.${e.param}`);
  if (e instanceof CachePatternError) return new ApiError(400, e.code, `body.pattern: ${e.message}`, 'body.pattern');
  if (e instanceof UnknownNamespaceError) return new ApiError(400, e.code, `body.namespace: ${e.message}`, 'body.namespace');
  if (e instanceof CacheSourceError) return new ApiError(503, e.code, `${e.message}; the cache tiers still serve reads`);
  throw e;
}
