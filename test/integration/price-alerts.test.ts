// Price alerts end to end, with a scripted exchange printing chosen trades: an alert fires exactly
// once, over its user's WebSocket connections and its webhook (the signature checked here), also
// when the process stops right after the crossing trade and when two nodes share the database;
// another user can neither list nor delete it; an expired alert is swept.
import { createHmac } from 'node:crypto';
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { registerExchange, servedName, unregisterExchange } from '../../src/feeds/exchanges.js';
import { type Runtime, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const SECRET = 'alert-webhook-test-secret';
const SYMBOL = 'TEST.AAA';
let exchange: WebSocketServer;
const exchanges = new Set<WebSocket>();
let dep: Awaited<ReturnType<typeof createDeployment>>;
let rt: Runtime;
let hooks: { body: string; headers: IncomingMessage['headers'] }[] = [];
let hookUrl = '';
let hookServer: ReturnType<typeof createServer>;
let tradeId = 1000;
let keys: { alice: string; bob: string };

/** Every connected runtime's connector prints this trade. */
function trade(price: number): void {
  const m = JSON.stringify({ op: 'trade', symbol: 'AAA', id: String(++tradeId), price, size: 1, side: 'buy' });
  for (const ws of exchanges) ws.send(m);
}

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await sleep(50);
  }
}

const api = async (r: Runtime, method: string, path: string, key: string, body?: unknown) => {
  const res = await fetch(`${r.http}/api/v1/cache${path}`, {
    method, headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as { success: boolean; data?: Record<string, unknown>; error?: { code: string; message: string } } };
};

async function client(r: Runtime, key: string): Promise<TestClient> {
  const c = await TestClient.connect(r.ws);
  c.send({ action: 'auth', token: key });
  await c.waitFor((m) => m.type === 'authenticated');
  return c;
}

const alertsOf = (c: TestClient): Msg[] => c.messages.filter((m) => m.type === 'alert');

function overrides(dataDir?: string) {
  return { feeds: 'test:AAA', shards: 1, staleAfterMs: 60_000, alertWebhookSecret: SECRET, ...(dataDir ? { dataDir } : {}) };
}

async function connected(n: number): Promise<void> {
  await until(`${n} exchange connection(s)`, () => exchanges.size >= n);
  await sleep(100);
}

beforeAll(async () => {
  exchange = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => exchange.once('listening', r));
  exchange.on('connection', (ws) => {
    exchanges.add(ws);
    ws.on('close', () => exchanges.delete(ws));
  });
  const url = `ws://127.0.0.1:${(exchange.address() as AddressInfo).port}`;
  registerExchange('test', {
    module: new URL('../fixtures/scripted-connector.ts', import.meta.url).href,
    factory: 'createScriptedConnector',
    served: (s) => servedName('test', s),
    symbol: /^[A-Z]{3}$/,
    example: 'AAA',
    options: () => ({ wsUrl: url }),
  });
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooks.push({ body, headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
  dep = await createDeployment();
  rt = await startRuntime(overrides(), dep);
  keys = { alice: await rt.createKey('alice-app', ['write'], 'alice'), bob: await rt.createKey('bob-app', ['write'], 'bob') };
  await connected(1);
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  await dep?.drop();
  unregisterExchange('test');
  await new Promise((r) => exchange?.close(r));
  await new Promise((r) => hookServer?.close(r));
});

function checkSignature(h: { body: string; headers: IncomingMessage['headers'] }): void {
  const ts = String(h.headers['x-tickplant-timestamp']);
  const expected = createHmac('sha256', SECRET).update(`${ts}.${h.body}`).digest('hex');
  expect(h.headers['x-tickplant-signature']).toBe(`sha256=${expected}`);
}

describe('price alerts', () => {
  it('fire once over the user\'s WebSocket connections and the signed webhook; another user cannot list or delete them', async () => {
    hooks = [];
    const alice = await client(rt, keys.alice);
    const bob = await client(rt, keys.bob);
    trade(100);
    const created = await api(rt, 'POST', '/price-alert', keys.alice, { symbol: SYMBOL, condition: 'crosses_above', target_price: 105, webhook_url: hookUrl });
    expect(created.status).toBe(201);
    const id = String(created.body.data!.alert_id);
    await sleep(400); // the shard has the alert
    for (const p of [104, 106, 107, 103, 106, 108]) trade(p); // crosses at 106, and again later
    await until('the alert frame', () => alertsOf(alice).length === 1);
    await until('the webhook', () => hooks.length === 1);
    await sleep(500); // nothing more follows
    expect(alertsOf(alice)).toHaveLength(1);
    expect(alertsOf(bob)).toHaveLength(0);
    expect(alertsOf(alice)[0]).toMatchObject({ alert_id: id, symbol: SYMBOL, condition: 'crosses_above', target_price: 105, price: 106 });
    expect(hooks).toHaveLength(1);
    expect(JSON.parse(hooks[0].body)).toMatchObject({ type: 'alert', alert_id: id, price: 106 });
    expect(hooks[0].headers['x-tickplant-alert-id']).toBe(id);
    checkSignature(hooks[0]);

    const mine = await api(rt, 'GET', '/price-alerts?status=triggered', keys.alice);
    const row = (mine.body.data!.alerts as Record<string, unknown>[]).find((a) => a.alert_id === id);
    expect(row).toMatchObject({ status: 'triggered', trigger_price: 106, user_id: 'alice' });
    await until('the webhook outcome recorded', async () => {
      const r = await rt.db.query("select webhook_status from price_alerts where alert_id = $1", [id]);
      return r.rows[0].webhook_status === 'delivered';
    });
    const theirs = await api(rt, 'GET', '/price-alerts', keys.bob);
    expect((theirs.body.data!.alerts as { alert_id: string }[]).some((a) => a.alert_id === id)).toBe(false);
    expect((await api(rt, 'DELETE', `/price-alert/${id}`, keys.bob)).status).toBe(404);
    alice.close();
    bob.close();
  }, 30_000);

  it('refuses bad alerts with a 400 naming the field, and deletes an active one', async () => {
    for (const [bodyOf, field] of [
      [{ symbol: 'NOPE.X', condition: 'above', target_price: 1 }, 'symbol'],
      [{ symbol: SYMBOL, condition: 'sideways', target_price: 1 }, 'condition'],
      [{ symbol: SYMBOL, condition: 'above', target_price: -5 }, 'target_price'],
      [{ symbol: SYMBOL, condition: 'above', target_price: 5, ttl_seconds: 0 }, 'ttl_seconds'],
      [{ symbol: SYMBOL, condition: 'above', target_price: 5, webhook_url: 'ftp://x' }, 'webhook_url'],
    ] as const) {
      const r = await api(rt, 'POST', '/price-alert', keys.alice, bodyOf);
      expect(r.status).toBe(400);
      expect(r.body.error!.message.startsWith(`${field}:`)).toBe(true);
    }
    const created = await api(rt, 'POST', '/price-alert', keys.alice, { symbol: SYMBOL, condition: 'above', target_price: 1000 });
    const id = String(created.body.data!.alert_id);
    const del = await api(rt, 'DELETE', `/price-alert/${id}`, keys.alice);
    expect(del.status).toBe(200);
    await sleep(300);
    trade(1001);
    await sleep(500);
    const r = await rt.db.query('select status from price_alerts where alert_id = $1', [id]);
    expect(r.rows[0].status).toBe('deleted');
  }, 30_000);

  it('sweeps an expired alert', async () => {
    const created = await api(rt, 'POST', '/price-alert', keys.alice, { symbol: SYMBOL, condition: 'below', target_price: 1, ttl_seconds: 1 });
    const id = String(created.body.data!.alert_id);
    await until('expired', async () => (await rt.db.query('select status from price_alerts where alert_id = $1', [id])).rows[0].status === 'expired');
  }, 15_000);

  it('fires once when the process stops right after the crossing trade', async () => {
    hooks = [];
    trade(100);
    const created = await api(rt, 'POST', '/price-alert', keys.alice, { symbol: SYMBOL, condition: 'above', target_price: 150, webhook_url: hookUrl });
    const id = String(created.body.data!.alert_id);
    await sleep(300);
    trade(151);
    await rt.stop(); // right away: the firing may or may not have been recorded
    rt = await startRuntime(overrides(), dep);
    await connected(1);
    trade(152); // fires it if the first process never saw 151; must not fire it twice
    await until('fired', async () => (await rt.db.query('select status from price_alerts where alert_id = $1', [id])).rows[0].status === 'triggered');
    await until('the webhook', () => hooks.some((h) => JSON.parse(h.body).alert_id === id));
    await sleep(1500);
    expect(hooks.filter((h) => JSON.parse(h.body).alert_id === id)).toHaveLength(1);
  }, 60_000);

  it('fires at start for a crossing stored while no process evaluated it (the start checks the recent stored trades)', async () => {
    hooks = [];
    const created = await api(rt, 'POST', '/price-alert', keys.alice, { symbol: SYMBOL, condition: 'crosses_above', target_price: 300, webhook_url: hookUrl });
    const id = String(created.body.data!.alert_id);
    await rt.stop();
    // What a process that died right after storing the crossing trade leaves behind.
    const db = new pg.Pool({ connectionString: dep.url, max: 1 });
    await db.query(`insert into trades (time, symbol, trade_id, price, size, side, epoch, seq)
      values (now(), $1, 'x-290', 290, 1, 'buy', 1, 1), (now() + interval '1 millisecond', $1, 'x-301', 301, 1, 'buy', 1, 2)`, [SYMBOL]);
    await db.end();
    rt = await startRuntime(overrides(), dep);
    await connected(1);
    await until('fired at start', async () => (await rt.db.query('select status from price_alerts where alert_id = $1', [id])).rows[0].status === 'triggered');
    const r = await rt.db.query('select trigger_price::float8 as p from price_alerts where alert_id = $1', [id]);
    expect(r.rows[0].p).toBe(301);
    await until('the webhook', () => hooks.some((h) => JSON.parse(h.body).alert_id === id));
    await sleep(500);
    expect(hooks.filter((h) => JSON.parse(h.body).alert_id === id)).toHaveLength(1);
  }, 60_000);

  it('fires once when two nodes on one database both see the crossing', async () => {
    hooks = [];
    const second = await startRuntime(overrides(mkdtempSync(join(tmpdir(), 'tickplant-node2-'))), dep);
    try {
      await connected(2);
      const a1 = await client(rt, keys.alice);
      const a2 = await client(second, keys.alice);
      trade(100);
      const created = await api(rt, 'POST', '/price-alert', keys.alice, { symbol: SYMBOL, condition: 'crosses_below', target_price: 95, webhook_url: hookUrl });
      const id = String(created.body.data!.alert_id);
      await sleep(1500); // the second node picks it up
      trade(94);
      await until('one node delivered', () => alertsOf(a1).length + alertsOf(a2).length >= 1);
      await until('the webhook', () => hooks.length >= 1);
      await sleep(1000);
      expect(alertsOf(a1).length + alertsOf(a2).length).toBe(1);
      expect(hooks.filter((h) => JSON.parse(h.body).alert_id === id)).toHaveLength(1);
      a1.close();
      a2.close();
    } finally {
      await second.stop();
    }
  }, 60_000);
});
