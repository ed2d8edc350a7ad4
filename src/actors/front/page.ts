// The chart page (web/, built into dist/web by `npm run build`): read and compressed once at start, served at / to browsers and under /assets/.
//
// Asset names carry a hash of their content (web/build.ts), so they are cached for a year as
// immutable; index.html names them and is revalidated on every load (no-cache). Each file is
// kept as its bytes, gzip and brotli, compressed once here and never per request.

import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Logger } from '../../log.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';

/** dist/web: beside dist/src when compiled, in the checkout's dist/ when run from source (tsx). */
export const PAGE_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../../dist/web/' : '../../../web/', import.meta.url));

export const ASSETS_PREFIX = '/assets/';
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

interface File {
  type: string;
  identity: Buffer;
  /** Only when smaller than the bytes themselves. */
  br?: Buffer;
  gzip?: Buffer;
}

/** The built page; `undefined` from load() when there is none. */
export class Page {
  private constructor(
    private readonly html: File,
    private readonly assets: ReadonlyMap<string, File>,
  ) {}

  /**
   * Reads dist/web (index.html and assets/) and compresses each file, off the event loop (zlib's
   * thread pool). Without a build it logs one line and resolves undefined (never rejects): / then
   * stays the JSON route index.
   */
  static async load(log: Logger, dir: string = PAGE_DIR): Promise<Page | undefined> {
    let html: Buffer;
    let names: string[];
    try {
      html = readFileSync(join(dir, 'index.html'));
      names = readdirSync(join(dir, 'assets'));
    } catch {
      log.info(`chart page not built (no ${join(dir, 'index.html')}): GET / answers the JSON route index; npm run build builds the page`);
      return undefined;
    }
    try {
      const files = await Promise.all([
        file(html, TYPES['.html']),
        ...names.map((n) => file(readFileSync(join(dir, 'assets', n)), TYPES[extname(n)] ?? 'application/octet-stream')),
      ]);
      return new Page(files[0], new Map(names.map((n, i) => [n, files[i + 1]])));
    } catch (e) {
      // A build replaced while being read: the runtime serves without the page rather than not at all.
      log.warn(`chart page not loaded from ${dir}: ${(e as Error)?.message ?? e}; GET / answers the JSON route index until the next start`);
      return undefined;
    }
  }

  /** Whether `req` asks for the page or one of its assets. */
  serves(req: HttpRequest): boolean {
    return req.method === 'GET' && ((req.url === '/' && acceptsHtml(req.header('accept'))) || req.url.startsWith(ASSETS_PREFIX));
  }

  /** GET /: the page for a browser (Accept names text/html); undefined for any other client. */
  index(req: HttpRequest): HttpReply | undefined {
    if (!acceptsHtml(req.header('accept'))) return undefined;
    return reply(req, this.html, { 'cache-control': 'no-cache', vary: 'accept, accept-encoding', 'content-security-policy': pagePolicy(req.header('host')) });
  }

  /** GET /assets/<name>; undefined when there is no such asset. */
  asset(req: HttpRequest): HttpReply | undefined {
    const f = this.assets.get(req.url.slice(ASSETS_PREFIX.length));
    if (f === undefined) return undefined;
    return reply(req, f, { 'cache-control': IMMUTABLE, vary: 'accept-encoding', 'content-security-policy': pagePolicy(req.header('host')) });
  }
}

async function file(identity: Buffer, type: string): Promise<File> {
  const [br, gz] = await Promise.all([
    brotli(identity, { params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: identity.length } }),
    gzipAsync(identity, { level: constants.Z_BEST_COMPRESSION }),
  ]);
  return { type, identity, br: br.length < identity.length ? br : undefined, gzip: gz.length < identity.length ? gz : undefined };
}

function reply(req: HttpRequest, f: File, headers: Record<string, string>): HttpReply {
  const accepted = acceptedEncodings(req.header('accept-encoding'));
  if (f.br && accepted.has('br')) return { status: 200, body: f.br, contentType: f.type, headers: { ...headers, 'content-encoding': 'br' } };
  if (f.gzip && accepted.has('gzip')) return { status: 200, body: f.gzip, contentType: f.type, headers: { ...headers, 'content-encoding': 'gzip' } };
  return { status: 200, body: f.identity, contentType: f.type, headers };
}

/** The codings of an Accept-Encoding header not refused with q=0 (`*` is not taken as a promise). */
function acceptedEncodings(header: string): Set<string> {
  const out = new Set<string>();
  for (const part of header.toLowerCase().split(',')) {
    const [name, ...params] = part.split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (name !== '' && !(q !== undefined && Number(q.slice(2)) === 0)) out.add(name);
  }
  return out;
}

/** A browser navigating sends `text/html` in Accept; curl, fetch() and HTTP libraries send `*\/*` or JSON. */
function acceptsHtml(accept: string): boolean {
  return /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept) && !/text\/html\s*;\s*q=0(\.0+)?\s*(,|$)/i.test(accept);
}

/** A Host header fit to name in the policy: host or [v6], with a port; anything else gets 'self' only. */
const HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The page's Content-Security-Policy, in place of the default one that loads nothing: its own
 * scripts and stylesheet, no inline code, and WebSocket connections to the host it came from
 * (named as well as 'self': older browsers do not match ws:/wss: with 'self').
 */
function pagePolicy(host: string): string {
  const ws = HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'${ws}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}
