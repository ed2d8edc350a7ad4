// The trades tape: the newest trades first, the taker's side by colour.
//
// Like the ladder, its rows are made once and rewritten: trades can arrive faster than frames.

import type { Trade } from '../../client/src/index.js';
import { clockTime, formatPrice, formatSize } from './format.js';

export const TAPE_ROWS = 40;

interface Row { time: HTMLTableCellElement; price: HTMLTableCellElement; size: HTMLTableCellElement }

export class Tape {
  private readonly rows: Row[] = [];

  constructor(body: HTMLElement) {
    for (let i = 0; i < TAPE_ROWS; i++) {
      const tr = body.appendChild(document.createElement('tr'));
      const [time, price, size] = [0, 1, 2].map(() => tr.appendChild(document.createElement('td')));
      this.rows.push({ time, price, size });
    }
  }

  /** `trades` oldest first (as the SDK keeps them). */
  draw(trades: readonly Trade[], decimals: number): void {
    for (let i = 0; i < TAPE_ROWS; i++) {
      const r = this.rows[i];
      const t = trades[trades.length - 1 - i];
      if (t === undefined) {
        r.time.textContent = r.price.textContent = r.size.textContent = '';
        continue;
      }
      r.time.textContent = clockTime(Date.parse(t.timestamp));
      r.price.textContent = formatPrice(t.price, decimals);
      r.price.className = t.side;
      r.size.textContent = formatSize(t.size);
    }
  }
}
