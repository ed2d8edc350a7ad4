// AlertBook against a brute force that checks every active alert on every trade: the same alerts
// fire, on the same trade, once; removed alerts never fire; a repeated add changes nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AlertCondition, AlertBook, CONDITIONS } from '../../src/analytics/alert-book.js';

type Op = { kind: 'add'; id: number; condition: AlertCondition; target: number } | { kind: 'remove'; id: number } | { kind: 'trade'; price: number };

function brute(ops: Op[]): string[] {
  const active = new Map<number, { condition: AlertCondition; target: number }>();
  const fired: string[] = [];
  let q = NaN;
  ops.forEach((op, n) => {
    if (op.kind === 'add') {
      if (!active.has(op.id) && !fired.some((f) => f.startsWith(`${op.id}@`))) active.set(op.id, op);
    } else if (op.kind === 'remove') active.delete(op.id);
    else {
      const p = op.price;
      for (const [id, a] of [...active]) {
        const due = a.condition === 'above' ? p > a.target
          : a.condition === 'below' ? p < a.target
            : a.condition === 'crosses_above' ? q < a.target && a.target <= p
              : q > a.target && a.target >= p;
        if (due) {
          active.delete(id);
          fired.push(`${id}@${n}`);
        }
      }
      q = p;
    }
  });
  return fired.sort();
}

const price = fc.integer({ min: 90, max: 110 }).map((x) => x / 1); // few distinct prices: ties on purpose
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), id: fc.integer({ min: 1, max: 40 }), condition: fc.constantFrom(...CONDITIONS), target: price }),
  fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('trade' as const), price }),
  fc.record({ kind: fc.constant('trade' as const), price }),
);

describe('AlertBook', () => {
  it('fires exactly the alerts a brute force over every active alert fires, each once', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const book = new AlertBook();
      const fired: string[] = [];
      const gone = new Set<number>();
      ops.forEach((o, n) => {
        if (o.kind === 'add') {
          if (!gone.has(o.id)) book.add(o.id, o.condition, o.target); // a fired id is not added again (ids are never reused)
        } else if (o.kind === 'remove') book.remove(o.id);
        else book.trade(o.price, (id) => {
          gone.add(id);
          fired.push(`${id}@${n}`);
        });
      });
      expect(fired.sort()).toEqual(brute(ops));
    }), { numRuns: 500 });
  });

  it('a crossing needs a previous price; an add repeated is one alert', () => {
    const book = new AlertBook();
    const fired: number[] = [];
    book.add(1, 'crosses_above', 100);
    book.add(1, 'crosses_above', 100);
    book.trade(105, (id) => fired.push(id)); // first trade: no previous price, no crossing
    book.trade(99, (id) => fired.push(id));
    book.trade(100, (id) => fired.push(id));
    expect(fired).toEqual([1]);
    expect(book.size).toBe(0);
    expect(() => book.add(2, 'above', -1)).toThrow(/target_price/);
  });
});
