// Each streamed symbol's trades and 1m candles as the cache actor reads them from the shared stores (the trade ring, the analytics store).
//
// Read-only views over SharedArrayBuffers the shards write: every read goes through the stores'
// seqlocks, and a slot overwritten meanwhile reads as absent, never as another trade or minute.

import { C_CLOSE, C_FIRST_TIME, C_LAST_TIME, C_START } from '../../analytics/candle-builder.js';
import { INTERVALS } from '../../analytics/intervals.js';
import { AnalyticsStore, bucketNumber } from '../../ring/analytics-store.js';
import { AH_COVERAGE_START, AS_RECORD, CANDLE_SLOT_FIELDS, TH_EPOCH, TH_LAST_SEQ, TRADE_RECORD_FIELDS, T_EXCHANGE_TS, T_FEED_TS, T_PRICE } from '../../ring/layout.js';
import { TradeStore } from '../../ring/trade-store.js';
import type { SymbolRegistration } from '../registry.js';
import { MINUTE_MS, type PricePoint } from './stored-prices.js';

/** Channel (and candle ring) of the 1m candles in the analytics store. */
const K_1M = INTERVALS.indexOf('1m');

/** A 1m candle as prices.ts needs it. first/lastTime: -Infinity or the minute's start where unknown (a candle seeded from the stored trades). */
export interface Minute {
  start: number;
  close: number;
  firstTime: number;
  lastTime: number;
}

export const minuteStart = (ms: number): number => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

export class SymbolMarket {
  readonly trades: TradeStore;
  /** The stores hold nothing older: earlier trades and minutes are in PostgreSQL. */
  readonly registeredAtMs: number;
  private readonly analytics: AnalyticsStore;
  private readonly rec = new Float64Array(TRADE_RECORD_FIELDS);
  private readonly slot = new Float64Array(CANDLE_SLOT_FIELDS);

  constructor(readonly name: string, r: SymbolRegistration) {
    this.trades = new TradeStore(r.trades);
    this.analytics = new AnalyticsStore(r.analytics);
    this.registeredAtMs = r.registeredAtMs;
  }

  /** The newest trade in the ring. */
  newestTrade(): PricePoint | undefined {
    const s = this.trades;
    if (!s.readHeader() || s.header[TH_LAST_SEQ] <= 0) return undefined;
    return s.readTrade(s.header[TH_LAST_SEQ], s.header[TH_EPOCH], this.rec, 0) ? this.point() : undefined;
  }

  /**
   * The last trade at or before `t` that the ring holds; undefined when every trade it holds is
   * later (or it holds none). Binary search by seq: a symbol's trades come in time order, and
   * the ring holds an unbroken run of seqs up to the newest (older slots read as absent).
   */
  tradeAtOrBefore(t: number): PricePoint | undefined {
    const s = this.trades;
    if (!s.readHeader()) return undefined;
    const epoch = s.header[TH_EPOCH];
    let hi = s.header[TH_LAST_SEQ];
    let lo = Math.max(1, hi - s.capacity + 1);
    let best: PricePoint | undefined;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (!s.readTrade(mid, epoch, this.rec, 0)) {
        lo = mid + 1; // overwritten meanwhile, or from before this process: older than the ring's run
      } else if (this.time() <= t) {
        best = this.point();
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return best;
  }

  /**
   * Start of the first minute whose candle memory holds complete at `now`: the seeded range's
   * start after a restart, else the first whole minute since the symbol was registered; and
   * never older than the ring's reach.
   */
  minuteCoverage(now: number): number {
    const a = this.analytics;
    const seeded = a.readChannel(K_1M) ? a.header[AH_COVERAGE_START] : 0;
    const reg = this.registeredAtMs;
    const from = seeded > 0 ? seeded : minuteStart(reg) === reg ? reg : minuteStart(reg) + MINUTE_MS;
    // Two minutes short of the capacity: the shard may be writing the next minute's slot.
    return Math.max(from, minuteStart(now) - (a.capacity - 2) * MINUTE_MS);
  }

  /** The 1m candle of the minute starting at `start`; undefined when that minute had no trade (or its slot holds another). */
  minute(start: number): Minute | undefined {
    if (!this.analytics.readCandle(K_1M, bucketNumber('1m', start), this.slot, 0)) return undefined;
    const r = AS_RECORD;
    return { start: this.slot[r + C_START], close: this.slot[r + C_CLOSE], firstTime: this.slot[r + C_FIRST_TIME], lastTime: this.slot[r + C_LAST_TIME] };
  }

  /** Closes of the minutes starting at fromMs <= start < toMs, oldest first, at most `limit` (the oldest of the range). */
  minuteCloses(fromMs: number, toMs: number, limit: number): PricePoint[] {
    const out: PricePoint[] = [];
    for (let start = Math.ceil(fromMs / MINUTE_MS) * MINUTE_MS; start < toMs && out.length < limit; start += MINUTE_MS) {
      const m = this.minute(start);
      if (m) out.push({ time: m.start, price: m.close });
    }
    return out;
  }

  /** The close of the newest minute starting at fromMs <= start < toMs. */
  lastClose(fromMs: number, toMs: number): PricePoint | undefined {
    for (let start = minuteStart(toMs - 1); start >= fromMs; start -= MINUTE_MS) {
      const m = this.minute(start);
      if (m) return { time: m.start, price: m.close };
    }
    return undefined;
  }

  private time(): number {
    const ex = this.rec[T_EXCHANGE_TS];
    return ex > 0 ? ex : this.rec[T_FEED_TS];
  }

  private point(): PricePoint {
    return { time: this.time(), price: this.rec[T_PRICE] };
  }
}

/** The symbols the runtime registered, by name. */
export class Markets {
  private readonly byName = new Map<string, SymbolMarket>();

  add(r: SymbolRegistration): void {
    if (!this.byName.has(r.name)) this.byName.set(r.name, new SymbolMarket(r.name, r));
  }

  get(name: string): SymbolMarket | undefined {
    return this.byName.get(name);
  }
}
