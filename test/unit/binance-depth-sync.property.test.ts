// The Binance depth sync machine against a true book: random diff streams with drops, reorders, repeats, stale and early snapshots; every handed-over book is the truth at its update id.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DepthSync } from '../../src/feeds/binance/depth-sync.js';
import type { DepthEvent, DepthSnapshot, Level } from '../../src/feeds/binance/messages.js';
import { TradeWindow } from '../../src/feeds/binance/trade-window.js';
import { createBookUpdate } from '../../src/feeds/types.js';

type Side = Map<number, number>; // price → size
interface Truth { bids: [number, number][]; asks: [number, number][] }

const GRID = 12;
const bidPx = (i: number): number => 100 - i; // i = 1 is the best bid
const askPx = (i: number): number => 100 + i;

/** The exchange: one update id per change, every state kept. */
class Engine {
  bids: Side = new Map();
  asks: Side = new Map();
  id: number;
  history = new Map<number, Truth>();
  constructor(start: number, init: { bid: boolean; i: number; size: number }[]) {
    this.id = start;
    for (const l of init) if (l.size > 0) (l.bid ? this.bids : this.asks).set(l.bid ? bidPx(l.i) : askPx(l.i), l.size);
    this.keep();
  }
  /** Applies the changes one id each; returns the diff event covering them. */
  batch(changes: { bid: boolean; i: number; size: number }[]): DepthEvent {
    const U = this.id + 1;
    const b = new Map<number, number>();
    const a = new Map<number, number>();
    for (const c of changes) {
      const px = c.bid ? bidPx(c.i) : askPx(c.i);
      const side = c.bid ? this.bids : this.asks;
      if (c.size === 0) side.delete(px);
      else side.set(px, c.size);
      (c.bid ? b : a).set(px, c.size);
      this.id++;
      this.keep();
    }
    const levels = (m: Map<number, number>): Level[] => [...m].map(([p, s]) => [String(p), String(s)]);
    return { e: 'depthUpdate', E: this.id, s: 'X', U, u: this.id, b: levels(b), a: levels(a) };
  }
  snapshot(id: number, limit: number): DepthSnapshot {
    const t = this.history.get(id)!;
    const levels = (l: [number, number][]): Level[] => l.slice(0, limit).map(([p, s]) => [String(p), String(s)]);
    return { lastUpdateId: id, bids: levels(t.bids), asks: levels(t.asks) };
  }
  private keep(): void {
    this.history.set(this.id, {
      bids: [...this.bids].sort((x, y) => y[0] - x[0]),
      asks: [...this.asks].sort((x, y) => x[0] - y[0]),
    });
  }
}

// Changes lean to the top of the book, where removals pull unknown levels into view.
const change = fc.record({
  bid: fc.boolean(),
  i: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: GRID })),
  size: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 9 }) }),
});
const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('tick' as const), changes: fc.array(change, { minLength: 1, maxLength: 4 }), fault: fc.constantFrom('none', 'none', 'none', 'none', 'drop', 'swap', 'repeat') }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('snapshot' as const), at: fc.constantFrom('now', 'delivered', 'stale', 'any'), pick: fc.nat() }) },
);

describe('DepthSync (Binance snapshot + diff stream)', () => {
  it('hands over only books equal to the truth at their update id, through drops, reorders, repeats and stale snapshots, and gets back in sync', () => {
    // How often each path was taken over all runs: a generator that never reaches one proves nothing about it.
    const seen = { stale: 0, gaps: 0, depthResyncs: 0, lidInsideEvent: 0, books: 0 };
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5000 }),
      fc.array(change, { maxLength: 3 * GRID }),
      fc.array(step, { minLength: 30, maxLength: 150 }),
      fc.integer({ min: 1, max: 5 }),
      fc.constantFrom(1000, 6, 3),
      fc.integer({ min: 2, max: 50 }),
      (start, init, steps, depth, limitRaw, maxBuffered) => {
        const limit = Math.max(limitRaw, depth);
        const ex = new Engine(start, init);
        const wire: DepthEvent[] = []; // sent, not yet delivered
        let held: DepthEvent | null = null;
        let lastSent: DepthEvent | null = null;
        let firstBufferedU = -1; // the machine's first buffered U since it last asked
        const u = createBookUpdate(depth);
        const log: string[] = [];
        let shown = false;
        let lastSeq = -1;
        const m: DepthSync = new DepthSync({
          book(seq, _ts, fresh) {
            expect(fresh).toBe(!shown);
            if (!fresh) expect(seq).toBeGreaterThan(lastSeq);
            shown = true;
            lastSeq = seq;
            seen.books++;
            m.book.fill(u, depth);
            const t = ex.history.get(seq)!;
            const got = {
              bids: Array.from({ length: u.bidCount }, (_, k) => [u.bidPx[k], u.bidSz[k]]),
              asks: Array.from({ length: u.askCount }, (_, k) => [u.askPx[k], u.askSz[k]]),
            };
            expect(got, `book at ${seq} (${log.join(' ')})`).toEqual({ bids: t.bids.slice(0, depth), asks: t.asks.slice(0, depth) });
          },
          requestSnapshot() {
            log.push('ask');
          },
          lost(reason) {
            expect(shown).toBe(true);
            shown = false;
            if (reason === 'depth') seen.depthResyncs++;
            log.push(`lost:${reason}`);
          },
        }, { depth, snapshotLimit: limit, maxBuffered });

        const deliver = (ev: DepthEvent): void => {
          if (m.state !== 'live' && m.buffered === 0) firstBufferedU = ev.U;
          m.onDiff(ev);
        };
        const send = (ev: DepthEvent, fault: string): void => {
          eventEnds.add(ev.u);
          if (fault === 'drop') return;
          if (fault === 'swap' && !held) {
            held = ev;
            return;
          }
          wire.push(ev);
          if (held) wire.push(held);
          held = null;
          if (fault === 'repeat' && lastSent) wire.push(lastSent);
          lastSent = ev;
        };
        const eventEnds = new Set<number>();
        const answer = (id: number): void => {
          log.push(`snap@${id}`);
          m.onSnapshot(ex.snapshot(id, limit));
          if (m.state === 'live' && m.updateId > id && !eventEnds.has(id)) seen.lidInsideEvent++;
        };

        for (const s of steps) {
          if (s.t === 'tick') send(ex.batch(s.changes), s.fault);
          else if (s.t === 'deliver') for (let k = 0; k < s.n && wire.length > 0; k++) deliver(wire.shift()!);
          else if (m.awaitingSnapshot) {
            const oldest = ex.history.keys().next().value as number;
            const delivered = lastSeq; // anything the stream already showed
            const id = s.at === 'now' ? ex.id
              : s.at === 'delivered' ? Math.max(oldest, delivered)
              : s.at === 'stale' ? Math.max(oldest, firstBufferedU - 2)
              : oldest + (s.pick % (ex.id - oldest + 1));
            answer(id);
          }
        }

        // Then a quiet exchange: everything still on the wire arrives, and one clean event and
        // one snapshot of the present at a time must bring the machine to the present.
        if (held) wire.push(held);
        while (wire.length > 0) deliver(wire.shift()!);
        for (let round = 0; round < 4 && !(m.state === 'live' && m.updateId === ex.id); round++) {
          deliver(ex.batch([{ bid: true, i: 1 + (round % GRID), size: 1 + round }]));
          if (m.awaitingSnapshot) answer(ex.id);
        }
        expect(m.state, log.join(' ')).toBe('live');
        expect(m.updateId).toBe(ex.id);
        seen.stale += m.staleSnapshots;
        seen.gaps += m.gaps;
      },
    ), { numRuns: 400 });
    for (const [path, n] of Object.entries(seen)) expect(n, path).toBeGreaterThan(0);
  });

  it('asks for one snapshot at a time, and only after the first event is buffered', () => {
    let asks = 0;
    const m = new DepthSync({ book: () => undefined, requestSnapshot: () => void asks++, lost: () => undefined }, { depth: 2, snapshotLimit: 10 });
    expect(asks).toBe(0);
    const ev = (U: number, u: number): DepthEvent => ({ e: 'depthUpdate', E: 0, s: 'X', U, u, b: [['10', '1']], a: [] });
    m.onDiff(ev(5, 6));
    m.onDiff(ev(7, 9));
    expect(asks).toBe(1);
    m.onSnapshot({ lastUpdateId: 2, bids: [], asks: [] }); // 2 + 1 < 5: older than the stream
    expect(asks).toBe(2);
    expect(m.state).toBe('syncing');
    m.onSnapshot({ lastUpdateId: 7, bids: [['9', '1']], asks: [] }); // inside [7, 9]
    expect(m.state).toBe('live');
    expect(m.updateId).toBe(9);
    m.onSnapshot({ lastUpdateId: 100, bids: [], asks: [] }); // not asked for: ignored
    expect(m.updateId).toBe(9);
  });
});

describe('TradeWindow', () => {
  it('admits each id once when two connections deliver overlapping, increasing runs in any interleaving', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 1e9 }),
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.boolean(), { maxLength: 600 }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 0, max: 100 }),
      (base, n, order, startA, startB) => {
        // Each connection sees the trades from the moment it subscribed, in id order.
        const a = Array.from({ length: n }, (_, k) => base + k).slice(Math.min(startA, n));
        const b = Array.from({ length: n }, (_, k) => base + k).slice(Math.min(startB, n));
        const w = new TradeWindow(512);
        const admitted: number[] = [];
        let i = 0;
        let j = 0;
        const take = (id: number): void => void (w.admit(id) === 'new' && admitted.push(id));
        for (const fromA of order) {
          if (fromA && i < a.length) take(a[i++]);
          else if (j < b.length) take(b[j++]);
        }
        while (i < a.length) take(a[i++]);
        while (j < b.length) take(b[j++]);
        expect(new Set(admitted).size).toBe(admitted.length);
        expect(new Set(admitted)).toEqual(new Set([...a, ...b]));
      },
    ));
  });

  it('refuses ids more than the window below the highest: a repeat cannot be ruled out', () => {
    const w = new TradeWindow(4);
    expect(w.admit(10)).toBe('new');
    expect(w.admit(14)).toBe('new');
    expect(w.admit(10)).toBe('too-old');
    expect(w.admit(12)).toBe('new'); // skipped when 14 came, seen now
    expect(w.admit(12)).toBe('repeat');
    expect(w.admit(100)).toBe('new');
    expect(w.admit(99)).toBe('new');
  });
});
