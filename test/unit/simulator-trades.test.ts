// SimulatorFeed trades: printed at the best ask (taker buy) or best bid (taker sell) of the snapshot just offered, ids unique across runs.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SYMBOLS, SimulatorFeed } from '../../src/feeds/simulator.js';
import { TRADE_ID_PATTERN, type BookUpdate, type FeedSink, type TradeUpdate } from '../../src/feeds/types.js';

/** What a trade is checked against: the top of the book offered before it. */
interface Top { symbol: string; bidPx: number; bidSz: number; askPx: number; askSz: number; exchangeTs: number }

const topOf = (u: BookUpdate): Top =>
  ({ symbol: u.symbol, bidPx: u.bidPx[0], bidSz: u.bidSz[0], askPx: u.askPx[0], askSz: u.askSz[0], exchangeTs: u.exchangeTs });

/** Checks `t` against `top`: the level it printed at, its size, its time and its id. */
function expectAgainst(t: TradeUpdate, top: Top): void {
  expect(t.symbol).toBe(top.symbol);
  expect(t.price).toBe(t.side === 'buy' ? top.askPx : top.bidPx);
  expect(t.size).toBeGreaterThan(0);
  expect(t.size).toBeLessThanOrEqual(t.side === 'buy' ? top.askSz : top.bidSz);
  expect(t.exchangeTs).toBe(top.exchangeTs);
  expect(t.tradeId).toMatch(TRADE_ID_PATTERN);
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.resetModules();
});

describe('SimulatorFeed.generateTrade', () => {
  it('prints at the snapshot\'s best ask (buy) or best bid (sell), within that level\'s size, on its size grid, ids unique', () => {
    const sim = new SimulatorFeed({ symbols: [...DEFAULT_SYMBOLS], updatesPerSecond: 0, depth: 5, seed: 11 });
    const ids = new Set<string>();
    const sides = { buy: 0, sell: 0 };
    const updates = 40_000;
    for (let n = 0; n < updates; n++) {
      const s = n % DEFAULT_SYMBOLS.length;
      const top = topOf(sim.generateOne(s));
      const t = sim.generateTrade(s);
      if (t === undefined) continue;
      expectAgainst(t, top);
      const sizeDen = top.askPx >= 1_000 ? 1_000 : 1; // sizes: whole shares, or thousandths of a coin
      expect(Math.abs(t.size * sizeDen - Math.round(t.size * sizeDen))).toBeLessThan(1e-6);
      ids.add(t.tradeId);
      sides[t.side]++;
    }
    expect(ids.size).toBe(sim.tradesGenerated);
    expect(sim.tradesGenerated / updates).toBeGreaterThan(0.22); // default tradesPerUpdate: 0.25
    expect(sim.tradesGenerated / updates).toBeLessThan(0.28);
    expect(sides.buy / sim.tradesGenerated).toBeGreaterThan(0.45);
    expect(sides.sell / sim.tradesGenerated).toBeGreaterThan(0.45);
  });

  it('leaves the books of a seed as they are: trades draw from a PRNG of their own', () => {
    const books = (tradesPerUpdate: number) => {
      const sim = new SimulatorFeed({ symbols: ['US.AAPL', 'BTC-USD'], updatesPerSecond: 0, depth: 3, seed: 5, tradesPerUpdate });
      const out: number[] = [];
      for (let n = 0; n < 2_000; n++) {
        const u = sim.generateOne(n % 2);
        out.push(u.bidPx[0], u.bidSz[0], u.askPx[0], u.askSz[2]);
        sim.generateTrade(n % 2);
      }
      return out;
    };
    expect(books(0.9)).toEqual(books(0));
  });

  it('prints nothing with tradesPerUpdate 0, needs the snapshot first, and names a bad option', () => {
    const sim = new SimulatorFeed({ symbols: ['US.AAPL'], updatesPerSecond: 0, depth: 3, tradesPerUpdate: 0 });
    for (let n = 0; n < 1_000; n++) {
      sim.generateOne(0);
      expect(sim.generateTrade(0)).toBeUndefined();
    }
    expect(() => sim.generateTrade(0)).toThrow(/must follow generateOne/); // once per snapshot
    expect(() => new SimulatorFeed({ symbols: ['A'], updatesPerSecond: 1, depth: 1, tradesPerUpdate: 1.5 })).toThrow(/tradesPerUpdate/);
    expect(() => new SimulatorFeed({ symbols: ['A'], updatesPerSecond: 1, depth: 1, tradesPerUpdate: Number.NaN })).toThrow(/tradesPerUpdate/);
  });

  it('gives trade ids no earlier run gave: two processes, same seed, started at different times', async () => {
    const idsOfRun = async (startMs: number) => {
      vi.resetModules(); // a fresh module: a new process
      vi.spyOn(Date, 'now').mockReturnValue(startMs);
      const { SimulatorFeed: Fresh } = await import('../../src/feeds/simulator.js');
      const sim = new Fresh({ symbols: ['US.AAPL', 'ETH-USD'], updatesPerSecond: 0, depth: 3, seed: 1, tradesPerUpdate: 1 });
      vi.restoreAllMocks();
      const ids: string[] = [];
      for (let n = 0; n < 500; n++) {
        sim.generateOne(n % 2);
        ids.push(sim.generateTrade(n % 2)!.tradeId);
      }
      return ids;
    };
    const t0 = Date.UTC(2026, 0, 5, 14, 30);
    const first = await idsOfRun(t0);
    const second = await idsOfRun(t0 + 1); // restarted a millisecond later
    for (const id of [...first, ...second]) expect(id).toMatch(TRADE_ID_PATTERN);
    expect(new Set([...first, ...second]).size).toBe(first.length + second.length);
  });

  it('gives two simulators of one process distinct ids even when created in the same millisecond', () => {
    vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 0, 5));
    const make = () => new SimulatorFeed({ symbols: ['US.AAPL'], updatesPerSecond: 0, depth: 3, seed: 1, tradesPerUpdate: 1 });
    const [a, b] = [make(), make()];
    a.generateOne(0);
    b.generateOne(0);
    expect(a.generateTrade(0)!.tradeId).not.toBe(b.generateTrade(0)!.tradeId);
  });
});

describe('SimulatorFeed timer with trades', () => {
  it('offers each trade right after the book it prints against, never after a refused book, and counts them', async () => {
    const symbols = ['US.AAPL', 'BTC-USD', 'DOGE-USD'];
    const sim = new SimulatorFeed({ symbols, updatesPerSecond: 500, depth: 5, seed: 9, tradesPerUpdate: 0.5 });
    let last: { top: Top; taken: boolean; traded: boolean } | undefined;
    let offers = 0;
    // Checked after stop: an expect failing inside the timer's callback would not fail this test.
    const seen: { t: TradeUpdate; after: NonNullable<typeof last> }[] = [];
    const sink: FeedSink = {
      offer(u: BookUpdate): boolean {
        offers++;
        last = { top: topOf(u), taken: offers % 3 !== 0, traded: false }; // a full queue now and then
        return last.taken;
      },
      trade(t: TradeUpdate): boolean {
        seen.push({ t: { ...t }, after: { ...last! } });
        last!.traded = true;
        return seen.length % 5 !== 0;
      },
      malformed(): void { throw new Error('simulator never reports malformed input'); },
    };
    sim.start(sink);
    await new Promise((r) => setTimeout(r, 300));
    await sim.stop();
    const trades = seen.length;
    for (const { t, after } of seen) {
      expect(after.taken).toBe(true);
      expect(after.traded).toBe(false); // one trade per book at most
      expectAgainst(t, after.top);
    }
    expect(new Set(seen.map(({ t }) => t.tradeId)).size).toBe(trades);
    expect(trades).toBeGreaterThan(50);
    expect(sim.tradesOffered).toBe(trades);
    expect(sim.tradesDropped).toBe(Math.floor(trades / 5));
    expect(sim.stats()).toEqual({ simulatorTradesOffered: trades, simulatorTradesDropped: Math.floor(trades / 5) });
  });

  it('a sink without trades gets only books', async () => {
    const sim = new SimulatorFeed({ symbols: ['US.AAPL'], updatesPerSecond: 500, depth: 3, seed: 2 });
    let books = 0;
    sim.start({ offer: () => (books++, true), malformed: () => undefined });
    await new Promise((r) => setTimeout(r, 100));
    await sim.stop();
    expect(books).toBeGreaterThan(0);
    expect(sim.tradesGenerated).toBe(0);
  });
});
