// CopyRowEncoder without a database: column order, COPY text escaping, NaN → \N, buffer growth.
import { describe, expect, it } from 'vitest';
import {
  METRIC_COUNT, R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_LEVELS, R_METRICS, R_SEQ, rawRecordFields,
} from '../../src/ring/layout.js';
import { COPY_COLUMNS, CopyRowEncoder, escapeCopyText } from '../../src/store/row-encoder.js';

const DEPTH = 3;

/** One raw record at `base` of a fresh Float64Array; every metric distinct. */
function record(opts: { seq?: number; epoch?: number; feedTs?: number; exchangeTs?: number; metrics?: number[]; bids?: [number, number][]; asks?: [number, number][] } = {}, base = 0): Float64Array {
  const f = new Float64Array(base + rawRecordFields(DEPTH));
  f[base + R_SEQ] = opts.seq ?? 42;
  f[base + R_EPOCH] = opts.epoch ?? 1_700_000_000_123;
  f[base + R_FEED_TS] = opts.feedTs ?? Date.UTC(2024, 0, 2, 3, 4, 5, 678) + 0.9;
  f[base + R_EXCHANGE_TS] = opts.exchangeTs ?? 0;
  const metrics = opts.metrics ?? [100.5, 100.75, 100.625, 0.25, 0.2484, 12, 8.5, 20.5, 0.17, 100.6];
  for (let m = 0; m < METRIC_COUNT; m++) f[base + R_METRICS + m] = metrics[m];
  const bids = opts.bids ?? [[100.5, 1], [100.25, 2]];
  const asks = opts.asks ?? [[100.75, 3]];
  f[base + R_BID_COUNT] = bids.length;
  f[base + R_ASK_COUNT] = asks.length;
  bids.forEach(([p, s], i) => { f[base + R_LEVELS + 2 * i] = p; f[base + R_LEVELS + 2 * i + 1] = s; });
  asks.forEach(([p, s], i) => { f[base + R_LEVELS + 2 * DEPTH + 2 * i] = p; f[base + R_LEVELS + 2 * DEPTH + 2 * i + 1] = s; });
  return f;
}

const lines = (enc: CopyRowEncoder): string[] => enc.bytes().toString('utf8').split('\n');

describe('CopyRowEncoder', () => {
  it('writes the columns in COPY_COLUMNS order, tab-separated, one line per row', () => {
    expect(COPY_COLUMNS).toEqual([
      'time', 'symbol', 'best_bid', 'best_ask', 'mid_price', 'spread', 'spread_percentage',
      'bid_volume', 'ask_volume', 'total_volume', 'imbalance', 'microprice', 'bid_levels', 'ask_levels', 'seq', 'epoch',
    ]);
    const enc = new CopyRowEncoder();
    enc.append('BTC-USD', record(), 0, DEPTH);
    expect(enc.rows).toBe(1);
    const [row, rest] = lines(enc);
    expect(rest).toBe(''); // the row ends with a newline
    expect(row.split('\t')).toEqual([
      '2024-01-02T03:04:05.678Z', 'BTC-USD', '100.5', '100.75', '100.625', '0.25', '0.2484',
      '12', '8.5', '20.5', '0.17', '100.6', '[[100.5,1],[100.25,2]]', '[[100.75,3]]', '42', '1700000000123',
    ]);
  });

  it('takes the exchange timestamp when known, the feed timestamp otherwise', () => {
    const enc = new CopyRowEncoder();
    enc.append('X', record({ exchangeTs: Date.UTC(2023, 11, 31, 23, 59, 59, 999) }), 0, DEPTH);
    enc.append('X', record({ exchangeTs: 0 }), 0, DEPTH);
    const [a, b] = lines(enc);
    expect(a.split('\t')[0]).toBe('2023-12-31T23:59:59.999Z');
    expect(b.split('\t')[0]).toBe('2024-01-02T03:04:05.678Z');
  });

  it('writes NaN as \\N; ±Infinity and values beyond the numeric column as \\N, counted', () => {
    const enc = new CopyRowEncoder();
    const metrics = [NaN, Infinity, -Infinity, 2e14, -99999999999998, 1e21, 5, 6, 1e20, NaN];
    enc.append('X', record({ metrics, bids: [[NaN, 1]], asks: [] }), 0, DEPTH);
    let cols = lines(enc)[0].split('\t');
    expect(cols.slice(2, 12)).toEqual(['\\N', '\\N', '\\N', '\\N', '-99999999999998', '\\N', '5', '6', '100000000000000000000', '\\N']);
    expect(cols[12]).toBe('[[null,1]]'); // jsonb takes null inside the levels
    expect(cols[13]).toBe('[]');
    expect(enc.outOfRange).toBe(4); // ±Infinity, 2e14 (numeric(24,10)), 1e21 (numeric(30,10))
    enc.reset();
    enc.append('X', record({ metrics: [1, 2, 3, 4, 5, 6, 7, 8, 1e300, 10] }), 0, DEPTH);
    cols = lines(enc)[0].split('\t');
    expect(cols[10]).toBe('\\N'); // imbalance is double precision, but writeNumber stops at 1e21
    expect(enc.outOfRange).toBe(1);
  });

  it('clamps level counts to 0..depth', () => {
    const f = record();
    f[R_BID_COUNT] = 99;
    f[R_ASK_COUNT] = -1;
    const enc = new CopyRowEncoder();
    enc.append('X', f, 0, DEPTH);
    const cols = lines(enc)[0].split('\t');
    expect(JSON.parse(cols[12])).toHaveLength(DEPTH);
    expect(cols[13]).toBe('[]');
  });

  it('reads the record at its slot base', () => {
    const base = 3 * rawRecordFields(DEPTH);
    const enc = new CopyRowEncoder();
    enc.append('X', record({ seq: 7 }, base), base, DEPTH);
    expect(lines(enc)[0].split('\t')[14]).toBe('7');
  });

  it('escapes backslash, tab, newline and CR in the symbol', () => {
    expect(Buffer.from(escapeCopyText(Buffer.from('a\\b\tc\nd\re'))).toString()).toBe('a\\\\b\\tc\\nd\\re');
    const enc = new CopyRowEncoder();
    enc.append('we\tird\\sym', record(), 0, DEPTH);
    const text = enc.bytes().toString();
    expect(text.split('\n')).toHaveLength(2);
    expect(text.split('\t')[1]).toBe('we\\tird\\\\sym');
    enc.append('€-EUR', record(), 0, DEPTH); // UTF-8 passes through
    expect(lines(enc)[1].split('\t')[1]).toBe('€-EUR');
  });

  it('refuses a symbol longer than varchar(32) before it can fail a whole COPY', () => {
    const enc = new CopyRowEncoder();
    expect(() => enc.append('S'.repeat(33), record(), 0, DEPTH)).toThrow(RangeError);
    expect(enc.rows).toBe(0);
  });

  it('grows its buffer, keeps what was written, and reuses it after reset()', () => {
    const enc = new CopyRowEncoder(64);
    const one = new CopyRowEncoder();
    one.append('ETH-USD', record(), 0, DEPTH);
    const line = one.bytes().toString();
    for (let i = 0; i < 1000; i++) enc.append('ETH-USD', record(), 0, DEPTH);
    expect(enc.rows).toBe(1000);
    expect(enc.bytes().toString()).toBe(line.repeat(1000));
    enc.reset();
    expect(enc.rows).toBe(0);
    expect(enc.bytes().length).toBe(0);
    enc.append('ETH-USD', record(), 0, DEPTH);
    expect(enc.bytes().toString()).toBe(line);
  });
});
