// Seqlocked symbol store under a real writer thread: readers never accept a torn record.
import { spawnWorker } from '../../src/actors/worker-url.js';
import { describe, expect, it } from 'vitest';
import { Book } from '../../src/book/book.js';
import { computeMetrics } from '../../src/book/metrics.js';
import {
  H_LAST_SEQ, METRIC_COUNT, R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_LEVELS, R_METRICS, R_SEQ,
} from '../../src/ring/layout.js';
import { SymbolStore, createStoreBuffer } from '../../src/ring/symbol-store.js';
import { EPOCH, writeRecordOf } from '../fixtures/store-writer.js';

const geometry = { depth: 5, rawCapacity: 64, historyCapacity: 64 };

/** A book of `depth` levels per side holding the given (price, size) pairs, best first. */
function bookOf(depth: number, bids: number[][], asks: number[][]): Book {
  const b = new Book(depth);
  b.applySnapshot(Float64Array.from([...bids, ...asks].flat()), 0, bids.length, asks.length);
  return b;
}

describe('SymbolStore', () => {
  it('writeRaw stores seq, epoch, timestamps, the book\'s metrics and its levels, zero-filled to depth', () => {
    const s = new SymbolStore(createStoreBuffer(geometry), geometry);
    const book = bookOf(geometry.depth, [[100, 5], [99, 10]], [[101, 3]]);
    const slot = s.writeRaw(9, 4, 1234.5, 1200, book);
    expect(slot).toBe(s.rawSlot(9));
    const out = new Float64Array(s.rawFields);
    expect(s.readRaw(9, 4, out, 0)).toBe(true);
    expect([out[R_SEQ], out[R_EPOCH], out[R_FEED_TS], out[R_EXCHANGE_TS]]).toEqual([9, 4, 1234.5, 1200]);
    const metrics = new Float64Array(METRIC_COUNT);
    computeMetrics(book, metrics, 0);
    expect([...out.subarray(R_METRICS, R_METRICS + METRIC_COUNT)]).toEqual([...metrics]);
    expect([out[R_BID_COUNT], out[R_ASK_COUNT]]).toEqual([2, 1]);
    const d = geometry.depth;
    expect([...out.subarray(R_LEVELS, R_LEVELS + 2 * d)]).toEqual([100, 5, 99, 10, 0, 0, 0, 0, 0, 0]);
    expect([...out.subarray(R_LEVELS + 2 * d, R_LEVELS + 4 * d)]).toEqual([101, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    const back = new Book(d);
    back.loadFromRecord(out, 0);
    expect([back.bidCount, back.askCount, back.bidPx[1], back.askSz[0]]).toEqual([2, 1, 99, 3]);
  });

  it('writeRaw refuses a book of another depth before touching the slot', () => {
    const s = new SymbolStore(createStoreBuffer(geometry), geometry);
    s.writeRaw(1, 3, 1, 1, bookOf(geometry.depth, [[10, 1]], [[11, 1]]));
    expect(() => s.writeRaw(65, 3, 2, 2, bookOf(geometry.depth + 1, [[10, 1]], [[11, 1]]))).toThrow(RangeError);
    expect(s.readRaw(1, 3, new Float64Array(s.rawFields), 0)).toBe(true); // seq 65's slot: seq 1 intact
  });

  it('finds a record by seq and epoch, and not once it is overwritten', () => {
    const s = new SymbolStore(createStoreBuffer(geometry), geometry);
    const book = bookOf(geometry.depth, [[10, 1]], [[11, 1]]);
    const out = new Float64Array(s.rawFields);
    s.writeRaw(1, 3, 1, 1, book);
    expect(s.readRaw(1, 3, out, 0)).toBe(true);
    expect(s.readRaw(1, 4, out, 0)).toBe(false); // another epoch
    s.writeRaw(65, 3, 2, 2, book); // same slot as 1 (capacity 64)
    expect(s.readRaw(1, 3, out, 0)).toBe(false);
    expect(s.readRaw(65, 3, out, 0)).toBe(true);
  });

  it('detects a writer that died inside its window and can be repaired', () => {
    const sab = createStoreBuffer(geometry);
    const s = new SymbolStore(sab, geometry);
    s.beginWrite(0);
    expect(s.headerTorn()).toBe(true);
    expect(s.readHeader()).toBe(false);
    s.resetHeaderLock();
    expect(s.readHeader()).toBe(true);
  });

  it('never hands a reader a torn record while a thread writes 1,000,000 of them', async () => {
    const count = 1_000_000;
    const tight = { ...geometry, rawCapacity: 4 }; // the writer is back at every slot after 4 records
    const sab = createStoreBuffer(tight);
    const s = new SymbolStore(sab, tight);
    const w = spawnWorker(new URL('../fixtures/store-writer.ts', import.meta.url), { workerData: { sab, geometry: tight, count } });
    let done = false;
    w.on('exit', () => (done = true));
    // The record each seq must have, written the writer's way into a store no other thread sees.
    const ref = new SymbolStore(createStoreBuffer(tight), tight);
    const refBook = new Book(geometry.depth);
    const refLevels = new Float64Array(4 * geometry.depth);
    const out = new Float64Array(s.rawFields);
    let accepted = 0;
    let reads = 0;
    while (!done) {
      for (let i = 0; i < 1000; i++) {
        if (!s.readHeader()) continue;
        // The oldest record in the ring: its slot is the writer's next, so reads race the
        // overwrite, and a broken seqlock shows as a torn record within the run.
        const seq = s.header[H_LAST_SEQ] - (tight.rawCapacity - 1);
        if (seq < 1) continue;
        reads++;
        if (!s.readRaw(seq, EPOCH, out, 0)) continue; // overwritten meanwhile: fine, never wrong
        const at = writeRecordOf(ref, seq, refBook, refLevels);
        for (let k = R_SEQ; k < s.rawFields; k++) {
          if (out[k] !== ref.f64[at + k]) throw new Error(`torn record accepted: seq ${seq}, field ${k} = ${out[k]}, expected ${ref.f64[at + k]}`);
        }
        accepted++;
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(reads).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(100);
    expect(s.readHeader() && s.header[H_LAST_SEQ]).toBe(count);
  });
});

describe('SymbolStore after a writer died inside a write window (regression)', () => {
  it('keeps the seqlock parity right: complete records readable, half-written ones rejected', () => {
    const sab = createStoreBuffer(geometry);
    const s = new SymbolStore(sab, geometry);
    const slot = s.rawSlot(3);
    s.beginWrite(slot * 2); // the first writer dies here: the version stays odd
    const successor = new SymbolStore(sab, geometry);
    successor.writeRaw(3, 1, 1, 1, bookOf(geometry.depth, [[10, 1]], [[11, 1]]));
    const out = new Float64Array(s.rawFields);
    expect(s.readRaw(3, 1, out, 0)).toBe(true); // complete: readable
    successor.beginWrite(slot * 2); // half-written seq 67 (same slot)
    successor.f64[slot + R_SEQ] = 67;
    successor.f64[slot + R_EPOCH] = 1;
    expect(s.readRaw(67, 1, out, 0)).toBe(false); // never accepted while the window is open
    successor.endWrite(slot * 2);
    expect(s.readRaw(67, 1, out, 0)).toBe(true);
  });
});
