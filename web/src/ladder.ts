// The depth ladder: the book's top levels, asks above bids with the best of each beside the spread row, each row shaded by the depth down to it.
//
// Rows are created once and their text rewritten on each draw: a book frame arrives up to a
// hundred times a second, and rebuilding the table each time would churn the DOM.

import type { BookData, Level } from '../../client/src/index.js';
import { formatPrice, formatSize } from './format.js';

export const LADDER_LEVELS = 10;

interface Row { tr: HTMLTableRowElement; size: HTMLTableCellElement; price: HTMLTableCellElement; total: HTMLTableCellElement }

function rows(body: HTMLElement): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < LADDER_LEVELS; i++) {
    const tr = body.appendChild(document.createElement('tr'));
    const [size, price, total] = [0, 1, 2].map(() => tr.appendChild(document.createElement('td')));
    out.push({ tr, size, price, total });
  }
  return out;
}

export class Ladder {
  private readonly asks: Row[];
  private readonly bids: Row[];

  constructor(asks: HTMLElement, bids: HTMLElement, private readonly spread: HTMLElement) {
    this.asks = rows(asks);
    this.bids = rows(bids);
  }

  draw(d: BookData, decimals: number): void {
    const asks = d.ask_levels.slice(0, LADDER_LEVELS);
    const bids = d.bid_levels.slice(0, LADDER_LEVELS);
    const depth = Math.max(total(asks), total(bids)) || 1;
    // Asks run upward from the best: the best ask is the row just above the spread.
    fill(this.asks, asks, depth, decimals, (i) => LADDER_LEVELS - 1 - i);
    fill(this.bids, bids, depth, decimals, (i) => i);
    this.spread.textContent = d.spread === null || d.mid_price === null
      ? 'one side of the book is empty'
      : `spread ${formatPrice(d.spread, decimals)} (${((d.spread / d.mid_price) * 1e4).toFixed(1)} bp) · mid ${formatPrice(d.mid_price, decimals)}`;
  }

  clear(): void {
    for (const r of [...this.asks, ...this.bids]) blank(r);
    this.spread.textContent = '–';
  }
}

const total = (levels: Level[]) => levels.reduce((s, [, size]) => s + size, 0);

function fill(side: Row[], levels: Level[], depth: number, decimals: number, rowOf: (i: number) => number): void {
  let cumulative = 0;
  for (let i = 0; i < LADDER_LEVELS; i++) {
    const r = side[rowOf(i)];
    const level = levels[i];
    if (level === undefined) {
      blank(r);
      continue;
    }
    cumulative += level[1];
    r.size.textContent = formatSize(level[1]);
    r.price.textContent = formatPrice(level[0], decimals);
    r.total.textContent = formatSize(cumulative);
    // Through the CSSOM (the stylesheet draws the gradient): the page's CSP refuses inline style attributes.
    r.tr.style.setProperty('--depth', `${((cumulative / depth) * 100).toFixed(1)}%`);
  }
}

function blank(r: Row): void {
  r.size.textContent = r.price.textContent = r.total.textContent = '';
  r.tr.style.setProperty('--depth', '0%');
}
