// DepthSync started at connection open: a symbol whose book never changes gets its book from the snapshot alone; the first diff after it must span lastUpdateId+1.
import { describe, expect, it } from 'vitest';
import { DepthSync } from '../../src/feeds/binance/depth-sync.js';
import type { DepthEvent } from '../../src/feeds/binance/messages.js';

function rig() {
  const books: { seq: number; fresh: boolean }[] = [];
  const lost: string[] = [];
  let requests = 0;
  const sync: DepthSync = new DepthSync({
    book: (seq, _ts, fresh) => books.push({ seq, fresh }),
    requestSnapshot: () => requests++,
    lost: (reason) => lost.push(reason),
  }, { depth: 5, snapshotLimit: 100 });
  return { sync, books, lost, requests: () => requests };
}

const diff = (U: number, u: number): DepthEvent => ({ e: 'depthUpdate', E: 1, s: 'X', U, u, b: [['99.5', '2']], a: [] });
const snapshot = { lastUpdateId: 100, bids: [['99', '1'], ['98', '1']] as [string, string][], asks: [['101', '1']] as [string, string][] };

describe('DepthSync.start', () => {
  it('asks for a snapshot at once and hands over its book with no diff at all', () => {
    const r = rig();
    r.sync.start();
    expect(r.requests()).toBe(1);
    r.sync.onSnapshot(snapshot);
    expect(r.books).toEqual([{ seq: 100, fresh: true }]);
    r.sync.onDiff(diff(101, 103)); // spans lastUpdateId+1: applied
    expect(r.books.at(-1)).toEqual({ seq: 103, fresh: false });
  });

  it('re-syncs when the first diff after an early snapshot does not reach back to it', () => {
    const r = rig();
    r.sync.start();
    r.sync.onSnapshot(snapshot);
    r.sync.onDiff(diff(105, 107)); // 101-104 missed
    expect(r.lost).toEqual(['gap']);
    expect(r.requests()).toBe(2);
    expect(r.books).toEqual([{ seq: 100, fresh: true }]);
  });
});
