// Access control on the real server: API keys and scopes on the REST API, session ownership, JWTs on WebSockets (AUTH=all), origins and CORS, connection and message limits, slow requests.
import { generateKeyPair, exportSPKI, exportJWK, SignJWT } from 'jose';
import { connect } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { TestClient, sequenceProblems, upgradeStatus } from '../helpers/ws-client.js';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const ALLOWED = 'https://app.example.com';
const HS = new TextEncoder().encode(SECRET);

function token(claims: Record<string, unknown>, expiresInS = 3600, key: Parameters<SignJWT['sign']>[0] = HS, alg = 'HS256'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg }).setIssuedAt(now).setExpirationTime(now + expiresInS).sign(key);
}

async function call(rt: Runtime, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const r = await fetch(rt.http + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: (text ? JSON.parse(text) : undefined) as Record<string, any> };
}

describe('AUTH=writes (the default): keys, scopes, ownership, browsers, limits', () => {
  let rt: Runtime;
  let readKey: string;
  let aliceKey: string;
  let bobKey: string;

  beforeAll(async () => {
    rt = await startRuntime({
      shards: 1, symbols: ['US.AAPL', 'US.MSFT'], simUpdatesPerSecond: 50, jwtSecret: SECRET,
      allowedOrigins: [ALLOWED], wsMaxConnectionsPerIp: 6, wsMessageRate: 20, wsMessageBurst: 10, httpRequestTimeoutMs: 1000,
    });
    [readKey, aliceKey, bobKey] = await Promise.all([
      rt.createKey('reader', ['read']),
      rt.createKey('alice-app', ['write'], 'alice'),
      rt.createKey('bob-app', ['write'], 'bob'),
    ]);
  });
  afterAll(() => rt?.stop());

  it('made an admin key at first start; clear answers 401 without a key, 403 with a read key, 200 with the admin key', async () => {
    expect(rt.adminKey).toMatch(/^tp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    const none = await call(rt, 'DELETE', '/api/v1/cache/clear?confirm=true');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ success: false, error: { code: 'unauthorized' } });
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const read = await call(rt, 'DELETE', '/api/v1/cache/clear?confirm=true', { 'x-api-key': readKey });
    expect(read.status).toBe(403);
    expect(read.body.error).toMatchObject({ code: 'forbidden' });
    expect(read.body.error.message).toContain('admin');
    const admin = await call(rt, 'DELETE', '/api/v1/cache/clear?confirm=true', { authorization: `Bearer ${rt.adminKey}` });
    expect(admin.status).toBe(200);
    expect(admin.body.success).toBe(true);
  });

  it('keeps reads open, refuses a bad credential even on a read, and accepts a JWT as a bearer token', async () => {
    expect((await call(rt, 'GET', '/symbols')).status).toBe(200);
    const bad = await call(rt, 'GET', '/symbols', { 'x-api-key': 'tp_00000000_nope' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).not.toContain('nope');
    const jwt = await token({ sub: 'carol', scopes: ['write'] });
    const write = await call(rt, 'POST', '/api/v1/cache/market-status', { authorization: `Bearer ${jwt}` }, { is_open: true });
    expect(write.status).toBe(201);
    const expired = await token({ sub: 'carol', scopes: ['write'] }, -10);
    const r = await call(rt, 'POST', '/api/v1/cache/market-status', { authorization: `Bearer ${expired}` }, { is_open: true });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('token_expired');
  });

  it("lets a user act on their own sessions only; an admin on anyone's", async () => {
    const created = await call(rt, 'POST', '/api/v1/cache/sessions', { 'x-api-key': aliceKey }, { user_id: 'alice' });
    expect(created.status).toBe(201);
    const id = created.body.data.session_id as string;
    expect((await call(rt, 'POST', '/api/v1/cache/sessions', { 'x-api-key': aliceKey }, { user_id: 'bob' })).status).toBe(403);

    expect((await call(rt, 'GET', `/api/v1/cache/sessions/${id}`, { 'x-api-key': aliceKey })).status).toBe(200);
    expect((await call(rt, 'GET', `/api/v1/cache/sessions/${id}`)).status).toBe(401);
    const bobRead = await call(rt, 'GET', `/api/v1/cache/sessions/${id}`, { 'x-api-key': bobKey });
    expect(bobRead.status).toBe(403);
    expect(bobRead.body.error.code).toBe('forbidden');
    expect((await call(rt, 'GET', '/api/v1/cache/sessions/user/alice', { 'x-api-key': bobKey })).status).toBe(403);
    expect((await call(rt, 'DELETE', `/api/v1/cache/sessions/${id}`, { 'x-api-key': bobKey })).status).toBe(403);
    expect((await call(rt, 'DELETE', '/api/v1/cache/sessions/user/alice', { 'x-api-key': bobKey })).status).toBe(403);

    const list = await call(rt, 'GET', '/api/v1/cache/sessions/user/alice', rt.admin);
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(1);
    expect((await call(rt, 'DELETE', `/api/v1/cache/sessions/${id}`, rt.admin)).status).toBe(200);
    expect((await call(rt, 'GET', `/api/v1/cache/sessions/${id}`, { 'x-api-key': aliceKey })).status).toBe(404);
  });

  it('answers CORS preflights for allowed origins only, and refuses other origins', async () => {
    const pre = (origin: string) => fetch(`${rt.http}/api/v1/cache/market-status`, {
      method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key, content-type' },
    });
    const ok = await pre(ALLOWED);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    expect(ok.headers.get('access-control-allow-headers')).toContain('x-api-key');
    const evil = await pre('https://evil.example');
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();

    const get = await fetch(`${rt.http}/symbols`, { headers: { origin: ALLOWED } });
    expect(get.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const other = await fetch(`${rt.http}/symbols`, { headers: { origin: 'https://evil.example' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // The server's own pages are same-origin.
    const own = await fetch(`${rt.http}/symbols`, { headers: { origin: rt.http } });
    expect(own.status).toBe(200);
  });

  it('refuses WebSocket upgrades from origins not allowed, accepts allowed ones', async () => {
    const evil = await upgradeStatus(rt.ws, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.body?.error?.code).toBe('origin_not_allowed');
    expect((await upgradeStatus(rt.ws, { origin: ALLOWED })).status).toBe(101);
    expect((await upgradeStatus(rt.ws)).status).toBe(101);
  });

  it('answers a malformed %-escape in a symbol with 400, not a failure', async () => {
    for (const path of ['/orderbook/%zz/latest', '/orderbook/%/today', '/orderbook/%ff/history']) {
      const r = await call(rt, 'GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.code, path).toBe('invalid_parameter');
    }
  });

  it('puts security headers on every answer', async () => {
    for (const path of ['/health', '/symbols', '/api/v1/cache/nothing', '/nowhere']) {
      const r = await fetch(rt.http + path);
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(r.headers.get('x-frame-options'), path).toBe('DENY');
      expect(r.headers.get('content-security-policy'), path).toContain("default-src 'none'");
      expect(r.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });

  it("shows /health/detailed's internals to an admin only", async () => {
    const anon = await call(rt, 'GET', '/health/detailed');
    expect(anon.status).toBe(200);
    expect(anon.body.cache).toBeUndefined();
    expect(Object.values(anon.body.components as Record<string, object>).every((c) => Object.keys(c).join() === 'status')).toBe(true);
    const admin = await call(rt, 'GET', '/health/detailed', rt.admin);
    expect(admin.body.cache).toBeDefined();
    expect(admin.body.websocket).toBeDefined();
  });

  it('refuses the connection over WS_MAX_CONNECTIONS_PER_IP, and takes one again once a place frees', async () => {
    await sleep(300); // connections of the tests before are released
    const held: TestClient[] = [];
    try {
      for (let i = 0; i < 6; i++) held.push(await TestClient.connect(rt.ws));
      const refused = await upgradeStatus(rt.ws);
      expect(refused.status).toBe(429);
      expect(refused.body?.error?.code).toBe('too_many_connections');
      held.pop()!.close();
      await sleep(300);
      expect((await upgradeStatus(rt.ws)).status).toBe(101);
    } finally {
      for (const c of held) c.close();
    }
    const metrics = await (await fetch(`${rt.http}/metrics`)).text();
    expect(metrics).toMatch(/tickplant_ws_refused_total\{reason="per_ip"\} [1-9]/);
  });

  it('throttles then closes a flooding client while another client streams without a gap', async () => {
    await sleep(300); // the previous test's connections are released
    const calm = await TestClient.connect(rt.ws);
    calm.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
    await calm.waitFor((m) => m.type === 'orderbook_update');
    const flood = await TestClient.connect(rt.ws);
    for (let i = 0; i < 500 && flood.ws.readyState === flood.ws.OPEN; i++) flood.send({ action: 'ping', id: i });
    const code = await flood.closed;
    expect(code).toBe(4429);
    const limited = flood.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited');
    expect(limited.length).toBe(1); // told once, not once per message
    expect(flood.messages.filter((m) => m.type === 'pong').length).toBeGreaterThanOrEqual(10);
    const from = calm.messages.length;
    await calm.waitFor((m) => m.type === 'orderbook_update', 5000, from + 5);
    expect(sequenceProblems(calm.stream('US.AAPL'))).toEqual([]);
    calm.close();
    const stats = (await rt.get<{ front: { access: { wsClosed: Record<string, number>; wsMessagesThrottled: number } } }>('/stats')).body;
    expect(stats.front.access.wsClosed.flooding).toBeGreaterThanOrEqual(1);
    expect(stats.front.access.wsMessagesThrottled).toBeGreaterThan(0);
  });

  it('cuts a request whose body trickles (408), and a connection whose headers trickle', async () => {
    const port = Number(new URL(rt.http).port);
    const trickle = (head: string, then: string) => new Promise<{ text: string; ms: number }>((resolve) => {
      const t0 = Date.now();
      const s = connect(port, '127.0.0.1');
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(iv);
        resolve({ text, ms: Date.now() - t0 });
      });
      s.write(head);
      let i = 0;
      const iv = setInterval(() => s.writable && s.write(then[i++ % then.length]), 500);
      setTimeout(() => s.destroy(), 30_000);
    });
    const [body, headers] = await Promise.all([
      trickle('POST /api/v1/cache/market-status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n', '{"is_open":true    '),
      trickle('GET /symbols HTTP/1.1\r\nHost: x\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaa'),
    ]);
    expect(body.text).toMatch(/^HTTP\/1\.1 408/);
    expect(body.ms).toBeLessThan(10_000);
    expect(headers.text).toBe(''); // never a complete request: uWS drops it after its idle limit
    expect(headers.ms).toBeLessThan(25_000);
    const stats = (await rt.get<{ front: { access: { httpRefused: Record<string, number> } } }>('/stats')).body;
    expect(stats.front.access.httpRefused.timeout).toBeGreaterThanOrEqual(1);
  }, 40_000);
});

describe('AUTH=all: WebSockets need a token', () => {
  let rt: Runtime;
  let es256: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    es256 = await generateKeyPair('ES256');
    const dir = mkdtempSync(join(tmpdir(), 'tickplant-jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(es256.publicKey)), alg: 'ES256', kid: 'k1', use: 'sig' }] }));
    rt = await startRuntime({
      auth: 'all', shards: 1, symbols: ['US.AAPL', 'US.MSFT'], simUpdatesPerSecond: 50, jwtSecret: SECRET, jwtPublicKeyFile: file,
      wsAuthTimeoutMs: 1000, wsTokenGraceMs: 1000,
    });
  });
  afterAll(() => rt?.stop());

  it('closes a connection that presents no token with 4401', async () => {
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
    expect(await c.closed).toBe(4401);
    expect(c.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'unauthorized' });
    expect(c.messages.some((m) => m.type === 'orderbook_update' || m.type === 'orderbook_snapshot')).toBe(false);
    const idle = await TestClient.connect(rt.ws);
    expect(await idle.closed).toBe(4401); // nothing sent: closed at WS_AUTH_TIMEOUT_MS
  });

  it('streams with a valid JWT, by ?token= or by an auth message (HS256 and ES256 from a JWKS)', async () => {
    const byQuery = await TestClient.connect(`${rt.ws}?token=${await token({ sub: 'dana', scopes: 'read' })}`);
    await byQuery.waitFor((m) => m.type === 'authenticated' && m.user === 'dana');
    byQuery.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
    await byQuery.waitFor((m) => m.type === 'orderbook_update');
    byQuery.close();

    const es = await new SignJWT({ sub: 'erin', scopes: ['read'] }).setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setExpirationTime('1h').sign(es256.privateKey);
    const byMessage = await TestClient.connect(rt.ws);
    byMessage.send({ action: 'auth', token: es });
    byMessage.send({ action: 'subscribe', symbol: 'US.MSFT', resolution: 'none' }); // waits for the auth, in order
    await byMessage.waitFor((m) => m.type === 'orderbook_update' && m.symbol === 'US.MSFT');
    expect(byMessage.messages[0]).toMatchObject({ type: 'authenticated', user: 'erin' });
    byMessage.close();
  });

  it('refuses an expired token, and a token signed with another key', async () => {
    const expired = await TestClient.connect(`${rt.ws}?token=${await token({ sub: 'dana', scopes: ['read'] }, -60)}`);
    expect(await expired.closed).toBe(4401);
    expect(expired.messages[0]).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect(String(expired.messages[0].message)).toContain('expired');
    const forged = await token({ sub: 'dana', scopes: ['read'] }, 3600, new TextEncoder().encode('another-secret-another-secret-another!!'));
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'auth', token: forged });
    expect(await c.closed).toBe(4401);
  });

  it("refuses a subscription outside the token's symbols with an error frame naming why", async () => {
    const c = await TestClient.connect(`${rt.ws}?token=${await token({ sub: 'fay', scopes: ['read'], symbols: ['US.AAPL'] })}`);
    c.send({ action: 'subscribe', symbol: 'US.MSFT', resolution: 'none' });
    const e = await c.waitFor((m) => m.type === 'error');
    expect(e).toMatchObject({ code: 'forbidden', symbol: 'US.MSFT' });
    expect(String(e.message)).toContain('symbols claim');
    c.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
    await c.waitFor((m) => m.type === 'orderbook_update' && m.symbol === 'US.AAPL');
    c.close();
  });

  it('tells a connection its token expired, keeps it for the grace period with a fresh token, else closes it with 4408', async () => {
    const renewing = await TestClient.connect(`${rt.ws}?token=${await token({ sub: 'gus', scopes: ['read'] }, 1)}`);
    const stays = await TestClient.connect(`${rt.ws}?token=${await token({ sub: 'gus', scopes: ['read'] }, 1)}`);
    await renewing.waitFor((m) => m.type === 'token_expired', 5000);
    renewing.send({ action: 'auth', token: await token({ sub: 'gus', scopes: ['read'] }) });
    await renewing.waitFor((m) => m.type === 'authenticated' && m.expires_at !== null, 5000, 1);
    expect(await stays.closed).toBe(4408);
    expect(stays.messages.some((m) => m.type === 'token_expired' && m.grace_ms === 1000)).toBe(true);
    await sleep(1500);
    expect(renewing.closeCode).toBeUndefined();
    renewing.close();
  });

  it('survives connections that close while their token is being verified', async () => {
    const jwt = await token({ sub: 'ivy', scopes: ['read'] });
    for (let i = 0; i < 20; i++) {
      const c = await TestClient.connect(rt.ws);
      c.send({ action: 'auth', token: i % 2 === 0 ? jwt : `${jwt}x` });
      c.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
      c.ws.terminate();
    }
    await sleep(300);
    expect((await call(rt, 'GET', '/health')).status).toBe(200);
    const c = await TestClient.connect(`${rt.ws}?token=${jwt}`);
    c.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
    await c.waitFor((m) => m.type === 'orderbook_update');
    c.close();
  });

  it('needs a credential for reads over HTTP too, but not for /health', async () => {
    expect((await call(rt, 'GET', '/symbols')).status).toBe(401);
    expect((await call(rt, 'GET', '/health')).status).toBe(200);
    expect((await call(rt, 'GET', '/symbols', { authorization: `Bearer ${await token({ sub: 'h', scopes: ['read'] })}` })).status).toBe(200);
  });
});
