// Frames encoded from hand-built shared-memory records, parsed back and compared field by field.
import { describe, expect, it } from 'vitest';
import {
  HISTORY_POINT_MAX_BYTES, STATUS_RESYNCING, TYPE_RESYNC, TYPE_SNAPSHOT, TYPE_UPDATE,
  encodeHistoryPoint, encodeRecord, encodeStatus, maxRecordFrameBytes, maxStatusFrameBytes, symbolJsonBytes,
} from '../../src/protocol/encode.js';
import { statusFrame } from '../../src/protocol/client-message.js';
import {
  HISTORY_POINT_FIELDS, METRIC_COUNT, METRIC_NAMES, M_BEST_BID, M_IMBALANCE, P_BUCKET, P_COUNT, P_EPOCH,
  P_METRICS, P_SEQ, R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_FLAGS, R_LEVELS, R_METRICS, R_SEQ,
  RAW_RESET, rawRecordFields,
} from '../../src/ring/layout.js';
import { asciiBytes } from '../../src/protocol/json-writer.js';

const decoder = new TextDecoder();
const DEPTH = 20;
const SYMBOL = symbolJsonBytes('US.AAPL');
const METRICS = [189.98, 190.01, 189.995, 0.03, 0.01579, 1200, 900, 2100, 0.142857, 189.99];

interface Record {
  seq: number; epoch: number; feedTs: number; exchangeTs: number; metrics: number[];
  bids: [number, number][]; asks: [number, number][];
}

/** Writes a raw record into slot `slot` of a Float64Array laid out as layout.ts says. */
function rawRecord(r: Record, slot = 1): { f64: Float64Array; base: number } {
  const fields = rawRecordFields(DEPTH);
  const f64 = new Float64Array(fields * (slot + 2)).fill(777); // neighbours must not leak in
  const base = fields * slot;
  f64.fill(0, base, base + fields);
  f64[base + R_SEQ] = r.seq;
  f64[base + R_EPOCH] = r.epoch;
  f64[base + R_FEED_TS] = r.feedTs;
  f64[base + R_EXCHANGE_TS] = r.exchangeTs;
  r.metrics.forEach((v, m) => { f64[base + R_METRICS + m] = v; });
  f64[base + R_BID_COUNT] = r.bids.length;
  f64[base + R_ASK_COUNT] = r.asks.length;
  r.bids.forEach(([p, s], i) => { f64[base + R_LEVELS + 2 * i] = p; f64[base + R_LEVELS + 2 * i + 1] = s; });
  r.asks.forEach(([p, s], i) => { f64[base + R_LEVELS + 2 * DEPTH + 2 * i] = p; f64[base + R_LEVELS + 2 * DEPTH + 2 * i + 1] = s; });
  return { f64, base };
}

const sample: Record = {
  seq: 42, epoch: 1763899200000, feedTs: 1763899200123.4, exchangeTs: 0, metrics: METRICS,
  bids: [[189.98, 100], [189.97, 250]], asks: [[190.01, 80]],
};

function encode(r: Record, type = TYPE_UPDATE, reason?: Uint8Array): string {
  const { f64, base } = rawRecord(r);
  const out = new Uint8Array(maxRecordFrameBytes(DEPTH, SYMBOL.length) + 16);
  const end = encodeRecord(out, 8, type, SYMBOL, f64, base, DEPTH, reason);
  return decoder.decode(out.subarray(8, end));
}

describe('encodeRecord', () => {
  it('produces the documented frame byte for byte', () => {
    expect(encode(sample)).toBe(
      '{"type":"orderbook_update","symbol":"US.AAPL","epoch":1763899200000,"seq":42,'
      + '"timestamp":"2025-11-23T12:00:00.123Z","data":{"best_bid":189.98,"best_ask":190.01,'
      + '"mid_price":189.995,"spread":0.03,"spread_percentage":0.01579,"bid_volume":1200,'
      + '"ask_volume":900,"total_volume":2100,"imbalance":0.142857,"microprice":189.99,'
      + '"bid_levels":[[189.98,100],[189.97,250]],"ask_levels":[[190.01,80]]}}',
    );
  });

  it('carries every field of the record', () => {
    const frame = JSON.parse(encode(sample, TYPE_SNAPSHOT));
    expect(frame.type).toBe('orderbook_snapshot');
    expect(frame.symbol).toBe('US.AAPL');
    expect(frame.epoch).toBe(sample.epoch);
    expect(frame.seq).toBe(42);
    expect(frame.timestamp).toBe(new Date(sample.feedTs).toISOString());
    expect(Object.keys(frame.data)).toEqual([...METRIC_NAMES, 'bid_levels', 'ask_levels']);
    METRIC_NAMES.forEach((name, m) => expect(frame.data[name]).toBe(METRICS[m]));
    expect(frame.data.bid_levels).toEqual(sample.bids);
    expect(frame.data.ask_levels).toEqual(sample.asks);
  });

  it('prefers the exchange timestamp when it is known', () => {
    const exchangeTs = Date.UTC(2026, 10, 23, 12, 0, 0, 5);
    expect(JSON.parse(encode({ ...sample, exchangeTs })).timestamp).toBe('2026-11-23T12:00:00.005Z');
  });

  it('writes an exchange timestamp with a sub-millisecond part in microseconds', () => {
    const exchangeTs = Date.UTC(2026, 10, 23, 12, 0, 0, 5) + 0.042;
    const timestamp = JSON.parse(encode({ ...sample, exchangeTs })).timestamp as string;
    expect(timestamp).toBe('2026-11-23T12:00:00.005042Z');
    expect(Date.parse(timestamp)).toBe(Date.UTC(2026, 10, 23, 12, 0, 0, 5));
  });

  it('writes a NaN metric as null and empty sides as []', () => {
    const metrics = [...METRICS];
    metrics[M_IMBALANCE] = NaN;
    metrics[M_BEST_BID] = NaN;
    const frame = JSON.parse(encode({ ...sample, metrics, bids: [], asks: [] }));
    expect(frame.data.imbalance).toBeNull();
    expect(frame.data.best_bid).toBeNull();
    expect(frame.data.best_ask).toBe(190.01);
    expect(frame.data.bid_levels).toEqual([]);
    expect(frame.data.ask_levels).toEqual([]);
  });

  it('puts a resync reason right after seq', () => {
    const text = encode(sample, TYPE_RESYNC, asciiBytes('gap'));
    expect(text.startsWith('{"type":"resync","symbol":"US.AAPL","epoch":1763899200000,"seq":42,"reason":"gap","timestamp":"')).toBe(true);
    const frame = JSON.parse(text);
    expect(frame.reason).toBe('gap');
    expect(frame.data.bid_levels).toEqual(sample.bids);
  });

  it('clamps a level count beyond the depth so the frame stays within its bound', () => {
    const { f64, base } = rawRecord(sample);
    f64[base + R_BID_COUNT] = 1e9;
    f64[base + R_ASK_COUNT] = -3;
    const out = new Uint8Array(maxRecordFrameBytes(DEPTH, SYMBOL.length));
    const frame = JSON.parse(decoder.decode(out.subarray(0, encodeRecord(out, 0, TYPE_UPDATE, SYMBOL, f64, base, DEPTH))));
    expect(frame.data.bid_levels).toHaveLength(DEPTH);
    expect(frame.data.ask_levels).toEqual([]);
  });

  it('stays under maxRecordFrameBytes for a full-depth record of the longest numbers', () => {
    const longest = -123456789.12345678; // 7 decimals fit below 2^53: sign, 16 digits, a dot
    const huge = -(2 ** 69); // sign and 21 digits: the longest writeNumber output
    const full: [number, number][] = Array.from({ length: DEPTH }, (_, i) => [i % 2 ? longest : huge, huge]);
    const symbol = symbolJsonBytes('X'.repeat(30) + '"\\\u0001');
    const r = { seq: 2 ** 52 + 1, epoch: huge, feedTs: 8.64e15, exchangeTs: -1, metrics: new Array(METRIC_COUNT).fill(huge), bids: full, asks: full };
    const { f64, base } = rawRecord(r);
    const bound = maxRecordFrameBytes(DEPTH, symbol.length);
    const out = new Uint8Array(bound);
    const end = encodeRecord(out, 0, TYPE_SNAPSHOT, symbol, f64, base, DEPTH, asciiBytes('x'.repeat(64)));
    expect(end).toBeLessThanOrEqual(bound);
    const frame = JSON.parse(decoder.decode(out.subarray(0, end)));
    expect(frame.symbol).toBe('X'.repeat(30) + '"\\\u0001');
    expect(frame.data.ask_levels).toHaveLength(DEPTH);
    expect(frame.data.ask_levels[1]).toEqual([Number(longest.toFixed(7)), huge]);
    // A bound that is far too generous would hide nothing but waste memory per frame.
    expect(bound - end).toBeLessThan(200);
  });

  it('refuses a reason longer than the bound allows for', () => {
    const { f64, base } = rawRecord(sample);
    const out = new Uint8Array(maxRecordFrameBytes(DEPTH, SYMBOL.length));
    expect(() => encodeRecord(out, 0, TYPE_RESYNC, SYMBOL, f64, base, DEPTH, asciiBytes('x'.repeat(65)))).toThrow(RangeError);
  });
});

describe('the reset flag (first book after a resync)', () => {
  const withReset = (type: Uint8Array, reason?: Uint8Array) => {
    const { f64, base } = rawRecord(sample);
    f64[base + R_FLAGS] = RAW_RESET;
    const out = new Uint8Array(maxRecordFrameBytes(DEPTH, SYMBOL.length));
    return decoder.decode(out.subarray(0, encodeRecord(out, 0, type, SYMBOL, f64, base, DEPTH, reason)));
  };

  it('puts "reset":true right after seq when the record has RAW_RESET', () => {
    const text = withReset(TYPE_UPDATE);
    expect(text.startsWith('{"type":"orderbook_update","symbol":"US.AAPL","epoch":1763899200000,"seq":42,"reset":true,"timestamp":"')).toBe(true);
    expect(JSON.parse(text).data.bid_levels).toEqual(sample.bids);
  });

  it('carries it in every encoding of that seq: snapshot, resync (with its reason)', () => {
    expect(JSON.parse(withReset(TYPE_SNAPSHOT))).toMatchObject({ type: 'orderbook_snapshot', seq: 42, reset: true });
    expect(JSON.parse(withReset(TYPE_RESYNC, asciiBytes('gap')))).toMatchObject({ type: 'resync', seq: 42, reset: true, reason: 'gap' });
  });

  it('is absent from a record without the flag', () => {
    expect(JSON.parse(encode(sample)).reset).toBeUndefined();
  });
});

describe('encodeStatus', () => {
  const since = new Float64Array([1763899200123.75]);
  const status = (reason?: Uint8Array, at?: number, length?: number) => {
    const out = new Uint8Array(maxStatusFrameBytes(SYMBOL.length));
    return decoder.decode(out.subarray(0, encodeStatus(out, 0, SYMBOL, STATUS_RESYNCING, since, 0, reason, at, length)));
  };

  it('writes the shape statusFrame writes, with the reason after since', () => {
    const plain = JSON.parse(statusFrame('US.AAPL', 'stale', since[0])) as { [k: string]: unknown };
    expect(status()).toBe(JSON.stringify({ ...plain, status: 'resyncing' }));
    expect(JSON.parse(status(asciiBytes('checksum')))).toEqual({ ...plain, status: 'resyncing', reason: 'checksum' });
  });

  it('reads the reason in place and never lets a byte break the JSON', () => {
    const bytes = asciiBytes('xxgap"\\\n{yy');
    expect(JSON.parse(status(bytes, 2, 7)).reason).toBe('gap____');
  });

  it('refuses a reason longer than the bound', () => {
    expect(() => status(asciiBytes('r'.repeat(65)))).toThrow(RangeError);
  });
});

describe('encodeHistoryPoint', () => {
  it('writes the bucket start, seq, count and metrics', () => {
    const f64 = new Float64Array(HISTORY_POINT_FIELDS * 3).fill(5);
    const base = HISTORY_POINT_FIELDS;
    const resolutionMs = 1000;
    f64[base + P_BUCKET] = Math.floor(1763899200123 / resolutionMs);
    f64[base + P_SEQ] = 41;
    f64[base + P_EPOCH] = 1763899200000;
    f64[base + P_COUNT] = 17;
    METRICS.forEach((v, m) => { f64[base + P_METRICS + m] = v; });
    f64[base + P_METRICS + M_IMBALANCE] = NaN;
    const out = new Uint8Array(HISTORY_POINT_MAX_BYTES);
    const text = decoder.decode(out.subarray(0, encodeHistoryPoint(out, 0, f64, base, resolutionMs)));
    expect(text.startsWith('{"time":"2025-11-23T12:00:00.000Z","seq":41,"count":17,"best_bid":189.98,')).toBe(true);
    const point = JSON.parse(text);
    expect(Object.keys(point)).toEqual(['time', 'seq', 'count', ...METRIC_NAMES]);
    METRIC_NAMES.forEach((name, m) => expect(point[name]).toBe(m === M_IMBALANCE ? null : METRICS[m]));
  });

  it('stays under HISTORY_POINT_MAX_BYTES with the longest numbers', () => {
    const f64 = new Float64Array(HISTORY_POINT_FIELDS).fill(-(2 ** 69));
    f64[P_BUCKET] = 8.64e15 / 60_000;
    const out = new Uint8Array(HISTORY_POINT_MAX_BYTES);
    const end = encodeHistoryPoint(out, 0, f64, 0, 60_000);
    expect(end).toBeLessThanOrEqual(HISTORY_POINT_MAX_BYTES);
    expect(JSON.parse(decoder.decode(out.subarray(0, end))).time).toBe('+275760-09-13T00:00:00.000Z');
  });
});

describe('symbolJsonBytes', () => {
  it('escapes quotes, backslashes and control characters and encodes UTF-8', () => {
    for (const s of ['US.AAPL', 'a"b', 'c\\d', 'e\nf\u0000', 'BTC/USDT:PERP', 'Ü€😀']) {
      expect(JSON.parse(`"${decoder.decode(symbolJsonBytes(s))}"`)).toBe(s);
    }
    expect(decoder.decode(symbolJsonBytes('a"\\\u0001'))).toBe('a\\"\\\\\\u0001');
  });
});
