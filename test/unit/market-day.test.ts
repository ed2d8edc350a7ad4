// startOfDayMs: the last local midnight at or before now, across offsets and DST changes.
import { describe, expect, it } from 'vitest';
import { startOfDayMs } from '../../src/market-day.js';

const HOUR_MS = 3600_000;
const utc = (iso: string): number => Date.parse(iso);

const timeFormats = new Map<string, Intl.DateTimeFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** Local wall-clock "HH:MM" of `ms` in `timeZone`, read independently of the code under test. */
function localTime(ms: number, timeZone: string): string {
  let fmt = timeFormats.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: 'numeric', minute: 'numeric' });
    timeFormats.set(timeZone, fmt);
  }
  const parts = fmt.formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)?.value.padStart(2, '0');
  return `${get('hour')}:${get('minute')}`;
}

/** Local calendar date "YYYY-MM-DD" of `ms` in `timeZone`. */
function localDate(ms: number, timeZone: string): string {
  let fmt = dateFormats.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormats.set(timeZone, fmt);
  }
  return fmt.format(new Date(ms));
}

// [zone, now, expected start of day]
const CASES: [string, string, string][] = [
  ['UTC', '2026-01-15T13:45:12.345Z', '2026-01-15T00:00:00.000Z'],
  ['UTC', '2026-01-15T23:59:59.999Z', '2026-01-15T00:00:00.000Z'],
  // New York, winter (EST, UTC-5): midnight is 05:00Z
  ['America/New_York', '2026-01-15T16:00:00.000Z', '2026-01-15T05:00:00.000Z'],
  ['America/New_York', '2026-01-15T03:00:00.000Z', '2026-01-14T05:00:00.000Z'], // still the 14th locally
  // New York, summer (EDT, UTC-4): midnight is 04:00Z
  ['America/New_York', '2026-07-01T12:00:00.000Z', '2026-07-01T04:00:00.000Z'],
  ['America/New_York', '2026-07-01T03:59:59.999Z', '2026-06-30T04:00:00.000Z'],
  // Tokyo (UTC+9): local midnight falls on the previous UTC day
  ['Asia/Tokyo', '2026-01-15T10:00:00.000Z', '2026-01-14T15:00:00.000Z'],
  ['Asia/Tokyo', '2026-01-15T16:00:00.000Z', '2026-01-15T15:00:00.000Z'], // already the 16th in Tokyo
  // Kolkata (UTC+5:30): a half-hour offset
  ['Asia/Kolkata', '2026-01-15T03:00:00.000Z', '2026-01-14T18:30:00.000Z'],
  ['Asia/Kolkata', '2026-01-15T18:29:59.999Z', '2026-01-14T18:30:00.000Z'],
  ['Asia/Kolkata', '2026-01-15T18:30:00.000Z', '2026-01-15T18:30:00.000Z'],
  // Spring forward, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z); midnight was EST, 05:00Z
  ['America/New_York', '2026-03-08T05:30:00.000Z', '2026-03-08T05:00:00.000Z'], // 00:30 EST
  ['America/New_York', '2026-03-08T06:59:59.999Z', '2026-03-08T05:00:00.000Z'], // 01:59 EST
  ['America/New_York', '2026-03-08T07:00:00.000Z', '2026-03-08T05:00:00.000Z'], // 03:00 EDT
  ['America/New_York', '2026-03-08T16:00:00.000Z', '2026-03-08T05:00:00.000Z'], // 12:00 EDT
  ['America/New_York', '2026-03-09T03:59:59.999Z', '2026-03-08T05:00:00.000Z'], // 23:59 EDT
  ['America/New_York', '2026-03-09T04:00:00.000Z', '2026-03-09T04:00:00.000Z'], // next midnight, EDT
  // Fall back, 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z); midnight was EDT, 04:00Z
  ['America/New_York', '2026-11-01T04:30:00.000Z', '2026-11-01T04:00:00.000Z'], // 00:30 EDT
  ['America/New_York', '2026-11-01T05:30:00.000Z', '2026-11-01T04:00:00.000Z'], // 01:30 EDT (first)
  ['America/New_York', '2026-11-01T06:30:00.000Z', '2026-11-01T04:00:00.000Z'], // 01:30 EST (second)
  ['America/New_York', '2026-11-01T17:00:00.000Z', '2026-11-01T04:00:00.000Z'], // 12:00 EST
  ['America/New_York', '2026-11-02T04:59:59.999Z', '2026-11-01T04:00:00.000Z'], // 23:59 EST
  ['America/New_York', '2026-11-02T05:00:00.000Z', '2026-11-02T05:00:00.000Z'], // next midnight, EST
  // Exactly at midnight: that midnight, not the one before
  ['UTC', '2026-01-15T00:00:00.000Z', '2026-01-15T00:00:00.000Z'],
  ['America/New_York', '2026-01-15T05:00:00.000Z', '2026-01-15T05:00:00.000Z'],
  ['Asia/Tokyo', '2026-01-14T15:00:00.000Z', '2026-01-14T15:00:00.000Z'],
];

describe('startOfDayMs', () => {
  it.each(CASES)('%s at %s starts the day at %s', (zone, now, expected) => {
    const nowMs = utc(now);
    const start = startOfDayMs(nowMs, zone);
    expect(new Date(start).toISOString()).toBe(expected);
    expect(localTime(start, zone)).toBe('00:00');
    expect(localDate(start, zone)).toBe(localDate(nowMs, zone)); // the same local day as now
    expect(start).toBeLessThanOrEqual(nowMs);
    expect(start).toBeGreaterThan(nowMs - 25 * HOUR_MS);
  });

  it('holds for every half hour of 2026 DST weeks in five zones', () => {
    const zones = ['UTC', 'America/New_York', 'Asia/Tokyo', 'Asia/Kolkata', 'Europe/London'];
    const weeks = ['2026-03-05T00:00:00Z', '2026-03-27T00:00:00Z', '2026-10-23T00:00:00Z', '2026-10-29T00:00:00Z'];
    let checked = 0;
    for (const zone of zones) {
      for (const week of weeks) {
        for (let t = utc(week); t < utc(week) + 7 * 24 * HOUR_MS; t += HOUR_MS / 2) {
          const start = startOfDayMs(t, zone);
          if (start > t || start <= t - 25 * HOUR_MS || localTime(start, zone) !== '00:00'
            || localDate(start, zone) !== localDate(t, zone)) {
            throw new Error(`${zone} at ${new Date(t).toISOString()}: got ${new Date(start).toISOString()}`);
          }
          checked++;
        }
      }
    }
    expect(checked).toBe(5 * 4 * 7 * 48);
  });

  it('keeps sub-second precision of now out of the result', () => {
    const start = startOfDayMs(utc('2026-01-15T05:00:00.001Z'), 'America/New_York');
    expect(start).toBe(utc('2026-01-15T05:00:00.000Z'));
  });
});
