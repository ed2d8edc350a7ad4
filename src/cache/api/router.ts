// A small path router for the REST API: `/stock-prices/:symbol` patterns, static segments before parameters, a one-line description per route.
//
// The route table is built once, without the services it calls: those (`deps`) come with each
// request, so the table can be listed (GET / on the front) before any service exists.

import type { Access } from '../../auth/policy.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';

export interface RouteContext<D> {
  req: HttpRequest;
  /** Path parameters, URI-decoded. */
  params: Record<string, string>;
  deps: D;
}

export type Handler<D> = (ctx: RouteContext<D>) => HttpReply | Promise<HttpReply>;

/** A route as listed: `path` spells parameters `{name}`, as the HTTP documentation does. */
export interface RouteInfo {
  method: string;
  path: string;
  description: string;
  /** Who may call it (the front checks the scope; `:own` routes also check the owner themselves). */
  access: Access;
}

interface Route<D> {
  method: string;
  segments: string[];
  description: string;
  handler: Handler<D>;
  access: Access;
}

export type Match<D> = { handler: Handler<D>; params: Record<string, string>; access: Access } | { status: 404 | 405; allowed: string[] };

export class Router<D> {
  /** In declaration order, for list(). */
  private readonly declared: Route<D>[] = [];
  /** In match order. */
  private readonly routes: Route<D>[] = [];

  /** `access` defaults to `read` for GET and `write` for any other method. */
  add(method: string, pattern: string, description: string, handler: Handler<D>, access: Access = method === 'GET' ? 'read' : 'write'): this {
    const r = { method, segments: split(pattern), description, handler, access };
    this.declared.push(r);
    this.routes.push(r);
    // Static segments win over parameters at the same depth (`/signals/active` before `/signals/:id`).
    this.routes.sort((a, b) => rank(a) - rank(b));
    return this;
  }

  match(method: string, path: string): Match<D> {
    const parts = split(path);
    const allowed: string[] = [];
    for (const r of this.routes) {
      const params = matchSegments(r.segments, parts);
      if (params === undefined) continue;
      if (r.method === method) return { handler: r.handler, params, access: r.access };
      allowed.push(r.method);
    }
    return allowed.length > 0 ? { status: 405, allowed: [...new Set(allowed)] } : { status: 404, allowed };
  }

  /** Every route in declaration order: `GET /stock-prices/{symbol}` and what it answers. */
  list(): RouteInfo[] {
    return this.declared.map((r) => ({
      method: r.method,
      path: `/${r.segments.map((s) => (s.startsWith(':') ? `{${s.slice(1)}}` : s)).join('/')}`,
      description: r.description,
      access: r.access,
    }));
  }
}

const split = (p: string) => p.split('/').filter((s) => s !== '');

/** Lower sorts first: a parameter segment weighs by its depth, so fully static routes lead. */
const rank = (r: { segments: string[] }) => r.segments.reduce((w, s, i) => w + (s.startsWith(':') ? 2 ** (8 - Math.min(i, 8)) : 0), 0);

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
