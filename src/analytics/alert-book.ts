// One symbol's active price alerts as sorted thresholds: each trade fires exactly the alerts its price move satisfies, with work proportional to those.
//
// Conditions, over the trades' prices in sequence (previous price q, new price p):
//   above           p > target           (the first trade above it: at once if the price already is)
//   below           p < target
//   crosses_above   q < target <= p      (the price comes from below the target to it or above)
//   crosses_below   q > target >= p
// A crossing needs a previous price: the first trade the book sees only sets it.
//
// Thresholds live in four arrays sorted by target (ascending for the rising kinds, descending for
// the falling ones, so that both fire from a prefix or a contiguous run). `above` and `below`
// alerts are never left on the wrong side of the last price (they fire as soon as they are), so
// their due alerts are always a prefix; crossings are a run found by binary search from q.
// Adds are collected and merged into their array before the next trade (a sort of the new ones
// and one merge pass), so loading a million alerts at start costs a sort, not a million
// insertions; removing one shifts its array (O(n) moves): alerts change at request rates.

export const CONDITIONS = ['above', 'below', 'crosses_above', 'crosses_below'] as const;
export type AlertCondition = (typeof CONDITIONS)[number];

interface Side {
  targets: number[]; // sorted: ascending (rising) or descending (falling)
  ids: number[];
  /** Added since the last merge, unsorted. */
  newTargets: number[];
  newIds: number[];
  ascending: boolean;
}

const side = (ascending: boolean): Side => ({ targets: [], ids: [], newTargets: [], newIds: [], ascending });

export class AlertBook {
  private readonly above = side(true);
  private readonly below = side(false);
  private readonly crossUp = side(true);
  private readonly crossDown = side(false);
  private unmerged = false;
  /** id → [condition, target]: for removal, and so that an add repeated (a replayed command) changes nothing. */
  private readonly byId = new Map<number, { condition: AlertCondition; target: number }>();
  /** The previous trade's price (NaN before the first). */
  last = NaN;

  get size(): number {
    return this.byId.size;
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Adds an alert (idempotent by id). It is evaluated from the next trade on. */
  add(id: number, condition: AlertCondition, target: number): void {
    if (this.byId.has(id)) return;
    if (!(target > 0) || !Number.isFinite(target)) throw new RangeError(`alert ${id}: target_price must be a positive number, got ${target}`);
    const s = this.sideOf(condition);
    s.newTargets.push(target);
    s.newIds.push(id);
    this.unmerged = true;
    this.byId.set(id, { condition, target });
  }

  /** Removes an alert; false when the book does not hold it. */
  remove(id: number): boolean {
    const a = this.byId.get(id);
    if (!a) return false;
    this.byId.delete(id);
    const side = this.sideOf(a.condition);
    const j = side.newIds.indexOf(id);
    if (j >= 0) {
      side.newTargets.splice(j, 1);
      side.newIds.splice(j, 1);
      return true;
    }
    let i = lowerBound(side.targets, a.target, side.ascending);
    while (i < side.ids.length && side.targets[i] === a.target && side.ids[i] !== id) i++;
    if (i < side.ids.length && side.ids[i] === id) {
      side.targets.splice(i, 1);
      side.ids.splice(i, 1);
    }
    return true;
  }

  /**
   * Evaluates a trade at `price`: calls `fire(id, condition, target)` for each alert it
   * satisfies (each is removed first, so it fires once), then remembers the price.
   */
  trade(price: number, fire: (id: number, condition: AlertCondition, target: number) => void): void {
    if (this.unmerged) this.merge();
    const q = this.last;
    this.last = price;
    // above: every target below the price, a prefix of the ascending list.
    this.firePrefix(this.above, (t) => price > t, 'above', fire);
    this.firePrefix(this.below, (t) => price < t, 'below', fire);
    if (q !== q) return; // no previous price: no crossing yet
    if (price > q) this.fireRun(this.crossUp, q, price, true, 'crosses_above', fire);
    else if (price < q) this.fireRun(this.crossDown, q, price, false, 'crosses_below', fire);
  }

  /** Merges the alerts added since the last trade into their sorted arrays (equal targets: in creation order). */
  private merge(): void {
    this.unmerged = false;
    for (const s of [this.above, this.below, this.crossUp, this.crossDown]) {
      const n = s.newIds.length;
      if (n === 0) continue;
      const order = Array.from({ length: n }, (_, i) => i);
      const t = s.newTargets;
      order.sort((x, y) => (t[x] === t[y] ? x - y : s.ascending ? t[x] - t[y] : t[y] - t[x]));
      const targets = new Array<number>(s.targets.length + n);
      const ids = new Array<number>(s.targets.length + n);
      let a = 0;
      let b = 0;
      for (let k = 0; k < targets.length; k++) {
        // Existing ones first among equal targets: they were created earlier.
        const takeOld = b >= n || (a < s.targets.length && (s.ascending ? s.targets[a] <= t[order[b]] : s.targets[a] >= t[order[b]]));
        if (takeOld) {
          targets[k] = s.targets[a];
          ids[k] = s.ids[a++];
        } else {
          targets[k] = t[order[b]];
          ids[k] = s.newIds[order[b++]];
        }
      }
      s.targets = targets;
      s.ids = ids;
      s.newTargets = [];
      s.newIds = [];
    }
  }

  private sideOf(condition: AlertCondition): Side {
    switch (condition) {
      case 'above': return this.above;
      case 'below': return this.below;
      case 'crosses_above': return this.crossUp;
      case 'crosses_below': return this.crossDown;
      default: throw new RangeError(`condition must be one of ${CONDITIONS.join(', ')}, got ${String(condition)}`);
    }
  }

  private firePrefix(side: Side, due: (t: number) => boolean, condition: AlertCondition, fire: (id: number, c: AlertCondition, t: number) => void): void {
    let n = 0;
    while (n < side.targets.length && due(side.targets[n])) n++;
    if (n === 0) return;
    const targets = side.targets.splice(0, n);
    const ids = side.ids.splice(0, n);
    for (let i = 0; i < n; i++) {
      this.byId.delete(ids[i]);
      fire(ids[i], condition, targets[i]);
    }
  }

  /** Crossings from q to p: rising, targets in (q, p]; falling, targets in [p, q). */
  private fireRun(side: Side, q: number, p: number, rising: boolean, condition: AlertCondition, fire: (id: number, c: AlertCondition, t: number) => void): void {
    const t = side.targets;
    // First index past q (ascending: target > q; descending: target < q).
    let from = lowerBound(t, q, rising);
    while (from < t.length && t[from] === q) from++;
    let to = from;
    while (to < t.length && (rising ? t[to] <= p : t[to] >= p)) to++;
    if (to === from) return;
    const targets = t.splice(from, to - from);
    const ids = side.ids.splice(from, to - from);
    for (let i = 0; i < ids.length; i++) {
      this.byId.delete(ids[i]);
      fire(ids[i], condition, targets[i]);
    }
  }
}

/** First index whose target is not before `x` in the array's order. */
function lowerBound(t: number[], x: number, ascending: boolean): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ascending ? t[mid] < x : t[mid] > x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
