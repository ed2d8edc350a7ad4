// Invalidation against the real Redis: by key and by pattern (SCAN + UNLINK), reaching a second node's memory over pub/sub.
import { afterAll, describe, expect, it } from 'vitest';
import { CachePatternError } from '../../src/cache/errors.js';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import { cacheNodes } from '../helpers/cache-nodes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NAMESPACES = parseNamespaces({
  namespaces: [
    { name: 'px', keyPattern: 'px:{symbol}:{venue}', ttlSeconds: 300, strategy: 'cache-only', memoryLimitBytes: 1 << 22, compressionThresholdBytes: 4096 },
    { name: 'other', keyPattern: 'other:{id}', ttlSeconds: 300, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
  ],
});

const { prefix: PREFIX, direct, node, cleanup } = cacheNodes(NAMESPACES);
afterAll(cleanup);

/** Waits (bounded) until cond holds; the pub/sub message arrives asynchronously. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function commandCalls(cmd: string): Promise<number> {
  const info = await direct.info('commandstats');
  return Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

describe('invalidation', () => {
  it('a pattern removes matching keys from Redis, this node and a second node, and nothing else', async () => {
    const [a, b] = [await node(), await node()];
    for (const [symbol, venue] of [['AAPL', 'nyse'], ['AAPL', 'bats'], ['MSFT', 'nyse']]) {
      await a.set('px', { symbol, venue }, { symbol, venue });
      expect((await b.get('px', { symbol, venue }))?.tier).toBe('redis'); // b now holds it in memory
    }
    const keysBefore = await commandCalls('keys');
    expect(await a.invalidate('px:AAPL:*')).toBe(2);
    expect(await commandCalls('keys')).toBe(keysBefore); // SCAN, never KEYS
    expect(await direct.exists(`${PREFIX}px:AAPL:nyse`, `${PREFIX}px:AAPL:bats`)).toBe(0);
    expect(a.peek('px', { symbol: 'AAPL', venue: 'nyse' })).toBeUndefined();
    await until('node b to drop AAPL', () => b.peek('px', { symbol: 'AAPL', venue: 'bats' }) === undefined);
    expect(b.peek('px', { symbol: 'AAPL', venue: 'nyse' })).toBeUndefined();
    expect(b.peek('px', { symbol: 'MSFT', venue: 'nyse' })).toEqual({ symbol: 'MSFT', venue: 'nyse' });
    expect(await direct.exists(`${PREFIX}px:MSFT:nyse`)).toBe(1);
  });

  it('a write on one node drops the other node\'s stale copy; it reads the new value from Redis', async () => {
    const [a, b] = [await node(), await node()];
    await a.set('other', { id: 'w' }, { v: 1 });
    // That write announces an invalidation too, which may reach b after b read v1 and drop it:
    // read until b holds v1 past the announcement.
    for (let i = 0; i < 50; i++) {
      await b.get('other', { id: 'w' });
      await sleep(20);
      if (b.peek('other', { id: 'w' }) !== undefined) break;
    }
    expect(b.peek('other', { id: 'w' })).toEqual({ v: 1 });
    await a.set('other', { id: 'w' }, { v: 2 });
    await until('node b to drop its copy', () => b.peek('other', { id: 'w' }) === undefined);
    expect(await b.get('other', { id: 'w' })).toEqual({ value: { v: 2 }, tier: 'redis' });

    await a.delete('other', { id: 'w' });
    await until('node b to drop the deleted key', () => b.peek('other', { id: 'w' }) === undefined);
    expect(await b.get('other', { id: 'w' })).toBeUndefined();
  });

  it('works through many SCAN pages and UNLINK batches', async () => {
    const [a, b] = [await node(), await node()];
    const items = Array.from({ length: 1200 }, (_, i) => ({ params: { symbol: `S${i}`, venue: 'bulk' }, value: { i } }));
    await a.setMany('px', items);
    expect(await a.invalidate('px:*:bulk')).toBe(1200);
    let cursor = '0';
    let left = 0;
    do {
      const [next, keys] = await direct.scan(cursor, 'MATCH', `${PREFIX}px:*:bulk`, 'COUNT', 1000);
      left += keys.length;
      cursor = next;
    } while (cursor !== '0');
    expect(left).toBe(0);
    expect(await b.get('px', { symbol: 'S7', venue: 'bulk' })).toBeUndefined();
  });

  it('clear() empties values on every node but keeps rate-limit state', async () => {
    const [a, b] = [await node(), await node()];
    await a.set('other', { id: 'c1' }, { v: 1 });
    await b.get('other', { id: 'c1' });
    await direct.set(`${PREFIX}_rl:someone`, '123', 'PX', 60_000);
    expect(await a.clear()).toBeGreaterThanOrEqual(1);
    expect(await direct.exists(`${PREFIX}other:c1`)).toBe(0);
    expect(await direct.exists(`${PREFIX}_rl:someone`)).toBe(1);
    await until('node b to clear', () => b.peek('other', { id: 'c1' }) === undefined);
  });

  it('refuses bad patterns and the cache\'s own keys', async () => {
    const a = await node();
    await expect(a.invalidate('px:[AAPL')).rejects.toBeInstanceOf(CachePatternError);
    await expect(a.invalidate('_lock:*')).rejects.toThrow(/must not start with "_"/);
    await expect(a.invalidate('')).rejects.toBeInstanceOf(CachePatternError);
  });

  it('invalidates a whole namespace and nothing else', async () => {
    const [a, b] = [await node(), await node()];
    await a.set('other', { id: 'n1' }, { v: 1 });
    await a.set('other', { id: 'n2' }, { v: 2 });
    await a.set('px', { symbol: 'KEEP', venue: 'ns' }, { v: 3 });
    await b.get('other', { id: 'n1' });
    expect(await a.invalidateNamespace('other')).toBeGreaterThanOrEqual(2);
    expect(await direct.exists(`${PREFIX}other:n1`, `${PREFIX}other:n2`)).toBe(0);
    expect(await direct.exists(`${PREFIX}px:KEEP:ns`)).toBe(1);
    await until('node b to drop the namespace', () => b.peek('other', { id: 'n1' }) === undefined);
    expect(a.ttlSeconds('other')).toBe(300);
  });

  it('lists the cached keys of a namespace as params', async () => {
    const [a, b] = [await node(), await node()];
    await a.set('px', { symbol: 'NVDA', venue: 'list' }, { p: 1 });
    await a.set('px', { symbol: 'AMD', venue: 'list' }, { p: 2 });
    const found = await b.keys('px', { venue: 'list' });
    expect(found.map((p) => p.symbol).sort()).toEqual(['AMD', 'NVDA']);
  });
});
