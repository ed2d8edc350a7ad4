// SimulatorFeed: book invariants over many synchronous updates, reproducibility, and the timer's rate.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SYMBOLS, initialMid, SimulatorFeed, tickDenFor } from '../../src/feeds/simulator.js';
import { KIND_SNAPSHOT, type BookUpdate, type FeedSink } from '../../src/feeds/types.js';

const onGrid = (px: number, den: number): boolean => Math.abs(px * den - Math.round(px * den)) < 1e-6;

describe('SimulatorFeed.generateOne', () => {
  it('never produces a crossed, locked, unordered, off-grid or empty-size book over 100,000 updates', () => {
    const depth = 10;
    const sim = new SimulatorFeed({ symbols: [...DEFAULT_SYMBOLS], updatesPerSecond: 0, depth, seed: 7 });
    const dens = DEFAULT_SYMBOLS.map((s) => tickDenFor(initialMid(s)));
    const v = { crossed: 0, unordered: 0, size: 0, grid: 0, count: 0, symbol: 0, kind: 0 };
    const seenMids = DEFAULT_SYMBOLS.map(() => new Set<number>());
    for (let n = 0; n < 100_000; n++) {
      const s = n % DEFAULT_SYMBOLS.length;
      const u = sim.generateOne(s);
      if (u.symbol !== DEFAULT_SYMBOLS[s]) v.symbol++;
      if (u.kind !== KIND_SNAPSHOT) v.kind++;
      if (u.bidCount !== depth || u.askCount !== depth) v.count++;
      if (u.bidPx[0] >= u.askPx[0]) v.crossed++;
      for (let i = 0; i < depth; i++) {
        if (i > 0 && !(u.bidPx[i] < u.bidPx[i - 1] && u.askPx[i] > u.askPx[i - 1])) v.unordered++;
        if (!(u.bidSz[i] > 0 && u.askSz[i] > 0 && u.bidPx[i] > 0)) v.size++;
        if (!onGrid(u.bidPx[i], dens[s]) || !onGrid(u.askPx[i], dens[s])) v.grid++;
      }
      seenMids[s].add(u.bidPx[0]);
    }
    expect(v).toEqual({ crossed: 0, unordered: 0, size: 0, grid: 0, count: 0, symbol: 0, kind: 0 });
    expect(sim.generated).toBe(100_000);
    for (const set of seenMids) expect(set.size).toBeGreaterThan(10); // prices do move
  });

  it('starts near the table price for known names and at 10..500 for others', () => {
    const sim = new SimulatorFeed({ symbols: ['US.AAPL', 'BTC-USD', 'ZZ.UNKNOWN'], updatesPerSecond: 0, depth: 5 });
    const aapl = sim.generateOne(0).bidPx[0];
    expect(aapl).toBeGreaterThan(185);
    expect(aapl).toBeLessThan(195);
    const btc = sim.generateOne(1);
    expect(btc.bidPx[0]).toBeGreaterThan(85_000);
    expect(onGrid(btc.bidPx[0], 2)).toBe(true);
    const other = initialMid('ZZ.UNKNOWN');
    expect(other).toBeGreaterThanOrEqual(10);
    expect(other).toBeLessThanOrEqual(500);
    expect(initialMid('ZZ.UNKNOWN')).toBe(other);
  });

  it('same seed gives the same updates; another seed does not', () => {
    const run = (seed: number): number[] => {
      const sim = new SimulatorFeed({ symbols: ['US.AAPL', 'ETH-USD'], updatesPerSecond: 0, depth: 3, seed });
      const out: number[] = [];
      for (let n = 0; n < 500; n++) {
        const u = sim.generateOne(n % 2);
        out.push(...u.bidPx, ...u.bidSz, ...u.askPx, ...u.askSz);
      }
      return out;
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('names the bad option', () => {
    expect(() => new SimulatorFeed({ symbols: [], updatesPerSecond: 1, depth: 1 })).toThrow(/symbols/);
    expect(() => new SimulatorFeed({ symbols: ['A'], updatesPerSecond: -1, depth: 1 })).toThrow(/updatesPerSecond/);
    expect(() => new SimulatorFeed({ symbols: ['A'], updatesPerSecond: 1, depth: 0 })).toThrow(/depth/);
  });
});

describe('SimulatorFeed timer', () => {
  it('delivers roughly the configured rate per symbol, counts refusals as dropped, and stops', async () => {
    const symbols = ['US.AAPL', 'BTC-USD'];
    const rate = 1000;
    const sim = new SimulatorFeed({ symbols, updatesPerSecond: rate, depth: 5, seed: 3 });
    const perSymbol = new Map<string, number>();
    let calls = 0;
    const sink: FeedSink = {
      offer(u: BookUpdate): boolean {
        calls++;
        perSymbol.set(u.symbol, (perSymbol.get(u.symbol) ?? 0) + 1);
        return calls % 4 !== 0; // a full queue now and then
      },
      malformed(): void { throw new Error('simulator never reports malformed input'); },
    };
    const t0 = performance.now();
    sim.start(sink);
    await new Promise((r) => setTimeout(r, 500));
    await sim.stop();
    const callsAtStop = calls;
    const elapsed = performance.now() - t0;
    const expected = (rate * elapsed) / 1000;
    for (const s of symbols) {
      const got = perSymbol.get(s) ?? 0;
      expect(got).toBeGreaterThan(expected * 0.3);
      expect(got).toBeLessThan(expected * 2);
    }
    expect(sim.offered).toBe(calls);
    expect(sim.dropped).toBe(Math.floor(calls / 4));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(callsAtStop); // nothing after stop
  });
});
