// GET /candles/{symbol}, GET /ticker/{symbol} and GET /ticker: candles and 24 h tickers from the analytics stores, older candles from PostgreSQL.
//
//   /candles/{symbol}?interval=1m&from=&to=&limit=   {"symbol","interval","candles":[{"time","open","high","low",
//       "close","volume","trades","vwap","closed"}]}, oldest first; buckets with from <= start < to
//       (ISO 8601 or ms; default: today in MARKET_TIMEZONE up to now); at most limit (default
//       CANDLES_DEFAULT_LIMIT), the newest of the range. Buckets this process saw from their
//       start come from memory; earlier ones (and the one it started in) from the `trades` table.
//   /ticker/{symbol}   {"symbol","epoch","seq","ticker":{…}|null}, the rolling 24 h ticker
//   /ticker            {"tickers":[…]} of every symbol

import { C_CLOSE, C_CLOSED, C_HIGH, C_LOW, C_OPEN, C_START, C_TRADES, C_VOLUME, C_VWAP } from '../../analytics/candle-builder.js';
import { INTERVALS, type Interval, bucketEnd, bucketStart } from '../../analytics/intervals.js';
import {
  T_CHANGE, T_CHANGE_PERCENT, T_HIGH, T_LAST, T_LOW, T_OPEN, T_QUOTE_VOLUME, T_TRADES, T_VOLUME, T_WINDOW_START,
} from '../../analytics/rolling-ticker.js';
import { startOfDayMs } from '../../market-day.js';
import type { HttpReply } from '../../protocol/http.js';
import { CANDLES_DEFAULT_LIMIT, candlesQuery, invalidParameter, parseQuery } from '../../protocol/http-params.js';
import { bucketNumber } from '../../ring/analytics-store.js';
import { AH_COVERAGE_START, AH_EPOCH, AH_FOLDED_EPOCH, AH_FOLDED_SEQ, AH_LAST_SEQ, AS_RECORD, CANDLE_SLOT_FIELDS, TICKER_CHANNEL, TICKER_SLOT_FIELDS } from '../../ring/layout.js';
import type { StoredCandle } from '../../store/candle-query.js';
import type { FrontSymbol } from './symbols.js';

/** Where GET /candles reads stored candles; undefined without PostgreSQL. */
export type StoredCandles = (symbol: string, interval: Interval, fromMs: number, toMs: number, limit: number) => Promise<StoredCandle[]>;

const json = (status: number, body: unknown): HttpReply => ({ status, body: JSON.stringify(body) });
const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * Start of the first bucket of `interval` whose every trade this process folded: buckets before
 * it began before the symbol was registered (or seeded), and are read from the stored trades.
 */
export function memoryCoverage(sym: FrontSymbol, k: number, timeZone: string): number {
  const interval = INTERVALS[k];
  const store = sym.candles[k].store;
  const seeded = store.readChannel(k) ? store.header[AH_COVERAGE_START] : 0;
  if (seeded > 0) return seeded;
  const start = bucketStart(interval, sym.registeredAt, timeZone);
  return start === sym.registeredAt ? start : bucketEnd(interval, start, timeZone);
}

/** Which trades the memory candles hold: those of the trades channel up to (epoch, seq). */
export interface Through {
  epoch: number;
  seq: number;
}

/**
 * Candles of `interval` in memory with fromMs <= start < toMs, oldest first, and the trades they
 * hold: read between two reads of the channel header that agree (no publish in between).
 */
function memoryCandles(sym: FrontSymbol, k: number, fromMs: number, toMs: number, timeZone: string): { candles: StoredCandle[]; through?: Through } {
  const store = sym.candles[k].store;
  let candles: StoredCandle[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    if (!store.readChannel(k)) break;
    const seq = store.header[AH_LAST_SEQ];
    const through = { epoch: store.header[AH_FOLDED_EPOCH], seq: store.header[AH_FOLDED_SEQ] };
    candles = readMemoryCandles(sym, k, fromMs, toMs, timeZone);
    if (store.readChannel(k) && store.header[AH_LAST_SEQ] === seq) return { candles, through };
  }
  return { candles };
}

function readMemoryCandles(sym: FrontSymbol, k: number, fromMs: number, toMs: number, timeZone: string): StoredCandle[] {
  const interval = INTERVALS[k];
  const store = sym.candles[k].store;
  const first = bucketNumber(interval, bucketStart(interval, fromMs, timeZone));
  const last = bucketNumber(interval, bucketStart(interval, Math.max(fromMs, toMs - 1), timeZone));
  const slot = new Float64Array(CANDLE_SLOT_FIELDS);
  const out: StoredCandle[] = [];
  for (let n = Math.max(first, last - store.capacity + 1); n <= last; n++) {
    if (!store.readCandle(k, n, slot, 0)) continue;
    const r = AS_RECORD;
    const start = slot[r + C_START];
    if (start < fromMs || start >= toMs) continue;
    out.push({
      time: new Date(start).toISOString(), open: slot[r + C_OPEN], high: slot[r + C_HIGH], low: slot[r + C_LOW], close: slot[r + C_CLOSE],
      volume: slot[r + C_VOLUME], trades: slot[r + C_TRADES], vwap: num(slot[r + C_VWAP]) as number, closed: slot[r + C_CLOSED] === 1,
    });
  }
  return out;
}

export async function candlesReply(sym: FrontSymbol, query: URLSearchParams, timeZone: string, stored: StoredCandles | undefined): Promise<HttpReply> {
  const q = parseQuery(candlesQuery, query);
  if (!q.ok) return q.reply;
  const intervalText = q.value.interval ?? '1m';
  const k = INTERVALS.indexOf(intervalText);
  const limit = q.value.limit ?? CANDLES_DEFAULT_LIMIT;
  const now = Date.now();
  const fromMs = q.value.from ?? startOfDayMs(now, timeZone);
  const toMs = q.value.to ?? now + 1;
  if (toMs <= fromMs) return invalidParameter('to: must be after from');
  const coverage = memoryCoverage(sym, k, timeZone);
  let older: StoredCandle[] = [];
  let incomplete: string | undefined;
  if (fromMs < coverage) {
    if (!stored) {
      // PERSIST=false: memory is all there is; the answer says where it starts.
      incomplete = `no stored candles on this server (PERSIST=false): candles from ${new Date(coverage).toISOString()} on`;
    } else {
      try {
        older = await stored(sym.name, intervalText, fromMs, Math.min(toMs, coverage), limit);
      } catch (e) {
        return json(503, { error: { code: 'unavailable', message: `stored candles unavailable: ${(e as Error).message}` } });
      }
    }
  }
  const recent = toMs > coverage ? memoryCandles(sym, k, Math.max(fromMs, coverage), toMs, timeZone) : { candles: [] };
  const candles = [...older, ...recent.candles].slice(-limit);
  // `through`: the candles from memory hold the trades channel's trades up to this (epoch, seq).
  return json(200, { symbol: sym.name, interval: intervalText, candles, ...(recent.through ? { through: recent.through } : {}), ...(incomplete ? { incomplete } : {}) });
}

/** The ticker of `sym` as GET /ticker answers it, or null before its first trade. */
export function tickerJson(sym: FrontSymbol): { symbol: string; epoch: number; seq: number; ticker: Record<string, unknown> | null } {
  const store = sym.ticker.store;
  const slot = new Float64Array(TICKER_SLOT_FIELDS);
  const seen = store.readChannel(TICKER_CHANNEL);
  const epoch = seen ? store.header[AH_EPOCH] : 0;
  const seq = seen ? store.header[AH_LAST_SEQ] : 0;
  if (!store.readTicker(slot, 0)) return { symbol: sym.name, epoch, seq, ticker: null };
  const r = AS_RECORD;
  return {
    symbol: sym.name, epoch, seq,
    ticker: {
      window_start: new Date(slot[r + T_WINDOW_START]).toISOString(), open: num(slot[r + T_OPEN]), high: num(slot[r + T_HIGH]),
      low: num(slot[r + T_LOW]), last: num(slot[r + T_LAST]), volume: slot[r + T_VOLUME], quote_volume: slot[r + T_QUOTE_VOLUME],
      change: num(slot[r + T_CHANGE]), change_percent: num(slot[r + T_CHANGE_PERCENT]), trades: slot[r + T_TRADES],
    },
  };
}
