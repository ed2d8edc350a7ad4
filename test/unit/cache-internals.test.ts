// Pure parts of the cache: the Redis value codec, the invalidation fence and message, the write-behind queue.
import { describe, expect, it } from 'vitest';
import { decode, encode, isCompressed } from '../../src/cache/codec.js';
import { Fence, decodeMessage, encodeMessage } from '../../src/cache/invalidation.js';
import type { CacheSource, SourceItem } from '../../src/cache/types.js';
import { WriteBehindQueue } from '../../src/cache/write-behind.js';
import { logger } from '../../src/log.js';

const log = logger('test');

describe('codec', () => {
  it('keeps small values as readable JSON and deflates large ones behind a marker', () => {
    const small = JSON.stringify({ a: 1 });
    expect(encode(small, small.length, 64)).toBe(small);
    const big = JSON.stringify({ rows: Array.from({ length: 500 }, (_, i) => ({ i, side: 'bid' })) });
    const stored = encode(big, Buffer.byteLength(big), 64) as Buffer;
    expect(Buffer.isBuffer(stored)).toBe(true);
    expect([stored[0], stored[1]]).toEqual([0x00, 0x01]);
    expect(stored.length).toBeLessThan(big.length / 4);
    expect(isCompressed(stored)).toBe(true);
    expect(decode(stored)).toBe(big);
    expect(decode(Buffer.from(small))).toBe(small);
    expect(() => decode(Buffer.from([0x00, 0x09, 1, 2]))).toThrow(/unknown algorithm 0x9/);
  });
});

describe('invalidation', () => {
  it('the fence refuses fills of keys touched after the read started', () => {
    const f = new Fence();
    const before = f.now();
    f.touch('a');
    expect(f.clean('a', before)).toBe(false);
    expect(f.clean('b', before)).toBe(true);
    const after = f.now();
    expect(f.clean('a', after)).toBe(true);
    f.touchAll();
    expect(f.clean('b', after)).toBe(false);
    expect(f.clean('b', f.now())).toBe(true);
  });

  it('messages round-trip, and foreign ones are ignored', () => {
    expect(decodeMessage(encodeMessage({ o: 'n1', k: ['a:1'] }))).toEqual({ o: 'n1', k: ['a:1'], p: undefined });
    expect(decodeMessage(encodeMessage({ o: 'n1', p: 'a:*' }))?.p).toBe('a:*');
    for (const bad of ['nope', '42', '{"k":["a"]}', '{"o":"n","k":[1]}', '{"o":"n","p":3}']) expect(decodeMessage(bad)).toBeUndefined();
  });
});

/** A source that records batches; fails while `failing` is set. */
function fakeSource() {
  const batches: string[][] = [];
  const rows = new Map<string, unknown>();
  const state = { failing: false };
  const source: CacheSource = {
    load: async (key) => rows.get(key),
    storeMany: async (items: readonly SourceItem[]) => {
      if (state.failing) throw new Error('source down');
      batches.push(items.map((i) => i.key));
      for (const i of items) rows.set(i.key, i.value);
    },
    delete: async (key) => void rows.delete(key),
  };
  return { source, batches, rows, state };
}

const store = (key: string, value: unknown) => ({ ns: 'n', key, params: {}, kind: 'store' as const, value });

describe('WriteBehindQueue', () => {
  it('coalesces writes of one key, batches, and keeps only the newest value', async () => {
    const f = fakeSource();
    const q = new WriteBehindQueue({ batchSize: 2, flushMs: 10_000 }, () => f.source, log);
    expect(q.offer(store('a', 1))).toBe(true);
    expect(q.offer(store('a', 2))).toBe(true);
    expect(q.pending).toBe(1);
    expect(q.peek('n', 'a')?.value).toBe(2);
    q.offer(store('b', 1));
    q.offer(store('c', 1));
    expect(await q.drain(1000)).toBe(0);
    expect(f.batches).toEqual([['a', 'b'], ['c']]);
    expect(f.rows.get('a')).toBe(2);
    expect(q.counters.written).toBe(3);
    await q.close();
  });

  it('is bounded: a full queue refuses new keys but still takes writes of waiting keys', async () => {
    const f = fakeSource();
    const q = new WriteBehindQueue({ maxPending: 2, flushMs: 10_000 }, () => f.source, log);
    expect(q.offer(store('a', 1))).toBe(true);
    expect(q.offer(store('b', 1))).toBe(true);
    expect(q.offer(store('c', 1))).toBe(false);
    expect(q.offer(store('a', 2))).toBe(true);
    expect(q.counters.overflow).toBe(1);
    await q.close();
    expect(q.offer(store('d', 1))).toBe(false); // closed: the caller writes through
  });

  it('retries a failed batch, and a newer write of the same key wins over the retry', async () => {
    const f = fakeSource();
    const q = new WriteBehindQueue({ flushMs: 1, retryMaxMs: 20 }, () => f.source, log);
    f.state.failing = true;
    q.offer(store('a', 1));
    await new Promise((r) => setTimeout(r, 30));
    expect(q.counters.failedBatches).toBeGreaterThan(0);
    expect(q.pending).toBe(1);
    q.offer(store('a', 2));
    f.state.failing = false;
    expect(await q.drain(2000)).toBe(0);
    expect(f.rows.get('a')).toBe(2);
    await q.close();
  });
});
