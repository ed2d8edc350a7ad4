// The Kraken book state machine against a true book: random update sequences with random faults; every book it lets out is the exchange's.
//
// The exchange side is the test server's model (TrueBook + DepthView: the top `depth` window a
// subscription is sent, with no deletes for levels pushed past it) and its checksum is the
// guide's rule read literally on wire text, so nothing here shares code with what is checked.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KrakenBook, type BookStep } from '../../src/feeds/kraken/book-state.js';
import type { WireLevel } from '../../src/feeds/kraken/messages.js';
import { TradeWindow } from '../../src/feeds/trade-window.js';
import { createBookUpdate } from '../../src/feeds/types.js';
import { DepthView, TrueBook, type IntLevel, type Op, type PairSpec } from '../helpers/exchanges/kraken-server.js';

type Fault = 'none' | 'drop' | 'corrupt' | 'flip' | 'duplicate';

const op: fc.Arbitrary<Op> = fc.record({
  side: fc.constantFrom('bid' as const, 'ask' as const),
  offset: fc.integer({ min: 1, max: 40 }),
  lots: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 2_000_000_000 }) }),
});

const scenario = fc.record({
  pricePrecision: fc.integer({ min: 0, max: 5 }),
  qtyPrecision: fc.integer({ min: 0, max: 8 }),
  depth: fc.constantFrom(10, 25),
  hand: fc.integer({ min: 1, max: 10 }),
  init: fc.array(op.filter((o) => o.lots > 0), { minLength: 5, maxLength: 60 }),
  steps: fc.array(fc.record({
    ops: fc.array(op, { minLength: 1, maxLength: 4 }),
    fault: fc.oneof(
      { weight: 12, arbitrary: fc.constant<Fault>('none') },
      { weight: 1, arbitrary: fc.constantFrom<Fault>('drop', 'corrupt', 'flip', 'duplicate') },
    ),
    /** Updates of the old subscription that still arrive before a requested snapshot. */
    lag: fc.integer({ min: 0, max: 3 }),
    /** A requested snapshot that arrives at this step carries a wrong checksum. */
    badSnapshot: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  }), { maxLength: 150 }),
});

const wire = (book: TrueBook, levels: readonly IntLevel[]): WireLevel[] =>
  book.numbers(levels).map(([price, qty]) => ({ price, qty }));

describe('KrakenBook (state machine) against the exchange', () => {
  it('hands over only books equal to the exchange top-N, resets after every resync, never raises a false alarm', () => {
    fc.assert(fc.property(scenario, (sc) => {
      const spec: PairSpec = { symbol: 'X/Y', pricePrecision: sc.pricePrecision, qtyPrecision: sc.qtyPrecision, mid: 1_000_000 };
      const truth = new TrueBook(spec);
      truth.apply(sc.init);
      const client = new KrakenBook(sc.depth, { price: sc.pricePrecision, qty: sc.qtyPrecision });
      const out = createBookUpdate(sc.hand);
      let view = new DepthView(truth, sc.depth);
      let handed = 0;
      let expectReset = true;
      let tainted = false; // the client was fed something other than the exchange's stream since its last snapshot
      let snapshotIn = -1; // steps until a requested snapshot arrives; -1: none requested

      const check = (step: BookStep, wasLive: boolean): void => {
        if (step === 'book') {
          client.book.fill(out, sc.hand);
          const got = {
            bids: Array.from({ length: out.bidCount }, (_, i) => [out.bidPx[i], out.bidSz[i]]),
            asks: Array.from({ length: out.askCount }, (_, i) => [out.askPx[i], out.askSz[i]]),
          };
          expect(got).toEqual({ bids: truth.numbers(truth.top('bid', sc.hand)), asks: truth.numbers(truth.top('ask', sc.hand)) });
          expect(client.book.bids.count).toBeLessThanOrEqual(sc.depth);
          expect(client.book.asks.count).toBeLessThanOrEqual(sc.depth);
          expect(client.reset).toBe(expectReset);
          expect(client.verified).toBe(++handed);
          expectReset = false;
        } else if (step === 'mismatch') {
          expect(client.isLive).toBe(false);
          expect(client.wasLive).toBe(wasLive);
          expectReset = true;
          if (snapshotIn < 0) snapshotIn = 0;
        }
      };

      const snapshot = (corrupt: boolean): void => {
        view = new DepthView(truth, sc.depth); // unsubscribe + subscribe: a new window
        const s = view.snapshot();
        const checksum = corrupt ? (truth.checksum() ^ 1) >>> 0 : truth.checksum();
        const step = client.snapshot(wire(truth, s.bids), wire(truth, s.asks), checksum);
        if (!corrupt) {
          expect(step).toBe('book');
          tainted = false;
        } else {
          expect(step).toBe('mismatch');
        }
        check(step, false);
      };

      snapshot(false);
      for (const st of sc.steps) {
        if (snapshotIn === 0) {
          snapshotIn = -1;
          snapshot(st.badSnapshot);
          if (snapshotIn === 0) snapshotIn = st.lag; // a corrupted snapshot: ask again
        } else if (snapshotIn > 0) {
          snapshotIn--;
        }
        truth.apply(st.ops);
        const d = view.diff();
        if (!d) continue;
        const checksum = truth.checksum();
        const wasLive = client.isLive;
        const deliver = (bids: IntLevel[], asks: IntLevel[], c: number): BookStep => {
          const live = client.isLive;
          const step = client.update(wire(truth, bids), wire(truth, asks), c);
          if (!live) expect(step).toBe('ignored'); // nothing between a mismatch and the next snapshot
          check(step, live);
          return step;
        };
        let step: BookStep;
        switch (st.fault) {
          case 'drop':
            tainted = true;
            continue;
          case 'corrupt':
            step = deliver(d.bids, d.asks, (checksum ^ 1) >>> 0);
            expect(step).toBe(wasLive ? 'mismatch' : 'ignored');
            break;
          case 'flip': {
            const [side, levels] = d.bids.length ? (['bids', d.bids] as const) : (['asks', d.asks] as const);
            const wrong = levels.map(([t, l], i): IntLevel => (i === 0 ? [t, l + 1] : [t, l]));
            tainted = true;
            step = side === 'bids' ? deliver(wrong, d.asks, checksum) : deliver(d.bids, wrong, checksum);
            break;
          }
          case 'duplicate':
            // Levels carry absolute quantities: the same update twice leaves the same book.
            step = deliver(d.bids, d.asks, checksum);
            if (step === 'book') step = deliver(d.bids, d.asks, checksum);
            break;
          default:
            step = deliver(d.bids, d.asks, checksum);
        }
        // The exchange's own stream, unaltered since a verified snapshot, always verifies.
        if (wasLive && !tainted && st.fault !== 'corrupt') expect(step).toBe('book');
        if (step === 'mismatch' && snapshotIn === 0) snapshotIn = st.lag;
      }
    }), { numRuns: 150 });
  });

  it('without the pair precision it verifies nothing', () => {
    const k = new KrakenBook(10);
    expect(k.snapshot([{ price: 1, qty: 1 }], [{ price: 2, qty: 1 }], 0)).toBe('unverifiable');
    expect(k.isLive).toBe(false);
    expect(k.update([{ price: 1, qty: 2 }], [], 0)).toBe('ignored');
  });

  it('desync() reports whether the book was live, once', () => {
    const truth = new TrueBook({ symbol: 'X/Y', pricePrecision: 1, qtyPrecision: 2, mid: 1000 });
    truth.apply([{ side: 'bid', offset: 1, lots: 5 }, { side: 'ask', offset: 2, lots: 7 }]);
    const k = new KrakenBook(10, { price: 1, qty: 2 });
    const s = new DepthView(truth, 10).snapshot();
    expect(k.snapshot(wire(truth, s.bids), wire(truth, s.asks), truth.checksum())).toBe('book');
    expect(k.desync()).toBe(true);
    expect(k.desync()).toBe(false);
  });
});

describe('TradeWindow', () => {
  it('lets each id through once while it is within the window', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 500 }), (ids) => {
      const w = new TradeWindow(400); // more distinct ids than can occur: nothing is forgotten
      const passed: number[] = [];
      for (const id of ids) if (w.add(id)) passed.push(id);
      expect(passed).toEqual([...new Set(ids)]);
    }));
  });

  it('forgets the oldest ids beyond its size, and stays bounded', () => {
    const w = new TradeWindow(64);
    for (let id = 1; id <= 1000; id++) expect(w.add(id)).toBe(true);
    expect(w.add(1000)).toBe(false);
    expect(w.add(937)).toBe(false); // the 64th newest
    expect(w.add(936)).toBe(true); // forgotten
  });
});
