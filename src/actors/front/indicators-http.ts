// GET /indicators/{symbol}: technical indicators over the closed candles of one interval, kept per (symbol, interval, names) and extended as candles close.
//
//   /indicators/{symbol}?interval=1m&names=sma20,ema20,rsi14,macd,bb20&limit=100
//     {"symbol","interval","names":[canonical keys],"history_from","points":[{"time","values":{key: number|{…}|null}}]}
//
// One point per closed candle, oldest first, the last `limit` (default 100, at most 1000); the
// open candle is no input. The candles are those GET /candles serves (memory, and PostgreSQL
// before memory's coverage). A series is built from at most 1000 + warm-up − 1 candles back, so
// every point a request can ask for is warmed up when the history is that long; with less, the
// first values are null. EMA, RSI, MACD and VWAP carry every candle since `history_from`: a series
// rebuilt later starts later and differs from the one it replaces, EMA, RSI and MACD by an amount
// that shrinks geometrically with the candles between the two starts, VWAP by the candles it no
// longer holds.
//
// Cache: an LRU of IndicatorSeries (CACHE_MAX_ENTRIES, CACHE_MAX_BYTES of series memory). Each
// remembers the next bucket it has not folded; a request folds the candles closed since, read
// from the shared candle ring (never PostgreSQL), and rebuilds only when that cannot be proven to
// see every candle: evicted, the ring moved past the next bucket, a new channel epoch or memory
// coverage, a front restart. Concurrent requests for one series share one build.
//
// Stored candles are looked for over 4, then 64 times the span of the candles wanted: a start
// further back (a long quiet span before memory) counts as a shorter history.
//
// PostgreSQL away while a build needs stored candles: served from memory when memory holds the
// warm-up of every point asked for (the series is rebuilt once a request needs more), else 503
// saying what is missing, rather than points whose warm-up was cut short without a word. Without
// PostgreSQL (PERSIST=false) memory is the whole history.
//
// A late trade that changes, or creates, a candle already folded is not folded again: the series
// keeps it until it is rebuilt.

import { C_CLOSE, C_CLOSED, C_HIGH, C_LOW, C_START, C_TRADES, C_VOLUME } from '../../analytics/candle-builder.js';
import {
  IndicatorSeries, type IndicatorPoint, type IndicatorSpec, type SeriesCandle, warmUpCandles,
} from '../../analytics/indicators.js';
import { INTERVAL_MS, INTERVALS, type Interval, bucketStart } from '../../analytics/intervals.js';
import { TickplantError } from '../../errors.js';
import type { HttpReply } from '../../protocol/http.js';
import { INDICATORS_DEFAULT_LIMIT, INDICATORS_MAX_LIMIT, indicatorIntervalQuery, indicatorSeriesQuery, parseQuery } from '../../protocol/http-params.js';
import { type AnalyticsStore, bucketNumber } from '../../ring/analytics-store.js';
import { AH_EPOCH, AS_RECORD, CANDLE_SLOT_FIELDS } from '../../ring/layout.js';
import { type StoredCandles, memoryCoverage } from './analytics-http.js';
import type { FrontSymbol } from './symbols.js';

export const CACHE_MAX_ENTRIES = 256;
/** Series memory of the cache: a series of sma20,ema20,rsi14,macd,bb20 is 80 kB, the largest 392 kB. */
export const CACHE_MAX_BYTES = 32 * 1024 * 1024;
/** Stored candles are looked for this many times the span of the candles wanted back, then this many more. */
const LOOKBACK_FACTORS = [4, 64];
const BUILD_ATTEMPTS = 3;

/** A candle as a source reports it: closed or not. */
export interface SourceCandle extends SeriesCandle {
  readonly closed: boolean;
}

/** Buckets (by number) memory answers for: first, whose start is firstMs, to last, the current one. */
export interface MemoryRange {
  first: number;
  firstMs: number;
  last: number;
}

/** Where a series reads its candles: the candle ring of one symbol and interval, and older ones stored. */
export interface CandleSource {
  /** The symbol and interval, as the cache names them. */
  readonly name: string;
  readonly intervalMs: number;
  /** Changes when folded positions no longer continue: a new channel epoch, a new memory coverage. */
  era(): string;
  range(): MemoryRange;
  /**
   * Calls `fold` with each closed candle of buckets from..last in order, stopping at the first not
   * closed. `next`: one past the last candle given (`from` if none). `evicted`: the ring had moved
   * past a bucket read, so a candle may have been missed.
   */
  closed(from: number, last: number, fold: (c: SeriesCandle) => void): { next: number; evicted: boolean };
  /** Stored candles with fromMs <= start < toMs, the newest `limit`, oldest first; absent without PostgreSQL. */
  readonly stored?: (fromMs: number, toMs: number, limit: number) => Promise<SourceCandle[]>;
}

/** Stored candles are needed and PostgreSQL does not answer. */
export class IndicatorsUnavailableError extends TickplantError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

export interface IndicatorCacheStats {
  hits: number; // requests answered by a cached series, after folding the candles closed since
  rebuilds: number; // series built from scratch (first request, eviction, gap, new epoch)
  folds: number; // candles folded into cached series by those requests
  entries: number;
  bytes: number;
}

interface Entry {
  readonly series: IndicatorSeries;
  readonly era: string;
  readonly warmUp: number;
  readonly bytes: number;
  /** First bucket not folded; −Infinity when only a rebuild can continue (a stored candle still open). */
  next: number;
  folded: number;
  /** Start of the first candle folded, null before any. */
  readonly from: number | null;
  /** Built from memory alone while PostgreSQL was away. */
  readonly short: boolean;
}

const foldable = (c: SeriesCandle): boolean =>
  Number.isFinite(c.close) && Number.isFinite(c.high) && Number.isFinite(c.low) && Number.isFinite(c.volume);

export class IndicatorCache {
  /** Map order is the LRU order: oldest use first. */
  private readonly entries = new Map<string, Entry>();
  private readonly building = new Map<string, Promise<Entry>>();
  private bytes = 0;
  private readonly counts = { hits: 0, rebuilds: 0, folds: 0 };

  constructor(readonly maxEntries = CACHE_MAX_ENTRIES, readonly maxBytes = CACHE_MAX_BYTES, readonly capacity = INDICATORS_MAX_LIMIT) {}

  stats(): IndicatorCacheStats {
    return { ...this.counts, entries: this.entries.size, bytes: this.bytes };
  }

  /** The last `limit` points of `specs` over the closed candles of `src`, and the start of the series' first candle. */
  async points(src: CandleSource, specs: readonly IndicatorSpec[], limit: number): Promise<{ points: IndicatorPoint[]; from: number | null }> {
    const key = `${src.name}|${specs.map((s) => s.key).sort().join(',')}`;
    // Wait for a build of the same series rather than run a second one.
    for (let i = 0; i < BUILD_ATTEMPTS && this.building.has(key); i++) await this.building.get(key);
    let e = this.entries.get(key);
    if (e && this.catchUp(e, src, limit)) {
      this.counts.hits++;
      this.entries.delete(key);
      this.entries.set(key, e);
    } else {
      if (e) this.drop(key);
      const p = this.build(key, src, specs, limit);
      this.building.set(key, p);
      try {
        e = await p;
      } finally {
        if (this.building.get(key) === p) this.building.delete(key);
      }
    }
    return { points: e.series.snapshot(limit), from: e.from };
  }

  /** Folds the candles closed since `e` last read; false when they cannot all be read (the entry is then spoiled). */
  private catchUp(e: Entry, src: CandleSource, limit: number): boolean {
    if (e.era !== src.era()) return false;
    if (e.short && e.folded < limit + e.warmUp - 1) return false; // asks for warm-up the outage left out
    const range = src.range();
    if (e.next < range.first) return false;
    let n = 0;
    const r = src.closed(e.next, range.last, (c) => {
      if (!foldable(c)) return;
      e.series.update(c);
      n++;
    });
    if (r.evicted) return false;
    this.counts.folds += n;
    e.folded += n;
    e.next = r.next;
    return true;
  }

  private async build(key: string, src: CandleSource, specs: readonly IndicatorSpec[], limit: number): Promise<Entry> {
    const warmUp = Math.max(...specs.map(warmUpCandles));
    const wanted = this.capacity + warmUp - 1;
    for (let attempt = 0; attempt < BUILD_ATTEMPTS; attempt++) {
      const era = src.era();
      const range = src.range();
      let memory = readClosed(src, range.first, range.last);
      if (memory.evicted) continue;
      let older: SourceCandle[] = [];
      let short = false;
      if (memory.candles.length < wanted && src.stored) {
        try {
          older = await readStored(src.stored, range.firstMs, wanted - memory.candles.length, src.intervalMs);
        } catch (err) {
          const asked = limit + warmUp - 1;
          if (memory.candles.length < asked) {
            throw new IndicatorsUnavailableError(
              `stored candles before ${new Date(range.firstMs).toISOString()} unavailable (${(err as Error).message}): ` +
              `${limit} points of ${specs.map((s) => s.key).join(',')} need ${asked} closed candles, memory holds ${memory.candles.length}; retry when PostgreSQL is back, or ask fewer points`,
            );
          }
          short = true;
        }
        // Candles closed while PostgreSQL answered: read memory again from the same bucket.
        if (src.era() !== era) continue;
        memory = readClosed(src, range.first, src.range().last);
        if (memory.evicted) continue;
      }
      let next = memory.next;
      let candles: SeriesCandle[] = [...older, ...memory.candles];
      const open = older.findIndex((c) => !c.closed);
      if (open >= 0) {
        // A stored bucket before memory's coverage is still open: nothing after it is closed yet.
        candles = older.slice(0, open);
        next = -Infinity;
      }
      candles = candles.filter(foldable).slice(-wanted);
      const series = new IndicatorSeries(specs, this.capacity);
      for (const c of candles) series.update(c);
      const entry: Entry = {
        series, era, warmUp, next, short, folded: candles.length, from: candles.length > 0 ? candles[0].time : null,
        bytes: 8 * this.capacity * (1 + specs.reduce((n, s) => n + (s.kind === 'macd' || s.kind === 'bb' ? 3 : 1), 0)),
      };
      this.insert(key, entry);
      this.counts.rebuilds++;
      return entry;
    }
    throw new IndicatorsUnavailableError(`the ${src.name} candles moved on while they were read; retry`);
  }

  private insert(key: string, e: Entry): void {
    this.drop(key);
    this.entries.set(key, e);
    this.bytes += e.bytes;
    for (const [oldest, old] of this.entries) {
      if (oldest === key || (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes)) break;
      this.entries.delete(oldest);
      this.bytes -= old.bytes;
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.bytes;
  }
}

function readClosed(src: CandleSource, from: number, last: number): { candles: SeriesCandle[]; next: number; evicted: boolean } {
  const candles: SeriesCandle[] = [];
  const r = src.closed(from, last, (c) => candles.push(c));
  return { candles, ...r };
}

/** The newest `want` stored candles before toMs, looking further back when the nearer span holds too few (nights, weekends). */
async function readStored(stored: NonNullable<CandleSource['stored']>, toMs: number, want: number, intervalMs: number): Promise<SourceCandle[]> {
  let got: SourceCandle[] = [];
  for (const factor of LOOKBACK_FACTORS) {
    const fromMs = Math.max(0, toMs - factor * want * intervalMs);
    got = await stored(fromMs, toMs, want);
    if (got.length >= want || fromMs === 0) break;
  }
  return got;
}

/** The candle ring of `sym` for INTERVALS[k] in its analytics store, and GET /candles' stored candles before its coverage. */
export class RingCandles implements CandleSource {
  readonly name: string;
  readonly intervalMs: number;
  readonly stored?: CandleSource['stored'];
  private readonly interval: Interval;
  private readonly store: AnalyticsStore;
  private readonly slot = new Float64Array(CANDLE_SLOT_FIELDS);

  constructor(private readonly sym: FrontSymbol, private readonly k: number, private readonly timeZone: string, stored?: StoredCandles) {
    const interval = INTERVALS[k];
    this.interval = interval;
    this.name = `${sym.name} ${interval}`;
    this.intervalMs = INTERVAL_MS[interval];
    this.store = sym.candles[k].store;
    this.stored = stored && (async (fromMs, toMs, limit) =>
      (await stored(sym.name, interval, fromMs, toMs, limit)).map((c) => ({
        time: Date.parse(c.time), close: c.close, high: c.high, low: c.low, volume: c.volume, closed: c.closed,
      })));
  }

  era(): string {
    const epoch = this.store.readChannel(this.k) ? this.store.header[AH_EPOCH] : -1;
    return `${epoch}/${memoryCoverage(this.sym, this.k, this.timeZone)}`;
  }

  range(): MemoryRange {
    const now = Date.now();
    const cap = this.store.capacity;
    // A quarter of the ring is left as margin: the shard may begin buckets ahead of this clock
    // (exchange time), each overwriting the oldest.
    const ringFirstMs = bucketStart(this.interval, now - (cap - 1 - (cap >> 2)) * this.intervalMs, this.timeZone);
    const firstMs = Math.max(memoryCoverage(this.sym, this.k, this.timeZone), ringFirstMs);
    return { first: bucketNumber(this.interval, firstMs), firstMs, last: bucketNumber(this.interval, bucketStart(this.interval, now, this.timeZone)) };
  }

  closed(from: number, last: number, fold: (c: SeriesCandle) => void): { next: number; evicted: boolean } {
    const s = this.slot;
    const r = AS_RECORD;
    let next = from;
    for (let n = from; n <= last; n++) {
      if (!this.store.readCandle(this.k, n, s, 0)) {
        // Empty bucket, unless the slot already holds a later one: the ring wrapped past n.
        if (s[r + C_TRADES] > 0 && bucketNumber(this.interval, s[r + C_START]) > n) return { next, evicted: true };
        continue;
      }
      if (s[r + C_CLOSED] !== 1) break;
      fold({ time: s[r + C_START], close: s[r + C_CLOSE], high: s[r + C_HIGH], low: s[r + C_LOW], volume: s[r + C_VOLUME] });
      next = n + 1;
    }
    return { next, evicted: false };
  }
}

export interface IndicatorsDeps {
  cache: IndicatorCache;
  timeZone: string;
  /** Stored candles (PostgreSQL); undefined without it. */
  stored?: StoredCandles;
}

const json = (status: number, body: unknown): HttpReply => ({ status, body: JSON.stringify(body) });
const iso = (ms: number): string => new Date(ms).toISOString();

export function indicatorsReply(sym: FrontSymbol, query: URLSearchParams, d: IndicatorsDeps): HttpReply | Promise<HttpReply> {
  const q = parseQuery(indicatorIntervalQuery, query);
  if (!q.ok) return q.reply;
  const interval = q.value.interval ?? '1m';
  return seriesReply(new RingCandles(sym, INTERVALS.indexOf(interval), d.timeZone, d.stored), sym.name, interval, query, d.cache);
}

/** The reply over any candle source of `symbol` and `interval` (both checked): names and limit, then the cache. */
export async function seriesReply(src: CandleSource, symbol: string, interval: Interval, query: URLSearchParams, cache: IndicatorCache): Promise<HttpReply> {
  const q = parseQuery(indicatorSeriesQuery, query);
  if (!q.ok) return q.reply;
  const specs = q.value.names;
  const limit = q.value.limit ?? INDICATORS_DEFAULT_LIMIT;
  try {
    const { points, from } = await cache.points(src, specs, limit);
    return json(200, {
      symbol, interval, names: specs.map((s) => s.key), history_from: from === null ? null : iso(from),
      points: points.map((p) => ({ time: iso(p.time), values: p.values })),
    });
  } catch (e) {
    if (e instanceof IndicatorsUnavailableError) return json(503, { error: { code: e.code, message: e.message } });
    throw e;
  }
}
