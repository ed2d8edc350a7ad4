// Secrets never reach the output, errors, /health*, /stats or /metrics of the real process: passwords, JWT_SECRET, API keys and presented tokens, at LOG_LEVEL=debug, through faults.
//
// The built server runs as a child process with every secret set at once; the test presents
// good and bad credentials over HTTP and WebSocket, makes handlers refuse, cuts this child's own
// PostgreSQL and Redis connections, reads every operator route, runs --check-config, stops it,
// and then looks for any 12-character piece of any secret in everything it saw. The one
// allowed appearance is the first-start admin key's banner line on stdout.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openKeyStore } from '../../src/auth/key-store.js';
import { loadConfig } from '../../src/config.js';
import { type MainProcess, startMain, tcpConnectionsTo } from '../helpers/main-process.js';
import { DATABASE_URL, REDIS_URL, createDeployment, sleep } from '../helpers/runtime.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const PG_PASSWORD = `pgpw${hex(10)}`;
const REDIS_URL_PASSWORD = `rdurl${hex(10)}`;
const REDIS_PASSWORD = `rdpw${hex(10)}`;
const JWT_SECRET = hex(20); // 40 characters
/** Passwords given as query parameters, which pg and ioredis both read too. */
const PG_QUERY_PASSWORD = `pgq${hex(10)}`;
const REDIS_QUERY_PASSWORD = `rdq${hex(10)}`;
const WRONG_KEY = `tp_${hex(4)}_${randomBytes(32).toString('base64url')}`;
/** Pieces this long of a secret count as a leak: a truncated or partly masked secret is still one. */
const WINDOW = 12;
const BANNER = /^admin API key \(shown once, also in .+\): (tp_\S+)$/m;

/** `url` with `password` as its password: the local servers trust 127.0.0.1, so any password connects. */
function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

function jwt(secret: string, claims: Record<string, unknown>, expiresInS: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now).setExpirationTime(now + expiresInS)
    .sign(new TextEncoder().encode(secret));
}

/** Every piece of `secret` of WINDOW characters: none may appear anywhere. */
function pieces(secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + WINDOW <= secret.length; i++) out.push(secret.slice(i, i + WINDOW));
  return out;
}

/** After `tp_<8 hex>_`: the secret itself may contain `_`. */
const secretPart = (key: string) => key.slice('tp_00000000_'.length);
const signature = (token: string) => token.split('.')[2];

let build: string;
let dep: Awaited<ReturnType<typeof createDeployment>>;
let env: NodeJS.ProcessEnv;
let main: MainProcess;
let http: string;
let apiKey: string;
let adminKey: string;
const tokens: Record<'valid' | 'expired' | 'wrongSecret' | 'noScopes' | 'limited', string> = { valid: '', expired: '', wrongSecret: '', noScopes: '', limited: '' };
/** The subject of `tokens.limited`, whose rate-limit key the test breaks. */
const LIMITED_SUB = `limited-${hex(6)}`;
/** Every HTTP answer (status, headers, body) and every WebSocket frame and close reason the test saw. */
const seen: string[] = [];
let checkConfigOutput = '';

beforeAll(async () => {
  // The production build, into a directory of this file's own: other runs may be rebuilding dist/.
  build = mkdtempSync(join(tmpdir(), 'tickplant-secrets-'));
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--outDir', build], { encoding: 'utf8' });
  expect(existsSync(join(build, 'src/main.js')), tsc.stdout + tsc.stderr).toBe(true);
  symlinkSync(resolve('node_modules'), join(build, 'node_modules'));

  dep = await createDeployment();
  tokens.valid = await jwt(JWT_SECRET, { sub: 'carol', scopes: ['read', 'write'] }, 3600);
  tokens.expired = await jwt(JWT_SECRET, { sub: 'carol', scopes: ['write'] }, -60);
  tokens.wrongSecret = await jwt(hex(20), { sub: 'mallory', scopes: ['admin'] }, 3600);
  tokens.noScopes = await jwt(JWT_SECRET, { sub: 'dave' }, 3600);
  tokens.limited = await jwt(JWT_SECRET, { sub: LIMITED_SUB, scopes: ['read'] }, 3600);
  env = {
    DATABASE_URL: withPassword(dep.url, PG_PASSWORD),
    REDIS_URL: withPassword(REDIS_URL, REDIS_URL_PASSWORD),
    // The local Redis's default user has no password and accepts any; REDIS_PASSWORD is the one
    // sent (it overrides the URL's), and the URL's must stay hidden all the same.
    REDIS_PASSWORD,
    JWT_SECRET,
    AUTH: 'writes',
    LOG_LEVEL: 'debug',
    DATA_DIR: dep.dataDir,
    SYMBOLS: 'US.AAPL', SHARDS: '1', SIM_UPDATES_PER_SECOND: '20', WEBSOCKET_PORT: '0',
  };
  main = startMain(env, { command: [process.execPath, [join(build, 'src/main.js')]] });
  http = `http://127.0.0.1:${await main.port(30_000)}`;
  await main.waitFor(BANNER, 30_000);
  adminKey = readFileSync(join(dep.dataDir, 'admin-key'), 'utf8').trim();

  const store = await openKeyStore(loadConfig({}, { databaseUrl: dep.url, dataDir: dep.dataDir }));
  try {
    apiKey = (await store.create({ name: 'writer-app', scopes: ['read', 'write'], user: 'alice' })).key;
  } finally {
    await store.close();
  }
  // The front reloads its keys every 2 s.
  for (let i = 0; i < 100 && (await call('GET', '/symbols', { 'x-api-key': apiKey })).status !== 200; i++) await sleep(100);
}, 60_000);

afterAll(async () => {
  if (main && main.child.exitCode === null && main.child.signalCode === null) {
    main.child.kill('SIGKILL');
    await main.exited;
  }
  await dep?.drop();
  if (build) rmSync(build, { recursive: true, force: true });
});

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) {
  const r = await fetch(http + path, { method, headers, body });
  const text = await r.text();
  // The answer only: the request's own path may carry a token on purpose.
  seen.push(`${r.status} ${JSON.stringify([...r.headers])} ${text}`);
  return { status: r.status, text };
}

const json = { 'content-type': 'application/json' };
const WRITE = '/api/v1/cache/market-status';

/** A WebSocket that records every frame and its close reason into `seen`. */
function socket(path: string): Promise<{ ws: WebSocket; frames: string[]; next(pred: (f: string) => boolean): Promise<string> }> {
  const ws = new WebSocket(`${http.replace('http', 'ws')}${path}`);
  const frames: string[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (d) => {
    frames.push(d.toString());
    seen.push(`ws ${d.toString()}`);
    for (const w of waiters) w();
  });
  ws.on('close', (code, reason) => seen.push(`ws close ${code} ${reason.toString()}`));
  ws.on('error', (e) => seen.push(`ws error ${e.message}`));
  const next = (pred: (f: string) => boolean) => new Promise<string>((done, fail) => {
    const t = setTimeout(() => fail(new Error(`no matching frame; got ${frames.join(' | ')}`)), 5000);
    const check = () => {
      const f = frames.find(pred);
      if (f === undefined) return;
      clearTimeout(t);
      waiters.delete(check);
      done(f);
    };
    waiters.add(check);
    check();
  });
  return new Promise((done, fail) => {
    ws.once('open', () => done({ ws, frames, next }));
    ws.once('error', fail);
  });
}

async function closeSocket(ws: WebSocket): Promise<void> {
  const closed = new Promise((r) => ws.once('close', r));
  ws.close();
  await closed;
}

describe('secrets at LOG_LEVEL=debug, AUTH=writes, every secret set', () => {
  it('HTTP: the API key and a JWT write; a wrong key, expired, forged and claim-less JWTs and malformed headers are refused without quoting them', async () => {
    const status = JSON.stringify({ is_open: true });
    expect((await call('POST', WRITE, { ...json, 'x-api-key': apiKey }, status)).status).toBe(201);
    expect((await call('POST', WRITE, { ...json, authorization: `Bearer ${apiKey}` }, status)).status).toBe(201);
    expect((await call('POST', WRITE, { ...json, authorization: `Bearer ${tokens.valid}` }, status)).status).toBe(201);
    expect((await call('POST', WRITE, { ...json, 'x-api-key': WRONG_KEY }, status)).status).toBe(401);
    expect((await call('GET', '/symbols', { authorization: `Bearer ${WRONG_KEY}` })).status).toBe(401);
    const expired = await call('POST', WRITE, { ...json, authorization: `Bearer ${tokens.expired}` }, status);
    expect(expired.text).toContain('token_expired');
    expect((await call('POST', WRITE, { ...json, authorization: `Bearer ${tokens.wrongSecret}` }, status)).status).toBe(401);
    expect((await call('POST', WRITE, { ...json, authorization: `Bearer ${tokens.noScopes}` }, status)).status).toBe(401);
    for (const malformed of [`Bearer ${tokens.valid} ${apiKey}`, `Basic ${Buffer.from(`alice:${apiKey}`).toString('base64')}`, `Token ${tokens.valid}`, `Bearer ${tokens.valid.slice(0, -5)}`]) {
      expect((await call('POST', WRITE, { ...json, authorization: malformed }, status)).status).toBe(401);
    }
    // Credentials in the query string are no credentials over HTTP, and no route echoes them.
    expect((await call('GET', `/nowhere?token=${tokens.valid}&api_key=${apiKey}`)).status).toBe(404);
    expect((await call('GET', `/ws?token=${tokens.valid}`)).status).toBe(426);
    expect((await call('GET', `/api/v1/cache/nowhere?token=${tokens.valid}`)).status).toBe(404);
  });

  it('HTTP: handlers that refuse (bad JSON, bad fields, wrong type, 413, 405) answer without the credential', async () => {
    const k = { 'x-api-key': apiKey };
    expect((await call('POST', WRITE, { ...json, ...k }, '{"is_open":')).status).toBe(400);
    expect((await call('POST', '/api/v1/cache/stock-prices/AAPL', { ...json, ...k }, JSON.stringify({ close_price: 'x' }))).status).toBe(400);
    expect((await call('POST', WRITE, { 'content-type': 'text/plain', ...k }, 'not json')).status).toBe(415);
    expect((await call('POST', WRITE, { ...json, ...k }, Buffer.alloc((1 << 20) + 1, 0x20))).status).toBe(413);
    expect((await call('DELETE', '/symbols', k)).status).toBe(405);
    expect((await call('DELETE', '/api/v1/cache/clear', { authorization: `Bearer ${tokens.valid}` })).status).toBe(403);
  });

  it('WebSocket: ?token= and auth messages with valid and invalid credentials', async () => {
    const good = await socket(`/ws?token=${tokens.valid}`);
    expect(JSON.parse(await good.next((f) => f.includes('"authenticated"')))).toMatchObject({ user: 'carol' });
    good.ws.send(JSON.stringify({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' }));
    await good.next((f) => f.includes('orderbook_'));
    await closeSocket(good.ws);

    const byKey = await socket(`/ws/client-1?token=${apiKey}`);
    expect(JSON.parse(await byKey.next((f) => f.includes('"authenticated"')))).toMatchObject({ user: 'alice' });
    await closeSocket(byKey.ws);

    for (const bad of [tokens.expired, tokens.wrongSecret, WRONG_KEY]) {
      const s = await socket(`/ws?token=${encodeURIComponent(bad)}`);
      expect(JSON.parse(await s.next((f) => f.includes('"error"')))).toMatchObject({ type: 'error' });
      await closeSocket(s.ws);
    }

    const s = await socket('/ws');
    const refusals = () => s.frames.filter((f) => f.includes('"error"')).length;
    for (const bad of [tokens.expired, tokens.wrongSecret, tokens.noScopes, WRONG_KEY]) {
      const before = refusals();
      s.ws.send(JSON.stringify({ action: 'auth', token: bad }));
      await s.next(() => refusals() > before);
    }
    // Messages that carry a token but are not valid: the error must not quote them.
    for (const broken of [`{"action":"auth","token":"${tokens.valid}"`, JSON.stringify({ action: 'auth', token: [apiKey] }), JSON.stringify({ action: 'auth', token: tokens.valid, extra: apiKey.repeat(2) }).slice(0, -1)]) {
      const before = refusals();
      s.ws.send(broken);
      await s.next(() => refusals() > before);
    }
    s.ws.send(JSON.stringify({ action: 'auth', token: tokens.valid }));
    expect(JSON.parse(await s.next((f) => f.includes('"authenticated"')))).toMatchObject({ user: 'carol', scopes: ['read', 'write'] });
    s.ws.send(JSON.stringify({ action: 'auth', token: apiKey }));
    await s.next((f) => f.includes('"authenticated"') && f.includes('alice'));
    await closeSocket(s.ws);
  });

  it("faults: this process's Redis connections killed and its PostgreSQL backends terminated; it reconnects", async () => {
    const pid = main.child.pid!;
    const readyBefore = (main.output.match(/redis ready/g) ?? []).length;
    const redisPorts = tcpConnectionsTo(pid, Number(new URL(REDIS_URL).port || 6379));
    expect(redisPorts.length).toBeGreaterThan(0);
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    try {
      for (const port of redisPorts) await redis.call('CLIENT', 'KILL', 'ADDR', `127.0.0.1:${port}`).catch(() => undefined);
    } finally {
      redis.disconnect();
    }
    await main.waitFor(/redis connection closed|Redis down/, 10_000);
    for (let i = 0; i < 100 && (main.output.match(/redis ready/g) ?? []).length <= readyBefore; i++) await sleep(100);
    expect((main.output.match(/redis ready/g) ?? []).length).toBeGreaterThan(readyBefore);

    // Only this child's backends: other test files share the server.
    const pgPorts = tcpConnectionsTo(pid, Number(new URL(DATABASE_URL).port || 5432));
    expect(pgPorts.length).toBeGreaterThan(0);
    const admin = new pg.Client(DATABASE_URL);
    await admin.connect();
    try {
      const r = await admin.query<{ n: number }>(
        "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where client_addr = '127.0.0.1' and client_port = any($1::int[])", [pgPorts]);
      expect(r.rows[0].n).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    await main.waitFor(/terminating connection|connection lost|Connection terminated/i, 10_000);
    // Still serving, the key still known.
    expect((await call('POST', WRITE, { ...json, 'x-api-key': apiKey }, JSON.stringify({ is_open: false }))).status).toBe(201);
  });

  it('a Redis command that fails: the rate limiter meets a key of the wrong type, logs at debug, and decides locally', async () => {
    // The limiter's key of this token's identity (rate-limit.ts: `${prefix}_rl:` + 22 characters
    // of the identity's SHA-256); its subject is this run's own, so no other test meets it.
    const key = `tp:cache:_rl:${createHash('sha256').update(`jwt:${LIMITED_SUB}`).digest('base64url').slice(0, 22)}`;
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    try {
      await redis.multi().rpush(key, 'not a timestamp').pexpire(key, 60_000).exec();
      expect((await call('GET', WRITE, { authorization: `Bearer ${tokens.limited}` })).status).toBe(200);
      await main.waitFor(/ debug .*cache: Redis command failed .*WRONGTYPE/, 5000);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it('operator routes: /health, /health/detailed with and without the admin key, /stats, /metrics, and --check-config', async () => {
    expect((await call('GET', '/health')).status).toBeLessThan(503);
    const anonymous = await call('GET', '/health/detailed');
    expect(anonymous.text).toContain('with an admin credential');
    const detailed = await call('GET', '/health/detailed', { 'x-api-key': adminKey });
    expect(JSON.parse(detailed.text)).toHaveProperty('cache');
    expect((await call('GET', '/health/detailed', { authorization: `Bearer ${adminKey}` })).status).toBeLessThan(503);
    expect((await call('GET', '/health/detailed', { authorization: `Bearer ${tokens.valid}` })).text).toContain('with an admin credential');
    const stats = JSON.parse((await call('GET', '/stats', { 'x-api-key': apiKey })).text) as { redis?: { connections: number } };
    expect(stats.redis?.connections).toBeGreaterThan(0);
    expect((await call('GET', '/metrics')).text).toContain('tickplant_');
    expect((await call('GET', '/api/v1/cache/health', { 'x-api-key': adminKey })).status).toBe(200);
    expect((await call('GET', '/api/v1/cache/stats', { 'x-api-key': adminKey })).status).toBe(200);

    const base = { ...process.env };
    delete base.DATABASE_URL;
    delete base.REDIS_URL;
    const r = spawnSync(process.execPath, [join(build, 'src/main.js'), '--check-config'], { env: { ...base, ...env }, encoding: 'utf8' });
    checkConfigOutput = r.stdout + r.stderr;
    expect(r.status, checkConfigOutput).toBe(0);
    const shown = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ logLevel: 'debug', auth: 'writes', redisPassword: '***', jwtSecret: '***' });
    expect(shown.databaseUrl).toContain(':***@127.0.0.1');
    expect(shown.redisUrl).toContain(':***@127.0.0.1');

    const q = spawnSync(process.execPath, [join(build, 'src/main.js'), '--check-config'], {
      env: { ...base, ...env, DATABASE_URL: `${dep.url}&password=${PG_QUERY_PASSWORD}`, REDIS_URL: `${REDIS_URL}/?password=${REDIS_QUERY_PASSWORD}` }, encoding: 'utf8',
    });
    checkConfigOutput += q.stdout + q.stderr;
    expect(q.status, q.stdout + q.stderr).toBe(0);
    const fromQuery = JSON.parse(q.stdout) as Record<string, string>;
    expect(fromQuery.databaseUrl).toMatch(/search_path.*password=/);
    expect(fromQuery.redisUrl).toMatch(/127\.0\.0\.1:6379.*password=/);
  });

  it('stops on SIGTERM; no secret in its output or in anything it answered, except the admin key once in its banner', async () => {
    main.child.kill('SIGTERM');
    expect(await main.exited).toBe(0);
    const output = main.output;

    // The run was what it claims: at debug, with Redis in use despite both passwords, stopped cleanly.
    expect(output).toMatch(/^\S+ debug /m);
    expect(output).toMatch(/redis ready \{"url":"redis:\/\/:\*\*\*@127\.0\.0\.1/);
    expect(output).toMatch(/stopped: \d+ updates accepted/);

    const secrets: Record<string, string> = {
      'the DATABASE_URL password': PG_PASSWORD,
      'the REDIS_URL password': REDIS_URL_PASSWORD,
      'the DATABASE_URL password as a query parameter': PG_QUERY_PASSWORD,
      'the REDIS_URL password as a query parameter': REDIS_QUERY_PASSWORD,
      REDIS_PASSWORD,
      JWT_SECRET,
      'the API key': secretPart(apiKey),
      'a wrong API key': secretPart(WRONG_KEY),
      ...Object.fromEntries(Object.entries(tokens).map(([k, t]) => [`the ${k} JWT`, signature(t)])),
    };
    const places: Record<string, string> = { 'the output': output, 'the answers': seen.join('\n'), '--check-config': checkConfigOutput };
    const leaks: string[] = [];
    for (const [what, secret] of Object.entries(secrets)) {
      for (const [where, text] of Object.entries(places)) {
        const piece = pieces(secret).find((p) => text.includes(p));
        if (piece !== undefined) leaks.push(`${what} in ${where}: …${text.slice(Math.max(0, text.indexOf(piece) - 120), text.indexOf(piece) + 40)}…`);
      }
    }
    expect(leaks).toEqual([]);

    const adminPieces = pieces(secretPart(adminKey));
    const mentions = output.split('\n').filter((l) => adminPieces.some((p) => l.includes(p)));
    expect(mentions).toEqual([`admin API key (shown once, also in ${join(dep.dataDir, 'admin-key')}): ${adminKey}`]);
    expect(adminPieces.some((p) => seen.join('\n').includes(p) || checkConfigOutput.includes(p))).toBe(false);
  });
});
