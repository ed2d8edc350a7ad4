// Each strategy's order of reads and writes, against the real Redis and PostgreSQL, with a recording source.
//
// "Nodes" are CacheService instances sharing one Redis key prefix (unique to this run); each
// has its own memory tier. The recording source notes, at each call, whether Redis already
// holds the key, so the tests can assert which tier was written first.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheSourceError } from '../../src/cache/errors.js';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import type { CacheSource, Params } from '../../src/cache/types.js';
import { cacheNodes } from '../helpers/cache-nodes.js';
import { createDeployment } from '../helpers/runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ns = (name: string, strategy: string, extra: Record<string, unknown> = {}) => ({
  name, keyPattern: `${name}:{id}`, ttlSeconds: 60, strategy, memoryLimitBytes: 1 << 20, compressionThresholdBytes: 4096, ...extra,
});
const NAMESPACES = parseNamespaces({
  namespaces: [
    ns('co', 'cache-only'),
    ns('ca', 'cache-aside'),
    ns('rt', 'read-through', { source: 'rec' }),
    ns('wt', 'write-through', { source: 'rec' }),
    ns('wb', 'write-behind', { source: 'rec' }),
    ns('ra', 'refresh-ahead', { source: 'rec', ttlSeconds: 2, refreshAheadRatio: 0.9 }),
    ns('pgw', 'write-through', { source: 'postgres' }),
  ],
});

const { prefix: PREFIX, direct, node: cacheNode, cleanup } = cacheNodes(NAMESPACES);
let dep: Awaited<ReturnType<typeof createDeployment>>;
const events: string[] = [];
const rows = new Map<string, unknown>();
const failing = { store: false };

/** Records every call with whether Redis already had the key at that moment. */
const recorder: CacheSource = {
  async load(key) {
    events.push(`load ${key} redis=${await direct.exists(PREFIX + key)}`);
    return rows.get(key);
  },
  async store(key, _p: Params, value) {
    events.push(`store ${key} redis=${await direct.exists(PREFIX + key)}`);
    if (failing.store) throw new Error('source refused');
    rows.set(key, value);
  },
  async delete(key) {
    events.push(`delete ${key} redis=${await direct.exists(PREFIX + key)}`);
    rows.delete(key);
  },
};

/** A node on this run's PostgreSQL schema with the recorder as "rec"; write-behind flushes only when told. */
const node = () => cacheNode({ databaseUrl: dep.url, writeBehind: { flushMs: 60_000 }, sources: { rec: recorder } });

const redisJson = async (key: string) => {
  const v = await direct.get(PREFIX + key);
  return v === null ? null : JSON.parse(v);
};

beforeAll(async () => {
  dep = await createDeployment();
});

afterAll(async () => {
  await cleanup();
  await dep.drop();
});

describe('reads: memory, then Redis, then the source', () => {
  it('answers from the first tier that has the key', async () => {
    const [a, b, c] = [await node(), await node(), await node()];
    rows.set('rt:order', { v: 'source' });
    await a.set('rt', { id: 'order' }, { v: 'memory' }); // read-through set: cache only
    await direct.set(`${PREFIX}rt:order`, JSON.stringify({ v: 'redis' }), 'PX', 60_000);
    expect(await a.get('rt', { id: 'order' })).toEqual({ value: { v: 'memory' }, tier: 'memory' });
    expect(await b.get('rt', { id: 'order' })).toEqual({ value: { v: 'redis' }, tier: 'redis' });
    expect(await b.get('rt', { id: 'order' })).toEqual({ value: { v: 'redis' }, tier: 'memory' }); // filled from Redis
    await direct.del(`${PREFIX}rt:order`);
    events.length = 0;
    expect(await c.get('rt', { id: 'order' })).toEqual({ value: { v: 'source' }, tier: 'source' });
    expect(events).toEqual(['load rt:order redis=0']);
    expect(await redisJson('rt:order')).toEqual({ v: 'source' }); // the load filled Redis too
  });
});

describe('strategies', () => {
  it('cache-only: memory and Redis, never a source', async () => {
    const [a, b] = [await node(), await node()];
    await a.set('co', { id: 1 }, { n: 1 });
    expect(await redisJson('co:1')).toEqual({ n: 1 });
    expect(a.peek('co', { id: 1 })).toEqual({ n: 1 });
    expect((await b.get('co', { id: 1 }))?.tier).toBe('redis');
    expect(await b.get('co', { id: 'absent' })).toBeUndefined();
    expect(await b.delete('co', { id: 1 })).toBe(true);
    expect(await redisJson('co:1')).toBeNull();
  });

  it('cache-aside: get() never loads; getOrLoad() loads once and fills both tiers', async () => {
    const [a, b] = [await node(), await node()];
    let calls = 0;
    const loader = async () => ({ computed: ++calls });
    expect(await a.get('ca', { id: 'x' })).toBeUndefined();
    expect(await a.getOrLoad('ca', { id: 'x' }, loader)).toEqual({ value: { computed: 1 }, tier: 'source' });
    expect(await a.getOrLoad('ca', { id: 'x' }, loader)).toEqual({ value: { computed: 1 }, tier: 'memory' });
    expect(await b.getOrLoad('ca', { id: 'x' }, loader)).toEqual({ value: { computed: 1 }, tier: 'redis' });
    expect(calls).toBe(1);
    expect(await a.getOrLoad('ca', { id: 'none' }, async () => undefined)).toBeUndefined();
    expect(await redisJson('ca:none')).toBeNull(); // nothing cached for "no value"
  });

  it('read-through: a miss loads from the source; set() writes the cache only', async () => {
    const a = await node();
    rows.set('rt:1', { from: 'source' });
    events.length = 0;
    expect(await a.get('rt', { id: 1 })).toEqual({ value: { from: 'source' }, tier: 'source' });
    await a.set('rt', { id: 2 }, { from: 'set' });
    expect(events).toEqual(['load rt:1 redis=0']);
    expect(rows.has('rt:2')).toBe(false);
    expect(await redisJson('rt:2')).toEqual({ from: 'set' });
  });

  it('write-through: the source first, then the cache; a source failure throws and leaves the cache as it was', async () => {
    const [a, b] = [await node(), await node()];
    events.length = 0;
    await a.set('wt', { id: 1 }, { v: 1 });
    expect(events).toEqual(['store wt:1 redis=0']); // Redis did not have it when the source stored it
    expect(rows.get('wt:1')).toEqual({ v: 1 });
    expect(await redisJson('wt:1')).toEqual({ v: 1 });

    failing.store = true;
    await expect(a.set('wt', { id: 1 }, { v: 2 })).rejects.toBeInstanceOf(CacheSourceError);
    failing.store = false;
    expect(a.peek('wt', { id: 1 })).toEqual({ v: 1 });
    expect(await redisJson('wt:1')).toEqual({ v: 1 });

    events.length = 0;
    await b.delete('wt', { id: 1 });
    expect(events).toEqual(['delete wt:1 redis=1']); // source first: Redis still had it
    expect(await redisJson('wt:1')).toBeNull();
    expect(rows.has('wt:1')).toBe(false);
  });

  it('write-behind: the cache now, the source later in a batch; reads see the waiting write', async () => {
    const a = await node();
    events.length = 0;
    await a.set('wb', { id: 1 }, { v: 1 });
    await a.set('wb', { id: 2 }, { v: 2 });
    await a.set('wb', { id: 1 }, { v: 3 }); // coalesced with the waiting write of wb:1
    expect(events).toEqual([]);
    expect(rows.has('wb:1')).toBe(false);
    expect(await redisJson('wb:1')).toEqual({ v: 3 });
    expect(a.stats().writeBehind.pending).toBe(2);

    // Dropped from both tiers before the flush: the read-through load answers the queued value.
    await direct.del(`${PREFIX}wb:1`);
    await a.invalidate('wb:1');
    expect(await a.get('wb', { id: 1 })).toEqual({ value: { v: 3 }, tier: 'source' });

    expect(await a.flush()).toBe(0);
    expect(events.sort()).toEqual(['store wb:1 redis=1', 'store wb:2 redis=1']); // Redis had both first
    expect(rows.get('wb:1')).toEqual({ v: 3 });
    expect(a.stats().writeBehind).toMatchObject({ pending: 0, written: 2 });
  });

  it('refuses a value that is not JSON before any tier or source sees it', async () => {
    const a = await node();
    events.length = 0;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(a.set('wb', { id: 'bad' }, cyclic)).rejects.toThrow(/wb: value for wb:bad is not JSON-serialisable/);
    await expect(a.set('wt', { id: 'bad' }, { n: 10n })).rejects.toBeInstanceOf(TypeError);
    expect(a.stats().writeBehind.pending).toBe(0);
    expect(events).toEqual([]);
    expect(a.peek('wb', { id: 'bad' })).toBeUndefined();
  });

  it('refresh-ahead: a hit late in its TTL is served at once and reloaded once in the background', async () => {
    const a = await node();
    rows.set('ra:1', { gen: 1 });
    expect((await a.get('ra', { id: 1 }))?.tier).toBe('source');
    rows.set('ra:1', { gen: 2 });
    await sleep(300); // past 10 % of the 2 s TTL: every hit is due (ratio 0.9)
    events.length = 0;
    const hits = await Promise.all([a.get('ra', { id: 1 }), a.get('ra', { id: 1 }), a.get('ra', { id: 1 })]);
    expect(hits.map((h) => h?.value)).toEqual([{ gen: 1 }, { gen: 1 }, { gen: 1 }]);
    for (let i = 0; i < 100 && a.peek<{ gen: number }>('ra', { id: 1 })?.gen !== 2; i++) await sleep(20);
    expect(a.peek('ra', { id: 1 })).toEqual({ gen: 2 });
    expect(events.filter((e) => e.startsWith('load'))).toHaveLength(1);
    expect(await redisJson('ra:1')).toEqual({ gen: 2 });
  });

  it('refresh-ahead: a Redis hit late in its TTL on another node also reloads in the background', async () => {
    const [a, b] = [await node(), await node()];
    rows.set('ra:2', { gen: 1 });
    await a.get('ra', { id: 2 });
    rows.set('ra:2', { gen: 2 });
    await sleep(300);
    events.length = 0;
    expect(await b.get('ra', { id: 2 })).toEqual({ value: { gen: 1 }, tier: 'redis' });
    for (let i = 0; i < 100 && (await redisJson('ra:2'))?.gen !== 2; i++) await sleep(20);
    expect(await redisJson('ra:2')).toEqual({ gen: 2 });
    expect(events.filter((e) => e.startsWith('load'))).toHaveLength(1);
  });

  it('getMany answers each key from its own tier, in order', async () => {
    const a = await node();
    rows.set('rt:m2', { m: 2 });
    await a.set('rt', { id: 'm1' }, { m: 1 });
    const hits = await a.getMany('rt', [{ id: 'm1' }, { id: 'm2' }, { id: 'm3' }]);
    expect(hits).toEqual([{ value: { m: 1 }, tier: 'memory' }, { value: { m: 2 }, tier: 'source' }, undefined]);
  });

  it('a source-backed namespace without its source registered says what to do', async () => {
    const c = await cacheNode({ databaseUrl: dep.url });
    await expect(c.get('rt', { id: 'zz' })).rejects.toThrow(/source "rec" is not registered; call cache.register\("rec", source\)/);
    expect((await c.health()).unregisteredSources).toEqual(['rec']);
  });
});

describe('PostgreSQL as the source of truth', () => {
  it('write-through stores rows in cache_records, reads them back through, queries and deletes them', async () => {
    const [a, b] = [await node(), await node()];
    await a.set('pgw', { id: 's1' }, { symbol: 'AAPL', signal_type: 'BUY' });
    await a.setMany('pgw', [
      { params: { id: 's2' }, value: { symbol: 'AAPL', signal_type: 'SELL' } },
      { params: { id: 's3' }, value: { symbol: 'MSFT', signal_type: 'BUY' } },
    ]);
    const db = new pg.Client(dep.url);
    await db.connect();
    try {
      const r = await db.query("select key, value from cache_records where namespace = 'pgw' order by key");
      expect(r.rows).toEqual([
        { key: 'pgw:s1', value: { symbol: 'AAPL', signal_type: 'BUY' } },
        { key: 'pgw:s2', value: { symbol: 'AAPL', signal_type: 'SELL' } },
        { key: 'pgw:s3', value: { symbol: 'MSFT', signal_type: 'BUY' } },
      ]);
      await a.invalidate('pgw:*'); // cache only: the rows stay
      expect(await b.get('pgw', { id: 's1' })).toEqual({ value: { symbol: 'AAPL', signal_type: 'BUY' }, tier: 'source' });
      const aapl = await b.query('pgw', { symbol: 'AAPL' });
      expect(aapl.map((x) => x.params.id).sort()).toEqual(['s1', 's2']);
      await b.delete('pgw', { id: 's1' });
      expect((await db.query("select count(*)::int as n from cache_records where key = 'pgw:s1'")).rows[0].n).toBe(0);
      expect(await a.get('pgw', { id: 's1' })).toBeUndefined();
    } finally {
      await db.end();
    }
  });
});
