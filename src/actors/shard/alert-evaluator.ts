// A shard's price alerts: commands from the cache actor build each owned symbol's AlertBook; every trade is evaluated against it; firings go back to the cache actor.
//
// The cache actor owns the alerts (their state is in PostgreSQL) and decides, by a conditional
// update, whether a firing is the first: the shard only says "this trade satisfies alert N".
// Work per trade is proportional to the alerts it fires (AlertBook). A firing a full queue
// refuses waits in a bounded list and is retried after every input turn; an add repeated after
// a restart of either end changes nothing (by id).

import { type AlertCondition, AlertBook, CONDITIONS } from '../../analytics/alert-book.js';
import { logger } from '../../log.js';
import {
  AC_CONDITION, AC_ID, AC_OP, AC_SYMBOL, AC_TARGET, AF_CONDITION, AF_EPOCH, AF_ID, AF_PRICE, AF_SEQ, AF_SYMBOL, AF_TARGET, AF_TIME,
  ALERT_ADD, ALERT_FIRED_BYTES, ALERT_REMOVE, TRADE_RECORD_FIELDS, T_EPOCH, T_PRICE, TH_EPOCH, TH_LAST_SEQ,
} from '../../ring/layout.js';
import { QueueConsumer, QueueProducer } from '../../ring/spsc.js';
import type { OwnedSymbol } from './owned-symbol.js';

/** Firings held while the queue to the cache actor is full; beyond, they are counted and logged (the startup recheck finds them again). */
const PENDING_MAX = 100_000;
const PENDING_FIELDS = 8;
const CONDITION_INDEX = new Map<AlertCondition, number>(CONDITIONS.map((c, i) => [c, i]));

export interface AlertCounters {
  active: number;
  added: number;
  removed: number;
  fired: number;
  pendingFired: number;
  droppedFired: number;
}

export class AlertEvaluator {
  private readonly commands?: QueueConsumer;
  private readonly firings?: QueueProducer;
  private readonly pending: number[] = [];
  private added = 0;
  private removed = 0;
  private fired = 0;
  private dropped = 0;
  // The trade being evaluated: set before AlertBook.trade so the callback allocates nothing.
  private symbolId = 0;
  private price = 0;
  private epoch = 0;
  private seq = 0;
  private time = 0;
  private readonly fire = (id: number, condition: AlertCondition, target: number): void => this.queue(id, condition, target);

  constructor(commands: SharedArrayBuffer | undefined, firings: SharedArrayBuffer | undefined, private readonly shard: number) {
    this.commands = commands && new QueueConsumer(commands);
    this.firings = firings && new QueueProducer(firings);
  }

  /** Applies the commands queued since the last turn. */
  drain(symbolOf: (id: number) => OwnedSymbol | undefined): void {
    const q = this.commands;
    if (!q) return;
    for (let at = q.peek(); at >= 0; at = q.peek()) {
      const w = at >> 2;
      const b = at >> 3;
      const s = symbolOf(q.u32[w + AC_SYMBOL]);
      if (s) {
        const id = q.f64[b + AC_ID];
        if (q.u32[w + AC_OP] === ALERT_ADD) {
          const condition = CONDITIONS[q.u32[w + AC_CONDITION]];
          const target = q.f64[b + AC_TARGET];
          if (condition !== undefined && target > 0 && !(s.alerts?.has(id) ?? false)) {
            (s.alerts ??= bookOf(s)).add(id, condition, target);
            this.added++;
          }
        } else if (q.u32[w + AC_OP] === ALERT_REMOVE && s.alerts?.remove(id)) this.removed++;
      }
      q.release();
    }
  }

  /** Evaluates the trade just committed for `s` against its alerts. */
  onTrade(s: OwnedSymbol, price: number, epoch: number, seq: number, time: number): void {
    const book = s.alerts;
    if (book === undefined || (book.size === 0 && book.last === price)) {
      if (book) book.last = price;
      return;
    }
    this.symbolId = s.id;
    this.price = price;
    this.epoch = epoch;
    this.seq = seq;
    this.time = time;
    book.trade(price, this.fire);
  }

  /** Queues the firings a full queue refused before (in order). */
  retry(): void {
    if (this.pending.length === 0 || !this.firings) return;
    let i = 0;
    for (; i < this.pending.length; i += PENDING_FIELDS) {
      const p = this.pending;
      if (!this.write(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 7])) break;
    }
    this.pending.splice(0, i);
  }

  stats(owned: readonly (OwnedSymbol | undefined)[]): AlertCounters {
    let active = 0;
    for (const s of owned) active += s?.alerts?.size ?? 0;
    return { active, added: this.added, removed: this.removed, fired: this.fired, pendingFired: this.pending.length / PENDING_FIELDS, droppedFired: this.dropped };
  }

  private queue(id: number, condition: AlertCondition, target: number): void {
    this.fired++;
    const c = CONDITION_INDEX.get(condition)!;
    if (this.pending.length === 0 && this.write(this.symbolId, c, id, target, this.price, this.epoch, this.seq, this.time)) return;
    if (this.pending.length >= PENDING_MAX * PENDING_FIELDS) {
      if (this.dropped++ === 0) logger(`shard-${this.shard}`).error('alert firings dropped: the cache actor does not take them (the next start checks the stored trades again)');
      return;
    }
    this.pending.push(this.symbolId, c, id, target, this.price, this.epoch, this.seq, this.time);
  }

  private write(symbolId: number, condition: number, id: number, target: number, price: number, epoch: number, seq: number, time: number): boolean {
    const q = this.firings;
    if (!q) return true;
    const at = q.reserve(ALERT_FIRED_BYTES);
    if (at < 0) return false;
    const w = at >> 2;
    const b = at >> 3;
    q.u32[w + AF_SYMBOL] = symbolId;
    q.u32[w + AF_CONDITION] = condition;
    q.f64[b + AF_ID] = id;
    q.f64[b + AF_TARGET] = target;
    q.f64[b + AF_PRICE] = price;
    q.f64[b + AF_EPOCH] = epoch;
    q.f64[b + AF_SEQ] = seq;
    q.f64[b + AF_TIME] = time;
    q.commit(ALERT_FIRED_BYTES, symbolId);
    return true;
  }
}

/** A symbol's first alert: the book starts at the last trade's price, so a crossing is seen from the next trade on. */
function bookOf(s: OwnedSymbol): AlertBook {
  const book = new AlertBook();
  const t = s.trades;
  if (t.readHeader() && t.header[TH_LAST_SEQ] > 0) {
    const rec = new Float64Array(TRADE_RECORD_FIELDS);
    if (t.readTrade(t.header[TH_LAST_SEQ], t.header[TH_EPOCH], rec, 0) && rec[T_EPOCH] > 0) book.last = rec[T_PRICE];
  }
  return book;
}
