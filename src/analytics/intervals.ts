// Candle intervals: their names, lengths, and where each bucket starts (UTC; the day at 00:00 of the market time zone).

import { startOfDayMs } from '../market-day.js';

export const INTERVALS = ['1s', '1m', '5m', '15m', '1h', '4h', '1d'] as const;
export type Interval = (typeof INTERVALS)[number];

/** Length of a bucket; a `1d` bucket is a market day (23-25 h across a DST change, else 24 h). */
export const INTERVAL_MS: Readonly<Record<Interval, number>> = {
  '1s': 1_000, '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '4h': 14_400_000, '1d': 86_400_000,
};

export const isInterval = (s: string): s is Interval => (INTERVALS as readonly string[]).includes(s);

/**
 * Start of the bucket of `interval` holding instant `ms`: UTC multiples of the interval, except
 * `1d`, which starts at 00:00 in `timeZone` (MARKET_TIMEZONE).
 */
export function bucketStart(interval: Interval, ms: number, timeZone: string): number {
  if (interval === '1d') return startOfDayMs(ms, timeZone);
  const len = INTERVAL_MS[interval];
  return Math.floor(ms / len) * len;
}

/** End (exclusive) of the bucket starting at `start`. */
export function bucketEnd(interval: Interval, start: number, timeZone: string): number {
  if (interval !== '1d') return start + INTERVAL_MS[interval];
  // The next local midnight: 24 h on, corrected when a DST change falls inside the day.
  return startOfDayMs(start + 26 * 3_600_000, timeZone);
}
