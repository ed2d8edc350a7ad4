// The two cache tiers against the real Redis: TTL expiry in both, LRU eviction by bytes, compression above the threshold.
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES } from '../../src/cache/namespace-state.js';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import { cacheNodes } from '../helpers/cache-nodes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NAMESPACES = parseNamespaces({
  namespaces: [
    { name: 'short', keyPattern: 'short:{id}', ttlSeconds: 1, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096 },
    {
      name: 'classes', keyPattern: 'classes:{kind}:{id}', ttlSeconds: 30, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096,
      ttlOverrides: [{ param: 'kind', values: ['macro'], ttlSeconds: 300 }],
    },
    { name: 'small', keyPattern: 'small:{id}', ttlSeconds: 60, strategy: 'cache-only', memoryLimitBytes: 4096, compressionThresholdBytes: 1 << 20 },
    { name: 'zip', keyPattern: 'zip:{id}', ttlSeconds: 60, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 256 },
  ],
});

const { prefix: PREFIX, direct, node, cleanup } = cacheNodes(NAMESPACES);
afterAll(cleanup);

describe('TTL', () => {
  it('expires a value in memory and in Redis', async () => {
    const a = await node();
    await a.set('short', { id: 1 }, { v: 1 });
    await a.set('short', { id: 'untouched' }, { v: 0 });
    const pttl = await direct.pttl(`${PREFIX}short:1`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1000);
    expect(a.peek('short', { id: 1 })).toEqual({ v: 1 });
    await sleep(1100);
    expect(a.peek('short', { id: 1 })).toBeUndefined();
    expect(await direct.exists(`${PREFIX}short:1`)).toBe(0);
    expect(await a.get('short', { id: 1 })).toBeUndefined();
    // The untouched expired entry is still held until cleanup() purges it.
    expect(await a.cleanup()).toEqual({ expiredMemoryEntries: 1 });
    expect(a.stats().namespaces.short).toMatchObject({ entries: 0, expired: 2 });
  });

  it('a memory copy filled from Redis lives only as long as the Redis value has left', async () => {
    const [a, b] = [await node(), await node()];
    await a.set('classes', { kind: 'crypto', id: 'SOL' }, { v: 2 }, { ttlSeconds: 2 }); // the namespace says 30 s
    await sleep(500);
    expect((await b.get('classes', { kind: 'crypto', id: 'SOL' }))?.tier).toBe('redis');
    expect(b.peek('classes', { kind: 'crypto', id: 'SOL' })).toEqual({ v: 2 });
    for (let i = 0; i < 300 && (await direct.exists(`${PREFIX}classes:crypto:SOL`)) === 1; i++) await sleep(10);
    await sleep(20);
    expect(b.peek('classes', { kind: 'crypto', id: 'SOL' })).toBeUndefined();
  });

  it('applies per-value TTL classes and a per-write TTL', async () => {
    const a = await node();
    await a.set('classes', { kind: 'crypto', id: 'BTC' }, { p: 1 });
    await a.set('classes', { kind: 'macro', id: 'GDP' }, { p: 2 });
    await a.set('classes', { kind: 'crypto', id: 'ETH' }, { p: 3 }, { ttlSeconds: 5 });
    const ttl = (k: string) => direct.pttl(`${PREFIX}classes:${k}`);
    expect(await ttl('crypto:BTC')).toBeGreaterThan(29_000);
    expect(await ttl('crypto:BTC')).toBeLessThanOrEqual(30_000);
    expect(await ttl('macro:GDP')).toBeGreaterThan(299_000);
    expect(await ttl('crypto:ETH')).toBeLessThanOrEqual(5000);
    await expect(a.set('classes', { kind: 'crypto', id: 'X' }, {}, { ttlSeconds: 0 })).rejects.toThrow(/ttlSeconds/);
  });
});

describe('memory tier bounded by bytes', () => {
  const value = (i: number) => ({ i, pad: 'x'.repeat(900) }); // ~920 bytes of JSON
  const size = (id: string, i: number) => Buffer.byteLength(JSON.stringify(value(i))) + `small:${id}`.length + ENTRY_OVERHEAD_BYTES;

  it('evicts least recently used entries to stay within memoryLimitBytes; Redis keeps them', async () => {
    const a = await node();
    expect(size('k0', 0) * 4).toBeLessThanOrEqual(4096); // four fit, five do not
    expect(size('k0', 0) * 5).toBeGreaterThan(4096);
    for (let i = 0; i < 4; i++) await a.set('small', { id: `k${i}` }, value(i));
    expect(a.peek('small', { id: 'k0' })).toBeDefined(); // k0 becomes the most recently used
    await a.set('small', { id: 'k4' }, value(4)); // evicts k1, the least recently used
    const st = a.stats().namespaces.small;
    expect(st.entries).toBe(4);
    expect(st.bytes).toBeLessThanOrEqual(4096);
    expect(st.evictions).toBe(1);
    expect(a.peek('small', { id: 'k1' })).toBeUndefined();
    expect(a.peek('small', { id: 'k0' })).toEqual(value(0));
    expect(await a.get('small', { id: 'k1' })).toEqual({ value: value(1), tier: 'redis' });
    for (let i = 5; i < 20; i++) await a.set('small', { id: `k${i}` }, value(i));
    expect(a.stats().namespaces.small.bytes).toBeLessThanOrEqual(4096);
    expect(a.stats().namespaces.small.evictions).toBeGreaterThanOrEqual(16);
  });

  it('keeps a value larger than the whole budget in Redis only', async () => {
    const a = await node();
    const big = { pad: 'y'.repeat(5000) };
    await a.set('small', { id: 'big' }, big);
    expect(a.peek('small', { id: 'big' })).toBeUndefined();
    expect(await a.get('small', { id: 'big' })).toEqual({ value: big, tier: 'redis' });
  });
});

describe('compression', () => {
  it('deflates values above the threshold in Redis behind a marker, and reads them back', async () => {
    const [a, b] = [await node(), await node()];
    const chain = Array.from({ length: 200 }, (_, i) => ({ option_symbol: `AAPL231215C${String(i).padStart(8, '0')}`, strike_price: 100 + i, option_type: 'CALL' }));
    await a.set('zip', { id: 'chain' }, chain);
    const raw = await direct.getBuffer(`${PREFIX}zip:chain`);
    expect(raw).not.toBeNull();
    expect([raw![0], raw![1]]).toEqual([0x00, 0x01]);
    expect(raw!.length).toBeLessThan(Buffer.byteLength(JSON.stringify(chain)) / 3);
    expect(await b.get('zip', { id: 'chain' })).toEqual({ value: chain, tier: 'redis' });
    // Accounting in memory uses the JSON size, not the compressed size.
    expect(b.stats().namespaces.zip.bytes).toBeGreaterThan(Buffer.byteLength(JSON.stringify(chain)));

    await a.set('zip', { id: 'tiny' }, { ok: true });
    expect(await direct.get(`${PREFIX}zip:tiny`)).toBe('{"ok":true}'); // below the threshold: plain JSON
  });
});
