// The HTTP face of the cache service: /api/v1/cache routes behind the rate limiter.

import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import { CacheKeyError, CachePatternError, CacheSourceError, UnknownNamespaceError } from '../errors.js';
import { ApiError, errorReply } from './replies.js';
import { type Logger, logger } from '../../log.js';
import { type CacheApiDeps, cacheRoutes, dispatch } from './routes.js';

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
  limiter?: { check(identity: string, limitName?: string): Promise<RateDecision> };
  /** Where a failing handler's error goes (the client gets a fixed message). */
  log?: Logger;
}

const INTERNAL = 'internal error; the server log has the details';

export class CacheHttp {
  private readonly log: Logger;

  constructor(private readonly d: CacheHttpDeps) {
    this.log = d.log ?? logger('http');
  }

  /**
   * The reply to a request under API_PREFIX, always in the API's envelope and, with rate limits
   * on, always with the limit headers — errors included, so a client can pace itself on any answer.
   */
  async handle(req: HttpRequest): Promise<HttpReply> {
    let limitHeaders: Record<string, string> = {};
    let reply: HttpReply;
    try {
      if (this.d.limiter) {
        // A verified credential has a budget of its own (its limit found by key name or token
        // subject, the names RATE_LIMIT_PER_KEY uses); any other request counts against its address.
        const who = req.identity !== undefined && req.identity.kind !== 'anonymous' ? req.identity : undefined;
        const decision = who ? await this.d.limiter.check(who.id, who.name) : await this.d.limiter.check(`ip:${req.remoteAddress}`);
        limitHeaders = {
          'x-ratelimit-limit': String(decision.limit),
          'x-ratelimit-remaining': String(decision.remaining),
          'x-ratelimit-reset': String(Math.ceil(decision.resetSeconds)),
        };
        if (!decision.allowed) {
          const retry = String(Math.max(1, Math.ceil(decision.retryAfterSeconds)));
          throw new ApiError(429, 'rate_limited', `rate limit of ${decision.limit} requests exceeded; retry after ${retry} s`, undefined, { 'retry-after': retry });
        }
      }
      reply = await dispatch(cacheRoutes, req.method, req.url.slice(API_PREFIX.length) || '/', req, this.d);
    } catch (e) {
      const known = asApiError(e);
      if (known === undefined) {
        // A bug, not the client's doing: the details go to the log, the client gets a fixed message.
        this.log.error('HTTP handler failed', { method: req.method, url: req.url, error: String((e as Error)?.stack ?? e) });
      }
      reply = errorReply(known ?? new ApiError(500, 'internal', INTERNAL));
    }
    reply.headers = { ...limitHeaders, ...reply.headers };
    return reply;
  }
}

/** The cache's own errors as HTTP errors; undefined for anything else (a bug: 500). */
function asApiError(e: unknown): ApiError | undefined {
  if (e instanceof ApiError) return e;
  if (e instanceof CacheKeyError) return new ApiError(400, e.code, e.message, `path.${e.param}`);
  if (e instanceof CachePatternError) return new ApiError(400, e.code, `body.pattern: ${e.message}`, 'body.pattern');
  if (e instanceof UnknownNamespaceError) return new ApiError(400, e.code, `body.namespace: ${e.message}`, 'body.namespace');
  if (e instanceof CacheSourceError) return new ApiError(503, e.code, `${e.message}; the cache tiers still serve reads`);
  return undefined;
}
