// Replay lines, property-based: any file of lines gives exactly the updates and malformed-line reports a plain model of the format predicts.
//
// The model below is the README's line format written out by hand (no zod): a field of the
// wrong type, a non-finite number or an unparseable time makes the line malformed; `bids`
// beats `bid_levels`, `ts` beats `timestamp`; snapshots over maxLevels keep their best levels,
// deltas over it are refused. Whatever the feed delivers must match it update for update.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ReplayFeed } from '../../src/feeds/replay.js';
import { type BookUpdate, type FeedSink, KIND_DELTA, KIND_SNAPSHOT } from '../../src/feeds/types.js';

const dir = mkdtempSync(join(tmpdir(), 'tickplant-replay-prop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Update { symbol: string; kind: number; ts: number; bids: number[][]; asks: number[][] }
interface Outcome { updates: Update[]; malformedLines: number[] }

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A level as [price, size], or undefined when the value is not one. */
function level(v: unknown): number[] | undefined {
  if (Array.isArray(v)) return v.length === 2 && isNum(v[0]) && isNum(v[1]) ? [v[0], v[1]] : undefined;
  if (!isObj(v) || !isNum(v.price)) return undefined;
  if (isNum(v.size)) return [v.price, v.size];
  return isNum(v.volume) ? [v.price, v.volume] : undefined;
}

/** A side: undefined when absent, null when malformed. */
function side(v: unknown): number[][] | undefined | null {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) return null;
  const out = v.map(level);
  return out.every((l) => l !== undefined) ? (out as number[][]) : null;
}

/** What one line must produce: an update, a malformed report, or nothing (blank). */
function model(text: string, maxLevels: number): Update | 'malformed' | 'blank' {
  if (text.trim() === '') return 'blank';
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'malformed';
  }
  if (!isObj(v)) return 'malformed';
  if (typeof v.symbol !== 'string' || v.symbol.length < 1 || v.symbol.length > 64) return 'malformed';
  const time = (t: unknown) => t === undefined || isNum(t) || typeof t === 'string';
  if (!time(v.ts) || !time(v.timestamp)) return 'malformed';
  if (v.type !== undefined && v.type !== 'snapshot' && v.type !== 'delta') return 'malformed';
  const sides = [side(v.bids), side(v.asks), side(v.bid_levels), side(v.ask_levels)];
  if (sides.includes(null)) return 'malformed';
  const [bids0, asks0, bidLevels, askLevels] = sides as (number[][] | undefined)[];
  const raw = v.ts ?? v.timestamp;
  if (raw === undefined) return 'malformed';
  const ts = typeof raw === 'number' ? raw : Date.parse(raw as string);
  if (!Number.isFinite(ts)) return 'malformed';
  const kind = v.type === 'delta' ? KIND_DELTA : KIND_SNAPSHOT;
  const bids = bids0 ?? bidLevels ?? [];
  const asks = asks0 ?? askLevels ?? [];
  if (kind === KIND_DELTA && (bids.length > maxLevels || asks.length > maxLevels)) return 'malformed';
  return { symbol: v.symbol, kind, ts, bids: bids.slice(0, maxLevels), asks: asks.slice(0, maxLevels) };
}

function expected(lines: string[], maxLevels: number): Outcome {
  const o: Outcome = { updates: [], malformedLines: [] };
  lines.forEach((line, i) => {
    const r = model(line, maxLevels);
    if (r === 'malformed') o.malformedLines.push(i + 1);
    else if (r !== 'blank') o.updates.push(r);
  });
  return o;
}

let files = 0;
/** Runs the real feed over `lines`; `refuse` makes the sink refuse an offer (the feed must offer it again). */
async function replay(lines: string[], maxLevels: number, refuse: (call: number) => boolean = () => false): Promise<Outcome & { written: string[] }> {
  const path = join(dir, `f${files++}.ndjson`);
  writeFileSync(path, lines.join('\n') + '\n');
  // What the feed reads back: lone surrogates were written as U+FFFD.
  const written = lines.map((l) => Buffer.from(l, 'utf8').toString('utf8'));
  const o: Outcome = { updates: [], malformedLines: [] };
  let calls = 0;
  const sink: FeedSink = {
    offer(u: BookUpdate): boolean {
      if (refuse(++calls)) return false;
      const take = (px: Float64Array, sz: Float64Array, n: number) => Array.from({ length: n }, (_, i) => [px[i], sz[i]]);
      o.updates.push({ symbol: u.symbol, kind: u.kind, ts: u.exchangeTs, bids: take(u.bidPx, u.bidSz, u.bidCount), asks: take(u.askPx, u.askSz, u.askCount) });
      return true;
    },
    malformed(reason: string): void {
      const m = /^line (\d+): ./.exec(reason);
      if (!m) throw new Error(`malformed report without its line number: ${reason}`);
      o.malformedLines.push(Number(m[1]));
    },
  };
  const feed = new ReplayFeed({ path, speed: 0, maxLevels });
  feed.start(sink);
  await feed.done;
  return { ...o, written };
}

// ── lines ───────────────────────────────────────────────────────────────────

const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(0, -0, 1e308, 5e-324));
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), num);
const goodLevel = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(num, num) },
  { weight: 2, arbitrary: fc.record({ price: num, size: num }) },
  { weight: 2, arbitrary: fc.record({ price: num, volume: num }) },
  { weight: 1, arbitrary: fc.record({ price: num, size: anyValue, volume: num }) },
);
const badLevel = fc.oneof(
  fc.record({ price: anyValue, size: anyValue, volume: anyValue }, { requiredKeys: [] }),
  fc.array(anyValue, { maxLength: 3 }),
  anyValue,
);
const goodLevels = fc.array(goodLevel, { maxLength: 5 });
const goodTime = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -1, max: 2 ** 45 }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 3, arbitrary: fc.date({ min: new Date(0), max: new Date(2 ** 42), noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: fc.constantFrom('2024-01-01T12:00:00Z', '2024-01-01', '2024-01-01 12:00', 'yesterday', '', 'NaN') },
);
/** A book line: each field valid (or absent) on its own; `broken` then puts any value into one of them. */
const bookObject = fc.record({
  symbol: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('US.AAPL', 'BTC-USD', 'x') }, { weight: 2, arbitrary: fc.string({ maxLength: 70 }) }),
  ts: goodTime, timestamp: goodTime,
  type: fc.constantFrom('snapshot', 'delta'),
  bids: goodLevels, asks: goodLevels, bid_levels: goodLevels, ask_levels: goodLevels,
  extra: anyValue,
}, { requiredKeys: ['symbol'] });
const FIELDS = ['symbol', 'ts', 'timestamp', 'type', 'bids', 'asks', 'bid_levels', 'ask_levels'] as const;
const bookLine = fc.tuple(
  bookObject,
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(anyValue, fc.array(fc.oneof(goodLevel, badLevel), { minLength: 1, maxLength: 4 }))) },
  ),
).map(([o, broken]) => (broken ? { ...o, [broken[0]]: broken[1] } : o));
const noBreaks = (s: string) => s.replace(/[\r\n]/g, ' ');
/** A line: mostly book-shaped objects, also any JSON, any text, near-JSON, blank and number literals JSON.stringify cannot write. */
const line = fc.oneof(
  { weight: 10, arbitrary: bookLine.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: bookLine.map((o) => JSON.stringify(o).replace(/(?<=[:,[])-?\d+(\.\d+)?(e[+-]?\d+)?/, '1e400')) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 80 }).map(noBreaks) },
  { weight: 1, arbitrary: bookLine.map((o) => JSON.stringify(o).slice(0, -1)) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\t', '\ufeff', '\u00a0') },
);

describe('ReplayFeed on any file', () => {
  it('delivers exactly the updates the line format allows, in order, and reports every other non-blank line by its number', async () => {
    await fc.assert(fc.asyncProperty(fc.array(line, { maxLength: 25 }), fc.integer({ min: 1, max: 5 }), async (lines, maxLevels) => {
      const got = await replay(lines, maxLevels);
      const want = expected(got.written, maxLevels);
      expect(got.malformedLines).toEqual(want.malformedLines);
      expect(got.updates).toEqual(want.updates);
    }), { numRuns: 300 });
  });

  it('never drops or repeats an accepted line when the sink refuses offers (backpressure)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(bookLine.map((o) => JSON.stringify(o)), { minLength: 1, maxLength: 15 }), fc.array(fc.boolean(), { maxLength: 12 }), async (lines, refusals) => {
      // Offer k is refused when refusals[k] is true; beyond the array every offer is taken.
      const got = await replay(lines, 3, (call) => refusals[call - 1] === true);
      expect(got.updates).toEqual(expected(got.written, 3).updates);
    }), { numRuns: 100 });
  });
});
