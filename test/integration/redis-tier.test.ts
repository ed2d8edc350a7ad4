// RedisTier against the real Redis (REDIS_URL, default redis://127.0.0.1:6379), and through a
// TCP proxy that cuts it. Keys and channels carry a per-run prefix, so parallel runs don't collide.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnections } from '../../src/store/redis-connections.js';
import { RedisTier, RedisUnavailableError, type RedisTierOptions } from '../../src/store/redis-tier.js';
import { startProxy } from '../helpers/tcp-proxy.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `test:${process.pid}:${Date.now().toString(36)}:orderbook:`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const logs: { level: string; msg: string }[] = [];
const log = {
  warn: (msg: string) => void logs.push({ level: 'warn', msg }),
  info: (msg: string) => void logs.push({ level: 'info', msg }),
};

type TierOver = Partial<RedisTierOptions> & { url?: string; connectTimeoutMs?: number };

/** A tier on `url` (default REDIS_URL) with a quick reconnect policy; `over` replaces tier options. */
function tier(over: TierOver = {}): RedisTier {
  const { url = REDIS_URL, connectTimeoutMs, ...rest } = over;
  return new RedisTier({
    connections: new RedisConnections({ url, maxConnections: 1, reconnectMaxMs: 100, connectTimeoutMs }),
    ttlSeconds: 3600, historyLength: 100, keyPrefix: PREFIX, channelPrefix: PREFIX, tradesKeyPrefix: `${PREFIX}trades:`, maxInFlight: 4, log, ...rest,
  });
}

const frame = (symbol: string, seq: number) => JSON.stringify({ type: 'orderbook_update', symbol, seq });

describe('RedisTier (real Redis)', () => {
  let direct: Redis; // a plain client to inspect what the tier wrote
  const tiers: RedisTier[] = [];
  const open = async (over: TierOver = {}) => {
    const t = tier(over);
    tiers.push(t);
    await t.connect();
    return t;
  };

  beforeAll(async () => {
    direct = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    for (const t of tiers) await t.close();
    let cursor = '0';
    do {
      const [next, keys] = await direct.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
      if (keys.length) await direct.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await direct.quit();
  });

  it('writes latest (newest of the batch), history newest-first, both with a TTL', async () => {
    const t = await open({ ttlSeconds: 600 });
    expect(t.status).toBe('ready');
    const items = [
      { symbol: 'US.AAPL', latest: frame('US.AAPL', 1) },
      { symbol: 'BTC-USD', latest: Buffer.from(frame('BTC-USD', 1)) },
      { symbol: 'US.AAPL', latest: frame('US.AAPL', 2) },
      { symbol: 'US.AAPL', latest: frame('US.AAPL', 3) },
    ];
    expect(t.writeBatch(items)).toBe(true);
    await t.whenIdle();

    expect(await direct.get(t.keys.latest('US.AAPL'))).toBe(frame('US.AAPL', 3));
    expect(await direct.get(t.keys.latest('BTC-USD'))).toBe(frame('BTC-USD', 1));
    expect(await direct.lrange(t.keys.history('US.AAPL'), 0, -1)).toEqual([3, 2, 1].map((s) => frame('US.AAPL', s)));
    for (const key of [t.keys.latest('US.AAPL'), t.keys.history('US.AAPL'), t.keys.history('BTC-USD')]) {
      const ttl = await direct.ttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(600);
    }
    // 2 symbols × (SET, LPUSH, LTRIM, EXPIRE) + 4 PUBLISH
    expect(t.counters).toMatchObject({ batches: 1, commands: 12, skippedBatches: 0, errors: 0 });
    expect(t.latencySummary().count).toBe(1);
  });

  it('caps history at historyLength, newest first', async () => {
    const t = await open({ historyLength: 5 });
    for (let b = 0; b < 3; b++) {
      const items = [0, 1, 2, 3].map((i) => ({ symbol: 'ETH-USD', latest: frame('ETH-USD', b * 4 + i) }));
      expect(t.writeBatch(items)).toBe(true);
    }
    await t.whenIdle();
    expect(await direct.lrange(t.keys.history('ETH-USD'), 0, -1)).toEqual([11, 10, 9, 8, 7].map((s) => frame('ETH-USD', s)));
    expect(await direct.get(t.keys.latest('ETH-USD'))).toBe(frame('ETH-USD', 11));
  });

  it('keeps trades in their own list, newest first, capped at tradesLength, with the TTL, in the same pipeline; not published', async () => {
    const t = await open({ tradesLength: 4, ttlSeconds: 600 });
    const trade = (symbol: string, seq: number) => JSON.stringify({ type: 'trade', symbol, seq });
    const sub = new Redis(REDIS_URL);
    const got: string[] = [];
    sub.on('message', (_channel: string, message: string) => void got.push(message));
    await sub.subscribe(t.keys.channel('ADA-USD'));
    const books = [{ symbol: 'ADA-USD', latest: frame('ADA-USD', 1) }];
    // Six trades of one symbol in one batch: only the newest four are sent.
    expect(t.writeBatch(books, [1, 2, 3, 4, 5, 6].map((s) => ({ symbol: 'ADA-USD', latest: trade('ADA-USD', s) })))).toBe(true);
    expect(t.writeBatch([], [{ symbol: 'ADA-USD', latest: Buffer.from(trade('ADA-USD', 7)) }, { symbol: 'XRP-USD', latest: trade('XRP-USD', 1) }])).toBe(true);
    await t.whenIdle();
    await until('the book frame published', () => got.length === 1);
    await sub.quit();
    expect(t.keys.trades('ADA-USD')).toBe(`${PREFIX}trades:ADA-USD`);
    expect(await direct.lrange(t.keys.trades('ADA-USD'), 0, -1)).toEqual([7, 6, 5, 4].map((s) => trade('ADA-USD', s)));
    expect(await direct.lrange(t.keys.trades('XRP-USD'), 0, -1)).toEqual([trade('XRP-USD', 1)]);
    expect(await direct.lrange(t.keys.history('ADA-USD'), 0, -1)).toEqual([frame('ADA-USD', 1)]);
    const ttl = await direct.ttl(t.keys.trades('ADA-USD'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(got).toEqual([frame('ADA-USD', 1)]);
    // (SET, LPUSH, LTRIM, EXPIRE, PUBLISH) + 3 × (LPUSH, LTRIM, EXPIRE)
    expect(t.counters).toMatchObject({ batches: 2, commands: 14, errors: 0 });
  });

  it('PUBLISHes every item, in order, on channelPrefix + symbol', async () => {
    const t = await open();
    const sub = new Redis(REDIS_URL);
    const got: [string, string][] = [];
    sub.on('message', (channel: string, message: string) => void got.push([channel, message]));
    await sub.subscribe(t.keys.channel('US.MSFT'), t.keys.channel('US.NVDA'));
    const items = [1, 2, 3].flatMap((s) => [
      { symbol: 'US.MSFT', latest: frame('US.MSFT', s) },
      { symbol: 'US.NVDA', latest: frame('US.NVDA', s) },
    ]);
    expect(t.writeBatch(items)).toBe(true);
    await until('6 messages', () => got.length === 6);
    await sub.quit();
    const on = (sym: string) => got.filter(([c]) => c === t.keys.channel(sym)).map(([, m]) => m);
    expect(on('US.MSFT')).toEqual([1, 2, 3].map((s) => frame('US.MSFT', s)));
    expect(on('US.NVDA')).toEqual([1, 2, 3].map((s) => frame('US.NVDA', s)));
  });

  it('refuses (false) while maxInFlight pipelines await replies', async () => {
    const t = await open({ maxInFlight: 1 });
    const items = [{ symbol: 'SOL-USD', latest: frame('SOL-USD', 1) }];
    expect(t.writeBatch(items)).toBe(true);
    expect(t.writeBatch(items)).toBe(false); // same tick: the first reply cannot have arrived
    expect(t.counters.skippedBatches).toBe(1);
    await t.whenIdle();
    expect(t.writeBatch(items)).toBe(true);
    await t.whenIdle();
    expect(t.counters).toMatchObject({ batches: 2, skippedBatches: 1, errors: 0 });
  });

  it('connect() rejects with RedisUnavailableError naming REDIS_URL when nothing listens', async () => {
    const proxy = await startProxy(6379);
    const port = proxy.port;
    await proxy.close(); // a port that was just free: connection refused
    const t = tier({ url: `redis://:secret@127.0.0.1:${port}`, connectTimeoutMs: 1000 });
    tiers.push(t);
    const err = await t.connect().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as RedisUnavailableError).code).toBe('redis_unavailable');
    expect((err as Error).message).toMatch(/REDIS_URL/);
    expect((err as Error).message).not.toMatch(/secret/);
    expect(t.status).not.toBe('ready');
    expect(t.writeBatch([{ symbol: 'X', latest: 'x' }])).toBe(false);
  });

  it('an outage: writeBatch returns false (no throw, no unhandled rejection), then recovers', async () => {
    const url = new URL(REDIS_URL);
    const proxy = await startProxy(Number(url.port || 6379), url.hostname);
    try {
      url.port = String(proxy.port);
      const t = await open({ url: url.toString() });
      const items = [{ symbol: 'US.TSLA', latest: frame('US.TSLA', 1) }];
      expect(t.writeBatch(items)).toBe(true);
      await t.whenIdle();

      // A pipeline in flight when the connection dies fails (counted), it does not reject unhandled.
      expect(t.writeBatch([{ symbol: 'US.TSLA', latest: frame('US.TSLA', 2) }])).toBe(true);
      logs.length = 0;
      proxy.cut();
      await until('status leaves ready', () => t.status !== 'ready');
      expect(['down', 'connecting']).toContain(t.status);
      await t.whenIdle();
      expect(t.counters.errors).toBe(5); // the in-flight pipeline's 5 commands, failed at the first close

      const skippedBefore = t.counters.skippedBatches;
      for (let i = 0; i < 50; i++) expect(t.writeBatch([{ symbol: 'US.TSLA', latest: frame('US.TSLA', 100 + i) }])).toBe(false);
      expect(t.counters.skippedBatches - skippedBefore).toBe(50);
      await sleep(300); // several failed reconnect attempts
      expect(['down', 'connecting']).toContain(t.status);
      expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1); // one line per outage, not per attempt

      await proxy.restore();
      await until('status ready again', () => t.status === 'ready');
      expect(t.writeBatch([{ symbol: 'US.TSLA', latest: frame('US.TSLA', 3) }])).toBe(true);
      await t.whenIdle();
      expect(await direct.get(t.keys.latest('US.TSLA'))).toBe(frame('US.TSLA', 3));
      // The 50 refused batches sent nothing: none of their frames reached the history.
      const history = await direct.lrange(t.keys.history('US.TSLA'), 0, -1);
      expect(history[0]).toBe(frame('US.TSLA', 3));
      expect(history.filter((f) => JSON.parse(f).seq >= 100)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('bad options throw RangeError naming the option', () => {
    expect(() => tier({ maxInFlight: 0 })).toThrow(/maxInFlight/);
    expect(() => tier({ historyLength: 1.5 })).toThrow(RangeError);
    expect(() => tier({ ttlSeconds: -1 })).toThrow(/ttlSeconds/);
  });

  it('close() is quick whether Redis is up or down', async () => {
    const t = await open();
    const t0 = Date.now();
    await t.close();
    await t.close(); // idempotent
    expect(Date.now() - t0).toBeLessThan(1100);
  });
});
