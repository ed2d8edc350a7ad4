// A small path router for the REST API: `/stock-prices/:symbol` patterns, static segments before parameters.

import type { HttpReply, HttpRequest } from '../../actors/front/uws.js';

export interface RouteContext {
  req: HttpRequest;
  /** Path parameters, URI-decoded. */
  params: Record<string, string>;
}

export type Handler = (ctx: RouteContext) => HttpReply | Promise<HttpReply>;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

export type Match = { handler: Handler; params: Record<string, string> } | { status: 404 | 405; allowed: string[] };

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: split(pattern), handler });
    // Static segments win over parameters at the same depth (`/signals/active` before `/signals/:id`).
    this.routes.sort((a, b) => rank(a) - rank(b));
    return this;
  }

  match(method: string, path: string): Match {
    const parts = split(path);
    const allowed: string[] = [];
    for (const r of this.routes) {
      const params = matchSegments(r.segments, parts);
      if (params === undefined) continue;
      if (r.method === method) return { handler: r.handler, params };
      allowed.push(r.method);
    }
    return allowed.length > 0 ? { status: 405, allowed: [...new Set(allowed)] } : { status: 404, allowed };
  }

  /** `GET /stock-prices/:symbol`, … for error messages and docs. */
  list(): string[] {
    return this.routes.map((r) => `${r.method} /${r.segments.join('/')}`);
  }
}

const split = (p: string) => p.split('/').filter((s) => s !== '');

/** Lower sorts first: a parameter segment weighs by its depth, so fully static routes lead. */
const rank = (r: Route) => r.segments.reduce((w, s, i) => w + (s.startsWith(':') ? 2 ** (8 - Math.min(i, 8)) : 0), 0);

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(parts[i]);
      } catch {
        return undefined; // malformed %-escape: no route, answered 404
      }
    } else if (p !== parts[i]) {
      return undefined;
    }
  }
  return params;
}
