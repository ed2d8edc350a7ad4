// The REST API's reply shapes: the `{success, data, cached, timestamp}` envelope and errors that name the field.

import type { z } from 'zod';
import type { HttpReply } from '../../protocol/http.js';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string, readonly headers?: Record<string, string>) {
    super(message);
  }
}

export const json = (status: number, body: unknown, headers?: Record<string, string>): HttpReply => ({ status, body: JSON.stringify(body), headers });

export const ok = (data: unknown, extra: Record<string, unknown> = {}, status = 200): HttpReply =>
  json(status, { success: true, data, ...extra, timestamp: new Date().toISOString() });

export function errorReply(e: ApiError): HttpReply {
  return json(e.status, { success: false, error: { code: e.code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) } }, e.headers);
}

/** Parses `value` or throws a 400 naming the first offending field (`where` prefixes it: body, query, path). */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const field = [where, ...path.map(String)].join('.');
  const message = issue.code === 'unrecognized_keys' ? `unknown field "${issue.keys[0]}"` : issue.message;
  throw new ApiError(400, 'invalid_field', `${field}: ${message}`, field);
}

/** JSON nested deeper than this is refused: serialising it again would overflow the stack. */
const MAX_DEPTH = 64;

/** Deepest nesting of [ and { outside strings (a byte scan: cheap, and run before JSON.parse). */
function nestingDepth(b: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** The request body as JSON, or a 400 saying why not. */
export function jsonBody(body: Buffer, contentType: string): unknown {
  if (body.length === 0) throw new ApiError(400, 'invalid_body', 'body: expected a JSON body', 'body');
  if (contentType !== '' && !contentType.toLowerCase().startsWith('application/json')) {
    throw new ApiError(415, 'unsupported_media_type', `body: expected Content-Type application/json, got "${contentType.slice(0, 64)}"`, 'body');
  }
  const depth = nestingDepth(body);
  if (depth > MAX_DEPTH) throw new ApiError(400, 'invalid_body', `body: nested ${depth} levels deep; at most ${MAX_DEPTH}`, 'body');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (e) {
    throw new ApiError(400, 'invalid_json', `body: not valid JSON (${(e as Error).message})`, 'body');
  }
}
