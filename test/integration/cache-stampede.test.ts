// Stampede protection against the real Redis: one load per key in a process, and across two nodes via the lock.
import { afterAll, describe, expect, it } from 'vitest';
import { CacheSourceError } from '../../src/cache/errors.js';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import type { CacheSource } from '../../src/cache/types.js';
import { type NodeOptions, cacheNodes } from '../helpers/cache-nodes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NAMESPACES = parseNamespaces({
  namespaces: [
    { name: 'quotes', keyPattern: 'quotes:{symbol}', ttlSeconds: 60, strategy: 'read-through', source: 'slow', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
    { name: 'model', keyPattern: 'model:{symbol}', ttlSeconds: 60, strategy: 'cache-aside', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
  ],
});

/** A source that takes `delayMs` per load and counts loads per key. */
function slowSource(delayMs: number) {
  const loads = new Map<string, number>();
  const fail = new Set<string>();
  const source: CacheSource = {
    async load(key) {
      loads.set(key, (loads.get(key) ?? 0) + 1);
      await sleep(delayMs);
      if (fail.has(key)) throw new Error('database timeout');
      return { key, loadedAt: Date.now() };
    },
  };
  return { source, loads, fail };
}

const nodes = cacheNodes(NAMESPACES);
const { prefix: PREFIX, direct } = nodes;
afterAll(nodes.cleanup);

/** A node with `source` registered as "slow", the source of the quotes namespace. */
const node = (source: CacheSource, over: NodeOptions = {}) => nodes.node({ ...over, sources: { slow: source } });

describe('one load per key', () => {
  it('100 concurrent misses in one process → one source load, one value', async () => {
    const s = slowSource(100);
    const a = await node(s.source);
    const hits = await Promise.all(Array.from({ length: 100 }, () => a.get('quotes', { symbol: 'AAPL' })));
    expect(s.loads.get('quotes:AAPL')).toBe(1);
    expect(new Set(hits.map((h) => JSON.stringify(h?.value))).size).toBe(1);
    expect(a.stats().namespaces.quotes.stampedeWaits.local).toBe(99);
  });

  it('100 concurrent cache-aside misses → one loader call', async () => {
    const a = await node(slowSource(0).source);
    let calls = 0;
    const loader = async () => {
      calls++;
      await sleep(100);
      return { prediction: 0.7 };
    };
    const hits = await Promise.all(Array.from({ length: 100 }, () => a.getOrLoad('model', { symbol: 'NVDA' }, loader)));
    expect(calls).toBe(1);
    expect(hits.every((h) => (h?.value as { prediction: number }).prediction === 0.7)).toBe(true);
  });

  it('two nodes on the same Redis → one load; the other waits on the lock and reads the winner\'s value', async () => {
    const s = slowSource(300);
    const [a, b] = [await node(s.source), await node(s.source)];
    const hits = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).get('quotes', { symbol: 'MSFT' })));
    expect(s.loads.get('quotes:MSFT')).toBe(1);
    expect(new Set(hits.map((h) => JSON.stringify(h?.value))).size).toBe(1);
    const waits = a.stats().namespaces.quotes.stampedeWaits.lock + b.stats().namespaces.quotes.stampedeWaits.lock;
    expect(waits).toBe(1); // one node's leader waited; its 49 followers waited locally
    expect(hits.map((h) => h?.tier)).toContain('redis');
    expect(await direct.exists(`${PREFIX}_lock:quotes:MSFT`)).toBe(0); // released
  });

  it('a waiter whose lock holder never answers loads by itself after lock.waitMs', async () => {
    const s = slowSource(0);
    const a = await node(s.source, { lock: { waitMs: 300, pollMs: 10 } });
    await direct.set(`${PREFIX}_lock:quotes:TSLA`, 'a-node-that-died', 'PX', 10_000);
    const hit = await a.get('quotes', { symbol: 'TSLA' });
    expect(hit?.tier).toBe('source');
    expect(s.loads.get('quotes:TSLA')).toBe(1);
    expect(a.stats().namespaces.quotes.stampedeWaits.lock).toBe(1);
    expect(await direct.get(`${PREFIX}_lock:quotes:TSLA`)).toBe('a-node-that-died'); // not ours to release
  });

  it('a failed load reaches every waiter as CacheSourceError, releases the lock, and is retried by the next miss', async () => {
    const s = slowSource(50);
    const a = await node(s.source);
    s.fail.add('quotes:IBM');
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => a.get('quotes', { symbol: 'IBM' })));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof CacheSourceError)).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/quotes: loading quotes:IBM failed: database timeout/);
    expect(await direct.exists(`${PREFIX}_lock:quotes:IBM`)).toBe(0);
    s.fail.delete('quotes:IBM');
    expect((await a.get('quotes', { symbol: 'IBM' }))?.tier).toBe('source');
    expect(s.loads.get('quotes:IBM')).toBe(2);
    expect(a.stats().namespaces.quotes.loadErrors).toBe(1);
  });
});
