// TradeBacklog: arrival order per owner, an owner whose queue is full held back without holding up the others, a hard bound.
import { describe, expect, it } from 'vitest';
import { TradeBacklog } from '../../src/actors/feed/trade-backlog.js';
import { createTradeUpdate } from '../../src/feeds/types.js';

/** Pushes `ids` as trades of `owner` (one reused TradeUpdate; id = price). */
function push(b: TradeBacklog, owner: number, ...ids: number[]): boolean[] {
  const t = createTradeUpdate();
  return ids.map((n) => {
    t.tradeId = String(n);
    t.price = n;
    t.size = 1;
    t.side = n % 2 === 0 ? 'buy' : 'sell';
    t.exchangeTs = n;
    return b.push(owner, t, 1000 + n);
  });
}

describe('TradeBacklog', () => {
  it('hands out entries oldest first; a refused owner keeps the rest of its entries, in order, while the others go', () => {
    const b = new TradeBacklog(8, 3);
    push(b, 0, 1, 2);
    push(b, 1, 3);
    push(b, 0, 4);
    push(b, 2, 5, 6);
    const seen: [number, string, string, number][] = [];
    let refuseOwner0 = true;
    const written = b.drain((owner, t, feedTs) => {
      if (owner === 0 && refuseOwner0) return false;
      seen.push([owner, t.tradeId, t.side, feedTs]);
      return true;
    });
    expect(written).toBe(3);
    expect(seen).toEqual([[1, '3', 'sell', 1003], [2, '5', 'sell', 1005], [2, '6', 'buy', 1006]]);
    expect(b.length).toBe(3);
    expect([b.waiting(0), b.waiting(1), b.waiting(2)]).toEqual([3, 0, 0]);
    push(b, 1, 7);
    refuseOwner0 = false;
    seen.length = 0;
    expect(b.drain((owner, t) => (seen.push([owner, t.tradeId, t.side, t.price]), true))).toBe(4);
    expect(seen.map(([o, id]) => [o, id])).toEqual([[0, '1'], [0, '2'], [0, '4'], [1, '7']]);
    expect(b.length).toBe(0);
  });

  it('an owner refused once in a pass is not tried again in that pass (a smaller record must not overtake)', () => {
    const b = new TradeBacklog(8, 1);
    push(b, 0, 1, 2, 3);
    let calls = 0;
    expect(b.drain(() => (calls++, false))).toBe(0);
    expect(calls).toBe(1);
  });

  it('closes up every gap even when all owners left are refused mid-pass', () => {
    const b = new TradeBacklog(8, 2);
    push(b, 0, 1);
    push(b, 1, 2);
    push(b, 0, 3);
    push(b, 1, 4);
    push(b, 0, 5);
    let bTaken = 0;
    expect(b.drain((owner) => owner === 1 && bTaken++ === 0)).toBe(1); // owner 0 refused; owner 1 once, then refused
    const ids: string[] = [];
    b.drain((_, t) => (ids.push(t.tradeId), true));
    expect(ids).toEqual(['1', '3', '4', '5']);
  });

  it('refuses beyond its capacity and takes again once drained; wraps around its ring in order', () => {
    const b = new TradeBacklog(4, 1);
    expect(push(b, 0, 1, 2, 3, 4, 5)).toEqual([true, true, true, true, false]);
    let n = 0;
    b.drain(() => n++ < 2); // 1, 2 written
    expect(push(b, 0, 6, 7, 8)).toEqual([true, true, false]);
    const ids: string[] = [];
    b.drain((_, t) => (ids.push(t.tradeId), true));
    expect(ids).toEqual(['3', '4', '6', '7']);
  });

  it('names a capacity that is not a power of two', () => {
    expect(() => new TradeBacklog(1000, 1)).toThrow(/capacity/);
  });
});
