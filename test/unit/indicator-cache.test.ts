// IndicatorCache over a fake candle source: incremental folds equal a series built over every candle;
// stored candles are read once, for the build; rebuilds on a new era, a ring that moved past the
// series, a stored bucket still open; PostgreSQL away; the LRU's bounds; one build shared; the 400s and 503.
import { describe, expect, it } from 'vitest';
import { IndicatorSeries, parseIndicatorNames, type IndicatorSpec, type SeriesCandle } from '../../src/analytics/indicators.js';
import {
  type CandleSource, IndicatorCache, IndicatorsUnavailableError, type MemoryRange, type SourceCandle, seriesReply,
} from '../../src/actors/front/indicators-http.js';

const specs = (names: string): readonly IndicatorSpec[] => {
  const p = parseIndicatorNames(names);
  if (!p.ok) throw new Error(p.message);
  return p.specs;
};

const candleAt = (n: number, closed = true): SourceCandle => {
  const close = 100 + 10 * Math.sin(n / 7) + (n % 5);
  return { time: n * 1000, close, high: close + 1, low: close - 1, volume: 1 + (n % 3), closed };
};

/** Buckets of one second: stored below `coverage`, memory from it, a ring of `ringCapacity` ending at `now`. */
class FakeSource implements CandleSource {
  readonly name = 'X 1s';
  readonly intervalMs = 1000;
  eraText = 'e1';
  coverage = 0;
  now = 0;
  ringCapacity = 64;
  memory = new Map<number, SourceCandle>();
  storedCandles: SourceCandle[] = [];
  storedCalls = 0;
  storedFails = false;
  storedGate?: Promise<void>;
  stored?: CandleSource['stored'] = async (fromMs, toMs, limit) => {
    this.storedCalls++;
    await this.storedGate;
    if (this.storedFails) throw new Error('connect ECONNREFUSED');
    return this.storedCandles.filter((c) => c.time >= fromMs && c.time < toMs).slice(-limit);
  };

  /** Candles of buckets from..to (inclusive) into memory; the last one open when `openLast`. */
  add(from: number, to: number, openLast = false): void {
    for (let n = from; n <= to; n++) this.memory.set(n, candleAt(n, !(openLast && n === to)));
    this.now = Math.max(this.now, to);
  }

  era(): string {
    return this.eraText;
  }

  range(): MemoryRange {
    const first = Math.max(this.coverage, this.now - this.ringCapacity + 1);
    return { first, firstMs: first * 1000, last: this.now };
  }

  closed(from: number, last: number, fold: (c: SeriesCandle) => void): { next: number; evicted: boolean } {
    let next = from;
    for (let n = from; n <= last; n++) {
      if (n <= this.now - this.ringCapacity) return { next, evicted: true };
      const c = this.memory.get(n);
      if (!c) continue;
      if (!c.closed) break;
      fold(c);
      next = n + 1;
    }
    return { next, evicted: false };
  }
}

/** The series built over every closed candle given, at once. */
function expected(names: string, candles: SourceCandle[], limit: number) {
  const s = new IndicatorSeries(specs(names), 1000);
  for (const c of candles) if (c.closed) s.update(c);
  return s.snapshot(limit);
}

const NAMES = 'sma5,ema5,rsi3,macd3_6_4,bb5_2,vwap';

describe('IndicatorCache', () => {
  it('folds only the candles closed since, and equals the series built over every candle', async () => {
    const src = new FakeSource();
    src.stored = undefined;
    src.add(1, 30, true);
    const cache = new IndicatorCache();
    const first = await cache.points(src, specs(NAMES), 1000);
    expect(first.points.map((p) => p.time)).toEqual(Array.from({ length: 29 }, (_, i) => (i + 1) * 1000)); // the open one left out
    expect(first.points).toEqual(expected(NAMES, [...src.memory.values()], 1000));
    expect(first.from).toBe(1000);
    expect(first.points[0].values.sma5).toBeNull(); // warming up
    expect(first.points[4].values.sma5).not.toBeNull();

    src.add(30, 40);
    src.memory.delete(35); // an empty bucket
    const second = await cache.points(src, specs(NAMES), 1000);
    expect(second.points).toEqual(expected(NAMES, [...src.memory.values()], 1000));
    expect(second.points.slice(0, first.points.length)).toEqual(first.points);
    expect(cache.stats()).toMatchObject({ hits: 1, rebuilds: 1, folds: 10, entries: 1 });

    const last = await cache.points(src, specs('vwap,' + NAMES), 3); // the same series, another spelling and order
    expect(last.points).toEqual(expected(NAMES, [...src.memory.values()], 3));
    expect(cache.stats()).toMatchObject({ hits: 2, rebuilds: 1, folds: 10 });
  });

  it('reads stored candles once, for the build, before the memory ones', async () => {
    const src = new FakeSource();
    src.storedCandles = Array.from({ length: 20 }, (_, i) => candleAt(i + 1));
    src.coverage = 21;
    src.add(21, 40);
    const cache = new IndicatorCache();
    const r = await cache.points(src, specs(NAMES), 1000);
    expect(r.points).toEqual(expected(NAMES, [...src.storedCandles, ...src.memory.values()], 1000));
    expect(src.storedCalls).toBeGreaterThanOrEqual(1);
    const calls = src.storedCalls;
    src.add(41, 45);
    const again = await cache.points(src, specs(NAMES), 1000);
    expect(again.points).toEqual(expected(NAMES, [...src.storedCandles, ...src.memory.values()], 1000));
    expect(src.storedCalls).toBe(calls);
    expect(cache.stats()).toMatchObject({ hits: 1, rebuilds: 1, folds: 5 });
  });

  it('looks further back for stored candles when the near span holds too few, up to 64 times it', async () => {
    const src = new FakeSource();
    // 7 candles wanted before bucket 1000: looked for from 1000 - 4 × 7, then from 1000 - 64 × 7.
    src.storedCandles = [candleAt(1), candleAt(600), candleAt(601)];
    src.coverage = 1000; // a long quiet span before memory
    src.add(1000, 1002);
    const cache = new IndicatorCache(256, 1 << 25, 10);
    const r = await cache.points(src, specs('sma2'), 10);
    expect(src.storedCalls).toBe(2);
    expect(r.points.map((p) => p.time)).toEqual([600, 601, 1000, 1001, 1002].map((n) => n * 1000));
  });

  it('a series starts at most capacity + warm-up candles back', async () => {
    const src = new FakeSource();
    src.stored = undefined;
    src.ringCapacity = 1000;
    src.add(1, 200);
    const cache = new IndicatorCache(256, 1 << 25, 50);
    const r = await cache.points(src, specs('sma10'), 50);
    expect(r.from).toBe((200 - 50 - 9 + 1) * 1000);
    expect(r.points.every((p) => p.values.sma10 !== null)).toBe(true);
  });

  it('rebuilds on a new era, when the ring moved past the series, and while a stored bucket is open', async () => {
    const src = new FakeSource();
    src.stored = undefined;
    src.add(1, 10);
    const cache = new IndicatorCache();
    await cache.points(src, specs('sma3'), 10);
    src.eraText = 'e2';
    await cache.points(src, specs('sma3'), 10);
    expect(cache.stats()).toMatchObject({ hits: 0, rebuilds: 2 });
    src.add(11, 200); // more than the ring holds since the last request
    const r = await cache.points(src, specs('sma3'), 10);
    expect(cache.stats()).toMatchObject({ hits: 0, rebuilds: 3 });
    expect(r.points).toEqual(expected('sma3', [...src.memory.values()].filter((c) => c.time >= (200 - 63) * 1000), 10));

    const held = new FakeSource();
    held.storedCandles = [candleAt(1), candleAt(2, false)];
    held.coverage = 3; // memory starts after a bucket not yet ended
    const open = await cache.points(held, specs('sma3'), 10);
    expect(open.points.map((p) => p.time)).toEqual([1000]);
    held.storedCandles = [candleAt(1), candleAt(2)];
    held.add(3, 4);
    const closed = await cache.points(held, specs('sma3'), 10);
    expect(closed.points.map((p) => p.time)).toEqual([1000, 2000, 3000, 4000]);
    expect(cache.stats()).toMatchObject({ hits: 0, rebuilds: 5 });
  });

  it('PostgreSQL away: 503 saying what is missing, or memory alone when it holds every warm-up asked for', async () => {
    const src = new FakeSource();
    src.storedCandles = Array.from({ length: 20 }, (_, i) => candleAt(i + 1));
    src.coverage = 21;
    src.add(21, 30);
    src.storedFails = true;
    const cache = new IndicatorCache();
    const q = new URLSearchParams({ names: 'sma5', limit: '10' });
    const refused = await seriesReply(src, 'X', '1s', q, cache);
    expect(refused.status).toBe(503);
    const body = JSON.parse(refused.body as string);
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).toMatch(/^stored candles before 1970-01-01T00:00:21\.000Z unavailable \(connect ECONNREFUSED\): 10 points of sma5 need 14 closed candles, memory holds 10/);
    await expect(cache.points(src, specs('sma5'), 10)).rejects.toBeInstanceOf(IndicatorsUnavailableError);

    const served = await cache.points(src, specs('sma5'), 6); // 6 points need 10 candles: memory has them
    expect(served.points.map((p) => p.time)).toEqual([25, 26, 27, 28, 29, 30].map((n) => n * 1000));
    expect(served.points.every((p) => p.values.sma5 !== null)).toBe(true);
    expect(served.from).toBe(21_000);
    src.storedFails = false;
    const full = await cache.points(src, specs('sma5'), 10); // more than the short series holds: rebuilt
    expect(full.from).toBe(1000);
    expect(full.points).toEqual(expected('sma5', [...src.storedCandles, ...src.memory.values()], 10));
  });

  it('holds at most maxEntries series and maxBytes of them, dropping the least recently used', async () => {
    const src = new FakeSource();
    src.stored = undefined;
    src.add(1, 5);
    const cache = new IndicatorCache(2, 1 << 30, 10);
    await cache.points(src, specs('sma1'), 1);
    await cache.points(src, specs('sma2'), 1);
    await cache.points(src, specs('sma1'), 1); // used: sma2 is now the oldest
    await cache.points(src, specs('sma3'), 1);
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: 2 * 8 * 10 * 2 });
    await cache.points(src, specs('sma1'), 1);
    expect(cache.stats()).toMatchObject({ hits: 2, rebuilds: 3 });

    const small = new IndicatorCache(256, 8 * 10 * 4 + 1, 10); // room for one bands series (1 + 3 columns)
    await small.points(src, specs('bb2'), 1);
    await small.points(src, specs('bb3'), 1);
    expect(small.stats()).toMatchObject({ entries: 1, bytes: 320 });
  });

  it('concurrent requests for one series share one build', async () => {
    const src = new FakeSource();
    src.storedCandles = [candleAt(1)];
    src.coverage = 2;
    src.add(2, 10);
    let open!: () => void;
    src.storedGate = new Promise((r) => (open = r));
    const cache = new IndicatorCache();
    const a = cache.points(src, specs('ema3'), 100);
    const b = cache.points(src, specs('ema3'), 100);
    open();
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.points).toEqual(rb.points);
    expect(ra.points).toHaveLength(10);
    expect(cache.stats()).toMatchObject({ hits: 1, rebuilds: 1 });
    expect(src.storedCalls).toBe(1); // one build
  });
});

describe('GET /indicators parameters', () => {
  const src = new FakeSource();
  src.stored = undefined;
  src.add(1, 5);
  const reply = async (q: Record<string, string>) => {
    const r = await seriesReply(src, 'X', '1s', new URLSearchParams(q), new IndicatorCache());
    return { status: r.status, body: JSON.parse(r.body as string) };
  };

  it('answers names as canonical keys, times in ISO 8601', async () => {
    const r = await reply({ names: 'rsi, macd,bb20,rsi14', limit: '2' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ symbol: 'X', interval: '1s', names: ['rsi14', 'macd12_26_9', 'bb20_2'], history_from: '1970-01-01T00:00:01.000Z' });
    expect(r.body.points).toEqual([
      { time: '1970-01-01T00:00:04.000Z', values: { rsi14: null, macd12_26_9: null, bb20_2: null } },
      { time: '1970-01-01T00:00:05.000Z', values: { rsi14: null, macd12_26_9: null, bb20_2: null } },
    ]);
  });

  it('400 naming the parameter', async () => {
    const names = await reply({ names: 'sma20,foo' });
    expect(names.status).toBe(400);
    expect(names.body.error.message).toMatch(/^names: "foo" is not an indicator name: expected sma<N>/);
    expect((await reply({})).body.error.message).toMatch(/^names: no indicator named/);
    expect((await reply({ names: 'sma0' })).body.error.message).toBe('names: "sma0": the period must be 1..500, not 0');
    expect((await reply({ names: 'x'.repeat(600) })).body.error.message).toBe('names: at most 512 characters, got 600');
    for (const limit of ['0', '1001', '-1', '1.5', 'abc', '']) {
      const r = await reply({ names: 'sma2', limit });
      expect(r.status, limit).toBe(400);
      expect(r.body.error.message).toMatch(/^limit: expected a whole number from 1 to 1000/);
    }
  });
});
