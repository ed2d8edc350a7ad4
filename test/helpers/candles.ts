// Random trades with exact decimals, inserted into `trades`, and the candles they make, computed here independently of SQL.
//
// The reference groups trades with analytics/intervals.ts (the buckets the live candles use),
// orders them by (time, epoch, seq) and does decimal arithmetic on BigInts scaled by 1e10, so it
// shares nothing with the queries under test but the definition of a candle.
import type pg from 'pg';
import { mulberry32 } from '../../src/feeds/prng.js';
import { type Interval, bucketEnd, bucketStart } from '../../src/analytics/intervals.js';
import type { StoredCandle } from '../../src/store/candle-query.js';

// New York's midnights around two DST changes: 2024-03-10 has 23 hours, 2024-11-03 has 25.
const NEW_YORK_MIDNIGHTS = [
  Date.UTC(2024, 2, 9, 5), Date.UTC(2024, 2, 10, 5), Date.UTC(2024, 2, 11, 4), Date.UTC(2024, 2, 12, 4),
  Date.UTC(2024, 10, 2, 4), Date.UTC(2024, 10, 3, 4), Date.UTC(2024, 10, 4, 5), Date.UTC(2024, 10, 5, 5),
];
/** Bucket edges for trades to crowd around: those midnights, the DST changes (07:00Z, 06:00Z), 4-hour and minute edges. */
export const EDGES = [
  ...NEW_YORK_MIDNIGHTS, Date.UTC(2024, 2, 10, 7), Date.UTC(2024, 10, 3, 6),
  ...[0, 4, 8, 12, 16, 20].map((h) => Date.UTC(2024, 2, 10, h)), ...[0, 4, 8, 12, 16, 20].map((h) => Date.UTC(2024, 10, 3, h)),
  Date.UTC(2024, 2, 10, 13, 37), Date.UTC(2024, 10, 3, 9, 1),
];
/** Epochs trades fall in; equal times across them are ordered by epoch. */
export const EPOCHS = [1_710_000_000_000, 1_710_000_000_001, 1_730_000_000_000];

export interface TestTrade {
  /** Microseconds since the Unix epoch: trades.time keeps microseconds. */
  timeUs: bigint;
  epoch: number;
  seq: number;
  tradeId: string;
  /** Decimal text of at most 10 places, as numeric(24,10) and numeric(30,10) keep them. */
  price: string;
  size: string;
  side: 'buy' | 'sell';
}

/** The same trades on every run: the seeded generator the exchange test servers use. */
export const random = mulberry32;

function decimal(rnd: () => number, maxWholeDigits: number): string {
  const whole = Math.floor(rnd() * 10 ** (1 + Math.floor(rnd() * maxWholeDigits)));
  const places = Math.floor(rnd() * 11);
  let frac = '';
  for (let i = 0; i < places; i++) frac += Math.floor(rnd() * 10);
  return places === 0 ? String(whole) : `${whole}.${frac}`;
}

/**
 * `n` trades around `edgesMs` (bucket edges: local midnights, hours, minutes), in `epochs`: their
 * times fall on a coarse grid near an edge, so many share a millisecond (and some a microsecond)
 * across epochs; seqs count up per epoch in an order unrelated to time.
 */
export function randomTrades(seed: number, n: number, edgesMs: number[], epochs: number[], idPrefix = 't'): TestTrade[] {
  const rnd = random(seed);
  const seqs = new Map<number, number>(epochs.map((e) => [e, 0]));
  const out: TestTrade[] = [];
  for (let i = 0; i < n; i++) {
    const edge = edgesMs[Math.floor(rnd() * edgesMs.length)];
    // Mostly within a second of the edge on a 250 ms grid, else within ±90 s on a 1 s grid.
    const offsetMs = rnd() < 0.6 ? (Math.floor(rnd() * 9) - 4) * 250 + (rnd() < 0.2 ? -1 : 0) : Math.floor(rnd() * 181 - 90) * 1000;
    const micros = rnd() < 0.1 ? Math.floor(rnd() * 1000) : 0;
    const epoch = epochs[Math.floor(rnd() * epochs.length)];
    const seq = seqs.get(epoch)! + 1;
    seqs.set(epoch, seq);
    out.push({
      timeUs: BigInt(edge + offsetMs) * 1000n + BigInt(micros), epoch, seq, tradeId: `${idPrefix}${i}`,
      price: rnd() < 0.1 ? `0.${String(Math.floor(rnd() * 1e6)).padStart(10, '0')}` : decimal(rnd, 5),
      size: rnd() < 0.03 ? '0' : decimal(rnd, 3),
      side: rnd() < 0.5 ? 'buy' : 'sell',
    });
  }
  return out;
}

/** `…T04:59:59.123456Z` */
export function isoMicros(us: bigint): string {
  const ms = us / 1000n;
  return `${new Date(Number(ms)).toISOString().slice(0, -1)}${String(us - ms * 1000n).padStart(3, '0')}Z`;
}

/** Inserts `trades` of `symbol` as they are: decimals as text, times with their microseconds. */
export async function insertTrades(p: pg.Pool, symbol: string, trades: TestTrade[]): Promise<void> {
  for (let i = 0; i < trades.length; i += 5000) {
    const part = trades.slice(i, i + 5000);
    await p.query(
      `insert into trades (time, symbol, trade_id, price, size, side, epoch, seq)
       select t.time, $1, t.id, t.price, t.size, t.side, t.epoch, t.seq
         from unnest($2::timestamptz[], $3::text[], $4::numeric[], $5::numeric[], $6::text[], $7::bigint[], $8::bigint[])
              as t(time, id, price, size, side, epoch, seq)`,
      [symbol, part.map((t) => isoMicros(t.timeUs)), part.map((t) => t.tradeId), part.map((t) => t.price),
        part.map((t) => t.size), part.map((t) => t.side), part.map((t) => t.epoch), part.map((t) => t.seq)]);
  }
}

const SCALE = 10n ** 10n;

/** Decimal text → integer in 1e-10 units. */
function scaled(s: string): bigint {
  const [whole, frac = ''] = s.split('.');
  return BigInt(whole) * SCALE + BigInt(frac.padEnd(10, '0'));
}

/** Integer in 10^-places units → decimal text. */
function text(v: bigint, places: number): string {
  const s = v.toString().padStart(places + 1, '0');
  return `${s.slice(0, -places)}.${s.slice(-places)}`;
}

const before = (a: TestTrade, b: TestTrade): number =>
  a.timeUs !== b.timeUs ? (a.timeUs < b.timeUs ? -1 : 1) : a.epoch !== b.epoch ? a.epoch - b.epoch : a.seq - b.seq;

/** The candles of `trades` by definition: buckets starting in [fromMs, toMs), the newest `limit`, oldest first. */
export function referenceCandles(
  trades: TestTrade[], interval: Interval, timeZone: string,
  range: { fromMs: number; toMs: number; limit: number; nowMs: number },
): StoredCandle[] {
  const buckets = new Map<number, TestTrade[]>();
  for (const t of trades) {
    const start = bucketStart(interval, Number(t.timeUs / 1000n), timeZone);
    if (start < range.fromMs || start >= range.toMs) continue;
    let b = buckets.get(start);
    if (!b) buckets.set(start, (b = []));
    b.push(t);
  }
  const starts = [...buckets.keys()].sort((a, b) => a - b).slice(-range.limit);
  return starts.map((start) => {
    const ts = buckets.get(start)!.sort(before);
    let high = scaled(ts[0].price);
    let low = high;
    let volume = 0n;
    let quote = 0n; // 1e-20 units
    for (const t of ts) {
      const p = scaled(t.price);
      const s = scaled(t.size);
      if (p > high) high = p;
      if (p < low) low = p;
      volume += s;
      quote += p * s;
    }
    // numeric's quotient to 40 places, rounded half away from zero: quote / 1e20 ÷ volume / 1e10.
    const vwap = volume === 0n ? NaN : Number(text((2n * quote * 10n ** 30n + volume) / (2n * volume), 40));
    return {
      time: new Date(start).toISOString(),
      open: Number(ts[0].price), high: Number(text(high, 10)), low: Number(text(low, 10)), close: Number(ts[ts.length - 1].price),
      volume: Number(text(volume, 10)), trades: ts.length, vwap,
      closed: bucketEnd(interval, start, timeZone) <= range.nowMs,
    };
  });
}
