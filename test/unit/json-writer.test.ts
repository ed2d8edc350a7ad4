// writeNumber and writeIsoTime against the engine's own JSON.parse, toFixed and toISOString.
import { describe, expect, it } from 'vitest';
import { MAX_NUMBER_BYTES, asciiBytes, writeAscii, writeBytes, writeIsoTime, writeNumber } from '../../src/protocol/json-writer.js';

const out = new Uint8Array(64);
const decoder = new TextDecoder();
const numberText = (v: number): string => decoder.decode(out.subarray(0, writeNumber(out, 0, v)));
const isoText = (ms: number): string => decoder.decode(out.subarray(0, writeIsoTime(out, 0, ms)));

/** The decimals writeNumber uses for a non-integer: 8, fewer while |v|·10^d ≥ 2^53. */
function decimalsFor(v: number): number {
  let d = 8;
  while (d > 0 && Math.abs(v) * 10 ** d >= 2 ** 53) d--;
  return d;
}

// Seeded so a failure reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('writeNumber', () => {
  it.each([
    [0, '0'], [-0, '0'], [1, '1'], [-1, '-1'], [42, '42'], [-123456789, '-123456789'],
    [9007199254740991, '9007199254740991'], [2 ** 53, '9007199254740992'], [2 ** 60, '1152921504606846976'],
    [1e20, '100000000000000000000'], [0.1, '0.1'], [-0.1, '-0.1'], [0.00012, '0.00012'],
    [189.995, '189.995'], [1e-9, '0'], [-1e-9, '0'], [5e-9, '0.00000001'], [90000.5, '90000.5'],
    [1e15 + 0.5, '1000000000000001'], [1234567.123456789, '1234567.12345679'], [-0.07, '-0.07'],
    [NaN, 'null'], [Infinity, 'null'], [-Infinity, 'null'], [1e21, 'null'], [-1e300, 'null'],
  ])('%s → %s', (v, text) => {
    expect(numberText(v)).toBe(text);
  });

  it('parses back to the toFixed rounding of the decimals used, for the table values', () => {
    for (const v of [0.1, 0.00012, 189.995, 90000.5, 1e15 + 0.5, 1.005, 2.5e-8, 1.5e-8, 4503599627370495.5]) {
      expect(JSON.parse(numberText(v))).toBe(Number(v.toFixed(decimalsFor(v))));
    }
  });

  it('round-trips 100k random values of every magnitude exactly as toFixed would, within the byte bound', () => {
    const random = rng(42);
    for (let i = 0; i < 100_000; i++) {
      const magnitude = 10 ** Math.floor(random() * 26 - 10); // 1e-10 .. 1e15
      let v = (random() - 0.5) * 2 * magnitude;
      if (i % 4 === 0) v = Math.round(v * 100) / 100; // prices with cents
      if (i % 7 === 0) v = Math.round(v); // sizes
      const text = numberText(v);
      expect(text.length).toBeLessThanOrEqual(MAX_NUMBER_BYTES);
      expect(text).toMatch(/^-?\d+(\.\d*[1-9])?$/); // no exponent, no trailing zeros
      const back = JSON.parse(text) as number;
      const expected = Number.isInteger(v) ? v : Number(v.toFixed(decimalsFor(v)));
      // `==`: writeNumber writes a negative value that rounds to zero as 0, toFixed as -0.
      if (back != expected) expect.fail(`${v}: wrote ${text}, toFixed gives ${expected}`);
      // Half a unit of the last decimal, plus the double nearest the decimal text.
      expect(Math.abs(back - v)).toBeLessThanOrEqual(0.5 * 10 ** -decimalsFor(v) + Math.abs(v) * 2 ** -51);
    }
  });

  it('writes large integers exactly', () => {
    const random = rng(7);
    for (let i = 0; i < 10_000; i++) {
      const v = Math.floor(2 ** 53 * (1 + random() * 1e5)) * (i % 2 === 0 ? 1 : -1) * 2 ** Math.floor(random() * 8);
      if (Math.abs(v) >= 1e21) continue;
      const text = numberText(v);
      expect(text).toBe(BigInt(v).toString());
      expect(text.length).toBeLessThanOrEqual(MAX_NUMBER_BYTES);
    }
  });

  it('writes at the given position and leaves the bytes around it alone', () => {
    out.fill(120);
    const end = writeNumber(out, 3, -12.5);
    expect(end).toBe(8);
    expect(decoder.decode(out.subarray(0, 10))).toBe('xxx-12.5xx');
  });
});

describe('writeIsoTime', () => {
  it('equals toISOString over random instants 1970..9999', () => {
    const random = rng(1);
    const max = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.floor(random() * max);
      expect(isoText(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('equals toISOString at leap days, year ends and the epoch', () => {
    const instants = [
      0, 1, 999, 86_399_999, 86_400_000,
      Date.UTC(2000, 1, 29), Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(2000, 2, 1),
      Date.UTC(1972, 1, 29, 12), Date.UTC(2024, 1, 29, 6, 7, 8, 9), Date.UTC(2100, 1, 28, 23, 59, 59, 999),
      Date.UTC(2100, 2, 1), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999), 1763899200123,
    ];
    for (let year = 1970; year <= 2400; year++) {
      instants.push(Date.UTC(year, 0, 1), Date.UTC(year, 11, 31, 23, 59, 59, 999), Date.UTC(year, 2, 1) - 1);
    }
    for (const ms of instants) expect(isoText(ms)).toBe(new Date(ms).toISOString());
  });

  it('truncates fractional milliseconds as Date does', () => {
    expect(isoText(1763899200123.999)).toBe(new Date(1763899200123.999).toISOString());
    expect(isoText(1763899200123.999)).toBe('2025-11-23T12:00:00.123Z');
  });

  it('writes expanded years outside 0..9999 and the epoch for times Date cannot hold', () => {
    for (const ms of [-1, -1e15, Date.UTC(10000, 0, 1), 8.64e15, -8.64e15]) {
      expect(isoText(ms)).toBe(new Date(ms).toISOString());
    }
    expect(isoText(NaN)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoText(9e15)).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('ASCII and bytes', () => {
  it('writes pre-encoded bytes and ASCII text', () => {
    let pos = writeBytes(out, 0, asciiBytes('{"a":'));
    pos = writeAscii(out, pos, 'true}');
    expect(decoder.decode(out.subarray(0, pos))).toBe('{"a":true}');
  });

  it('refuses non-ASCII text rather than truncating it', () => {
    expect(() => asciiBytes('café')).toThrow(RangeError);
  });
});
