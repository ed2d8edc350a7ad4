// HTTP caching of the GET market-data routes: a weak ETag over the data, Cache-Control from the namespace TTL, 304 on a match.
//
// The ETag covers `data` only: the envelope's `timestamp` says when the response was made, so two
// responses with the same data are equivalent, not byte-identical — a weak validator (RFC 9110 §8.8.1).

import { createHash } from 'node:crypto';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import { ok } from './replies.js';

export function etagOf(data: unknown): string {
  return `W/"${createHash('sha1').update(JSON.stringify(data)).digest('base64url')}"`;
}

/** `If-None-Match` lists the ETag (or `*`): weak comparison, as GET requires. */
function matches(header: string, etag: string): boolean {
  if (header === '') return false;
  if (header.trim() === '*') return true;
  const bare = etag.slice(2);
  return header.split(',').some((t) => {
    const v = t.trim();
    return (v.startsWith('W/') ? v.slice(2) : v) === bare;
  });
}

/** A 200 with validators, or a 304 without a body when the client already holds this data. */
export function cachedOk(req: HttpRequest, data: unknown, maxAgeSeconds: number, extra: Record<string, unknown> = {}): HttpReply {
  const etag = etagOf(data);
  // private: responses can depend on the caller's API key (rate limits), so shared caches keep out.
  const headers = { etag, 'cache-control': `private, max-age=${Math.max(0, Math.floor(maxAgeSeconds))}` };
  if (matches(req.header('if-none-match'), etag)) return { status: 304, body: '', headers };
  const reply = ok(data, extra);
  reply.headers = headers;
  return reply;
}
